package inventory

import (
	"fmt"
	"sort"

	"github.com/otwatch/otwatch/protocols"
)

// Role thresholds.
const (
	// scadaMasterServers: a client of this many servers is a SCADA master.
	scadaMasterServers = 3
	// historianTargets / historianPoints: a client that read this many
	// distinct targets (or points across distinct targets) and changed
	// nothing is a historian.
	historianTargets = 32
	historianPoints  = 1000
)

// serverRoles maps a protocol's server side to the roles it implies.
var serverRoles = map[string][]string{
	"modbus":      {"plc"},
	"s7comm":      {"plc"},
	"s7comm-plus": {"plc"},
	"dnp3":        {"outstation", "rtu"},
	"opcua":       {"opcua_server"},
}

// engineeringOps are the client ops only an engineering workstation does.
var engineeringOps = []protocols.Op{protocols.OpProgramDownload, protocols.OpProgramUpload,
	protocols.OpStop, protocols.OpStart, protocols.OpFirmwareUpdate}

// roles infers an asset's roles, each with the evidence that decided it.
// servers is the number of distinct servers the asset is a client of.
func (inv *Inventory) roles(a *evidence, servers int) ([]string, map[string]string) {
	ev := map[string]string{}
	add := func(role, why string) {
		if old, ok := ev[role]; ok {
			ev[role] = old + "; " + why
		} else {
			ev[role] = why
		}
	}
	clientOf := map[string]bool{}
	for _, u := range a.Protos {
		name := inv.protos[u.Proto].name
		if u.Side == sideClient {
			clientOf[name] = true
			continue
		}
		for _, r := range serverRoles[name] {
			add(r, fmt.Sprintf("%s server on port %d: %d transactions since frame %d", name, u.Port, u.Count, u.FirstFrame))
		}
	}
	if len(clientOf) == 0 {
		return sortedRoles(ev), ev
	}
	eng := false
	for _, op := range engineeringOps {
		if n := a.Ops[op]; n > 0 {
			eng = true
			add("engineering_workstation", fmt.Sprintf("%s ×%d, first in frame %d", op, n, a.OpFrame[op]))
		}
	}
	if a.SZL > 0 {
		eng = true
		add("engineering_workstation", fmt.Sprintf("s7comm read_szl ×%d, first in frame %d", a.SZL, a.SZLFrame))
	}
	changes := uint64(0)
	for op := range a.Ops {
		if stateChanging(protocols.Op(op)) {
			changes += uint64(a.Ops[op])
		}
	}
	historian := !eng && changes == 0 && a.Ops[protocols.OpRead] > 0 &&
		(len(a.Reads) >= historianTargets || a.ReadPoints >= historianPoints)
	if historian {
		n := fmt.Sprint(len(a.Reads))
		if len(a.Reads) >= maxReadTargets {
			n = "at least " + n
		}
		add("historian", fmt.Sprintf("read %s distinct targets (%d points) in %d reads, wrote none",
			n, a.ReadPoints, a.Ops[protocols.OpRead]))
	}
	master := false
	if clientOf["dnp3"] {
		master = true
		add("scada_master", fmt.Sprintf("dnp3 master since frame %d", firstFrame(a, inv, "dnp3")))
	}
	if servers >= scadaMasterServers && (clientOf["modbus"] || clientOf["s7comm"] || clientOf["s7comm-plus"]) {
		master = true
		add("scada_master", fmt.Sprintf("client of %d servers", servers))
	}
	if clientOf["opcua"] {
		add("opcua_client", fmt.Sprintf("opcua client since frame %d", firstFrame(a, inv, "opcua")))
	}
	if !historian && !master {
		for _, p := range []string{"modbus", "s7comm", "s7comm-plus"} {
			if clientOf[p] && a.Ops[protocols.OpRead]+a.Ops[protocols.OpWrite]+a.Ops[protocols.OpControl] > 0 {
				add("hmi", fmt.Sprintf("%s client reading/writing process data (%d reads, %d writes, %d controls) since frame %d",
					p, a.Ops[protocols.OpRead], a.Ops[protocols.OpWrite], a.Ops[protocols.OpControl], firstFrame(a, inv, p)))
				break
			}
		}
	}
	return sortedRoles(ev), ev
}

func firstFrame(a *evidence, inv *Inventory, proto string) uint64 {
	var f uint64
	for _, u := range a.Protos {
		if u.Side == sideClient && inv.protos[u.Proto].name == proto && (f == 0 || u.FirstFrame < f) {
			f = u.FirstFrame
		}
	}
	return f
}

func sortedRoles(ev map[string]string) []string {
	out := make([]string, 0, len(ev))
	for r := range ev {
		out = append(out, r)
	}
	sort.Strings(out)
	return out
}
