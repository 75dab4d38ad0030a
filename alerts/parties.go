package alerts

// Parties says which hosts the alerts of one kind carry: the source (the
// alert's client, the host acting) and the destination (its server, the
// host acted on). The SIEM outputs map them to CEF src/spt/smac and
// dst/dpt/dmac, LEEF src/srcPort/srcMAC and dst/dstPort/dstMAC, and the
// JSON record's client and server. alerts/syslog/README.md's table per kind
// is checked against this one, and cmd/otwatch's tests check that the
// alerts the monitor raises hold to it.
type Parties struct {
	Source      string // "" when the kind never has one
	Destination string // "" when the kind never has one
	// DestPort: the destination carries its port (CEF dpt).
	DestPort bool
	// Sometimes: the destination is there only in the case Destination names.
	Sometimes bool
}

// Transaction kinds: the transaction's client and server, ports included.
var txParties = Parties{Source: "the transaction's client (address, port, MAC)", Destination: "the transaction's server (address, port, MAC)", DestPort: true}

var parties = map[string]Parties{
	"new_asset":               txParties,
	"new_link":                txParties,
	"new_protocol":            txParties,
	"new_function":            txParties,
	"write_from_new_client":   txParties,
	"write_to_unseen_target":  txParties,
	"value_out_of_range":      txParties,
	"write_burst":             txParties,
	"exception_burst":         txParties,
	"scan":                    {Source: "the client that touched many new hosts, functions or targets", Destination: "the server of its last transaction", DestPort: true},
	"plc_stop":                txParties,
	"plc_start":               txParties,
	"program_download":        txParties,
	"program_upload":          txParties,
	"firmware_update":         txParties,
	"restart":                 txParties,
	"config_change":           txParties,
	"force_listen_only":       txParties,
	"broadcast_write":         txParties,
	"malformed_pdu":           txParties,
	"zone_violation":          txParties,
	"cyclic_stopped":          {Source: "the client that stopped polling", Destination: "the device it polled (no port)"},
	"identity_conflict":       {Destination: "the device that reported another identity, with the port it answered on", DestPort: true},
	"mac_changed":             {Source: "the host claiming the address, when known (its own address, the new MAC)", Destination: "the address claimed, with the MAC that held it"},
	"arp_spoofing":            {Source: "the host claiming the address, when known (its own address, the new MAC)", Destination: "the address claimed, with the MAC that held it"},
	"new_host":                {Source: "the new device (address and MAC)"},
	"new_conversation":        {Source: "the host that opened the conversation (address, port)", Destination: "the controller and the port it was opened to", DestPort: true},
	"controller_outbound":     {Source: "the controller (address, port)", Destination: "the peer it opened the conversation to and its port", DestPort: true},
	"rogue_dhcp":              {Source: "the DHCP server (address, port 67, MAC)", Destination: "the client it answered: the address offered, port 68, the client's MAC (not in an answer that offers no address)", DestPort: true, Sometimes: true},
	"port_scan":               {Source: "the scanning host", Destination: "the scanned host, when the scan tried one host (no port: it tried many)", Sometimes: true},
	"host_sweep":              {Source: "the sweeping host"},
	"vulnerable_asset":        {Destination: "the vulnerable device (its address)"},
	"capture_stalled":         {},
	"appliance_update":        {},
	"appliance_update_failed": {},
	"packet_drops":            {},
	"clock_jump":              {},
	"storage_failure":         {},
	"internal_error":          {},
	"limit_reached":           {},
}

// KindParties returns the parties of a kind.
func KindParties(kind string) (Parties, bool) {
	p, ok := parties[kind]
	return p, ok
}
