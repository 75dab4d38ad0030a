package iec104

import "github.com/otwatch/otwatch/protocols"

// profiles declares IEC 60870-5-104: the controlled station is an RTU (a
// substation's telecontrol unit or a gateway), the controlling station a
// SCADA master. Loading parameters of measured values (thresholds,
// smoothing) and activating them change the station's configuration.
func profiles() []protocols.Profile {
	return []protocols.Profile{{
		Name:        Proto,
		ServerRoles: []string{"rtu"},
		ClientRoles: []string{"scada_master"},
		Classify:    classify,
		Bench: &protocols.BenchInput{Capture: "ITI__ICS-Security-Tools/pcaps/IEC60870-5-104/JavaRMI_and_IEC_Misc.pcap",
			Copies: 340, TsharkField: "iec60870_asdu.typeid"},
	}}
}

func classify(t *protocols.Transaction) protocols.Class {
	if t.Code >= 110 && t.Code <= 113 && t.RequestFrame != 0 && t.Op != protocols.OpOther {
		return protocols.ClassConfigChange
	}
	return protocols.ClassNone
}
