// Package protocols holds what every dissector shares: the protocol-independent
// Transaction that learning consumes, the Dissector/Session contract, the
// registry and the named anomalies. Each protocol lives in its own sub-package
// and registers itself in init(); protocols/all switches them all on.
package protocols

import (
	"net/netip"
	"slices"
	"time"
	"unsafe"
)

// Op is the shared operation vocabulary: one detection rule ("PLC stop",
// "write to an unseen target") then covers every protocol.
type Op uint8

const (
	OpOther Op = iota
	OpRead
	OpWrite
	OpControl
	OpProgramDownload
	OpProgramUpload
	OpFirmwareUpdate
	OpStop
	OpStart
	OpRestart
	OpDiagnostic
	OpSession
	OpDiscovery
	numOps
)

// OpCounts counts transactions by their Op (the index).
type OpCounts [numOps]uint64

// Count counts one transaction of op; an op beyond the vocabulary counts as
// other, the name Op.String gives it.
func (c *OpCounts) Count(op Op) {
	if op >= numOps {
		op = OpOther
	}
	c[op]++
}

// Total is the count over every op.
func (c *OpCounts) Total() uint64 {
	var n uint64
	for _, v := range c {
		n += v
	}
	return n
}

// ByName is the counts of the ops counted at least once, by op name.
func (c *OpCounts) ByName() map[string]uint64 {
	m := map[string]uint64{}
	for op, v := range c {
		if v > 0 {
			m[Op(op).String()] = v
		}
	}
	return m
}

var opNames = [numOps]string{"other", "read", "write", "control", "program_download", "program_upload",
	"firmware_update", "stop", "start", "restart", "diagnostic", "session", "discovery"}

func (o Op) String() string {
	if o < numOps {
		return opNames[o]
	}
	return "other"
}

// ChangesState is true for the ops that change a device's state or
// process: writes, control, program download, firmware, stop/start/restart.
func (o Op) ChangesState() bool {
	switch o {
	case OpWrite, OpControl, OpProgramDownload, OpFirmwareUpdate, OpStop, OpStart, OpRestart:
		return true
	}
	return false
}

// OpNames lists every op's name, in Op order.
func OpNames() []string { return append([]string(nil), opNames[:]...) }

// ParseOp is the inverse of String; ok is false for an unknown name.
func ParseOp(s string) (Op, bool) {
	for i, n := range opNames {
		if n == s {
			return Op(i), true
		}
	}
	return OpOther, false
}

// Outcome says how a transaction ended.
type Outcome uint8

const (
	OutcomeOK Outcome = iota
	OutcomeException
	OutcomeNoResponse
	OutcomeUnsolicited
)

var outcomeNames = [...]string{"ok", "exception", "no_response", "unsolicited"}

func (o Outcome) String() string {
	if int(o) < len(outcomeNames) {
		return outcomeNames[o]
	}
	return "ok"
}

// Endpoint is one side of a flow.
type Endpoint struct {
	IP   netip.Addr
	Port uint16
	MAC  [6]byte
	// HasMAC is false when the link layer carried no source MAC (raw IP, NULL).
	HasMAC bool
	// LinkAddress is the DNP3 link address, -1 when not applicable.
	LinkAddress int32
}

// Target is what an operation touches: a register range, a DNP3
// group/variation index range, an S7 area range, or an OPC UA node.
type Target struct {
	Space   string // coil, holding_register, g12v1, db1, M, node, ...
	Address uint64
	Count   uint64
	ID      string // OPC UA NodeId text, when Space == "node"
	File    uint32 // Modbus file number (function 20/21), 0 otherwise
}

// ValueKind tells which field of a Value is meaningful.
type ValueKind uint8

const (
	ValueInt ValueKind = iota
	ValueFloat
	ValueString
	ValueBool
)

// Value is one written value.
type Value struct {
	Kind ValueKind
	Int  int64
	F    float64
	Str  string
}

// IntValue, FloatValue, StringValue and BoolValue build Values.
func IntValue(v int64) Value     { return Value{Kind: ValueInt, Int: v} }
func FloatValue(v float64) Value { return Value{Kind: ValueFloat, F: v} }
func StringValue(v string) Value { return Value{Kind: ValueString, Str: v} }
func BoolValue(v bool) Value {
	if v {
		return Value{Kind: ValueBool, Int: 1}
	}
	return Value{Kind: ValueBool}
}

// MaxValues caps the written values kept per transaction.
const MaxValues = 64

// Attr is a protocol-specific detail (device identity, sub-function name, ...)
// carried for the inventory, the dashboard and logs; learning never reads it.
type Attr struct {
	Key, Value string
}

// Transaction is a request with its response (either side may be missing).
// It is the only thing learning/ consumes.
type Transaction struct {
	Proto           string
	Client, Server  Endpoint
	Unit            string
	Op              Op
	Code            int
	Subcode         int
	HasSubcode      bool
	CodeName        string
	SubcodeName     string
	Targets         []Target
	Values          []Value
	ValuesTruncated bool
	// Points are the written numbers typed for the value models (see
	// points.go); empty when the dissector gives none, then learning pairs
	// Values with Targets.
	Points []Point
	// ReadValues are the values a read returned, where the protocol's
	// response carries them typed (S7comm-plus GetMultiVariables); capped
	// like Values. Learning reads only Values.
	ReadValues          []Value
	ReadValuesTruncated bool
	Outcome             Outcome
	ExceptionCode       int64
	HasException        bool
	RequestFrame        uint64 // 0: request not seen
	ResponseFrame       uint64 // 0: response not seen
	RequestTime         time.Time
	ResponseTime        time.Time
	Anomalies           []string
	Encrypted           bool
	Broadcast           bool
	// ID is the protocol's own request id (Modbus transaction id, S7 PDU
	// reference, OPC UA request id), when HasID.
	ID    uint64
	HasID bool
	// VLAN is the innermost 802.1Q tag of the flow, 0 when untagged.
	VLAN uint16
	// FlowReversed: the transport's client is this transaction's server
	// (a DNP3 outstation that opened the connection to its master).
	FlowReversed bool
	// HasLinkAddress: the session set Client/Server.LinkAddress (DNP3).
	HasLinkAddress bool
	// FunctionUnknown: the request was not seen and the response does not
	// say what it asked (a DNP3 response carries 129 whatever it answers;
	// Modbus, S7comm and OPC UA responses name their request's function),
	// so Code is the response's own and tells nothing of the function the
	// client used: learning and detection leave it out like an unsolicited
	// report. A capture that starts, or a gap that ends, between a request
	// and its response makes one.
	FunctionUnknown bool
	Attrs           []Attr
	// Memo is the flow's notes for the consumers (Env.Memo), nil for a
	// transaction that comes from no flow of a pipeline.
	Memo *FlowMemo
	// pooled: t waits in a TxPool (a guard against giving it out twice).
	pooled bool
}

// Reset empties t for reuse, keeping the room of its slices.
func (t *Transaction) Reset() {
	targets, values, points, reads := t.Targets[:0], t.Values[:0], t.Points[:0], t.ReadValues[:0]
	anomalies, attrs := t.Anomalies[:0], t.Attrs[:0]
	// cleared in place, then the slices put back: a composite literal
	// would be built whole and copied over t
	*t = Transaction{}
	t.Targets, t.Values, t.Points, t.ReadValues, t.Anomalies, t.Attrs = targets, values, points, reads, anomalies, attrs
}

// Clone returns a copy of t that shares nothing with it: what a consumer
// keeps beyond the sink call when transactions are recycled.
func (t *Transaction) Clone() *Transaction {
	c := *t
	c.Targets, c.Values, c.Points = slices.Clone(t.Targets), slices.Clone(t.Values), slices.Clone(t.Points)
	c.ReadValues, c.Anomalies, c.Attrs = slices.Clone(t.ReadValues), slices.Clone(t.Anomalies), slices.Clone(t.Attrs)
	c.pooled, c.Memo = false, nil
	return &c
}

// TxPool keeps emitted transactions for the sessions of one pipeline to
// fill again, when nothing downstream keeps a transaction past the sink
// call (pipeline.Pipeline.RecycleTransactions): a transaction then costs no
// allocation, its slices keep their room, and the heap stays small. It is
// bounded and not safe for concurrent use. A nil *TxPool keeps nothing.
//
// Two bounds keep it small: at most maxPooled transactions, and the room
// their slices hold at most maxPooledBytes in all. A transaction that
// grew large (a DNP3 class poll answered with a hundred point ranges) is
// kept while the budget allows, so the next such poll fills it again
// instead of growing a new one through every doubling; one larger than
// maxPooledTxBytes (a 250-item request) is left to the collector.
type TxPool struct {
	free  []*Transaction
	bytes int // room held by the slices of the transactions in free
}

const (
	maxPooled        = 1024
	maxPooledTxBytes = 32 << 10
	maxPooledBytes   = 2 << 20
)

// room is the memory t's slices hold, in bytes.
func (t *Transaction) room() int {
	return cap(t.Targets)*int(unsafe.Sizeof(Target{})) + cap(t.Values)*int(unsafe.Sizeof(Value{})) +
		cap(t.Points)*int(unsafe.Sizeof(Point{})) + cap(t.ReadValues)*int(unsafe.Sizeof(Value{})) +
		cap(t.Anomalies)*int(unsafe.Sizeof("")) + cap(t.Attrs)*int(unsafe.Sizeof(Attr{}))
}

// Get returns an empty transaction from the pool, nil when it has none.
func (p *TxPool) Get() *Transaction {
	if p == nil || len(p.free) == 0 {
		return nil
	}
	t := p.free[len(p.free)-1]
	p.free[len(p.free)-1] = nil
	p.free = p.free[:len(p.free)-1]
	p.bytes -= t.room()
	t.pooled = false
	return t
}

// Put gives t back once its sink has returned. A transaction put twice is
// kept once.
func (p *TxPool) Put(t *Transaction) {
	if p == nil || t.pooled || len(p.free) >= maxPooled {
		return
	}
	room := t.room()
	if room > maxPooledTxBytes || p.bytes+room > maxPooledBytes {
		return
	}
	t.Reset()
	t.pooled = true
	p.free = append(p.free, t)
	p.bytes += room
}

// AddTarget appends a target.
func (t *Transaction) AddTarget(space string, address, count uint64) {
	t.Targets = append(t.Targets, Target{Space: space, Address: address, Count: count})
}

// AddAttr appends a detail attribute.
func (t *Transaction) AddAttr(key, value string) {
	t.Attrs = append(t.Attrs, Attr{Key: key, Value: value})
}

// Time is the time of the request, of the response when there is none.
func (t *Transaction) Time() time.Time {
	if t.RequestFrame != 0 || t.ResponseFrame == 0 {
		return t.RequestTime
	}
	return t.ResponseTime
}

// AddValue appends v unless the cap is reached, in which case it marks the
// transaction truncated.
func (t *Transaction) AddValue(v Value) {
	if len(t.Values) >= MaxValues {
		t.ValuesTruncated = true
		return
	}
	t.Values = append(t.Values, v)
}

// NewValues appends up to n zero values (fewer at MaxValues, marking the
// transaction truncated) and returns them for a decoder to fill in place.
func (t *Transaction) NewValues(n int) []Value {
	if room := MaxValues - len(t.Values); n > room {
		t.ValuesTruncated = true
		n = max(room, 0)
	}
	if n <= 0 {
		return nil
	}
	start := len(t.Values)
	t.Values = slices.Grow(t.Values, n)[:start+n]
	vs := t.Values[start:]
	clear(vs)
	return vs
}

// AddReadValue appends a value read unless the cap is reached.
func (t *Transaction) AddReadValue(v Value) {
	if len(t.ReadValues) >= MaxValues {
		t.ReadValuesTruncated = true
		return
	}
	t.ReadValues = append(t.ReadValues, v)
}

// AddAnomaly appends a named anomaly once.
func (t *Transaction) AddAnomaly(name string) {
	for _, a := range t.Anomalies {
		if a == name {
			return
		}
	}
	t.Anomalies = append(t.Anomalies, name)
}

// Attr returns the value of a detail attribute, "" when absent.
func (t *Transaction) Attr(key string) string {
	for _, a := range t.Attrs {
		if a.Key == key {
			return a.Value
		}
	}
	return ""
}
