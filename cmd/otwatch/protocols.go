package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/otwatch/otwatch/protocols"
)

// cmdProtocols lists the registry: `make conformance` and the docs read it,
// so a new protocol folder needs no list edited by hand.
func cmdProtocols(args []string, stdout, stderr io.Writer) int {
	if _, code, ok := noFlags("protocols", args, 0, stdout, stderr); !ok {
		return code
	}
	for _, p := range protocols.Profiles() {
		d := protocols.Lookup(p.Name)
		var ts []string
		if d.Transports&protocols.TCP != 0 {
			ts = append(ts, "tcp")
		}
		if d.Transports&protocols.UDP != 0 {
			ts = append(ts, "udp")
		}
		ports := make([]string, 0, len(d.Ports))
		for _, port := range d.Ports {
			ports = append(ports, fmt.Sprint(port))
		}
		fmt.Fprintf(stdout, "%s\t%s\t%s\n", p.Name, strings.Join(ts, ","), strings.Join(ports, ","))
	}
	return 0
}
