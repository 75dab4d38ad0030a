package inventory

import (
	"fmt"
	"maps"
	"slices"
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
		prof, _ := protocols.ProfileOf(name)
		for _, r := range prof.ServerRoles {
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
		add("engineering_workstation", fmt.Sprintf("engineering-only requests ×%d, first in frame %d", a.SZL, a.SZLFrame))
	}
	changes := uint64(0)
	for op := range a.Ops {
		if protocols.Op(op).ChangesState() {
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
	// Client roles come from the protocols' profiles: one that names a role
	// for every client (a DNP3 master is a SCADA master), or one whose clients
	// work on process data (a client of many servers is a SCADA master, of
	// a few an HMI).
	master, process := false, []string(nil)
	for _, name := range slices.Sorted(maps.Keys(clientOf)) {
		prof, _ := protocols.ProfileOf(name)
		for _, r := range prof.ClientRoles {
			what := "client"
			if r == "scada_master" {
				master, what = true, "master"
			}
			add(r, fmt.Sprintf("%s %s since frame %d", name, what, firstFrame(a, inv, name)))
		}
		if prof.ProcessClient {
			process = append(process, name)
		}
	}
	if servers >= scadaMasterServers && len(process) > 0 {
		master = true
		add("scada_master", fmt.Sprintf("client of %d servers", servers))
	}
	if !historian && !master {
		for _, p := range process {
			if a.Ops[protocols.OpRead]+a.Ops[protocols.OpWrite]+a.Ops[protocols.OpControl] > 0 {
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
