package protocols

import (
	"encoding/binary"
	"errors"
	"math"
)

// A transaction kept past its sink call (the one an alert was raised on,
// for "mark normal") is kept as its state record: a few hundred bytes in
// one allocation rather than the struct and each of its slices, written
// to the state file as it is and read back only when it is used.

// txRecordFormat is the first byte of a transaction's state record.
const txRecordFormat = 1

// Transaction flags, one bit each in the record.
const (
	txHasSubcode = 1 << iota
	txValuesTruncated
	txReadValuesTruncated
	txHasException
	txEncrypted
	txBroadcast
	txHasID
	txFlowReversed
	txHasLinkAddress
	txFunctionUnknown
)

// AppendRecord appends t's state record: every field but Memo (a kept
// transaction has none), numbers bit for bit (NaN too).
func (t *Transaction) AppendRecord(b []byte) []byte {
	b = append(b, txRecordFormat)
	b = AppendRecString(b, t.Proto)
	b = appendEndpointRecord(appendEndpointRecord(b, &t.Client), &t.Server)
	b = AppendRecString(b, t.Unit)
	b = append(b, byte(t.Op), byte(t.Outcome))
	b = binary.AppendVarint(b, int64(t.Code))
	b = binary.AppendVarint(b, int64(t.Subcode))
	b = AppendRecString(AppendRecString(b, t.CodeName), t.SubcodeName)
	b = binary.AppendUvarint(b, uint64(len(t.Targets)))
	for i := range t.Targets {
		tg := &t.Targets[i]
		b = binary.AppendUvarint(binary.AppendUvarint(AppendRecString(b, tg.Space), tg.Address), tg.Count)
		b = binary.AppendUvarint(AppendRecString(b, tg.ID), uint64(tg.File))
	}
	b = appendValuesRecord(b, t.Values)
	b = binary.AppendUvarint(b, uint64(len(t.Points)))
	for i := range t.Points {
		p := &t.Points[i]
		b = binary.AppendUvarint(binary.AppendUvarint(b, uint64(p.Target)), uint64(p.Element))
		b = AppendRecString(append(b, p.Sub), p.Field)
		b = AppendRecFloat(append(b, byte(p.Type.Kind), p.Type.Bits), p.V)
	}
	b = appendValuesRecord(b, t.ReadValues)
	b = binary.AppendVarint(b, t.ExceptionCode)
	b = binary.AppendUvarint(binary.AppendUvarint(b, t.RequestFrame), t.ResponseFrame)
	b = AppendRecTime(AppendRecTime(b, t.RequestTime), t.ResponseTime)
	b = binary.AppendUvarint(b, uint64(len(t.Anomalies)))
	for _, a := range t.Anomalies {
		b = AppendRecString(b, a)
	}
	b = binary.AppendUvarint(binary.AppendUvarint(b, t.ID), uint64(t.VLAN))
	b = binary.AppendUvarint(b, uint64(t.flags()))
	b = binary.AppendUvarint(b, uint64(len(t.Attrs)))
	for _, a := range t.Attrs {
		b = AppendRecString(AppendRecString(b, a.Key), a.Value)
	}
	return b
}

func (t *Transaction) flags() (f uint) {
	for bit, on := range [...]bool{t.HasSubcode, t.ValuesTruncated, t.ReadValuesTruncated, t.HasException, t.Encrypted,
		t.Broadcast, t.HasID, t.FlowReversed, t.HasLinkAddress, t.FunctionUnknown} {
		if on {
			f |= 1 << bit
		}
	}
	return f
}

func appendEndpointRecord(b []byte, e *Endpoint) []byte {
	// the address as MarshalBinary writes it (0, 4 or 16 bytes and the
	// zone), after its length
	n := e.IP.BitLen() / 8
	if n == 16 {
		n += len(e.IP.Zone())
	}
	b, _ = e.IP.AppendBinary(binary.AppendUvarint(b, uint64(n))) // never fails
	b = append(b, e.MAC[:]...)
	b = binary.AppendUvarint(AppendRecBool(b, e.HasMAC), uint64(e.Port))
	return binary.AppendVarint(b, int64(e.LinkAddress))
}

// A value is its kind, a byte saying which of its fields are set, and
// those.
const (
	valueInt = 1 << iota
	valueFloat
	valueStr
)

func appendValuesRecord(b []byte, vs []Value) []byte {
	b = binary.AppendUvarint(b, uint64(len(vs)))
	for i := range vs {
		v := &vs[i]
		var set byte
		if v.Int != 0 {
			set |= valueInt
		}
		if math.Float64bits(v.F) != 0 {
			set |= valueFloat
		}
		if v.Str != "" {
			set |= valueStr
		}
		b = append(b, byte(v.Kind), set)
		if set&valueInt != 0 {
			b = binary.AppendVarint(b, v.Int)
		}
		if set&valueFloat != 0 {
			b = AppendRecFloat(b, v.F)
		}
		if set&valueStr != 0 {
			b = AppendRecString(b, v.Str)
		}
	}
	return b
}

// ErrTxRecord is a transaction record that cannot be read back.
var ErrTxRecord = errors.New("damaged transaction record")

// ReadTxRecord reads back a record AppendRecord wrote.
func ReadTxRecord(b []byte) (*Transaction, error) {
	c := NewCursor(b)
	if c.U8() != txRecordFormat {
		return nil, ErrTxRecord
	}
	t := &Transaction{Proto: c.Str()}
	readEndpointRecord(&c, &t.Client)
	readEndpointRecord(&c, &t.Server)
	t.Unit = c.Str()
	t.Op, t.Outcome = Op(c.U8()), Outcome(c.U8())
	t.Code, t.Subcode = c.Int(), c.Int()
	t.CodeName, t.SubcodeName = c.Str(), c.Str()
	if n := c.Count(); n > 0 {
		t.Targets = make([]Target, n)
		for i := range t.Targets {
			tg := &t.Targets[i]
			tg.Space, tg.Address, tg.Count = c.Str(), c.Uvarint(), c.Uvarint()
			tg.ID, tg.File = c.Str(), uint32(c.Bounded(math.MaxUint32))
		}
	}
	t.Values = readValuesRecord(&c)
	if n := c.Count(); n > 0 {
		t.Points = make([]Point, n)
		for i := range t.Points {
			p := &t.Points[i]
			p.Target, p.Element = uint16(c.Bounded(math.MaxUint16)), uint32(c.Bounded(math.MaxUint32))
			p.Sub, p.Field = c.U8(), c.Str()
			p.Type = NumType{NumKind(c.U8()), c.U8()}
			p.V = c.Float()
		}
	}
	t.ReadValues = readValuesRecord(&c)
	t.ExceptionCode = c.Varint()
	t.RequestFrame, t.ResponseFrame = c.Uvarint(), c.Uvarint()
	t.RequestTime, t.ResponseTime = c.Time(), c.Time()
	if n := c.Count(); n > 0 {
		t.Anomalies = make([]string, n)
		for i := range t.Anomalies {
			t.Anomalies[i] = c.Str()
		}
	}
	t.ID, t.VLAN = c.Uvarint(), uint16(c.Bounded(math.MaxUint16))
	f := c.Uvarint()
	for bit, p := range [...]*bool{&t.HasSubcode, &t.ValuesTruncated, &t.ReadValuesTruncated, &t.HasException, &t.Encrypted,
		&t.Broadcast, &t.HasID, &t.FlowReversed, &t.HasLinkAddress, &t.FunctionUnknown} {
		*p = f&(1<<bit) != 0
	}
	if n := c.Count(); n > 0 {
		t.Attrs = make([]Attr, n)
		for i := range t.Attrs {
			t.Attrs[i] = Attr{c.Str(), c.Str()}
		}
	}
	if c.Failed() || c.Len() != 0 || f >= 1<<10 {
		return nil, ErrTxRecord
	}
	return t, nil
}

func readEndpointRecord(c *Cursor, e *Endpoint) {
	if err := e.IP.UnmarshalBinary(c.Bytes()); err != nil {
		c.Fail()
	}
	copy(e.MAC[:], c.Take(6))
	e.HasMAC = c.Bool()
	e.Port = uint16(c.Bounded(math.MaxUint16))
	e.LinkAddress = c.Int32()
}

func readValuesRecord(c *Cursor) []Value {
	n := c.Count()
	if n == 0 {
		return nil
	}
	vs := make([]Value, n)
	for i := range vs {
		v := &vs[i]
		v.Kind = ValueKind(c.U8())
		set := c.U8()
		if set&valueInt != 0 {
			v.Int = c.Varint()
		}
		if set&valueFloat != 0 {
			v.F = c.Float()
		}
		if set&valueStr != 0 {
			v.Str = c.Str()
		}
		if set >= valueStr<<1 {
			c.Fail()
		}
	}
	return vs
}
