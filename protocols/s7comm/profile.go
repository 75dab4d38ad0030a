package s7comm

import "github.com/otwatch/otwatch/protocols"

// profilesS7 declares S7comm: servers are Siemens PLCs; reading the system
// status list (userdata group 4, subfunction 1) is engineering software's
// doing; setting the clock changes the CPU's configuration.
func profilesS7() []protocols.Profile {
	p := protocols.ControllerProfile(ProtoS7, ResponseTimeout, classifyS7)
	p.Vendor = "siemens"
	p.Bench = &protocols.BenchInput{Capture: "qut-infosec__2017QUT_S7comm/LabelledDataset/20161215163606_s7_process_attacks/20161216202830/" +
		"20161215193421.WaterTankOnAuto_Flooding/20161215193421.WaterTankOnAuto_Flooding.hmi.pcap",
		Copies: 10, TsharkField: "s7comm.param.func"}
	return []protocols.Profile{p}
}

// profilesPlus declares S7comm-plus: servers are Siemens PLCs.
func profilesPlus() []protocols.Profile {
	p := protocols.ControllerProfile(ProtoS7Plus, ResponseTimeout, nil)
	p.Vendor = "siemens"
	return []protocols.Profile{p}
}

func classifyS7(t *protocols.Transaction) protocols.Class {
	if t.Code == 4 && t.HasSubcode && t.Subcode == 1 { // CPU functions / read SZL
		return protocols.ClassEngineering
	}
	if t.SubcodeName == "set_clock" {
		return protocols.ClassConfigChange
	}
	return protocols.ClassNone
}
