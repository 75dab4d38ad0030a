package alerts

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/otwatch/otwatch/protocols"
)

// A recent alert's state record is binary (protocols/staterec.go's field
// forms): an alert flood is thousands of these, each written once, and
// as JSON they were four times the bytes and most of a checkpoint's time.
// The records before this format were JSON (appendSaved), which starts
// with '{': LoadQueue reads both.
const alertRecordFormat = 1

// Endpoint and target fields that may be absent, one bit each.
const (
	recHasClient = 1 << iota
	recHasServer
	recHasCode
	recLearning
)

// appendAlertRecord appends a's state record: its fields and the state
// record of its transaction (protocols.Transaction.AppendRecord), as kept.
func appendAlertRecord(b []byte, a *Alert) []byte {
	var set uint64
	if a.Client != nil {
		set |= recHasClient
	}
	if a.Server != nil {
		set |= recHasServer
	}
	if a.Code != nil {
		set |= recHasCode
	}
	if a.Learning {
		set |= recLearning
	}
	b = binary.AppendUvarint(append(b, alertRecordFormat), set)
	b = protocols.AppendRecString(protocols.AppendRecTime(protocols.AppendRecString(b, a.ID), a.TS), a.Kind)
	b = binary.AppendVarint(binary.AppendVarint(b, int64(a.Severity)), int64(a.BaseSeverity))
	b = protocols.AppendRecString(b, a.Proto)
	if a.Client != nil {
		b = appendEndpointRecord(b, a.Client)
	}
	if a.Server != nil {
		b = appendEndpointRecord(b, a.Server)
	}
	b = protocols.AppendRecString(protocols.AppendRecString(b, a.Unit), a.Op)
	if a.Code != nil {
		b = binary.AppendVarint(b, int64(*a.Code))
	}
	b = binary.AppendUvarint(b, uint64(len(a.Targets)))
	for i := range a.Targets {
		tg := &a.Targets[i]
		b = binary.AppendUvarint(protocols.AppendRecString(protocols.AppendRecString(b, tg.Space), tg.ID), uint64(tg.File))
		b = appendOptional(appendOptional(b, tg.Address), tg.Count)
	}
	b = protocols.AppendRecString(b, string(a.Values))
	if a.Frames == nil {
		b = append(b, 0)
	} else {
		b = binary.AppendUvarint(b, uint64(len(a.Frames))+1)
		for _, f := range a.Frames {
			b = binary.AppendUvarint(b, f)
		}
	}
	b = appendStringsRecord(protocols.AppendRecString(b, a.Message), a.Mitre)
	b = protocols.AppendRecString(protocols.AppendRecString(b, a.Incident), a.Regulation)
	b = binary.AppendUvarint(b, a.Repeats)
	b = protocols.AppendRecString(protocols.AppendRecString(b, a.Key), a.Asset)
	return protocols.AppendRecString(b, string(a.tx))
}

func appendEndpointRecord(b []byte, e *Endpoint) []byte {
	b = binary.AppendUvarint(protocols.AppendRecString(b, e.IP), uint64(e.Port))
	b = protocols.AppendRecString(b, e.MAC)
	if e.Address == nil {
		return append(b, 0)
	}
	return binary.AppendVarint(append(b, 1), int64(*e.Address))
}

func appendOptional(b []byte, v *uint64) []byte {
	if v == nil {
		return append(b, 0)
	}
	return binary.AppendUvarint(append(b, 1), *v)
}

var errAlertRecord = errors.New("damaged alert record")

// readAlertRecord reads back a record appendAlertRecord wrote; nothing of
// the alert aliases b.
func readAlertRecord(b []byte) (*Alert, error) {
	c := protocols.NewCursor(b)
	if c.U8() != alertRecordFormat {
		return nil, errAlertRecord
	}
	set := c.Uvarint()
	a := &Alert{ID: c.Str(), TS: c.Time(), Kind: c.Str()}
	a.Severity, a.BaseSeverity = c.Int(), c.Int()
	a.Proto = c.Str()
	if set&recHasClient != 0 {
		a.Client = readEndpointRecord(&c)
	}
	if set&recHasServer != 0 {
		a.Server = readEndpointRecord(&c)
	}
	a.Unit, a.Op = c.Str(), c.Str()
	if set&recHasCode != 0 {
		code := c.Int()
		a.Code = &code
	}
	if n := c.Count(); n > 0 {
		a.Targets = make([]Target, n)
		for i := range a.Targets {
			tg := &a.Targets[i]
			tg.Space, tg.ID, tg.File = c.Str(), c.Str(), uint32(c.Bounded(1<<32-1))
			tg.Address, tg.Count = readOptional(&c), readOptional(&c)
		}
	}
	if v := c.Bytes(); len(v) > 0 {
		a.Values = bytes.Clone(v)
	}
	if n := c.Bounded(uint64(c.Len()) + 1); n > 0 {
		a.Frames = make([]uint64, n-1)
		for i := range a.Frames {
			a.Frames[i] = c.Uvarint()
		}
	}
	a.Message = c.Str()
	a.Mitre = readStringsRecord(&c)
	a.Incident, a.Regulation = c.Str(), c.Str()
	a.Learning = set&recLearning != 0
	a.Repeats = c.Uvarint()
	a.Key, a.Asset = c.Str(), c.Str()
	if tx := c.Bytes(); len(tx) > 0 {
		a.tx = bytes.Clone(tx)
	}
	if c.Failed() || c.Len() != 0 || set >= recLearning<<1 {
		return nil, errAlertRecord
	}
	return a, nil
}

func readEndpointRecord(c *protocols.Cursor) *Endpoint {
	e := &Endpoint{IP: c.Str(), Port: uint16(c.Bounded(1<<16 - 1)), MAC: c.Str()}
	if c.Bool() {
		addr := c.Int32()
		e.Address = &addr
	}
	return e
}

func readOptional(c *protocols.Cursor) *uint64 {
	if !c.Bool() {
		return nil
	}
	v := c.Uvarint()
	return &v
}

// readSavedRecord reads a recent alert's record in either format: binary,
// or the JSON before it.
func readSavedRecord(v []byte) (*Alert, error) {
	if len(v) > 0 && v[0] == '{' {
		var sa savedAlert
		if err := json.Unmarshal(v, &sa); err != nil {
			return nil, err
		}
		if sa.Alert == nil {
			return nil, errors.New("empty")
		}
		return sa.alert(), nil
	}
	return readAlertRecord(v)
}

// alert is the saved alert as the engine keeps it: its time in full, its
// transaction as a record.
func (sa savedAlert) alert() *Alert {
	sa.Alert.TS = sa.TS
	if sa.Tx != nil {
		sa.Alert.tx = sa.Tx.AppendRecord(nil)
	}
	return sa.Alert
}

// transaction is the alert's transaction read back from its record, nil
// when it has none.
func (a *Alert) transaction() (*protocols.Transaction, error) {
	if len(a.tx) == 0 {
		return nil, nil
	}
	tx, err := protocols.ReadTxRecord(a.tx)
	if err != nil {
		return nil, fmt.Errorf("alert %s: %w", a.ID, err)
	}
	return tx, nil
}

// An incident's state record is binary too: a flood's incidents are
// thousands, each written again whenever it changed. The narrative is not
// kept: it is told again from the rest when the incident is read.
const incidentRecordFormat = 1

func appendIncidentRecord(b []byte, inc *Incident) []byte {
	b = protocols.AppendRecString(protocols.AppendRecString(append(b, incidentRecordFormat), inc.ID), inc.Source)
	b = protocols.AppendRecTime(protocols.AppendRecTime(b, inc.First), inc.Last)
	b = appendStringsRecord(b, inc.Assets)
	b = appendStringsRecord(binary.AppendVarint(b, int64(inc.AssetCount)), inc.Alerts)
	b = appendStringsRecord(binary.AppendVarint(b, int64(inc.AlertCount)), inc.Kinds)
	b = binary.AppendVarint(binary.AppendVarint(b, int64(inc.MaxSeverity)), int64(inc.Score))
	b = binary.AppendUvarint(b, uint64(len(inc.Events)))
	for i := range inc.Events {
		ev := &inc.Events[i]
		b = protocols.AppendRecString(protocols.AppendRecTime(b, ev.TS), ev.Kind)
		b = protocols.AppendRecString(binary.AppendVarint(b, int64(ev.Severity)), ev.Message)
		b = protocols.AppendRecString(b, ev.Alert)
	}
	return binary.AppendVarint(b, int64(inc.Skipped))
}

// appendStringsRecord appends a list as its length plus one (0: nil, as
// the JSON of before kept null apart from []) and the strings.
func appendStringsRecord(b []byte, ss []string) []byte {
	if ss == nil {
		return append(b, 0)
	}
	b = binary.AppendUvarint(b, uint64(len(ss))+1)
	for _, s := range ss {
		b = protocols.AppendRecString(b, s)
	}
	return b
}

func readStringsRecord(c *protocols.Cursor) []string {
	n := c.Bounded(uint64(c.Len()) + 1)
	if n == 0 {
		return nil
	}
	ss := make([]string, n-1)
	for i := range ss {
		ss[i] = c.Str()
	}
	return ss
}

var errIncidentRecord = errors.New("damaged incident record")

// readIncidentRecord reads an incident's record in either format: binary,
// or the JSON before it.
func readIncidentRecord(b []byte) (Incident, error) {
	var inc Incident
	if len(b) > 0 && b[0] == '{' {
		err := json.Unmarshal(b, &inc)
		return inc, err
	}
	c := protocols.NewCursor(b)
	if c.U8() != incidentRecordFormat {
		return inc, errIncidentRecord
	}
	inc.ID, inc.Source, inc.First, inc.Last = c.Str(), c.Str(), c.Time(), c.Time()
	inc.Assets = readStringsRecord(&c)
	inc.AssetCount = c.Int()
	inc.Alerts = readStringsRecord(&c)
	inc.AlertCount = c.Int()
	inc.Kinds = readStringsRecord(&c)
	inc.MaxSeverity, inc.Score = c.Int(), c.Int()
	if n := c.Count(); n > 0 {
		inc.Events = make([]Event, n)
		for i := range inc.Events {
			ev := &inc.Events[i]
			ev.TS, ev.Kind = c.Time(), c.Str()
			ev.Severity, ev.Message, ev.Alert = c.Int(), c.Str(), c.Str()
		}
	}
	inc.Skipped = c.Int()
	if c.Failed() || c.Len() != 0 {
		return Incident{}, errIncidentRecord
	}
	return inc, nil
}
