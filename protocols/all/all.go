// Package all switches on every dissector: import it for its side effects.
package all

import (
	_ "github.com/otwatch/otwatch/protocols/dnp3"
	_ "github.com/otwatch/otwatch/protocols/enip"
	_ "github.com/otwatch/otwatch/protocols/iec104"
	_ "github.com/otwatch/otwatch/protocols/modbus"
	_ "github.com/otwatch/otwatch/protocols/opcua"
	_ "github.com/otwatch/otwatch/protocols/s7comm"
)
