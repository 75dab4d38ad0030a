package finding

import (
	"net/netip"
	"time"

	"github.com/otwatch/otwatch/protocols"
)

// Finding is one deviation, or fact worth an alert, that a detector found.
type Finding struct {
	// Key is what deviated, its kind the alert kind (alerts.Kinds lists
	// them); Time when, in packet time (or wall time for the appliance's
	// own health).
	Key  Key
	Time time.Time

	// Asset is the asset concerned: a transaction's server, the new host,
	// the host scanned ("" for the appliance itself).
	Asset string
	// Tx is the transaction that showed it, nil when none did: the alert
	// then takes its parties, targets and frames, and marking the alert
	// normal teaches the baseline this transaction.
	Tx *protocols.Transaction
	// Source is the host acting (the scanner, the new device, the rogue
	// server, the poller), as a transaction's client is: the incident is
	// filed under it and syslog reports it as the source. Dest is the host
	// acted on (the scanned host, the conversation's peer, the address
	// claimed), as a transaction's server is. Set when there is no
	// transaction or it says more than the transaction does; nil when none.
	Source, Dest *Host

	// Message says what was seen and why it deviates, read alone in a
	// syslog line; Frames are the evidence beyond the transaction's.
	Message string
	Frames  []uint64

	// Learning: found while the asset still learns (an "always" kind such
	// as a control command).
	Learning bool
	// Lower is how many levels below its kind's severity this finding is,
	// and LowerWhy why (a value outside the learned range but not far, a
	// write to a point the client polls): the alert says so.
	Lower    int
	LowerWhy string
	// Space and Address name the target that deviated, when it has one
	// (HasAddress): a flood of distinct deviations is summed up by range.
	Space      string
	Address    uint64
	HasAddress bool
	// Hosts and Ports count what a scan touched: distinct hosts, and
	// distinct ports among them.
	Hosts, Ports int
}

// Kind is the alert kind: the key's.
func (f Finding) Kind() string { return f.Key.Kind }

// Host is one side of a finding without a transaction, as an alert
// reports it: IP, port and MAC when known.
type Host struct {
	IP   string
	Port uint16
	MAC  string
}

// HostOf is the host at ip, nil when ip is not an address.
func HostOf(ip netip.Addr) *Host {
	if !ip.IsValid() {
		return nil
	}
	return &Host{IP: ip.String()}
}
