package enip

import "github.com/otwatch/otwatch/protocols"

// profiles declares EtherNet/IP's two record protocols. A CIP server is a
// controller or a device it drives (PLC); its clients read and write
// process data (HMI, SCADA). An encapsulation-only exchange (ListIdentity)
// says nothing of roles.
func profiles() []protocols.Profile {
	return []protocols.Profile{
		{Name: ProtoENIP, ResponseTimeout: ResponseTimeout},
		{
			Name:            ProtoCIP,
			ServerRoles:     []string{"plc"},
			ProcessClient:   true,
			Classify:        classify,
			ResponseTimeout: ResponseTimeout,
			Bench: &protocols.BenchInput{Capture: "cisagov__icsnpp-enip/tests/traces/enip_cip_example.pcap",
				Copies: 160, TsharkField: "cip.sc"},
		},
	}
}

// classify: setting attributes of the TCP/IP interface or Ethernet link
// objects (addresses, port settings) or the time changes the device's
// configuration.
func classify(t *protocols.Transaction) protocols.Class {
	if t.Op == protocols.OpWrite && t.HasSubcode {
		switch classID(t.Subcode) {
		case classTCPIP, classEthernetLink:
			return protocols.ClassConfigChange
		}
	}
	return protocols.ClassNone
}
