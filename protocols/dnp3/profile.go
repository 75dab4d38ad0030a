package dnp3

import "github.com/otwatch/otwatch/protocols"

// profiles declares DNP3: an outstation is an RTU, its master a SCADA master.
func profiles() []protocols.Profile {
	return []protocols.Profile{{
		Name:            "dnp3",
		ServerRoles:     []string{"outstation", "rtu"},
		ClientRoles:     []string{"scada_master"},
		Classify:        classify,
		ResponseTimeout: ResponseTimeout,
		Bench: &protocols.BenchInput{Capture: "cisagov__icsnpp-dnp3/testing/traces/dnp3_example.pcap",
			Copies: 148, TsharkField: "dnp3.al.func"},
	}}
}

// classify: assigning event classes and activating a configuration change
// the outstation's configuration.
func classify(t *protocols.Transaction) protocols.Class {
	switch t.Code {
	case FuncAssignClass, FuncActivateConfig:
		return protocols.ClassConfigChange
	}
	return protocols.ClassNone
}
