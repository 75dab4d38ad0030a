// Package conversations learns which hosts hold which TCP/UDP
// conversations with the plant's controllers (PLCs, RTUs, OPC UA servers)
// beyond their ICS protocol, and flags new ones once the network is
// learned: a web, SSH, FTP or SNMP session to a PLC nobody opened before
// (remote services, T0886), and above all a controller opening a
// conversation itself (command and control, T0869): controllers answer,
// they rarely call out.
//
// Only answered conversations count (pipeline.ConversationAnswered; and
// ConversationPickedUp for a TCP conversation that began before capture started,
// once both sides spoke): a port scan is learning/scan's business, not a
// flood of new conversations.
// Conversations between two hosts that serve no ICS protocol are not
// watched: that is IT monitoring, and noisy.
package conversations

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"slices"
	"sort"
	"strconv"
	"time"

	"github.com/otwatch/otwatch/alerts/finding"
	"github.com/otwatch/otwatch/protocols/frame"
)

// Key is one conversation: who called whom, on which port.
type Key struct {
	Client, Server netip.Addr
	Proto          uint8 // 6 TCP, 17 UDP
	Port           uint16
}

// newFinding is a new conversation involving a controller (kind
// new_conversation or controller_outbound), keyed by the conversation and
// filed under the controller concerned; clientPort is the port the
// calling side used.
func newFinding(kind string, k Key, clientPort uint16, now time.Time, frameNo uint64, msg string) []finding.Finding {
	asset := k.Server.String()
	if kind == "controller_outbound" {
		asset = k.Client.String()
	}
	return []finding.Finding{{Key: finding.NewKey(kind, k.Client.String(), k.Server.String(), strconv.Itoa(int(k.Proto)), strconv.Itoa(int(k.Port))),
		Time: now, Asset: asset, Source: &finding.Host{IP: k.Client.String(), Port: clientPort}, Dest: &finding.Host{IP: k.Server.String(), Port: k.Port},
		Frames: []uint64{frameNo}, Message: msg}}
}

// Detector is fed by the pipeline's goroutine; not safe for concurrent use.
type Detector struct {
	known    map[Key]struct{}
	maxKnown int
	// Learning says whether the network still learns at a time (the
	// baseline's network clock); Controller whether an address serves an
	// ICS protocol, which one and on which ports (the inventory).
	Learning   func(now time.Time) bool
	Controller func(ip netip.Addr) (proto string, ports []uint16, ok bool)
	// Dropped counts conversations not learned: the bound was reached.
	Dropped uint64
}

// New returns a detector remembering at most maxKnown conversations (0: 100,000).
func New(maxKnown int) *Detector {
	if maxKnown <= 0 {
		maxKnown = 100000
	}
	return &Detector{known: map[Key]struct{}{}, maxKnown: maxKnown}
}

func transport(p uint8) string {
	if p == 17 {
		return "UDP"
	}
	return "TCP"
}

// Known says whether client ever held a conversation with server's port
// (learning/scan asks: an attempt on a known pair is no probe).
func (d *Detector) Known(client, server netip.Addr, proto uint8, port uint16) bool {
	_, ok := d.known[Key{client.Unmap(), server.Unmap(), proto, port}]
	return ok
}

// Observe takes the pipeline's ConversationAnswered events. Only two unicast hosts
// hold a conversation: a broadcast, multicast or unspecified address is
// never a party (the pipeline already keeps datagrams to groups and their
// replies out), and a host talking to itself (a loopback capture, an
// anonymised trace) converses with no one on the network.
func (d *Detector) Observe(client, server netip.AddrPort, proto uint8, frameNo uint64, ns int64) []finding.Finding {
	k := Key{client.Addr().Unmap(), server.Addr().Unmap(), proto, server.Port()}
	if !frame.UnicastHost(k.Client) || !frame.UnicastHost(k.Server) || k.Client == k.Server {
		return nil
	}
	if _, ok := d.known[k]; ok {
		return nil
	}
	now := time.Unix(0, ns).UTC()
	learning := d.Learning == nil || d.Learning(now)
	if len(d.known) >= d.maxKnown {
		d.Dropped++
		return nil // unknown but unrememberable: say nothing rather than repeat forever
	}
	d.known[k] = struct{}{}
	if learning || d.Controller == nil {
		return nil
	}
	cProto, _, clientCtl := d.Controller(k.Client)
	sProto, sPorts, serverCtl := d.Controller(k.Server)
	what := fmt.Sprintf("%s %s → %s:%d", transport(proto), k.Client, k.Server, k.Port)
	switch {
	case clientCtl:
		return newFinding("controller_outbound", k, client.Port(), now, frameNo,
			fmt.Sprintf("%s (a %s controller) opened %s, a conversation it never opened while the network was learned: command and control or a pivot",
				k.Client, cProto, what))
	case serverCtl && !slices.Contains(sPorts, k.Port):
		return newFinding("new_conversation", k, client.Port(), now, frameNo,
			fmt.Sprintf("%s opened %s on a %s controller, a service it never used there while the network was learned",
				k.Client, what, sProto))
	}
	return nil // its ICS protocol (the baseline's business) or no controller involved
}

// ObservePickedUp takes the pipeline's ConversationPickedUp events: a TCP conversation
// whose opening was not seen (it began before capture started), once both
// sides spoke. client and server are only the pipeline's guess, so it is
// known if it was known either way round. A new one with a controller
// (outside the controller's ICS ports) is a new_conversation that names
// no opener: a covert channel between two RTUs set up before the monitor
// started shows this way (Lemay's moving_two_files capture).
func (d *Detector) ObservePickedUp(client, server netip.AddrPort, proto uint8, frameNo uint64, ns int64) []finding.Finding {
	a, b := client.Addr().Unmap(), server.Addr().Unmap()
	if !frame.UnicastHost(a) || !frame.UnicastHost(b) || a == b {
		return nil
	}
	k := Key{a, b, proto, server.Port()}
	if _, ok := d.known[k]; ok {
		return nil
	}
	if _, ok := d.known[Key{b, a, proto, client.Port()}]; ok {
		return nil
	}
	now := time.Unix(0, ns).UTC()
	learning := d.Learning == nil || d.Learning(now)
	if len(d.known) >= d.maxKnown {
		d.Dropped++
		return nil
	}
	d.known[k] = struct{}{}
	if learning || d.Controller == nil {
		return nil
	}
	aProto, aPorts, aCtl := d.Controller(a)
	bProto, bPorts, bCtl := d.Controller(b)
	if (aCtl && slices.Contains(aPorts, client.Port())) || (bCtl && slices.Contains(bPorts, server.Port())) {
		return nil // its ICS protocol, the baseline's business
	}
	ctlProto := bProto
	switch {
	case bCtl:
	case aCtl: // the finding's server is the controller concerned
		k, ctlProto = Key{b, a, proto, client.Port()}, aProto
	default:
		return nil
	}
	return newFinding("new_conversation", k, client.Port(), now, frameNo,
		fmt.Sprintf("%s and %s hold a %s conversation with %s (a %s controller) never seen while the network was learned; it began before capture started, so who opened it is unknown",
			client, server, transport(proto), k.Server, ctlProto))
}

type keyJSON struct {
	C netip.Addr `json:"c"`
	S netip.Addr `json:"s"`
	P uint8      `json:"p"`
	N uint16     `json:"n"`
}

// MarshalState saves the learned conversations (learning/store.Component).
func (d *Detector) MarshalState() ([]byte, error) {
	list := make([]keyJSON, 0, len(d.known))
	for k := range d.known {
		list = append(list, keyJSON{k.Client, k.Server, k.Proto, k.Port})
	}
	sort.Slice(list, func(i, j int) bool {
		a, b := list[i], list[j]
		switch {
		case a.C != b.C:
			return a.C.Less(b.C)
		case a.S != b.S:
			return a.S.Less(b.S)
		case a.P != b.P:
			return a.P < b.P
		}
		return a.N < b.N
	})
	return json.Marshal(list)
}

// UnmarshalState restores them.
func (d *Detector) UnmarshalState(b []byte) error {
	var list []keyJSON
	if err := json.Unmarshal(b, &list); err != nil {
		return fmt.Errorf("conversations state: %w", err)
	}
	known := make(map[Key]struct{}, len(list))
	for _, k := range list {
		if !k.C.IsValid() || !k.S.IsValid() {
			return fmt.Errorf("conversations state: invalid address in %+v", k)
		}
		if len(known) < d.maxKnown {
			known[Key{k.C, k.S, k.P, k.N}] = struct{}{}
		}
	}
	d.known = known
	return nil
}
