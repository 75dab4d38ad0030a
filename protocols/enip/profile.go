package enip

import "github.com/otwatch/otwatch/protocols"

// profiles declares EtherNet/IP's two record protocols. A CIP server is a
// controller or a device it drives (PLC); its clients read and write
// process data (HMI, SCADA). An encapsulation-only exchange (ListIdentity)
// says nothing of roles.
func profiles() []protocols.Profile {
	cip := protocols.ControllerProfile(ProtoCIP, ResponseTimeout, classify)
	cip.Bench = &protocols.BenchInput{Capture: "cisagov__icsnpp-enip/tests/traces/enip_cip_example.pcap",
		Copies: 160, TsharkField: "cip.sc"}
	return []protocols.Profile{{Name: ProtoENIP, ResponseTimeout: ResponseTimeout}, cip}
}

// classify: setting attributes of the TCP/IP interface or Ethernet link
// objects (addresses, port settings) changes the device's configuration.
func classify(t *protocols.Transaction) protocols.Class {
	if t.Op != protocols.OpWrite || !t.HasSubcode {
		return protocols.ClassNone
	}
	if c := classID(t.Subcode); c == classTCPIP || c == classEthernetLink {
		return protocols.ClassConfigChange
	}
	return protocols.ClassNone
}
