package opcua

import "github.com/otwatch/otwatch/protocols"

// profiles declares OPC UA: servers and clients have roles of their own.
func profiles() []protocols.Profile {
	return []protocols.Profile{{
		Name:            "opcua",
		ServerRoles:     []string{"opcua_server"},
		ClientRoles:     []string{"opcua_client"},
		ResponseTimeout: ResponseTimeout,
		Bench: &protocols.BenchInput{Capture: "cisagov__icsnpp-opcua-binary/tests/traces/opcua_with-gap_with-handshake.pcap",
			Copies: 300, TsharkField: "opcua.servicenodeid.numeric"},
	}}
}
