package inventory

import "time"

// EventKind says what changed in the inventory.
type EventKind uint8

const (
	// NewAsset: a host was inventoried for the first time (Asset).
	NewAsset EventKind = iota + 1
	// NewLink: a first transaction from client Peer to server Asset in Proto.
	NewLink
	// NewProtocol: an asset already inventoried speaks Proto on a side it
	// did not before (not raised for the transaction that created it).
	NewProtocol
	// IdentityConflict: an identity field of Asset got a second, different value.
	IdentityConflict
	// LimitReached: the asset or link limit was reached (once per limit).
	LimitReached
	// RouterDetected: a MAC turned out to carry several hosts' addresses;
	// the asset Peer that owned it is now Asset (its IP id). The hosts
	// split off get NewAsset events (Peer: the old id). Raised from
	// ObservePacket too, then delivered by the next Observe (Frame 0).
	RouterDetected
	// MACChanged: an address (IP) is claimed in ARP by another MAC than
	// before (MAC, OldMAC): a replaced device, or an impersonation.
	MACChanged
	// ARPSpoofing: as MACChanged, with a sign of an attack: the address
	// flips back, the old MAC still claims it, or the new MAC claims other
	// addresses too.
	ARPSpoofing
	// NewHost: an address claimed in ARP for the first time (IP, MAC): a
	// device on the monitored segment the inventory had not heard of.
	NewHost
)

var eventNames = [...]string{"", "new_asset", "new_link", "new_protocol", "identity_conflict", "limit_reached", "router_detected",
	"mac_changed", "arp_spoofing", "new_host"}

// String is the stable snake_case name of the kind.
func (k EventKind) String() string {
	if int(k) < len(eventNames) && k != 0 {
		return eventNames[k]
	}
	return "unknown"
}

// MarshalText encodes the kind as its name.
func (k EventKind) MarshalText() ([]byte, error) { return []byte(k.String()), nil }

// Event is one inventory change, for alerting.
type Event struct {
	Kind  EventKind `json:"kind"`
	Time  time.Time `json:"ts"`
	Frame uint64    `json:"frame"`
	Asset string    `json:"asset,omitempty"` // asset concerned (the server for links and protocols)
	Peer  string    `json:"peer,omitempty"`  // the client, for links
	Proto string    `json:"proto,omitempty"`
	// IP, MAC, OldMAC: the address and its new and previous MAC (ARP watch).
	IP     string `json:"ip,omitempty"`
	MAC    string `json:"mac,omitempty"`
	OldMAC string `json:"old_mac,omitempty"`
	// By: an address the new MAC has claimed as its own from the start (no
	// one else's before): the likely attacker, "" when none is known.
	By      string `json:"by,omitempty"`
	Message string `json:"message"`
}
