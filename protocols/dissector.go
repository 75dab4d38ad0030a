package protocols

import (
	"fmt"
	"sort"
	"sync"
	"time"
)

// Direction of bytes within a flow.
type Direction uint8

const (
	ClientToServer Direction = 0
	ServerToClient Direction = 1
)

func (d Direction) String() string {
	if d == ClientToServer {
		return "request"
	}
	return "response"
}

// Transport a dissector runs over.
type Transport uint8

const (
	TCP Transport = 1 << iota
	UDP
)

// ProbeResult answers "is this my protocol?" for the first bytes of a flow.
type ProbeResult uint8

const (
	ProbeNo ProbeResult = iota
	ProbeNeedMore
	ProbeYes
)

// Packet identifies the packet whose arrival delivers the bytes being fed: a
// PDU completed by it is reported with its frame number and time.
type Packet struct {
	Frame uint64
	Time  time.Time
}

// Env connects a session to the pipeline: the flow's endpoints and where
// transactions and anomalies go. Sessions must not keep an emitted
// *Transaction: the sink may reuse nothing, but the session may not touch it
// again either.
type Env struct {
	Transport Transport
	VLAN      uint16
	Client    *Endpoint
	Server    *Endpoint
	EmitFunc  func(*Transaction)
	// AnomalyFunc counts an anomaly that belongs to no transaction.
	AnomalyFunc func(name string, pkt Packet)
	// CyclicFunc counts a datagram of cyclic I/O (EtherNet/IP class 1 on
	// UDP 2222): the protocol, the connection it belongs to, and how many
	// datagrams of that connection its sequence count shows were lost
	// just before it. Cyclic I/O makes no transaction record.
	CyclicFunc func(e *Env, proto string, conn uint32, lost uint64)
	// Strings, shared by the sessions of one pipeline, makes strings from
	// wire bytes without allocating repeats; nil allocates each.
	Strings *Strings
	// Pool, when not nil, takes each transaction back once the sink has
	// returned, and sessions take new ones from it (Pool.Get).
	Pool *TxPool
	// Memo, when not nil, is the flow's notes, handed on with each
	// transaction (Transaction.Memo).
	Memo *FlowMemo
}

// Emit hands a finished transaction to the pipeline, filling in the flow's
// endpoints (keeping the link addresses a session set when HasLinkAddress).
// The session must not touch t afterwards: with a Pool, t is reused.
func (e *Env) Emit(t *Transaction) {
	ca, sa := t.Client.LinkAddress, t.Server.LinkAddress
	t.Client, t.Server = *e.Client, *e.Server
	if t.FlowReversed {
		t.Client, t.Server = t.Server, t.Client
	}
	t.VLAN, t.Memo = e.VLAN, e.Memo
	if t.HasLinkAddress {
		t.Client.LinkAddress, t.Server.LinkAddress = ca, sa
	}
	// Every string leaves a dissector through the shared sanitiser: the
	// dissectors call it where strings enter (printable); this makes sure
	// of it for every protocol, at the cost of a byte scan.
	for i := range t.Attrs {
		t.Attrs[i].Value = PrintableString(t.Attrs[i].Value)
	}
	for i := range t.Values {
		if t.Values[i].Kind == ValueString {
			t.Values[i].Str = PrintableString(t.Values[i].Str)
		}
	}
	for i := range t.ReadValues {
		if t.ReadValues[i].Kind == ValueString {
			t.ReadValues[i].Str = PrintableString(t.ReadValues[i].Str)
		}
	}
	if e.EmitFunc != nil {
		e.EmitFunc(t)
	}
	e.Pool.Put(t)
}

// Anomaly reports a named anomaly that belongs to no transaction.
func (e *Env) Anomaly(name string, pkt Packet) {
	if e.AnomalyFunc != nil {
		e.AnomalyFunc(name, pkt)
	}
}

// Cyclic reports one datagram of cyclic I/O (CyclicFunc).
func (e *Env) Cyclic(proto string, conn uint32, lost uint64) {
	if e.CyclicFunc != nil {
		e.CyclicFunc(e, proto, conn, lost)
	}
}

// Session follows one flow of one protocol. The driver feeds reassembled
// bytes in order per direction.
type Session interface {
	// Feed offers bytes of one direction. The session consumes whole PDUs and
	// returns how many bytes it used; the rest is offered again, with more
	// bytes behind it, on the next call (for UDP the rest is dropped). An
	// error means "this is not my protocol any more": the driver detaches.
	Feed(dir Direction, data []byte, pkt Packet) (consumed int, err error)
	// Gap says n bytes of dir were lost: drop any partial PDU and
	// re-synchronise on the next plausible PDU boundary.
	Gap(dir Direction, n int, pkt Packet)
	// Close ends the flow: pending requests become no_response transactions.
	Close(pkt Packet)
}

// Wanter is a Session that can say how long the message it waits for is:
// the pipeline then keeps the message's first bytes in a buffer of that
// size, instead of one that doubles as segments arrive (fresh memory is
// dear: on a short run each new page costs a page fault). Sessions that
// frame with Frames answer from their Framing.
type Wanter interface {
	// Wants is the whole length, in bytes, of the partial message at the
	// start of what the last Feed of dir left; 0 when it is not known.
	Wants(dir Direction) int
}

// Reuser is a Session that can start again on another flow of its
// protocol: Reuse must leave it exactly as NewSession(env) makes one. The
// pipeline hands a closed flow's session to the next flow its dissector
// binds instead of making a new one, since fresh memory is dear (on a
// short run each new page costs a page fault) and a plant's clients often
// open a connection per poll. A session is reused only after Close, and
// never after it panicked.
type Reuser interface {
	Session
	Reuse(env *Env)
}

// Dissector declares a protocol to the registry: a value, not a type of
// its own, so a protocol's registration is one declaration in its folder:
//
//	var Dissector = protocols.Register(&protocols.Dissector{Name: "modbus",
//		Transports: protocols.TCP | protocols.UDP, Ports: []uint16{Port}, Probe: probe,
//		NewSession: func(env *protocols.Env) protocols.Session { return newSession(env) },
//		Profiles: profiles(), Identity: identity})
type Dissector struct {
	// Name is the registry name: anomaly prefix, metric prefix, and the
	// record proto of its transactions unless Profiles says otherwise.
	Name       string
	Transports Transport
	// Ports are hints for ordering probes and for telling client from
	// server when the handshake was not seen; content decides.
	Ports []uint16
	// Probe looks at the first bytes of one direction of a flow.
	Probe func(dir Direction, data []byte) ProbeResult
	// NewSession starts following a flow that Probe accepted.
	NewSession func(env *Env) Session
	// Profiles declares the record protocols it emits (see Profile); nil:
	// a bare profile under Name.
	Profiles []Profile
	// Identity returns the identity facts a transaction of its records
	// reveals about a device; nil: the protocol reveals none.
	Identity func(t *Transaction) []IdentityFact
}

var (
	registryMu sync.Mutex
	registry   []*Dissector
)

// Register adds a dissector and returns it; a duplicate name, or one
// without a probe or a session, panics at start-up.
func Register(d *Dissector) *Dissector {
	if d.Name == "" || d.Probe == nil || d.NewSession == nil {
		panic(fmt.Sprintf("protocols: dissector %q registered without a name, probe or session", d.Name))
	}
	registryMu.Lock()
	for _, have := range registry {
		if have.Name == d.Name {
			registryMu.Unlock()
			panic(fmt.Sprintf("protocols: dissector %q registered twice", d.Name))
		}
	}
	registry = append(registry, d)
	sort.Slice(registry, func(i, j int) bool { return registry[i].Name < registry[j].Name })
	registryMu.Unlock()
	resetProfiles()
	return d
}

// Dissectors returns the registered dissectors sorted by name.
func Dissectors() []*Dissector {
	registryMu.Lock()
	defer registryMu.Unlock()
	return append([]*Dissector(nil), registry...)
}

// Lookup returns the dissector of that name, or the one that emits records
// of that proto (EtherNet/IP's "cip"), nil if none.
func Lookup(name string) *Dissector {
	for _, d := range Dissectors() {
		if d.Name == name {
			return d
		}
	}
	return owner(name)
}
