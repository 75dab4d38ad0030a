package alerts

import (
	"sort"
	"strconv"
	"strings"
)

// KindInfo documents one alert kind. The table below is the reference the
// README's alert table is generated from (TestKindsTableInREADME keeps them equal).
type KindInfo struct {
	Kind     string
	Severity int      // base severity, 1 (info) .. 10 (critical)
	Mitre    []string // ATT&CK for ICS technique ids
	// Always: raised even while the asset learns (control commands,
	// malformed PDUs); otherwise only in detection.
	Always bool
	Doc    string
}

var kinds = []KindInfo{
	{"new_asset", 5, []string{"T0848"}, false, "a host never seen while the network was learned"},
	{"new_link", 4, []string{"T0886"}, false, "a client talks to a server in a protocol it never used with it"},
	{"new_protocol", 5, nil, false, "a server speaks a protocol it never spoke"},
	{"new_function", 6, []string{"T0855"}, false, "a known client uses a function code it never used on this server"},
	{"write_from_new_client", 8, []string{"T0855", "T0848"}, false, "a write or control command from a client that never wrote to this server"},
	{"write_to_unseen_target", 7, []string{"T0836", "T0855"}, false, "a write or control command (DNP3 select/operate, OPC UA call) to registers, points, bits or nodes no client wrote or commanded while learning; lowered two levels when the client polls them"},
	{"value_out_of_range", 7, []string{"T0836"}, false, "a written value or command parameter an order of magnitude beyond what the point learned, of a sign never learned, the type's extreme, or a command code never learned for it; lowered three levels when only outside the learned range (a separate alert from the order-of-magnitude ones, which are never folded into it)"},
	{"write_burst", 6, []string{"T0806"}, false, "more than twice (and 10 more than) the most writes or control commands learned in any sliding 1 s or 10 s window (where learning saw less than 10 s of them, the 10 s window learned ten times the 1 s peak), once per burst"},
	{"exception_burst", 5, []string{"T0846", "T0861"}, false, "many exception responses in a short window: probing"},
	{"cyclic_stopped", 5, []string{"T0826"}, false, "a cyclic poll of a device went quiet, and its client no longer talks to the device, while the monitor heard the network (a silence of every packet longer than the poll's limit, a feed outage, is not counted)"},
	{"scan", 6, []string{"T0846"}, false, "one client touched many new hosts, units, functions or targets in a short window"},
	{"plc_stop", 10, []string{"T0858", "T0816"}, true, "a CPU/application stop command"},
	{"plc_start", 7, []string{"T0858"}, true, "a CPU/application start command"},
	{"program_download", 9, []string{"T0843"}, true, "program or configuration download to the device"},
	{"program_upload", 6, []string{"T0845"}, true, "program upload from the device"},
	{"firmware_update", 10, []string{"T0857"}, true, "firmware update of the device"},
	{"restart", 8, []string{"T0816"}, true, "device or communication restart"},
	{"config_change", 6, []string{"T0836"}, true, "device configuration changed (e.g. Modbus ASCII delimiter, DNP3 assign class / activate config, S7 set clock)"},
	{"force_listen_only", 9, []string{"T0814"}, true, "Modbus force listen only mode: the device stops answering"},
	{"broadcast_write", 6, []string{"T0855"}, true, "a write or control command to the broadcast unit"},
	{"malformed_pdu", 3, nil, true, "a PDU with named anomalies"},
	{"identity_conflict", 6, []string{"T0857"}, true, "a device reported a different identity (e.g. firmware version) than before: updated or impersonated"},
	{"mac_changed", 6, []string{"T0849"}, true, "an address is claimed in ARP by another MAC than before: a replaced device, or an impersonation"},
	{"new_host", 5, []string{"T0864"}, false, "a device claimed an address in ARP of which nothing (IP traffic, ARP, DHCP lease, LLDP) was seen while the network was learned: a transient laptop or a rogue box on the segment"},
	{"new_conversation", 5, []string{"T0886"}, false, "a host opened a TCP/UDP conversation with a controller (PLC, RTU, OPC UA server) on a service other than its ICS protocol, never used there while the network was learned (web, SSH, FTP, SNMP...)"},
	{"controller_outbound", 8, []string{"T0869"}, false, "a controller opened a TCP/UDP conversation it never opened while the network was learned: command and control, or a pivot"},
	{"rogue_dhcp", 8, []string{"T0830"}, false, "a DHCP server never seen while the network was learned offered addresses: it can hand its clients itself as gateway or name server"},
	{"zone_violation", 7, []string{"T0886"}, true, "a transaction between two configured zones that no conduit allows (protocol or op): the plant's segmentation is crossed"},
	{"port_scan", 6, []string{"T0846"}, true, "one source's TCP connection attempts were refused or unanswered, or its UDP probes refused (ICMP port unreachable), by many host:port targets within a minute (nmap and the like)"},
	{"host_sweep", 5, []string{"T0846"}, true, "one source asked ARP for, or pinged, many addresses that do not exist within a minute: a sweep for hosts"},
	{"arp_spoofing", 9, []string{"T0830"}, true, "an address is claimed in ARP by a new MAC while the old one still answers, flips back and forth, or by a MAC that claims other hosts' addresses too: a man in the middle"},
	{"vulnerable_asset", 7, []string{"T0866", "T0819"}, true, "an asset's identity (order number, product code, firmware) matches an imported advisory whose CVE is known exploited (CISA KEV) or critical (CVSS ≥ 9.0, configurable): raised when the asset is first seen so or newly matched; the message lists the CVE ids, the patch-first rank and the path to it"},
	// The appliance's own health: the operator must know when it is blind.
	{"capture_stalled", 8, nil, true, "a monitor interface delivered no packet for too long, or went down"},
	{"packet_drops", 7, nil, true, "the kernel dropped packets before otwatch could read them"},
	{"clock_jump", 5, nil, true, "the system clock jumped: alert times around it may be off"},
	{"storage_failure", 8, nil, true, "the state could not be saved (disk full or failing): monitoring goes on in memory"},
	{"internal_error", 7, nil, true, "otwatch hit an internal error on a captured frame, or on a transaction it was learning or judging, and went on; the streams it was part of, or what was learned of the transaction, may be incomplete (the log names the frame)"},
	{"limit_reached", 5, nil, true, "a bound was hit (flows, buffers, inventory or baseline assets and keys, the alert queue, the evidence budget): some traffic is not fully analysed, or alerts were summed up rather than sent one by one"},
	{"appliance_update", 4, nil, true, "a step of an update of the appliance's own software: a signed bundle received, installed into the other root slot, booted on trial, proven healthy"},
	{"appliance_update_failed", 7, nil, true, "an appliance update did not happen as asked: a bundle refused (signature, digest, architecture, downgrade), a trial boot that failed, a rollback to the previous version, an installation cut short, the database restored"},
}

var kindIndex = func() map[string]KindInfo {
	m := map[string]KindInfo{}
	for _, k := range kinds {
		m[k.Kind] = k
	}
	return m
}()

// Kinds lists every alert kind, sorted by name.
func Kinds() []KindInfo {
	out := append([]KindInfo(nil), kinds...)
	sort.Slice(out, func(i, j int) bool { return out[i].Kind < out[j].Kind })
	return out
}

// Kind returns a kind's info.
func Kind(name string) (KindInfo, bool) {
	k, ok := kindIndex[name]
	return k, ok
}

// KindRow is a kind's row of the README's alert table.
func KindRow(k KindInfo) string {
	mitre := "—"
	if len(k.Mitre) > 0 {
		mitre = strings.Join(k.Mitre, ", ")
	}
	raised := "in detection"
	if k.Always {
		raised = "always, even while learning"
	}
	return "| `" + k.Kind + "` | " + strconv.Itoa(k.Severity) + " | " + mitre + " | " + raised + " | " + k.Doc + " |"
}
