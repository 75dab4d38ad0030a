package modbus

import "github.com/otwatch/otwatch/protocols"

// profiles declares Modbus to the rest of the product: its servers are
// PLCs, its clients read and write process data.
func profiles() []protocols.Profile {
	p := protocols.ControllerProfile("modbus", ResponseTimeout, classify)
	p.Bench = &protocols.BenchInput{Capture: "antoine-lemay__Modbus_dataset/characterization_modbus_6RTU_with_operate.pcap",
		Copies: 10, TsharkField: "modbus.func_code"}
	return []protocols.Profile{p}
}

// classify: diagnostics 8/4 (force listen only mode) silences the device;
// 8/3 changes its ASCII input delimiter.
func classify(t *protocols.Transaction) protocols.Class {
	if t.Code == 8 && t.HasSubcode {
		switch t.Subcode {
		case 4:
			return protocols.ClassListenOnly
		case 3:
			return protocols.ClassConfigChange
		}
	}
	return protocols.ClassNone
}
