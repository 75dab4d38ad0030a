package alerts

import (
	"bytes"
	"encoding/json"
	"math"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/otwatch/otwatch/protocols"
)

// The alert record and the recent alerts' state records, encoded without
// reflection. encoding/json took 30% of a `read --db` of an alert flood
// (7,718 alerts) to save the recent alerts, most of it walking the
// structs and compacting what Alert.MarshalJSON returned; it also refused
// a transaction carrying a NaN written value, so one such alert made
// every checkpoint of the alerts fail until it left the recent set.
//
// AppendJSON writes what encoding/json wrote for an alert, byte for byte
// (HTML-safe strings included: TestAlertJSONIsWhatReflectionWrote); the
// state records are read back by encoding/json as before
// (TestSavedAlertReadsBack).

// AppendJSON appends the alert record (RECORDS.md) as one JSON object.
func (a *Alert) AppendJSON(b []byte) []byte {
	b = append(b, `{"ts":`...)
	b = append(append(append(b, '"'), protocols.FormatTime(a.TS)...), '"')
	b = appendJSONString(append(b, `,"id":`...), a.ID)
	b = appendJSONString(append(b, `,"kind":`...), a.Kind)
	b = strconv.AppendInt(append(b, `,"severity":`...), int64(a.Severity), 10)
	if a.Proto != "" {
		b = appendJSONString(append(b, `,"proto":`...), a.Proto)
	}
	if a.Client != nil {
		b = a.Client.appendJSON(append(b, `,"client":`...))
	}
	if a.Server != nil {
		b = a.Server.appendJSON(append(b, `,"server":`...))
	}
	if a.Unit != "" {
		b = appendJSONString(append(b, `,"unit":`...), a.Unit)
	}
	if a.Op != "" {
		b = appendJSONString(append(b, `,"op":`...), a.Op)
	}
	if a.Code != nil {
		b = strconv.AppendInt(append(b, `,"code":`...), int64(*a.Code), 10)
	}
	if len(a.Targets) > 0 {
		b = append(b, `,"targets":[`...)
		for i := range a.Targets {
			if i > 0 {
				b = append(b, ',')
			}
			b = a.Targets[i].appendJSON(b)
		}
		b = append(b, ']')
	}
	if len(a.Values) > 0 {
		b = appendHTMLSafe(append(b, `,"values":`...), a.Values)
	}
	b = append(b, `,"frames":`...)
	if a.Frames == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i, f := range a.Frames {
			if i > 0 {
				b = append(b, ',')
			}
			b = strconv.AppendUint(b, f, 10)
		}
		b = append(b, ']')
	}
	b = appendJSONString(append(b, `,"message":`...), a.Message)
	if len(a.Mitre) > 0 {
		b = appendStrings(append(b, `,"mitre":`...), a.Mitre)
	}
	if a.Incident != "" {
		b = appendJSONString(append(b, `,"incident":`...), a.Incident)
	}
	b = strconv.AppendInt(append(b, `,"base_severity":`...), int64(a.BaseSeverity), 10)
	if a.Regulation != "" {
		b = appendJSONString(append(b, `,"regulation":`...), a.Regulation)
	}
	if a.Learning {
		b = append(b, `,"learning":true`...)
	}
	if a.Repeats != 0 {
		b = strconv.AppendUint(append(b, `,"repeats":`...), a.Repeats, 10)
	}
	b = appendJSONString(append(b, `,"key":`...), a.Key)
	if a.Asset != "" {
		b = appendJSONString(append(b, `,"asset":`...), a.Asset)
	}
	return append(b, '}')
}

// MarshalJSON writes the alert record (AppendJSON).
func (a *Alert) MarshalJSON() ([]byte, error) { return a.AppendJSON(nil), nil }

func (e *Endpoint) appendJSON(b []byte) []byte {
	b = appendJSONString(append(b, `{"ip":`...), e.IP)
	b = strconv.AppendUint(append(b, `,"port":`...), uint64(e.Port), 10)
	b = appendJSONString(append(b, `,"mac":`...), e.MAC)
	if e.Address != nil {
		b = strconv.AppendInt(append(b, `,"address":`...), int64(*e.Address), 10)
	}
	return append(b, '}')
}

func (t *Target) appendJSON(b []byte) []byte {
	b = appendJSONString(append(b, `{"space":`...), t.Space)
	if t.ID != "" {
		b = appendJSONString(append(b, `,"id":`...), t.ID)
	}
	if t.File != 0 {
		b = strconv.AppendUint(append(b, `,"file":`...), uint64(t.File), 10)
	}
	if t.Address != nil {
		b = strconv.AppendUint(append(b, `,"address":`...), *t.Address, 10)
	}
	if t.Count != nil {
		b = strconv.AppendUint(append(b, `,"count":`...), *t.Count, 10)
	}
	return append(b, '}')
}

// appendSaved appends a recent alert's state record, the fields of
// savedAlert: the alert record, its time in full and its transaction.
func appendSaved(b []byte, s savedAlert) []byte {
	b = append(b, `{"alert":`...)
	if s.Alert == nil {
		b = append(b, "null"...)
	} else {
		b = s.Alert.AppendJSON(b)
	}
	b = appendJSONTime(append(b, `,"ts":`...), s.TS)
	if s.Tx != nil {
		b = appendTxState(append(b, `,"tx":`...), s.Tx)
	}
	return append(b, '}')
}

// MarshalJSON writes the state record (appendSaved), also inside the
// engine's whole snapshot.
func (s savedAlert) MarshalJSON() ([]byte, error) { return appendSaved(nil, s), nil }

// appendTxState appends a transaction as encoding/json reads it back into
// a protocols.Transaction: its exported fields by their Go names, the
// zero ones left out (they read back as zero), Memo never (a kept
// transaction has none). A written number that is not finite is kept as
// null, read back as 0: JSON has no NaN, and the rest of the state must
// not be lost for it.
func appendTxState(b []byte, t *protocols.Transaction) []byte {
	w := objWriter{b: append(b, '{')}
	w.str("Proto", t.Proto)
	w.endpoint("Client", &t.Client)
	w.endpoint("Server", &t.Server)
	w.str("Unit", t.Unit)
	w.int("Op", int64(t.Op))
	w.int("Code", int64(t.Code))
	w.int("Subcode", int64(t.Subcode))
	w.bool("HasSubcode", t.HasSubcode)
	w.str("CodeName", t.CodeName)
	w.str("SubcodeName", t.SubcodeName)
	w.list("Targets", len(t.Targets), func(o *objWriter, i int) {
		tg := &t.Targets[i]
		o.str("Space", tg.Space)
		o.uint("Address", tg.Address)
		o.uint("Count", tg.Count)
		o.str("ID", tg.ID)
		o.uint("File", uint64(tg.File))
	})
	w.values("Values", t.Values)
	w.bool("ValuesTruncated", t.ValuesTruncated)
	w.list("Points", len(t.Points), func(o *objWriter, i int) {
		p := &t.Points[i]
		o.uint("Target", uint64(p.Target))
		o.uint("Element", uint64(p.Element))
		o.uint("Sub", uint64(p.Sub))
		o.str("Field", p.Field)
		if p.Type != (protocols.NumType{}) {
			o.key("Type")
			ty := objWriter{b: append(o.b, '{')}
			ty.uint("Kind", uint64(p.Type.Kind))
			ty.uint("Bits", uint64(p.Type.Bits))
			o.b = append(ty.b, '}')
		}
		o.float("V", p.V)
	})
	w.values("ReadValues", t.ReadValues)
	w.bool("ReadValuesTruncated", t.ReadValuesTruncated)
	w.int("Outcome", int64(t.Outcome))
	w.int("ExceptionCode", t.ExceptionCode)
	w.bool("HasException", t.HasException)
	w.uint("RequestFrame", t.RequestFrame)
	w.uint("ResponseFrame", t.ResponseFrame)
	w.time("RequestTime", t.RequestTime)
	w.time("ResponseTime", t.ResponseTime)
	if len(t.Anomalies) > 0 {
		w.key("Anomalies")
		w.b = appendStrings(w.b, t.Anomalies)
	}
	w.bool("Encrypted", t.Encrypted)
	w.bool("Broadcast", t.Broadcast)
	w.uint("ID", t.ID)
	w.bool("HasID", t.HasID)
	w.uint("VLAN", uint64(t.VLAN))
	w.bool("FlowReversed", t.FlowReversed)
	w.bool("HasLinkAddress", t.HasLinkAddress)
	w.bool("FunctionUnknown", t.FunctionUnknown)
	w.list("Attrs", len(t.Attrs), func(o *objWriter, i int) {
		o.str("Key", t.Attrs[i].Key)
		o.str("Value", t.Attrs[i].Value)
	})
	return append(w.b, '}')
}

// objWriter appends the members of one JSON object, zero values left out.
type objWriter struct {
	b    []byte
	more bool
}

func (w *objWriter) key(k string) {
	if w.more {
		w.b = append(w.b, ',')
	}
	w.more = true
	w.b = append(append(append(w.b, '"'), k...), '"', ':')
}

func (w *objWriter) str(k, v string) {
	if v != "" {
		w.key(k)
		w.b = appendJSONString(w.b, v)
	}
}

func (w *objWriter) int(k string, v int64) {
	if v != 0 {
		w.key(k)
		w.b = strconv.AppendInt(w.b, v, 10)
	}
}

func (w *objWriter) uint(k string, v uint64) {
	if v != 0 {
		w.key(k)
		w.b = strconv.AppendUint(w.b, v, 10)
	}
}

func (w *objWriter) bool(k string, v bool) {
	if v {
		w.key(k)
		w.b = append(w.b, "true"...)
	}
}

// float writes v as encoding/json would; a value that is not finite as null.
func (w *objWriter) float(k string, v float64) {
	if v == 0 && !math.Signbit(v) {
		return
	}
	w.key(k)
	if math.IsNaN(v) || math.IsInf(v, 0) {
		w.b = append(w.b, "null"...)
		return
	}
	w.b = strconv.AppendFloat(w.b, v, 'g', -1, 64)
}

func (w *objWriter) time(k string, t time.Time) {
	if !t.IsZero() {
		w.key(k)
		w.b = appendJSONTime(w.b, t)
	}
}

func (w *objWriter) endpoint(k string, e *protocols.Endpoint) {
	if *e == (protocols.Endpoint{}) {
		return
	}
	w.key(k)
	o := objWriter{b: append(w.b, '{')}
	if e.IP.IsValid() {
		o.key("IP")
		o.b = appendJSONString(o.b, e.IP.String())
	}
	o.uint("Port", uint64(e.Port))
	if e.MAC != ([6]byte{}) {
		o.key("MAC")
		o.b = append(o.b, '[')
		for i, c := range e.MAC {
			if i > 0 {
				o.b = append(o.b, ',')
			}
			o.b = strconv.AppendUint(o.b, uint64(c), 10)
		}
		o.b = append(o.b, ']')
	}
	o.bool("HasMAC", e.HasMAC)
	o.int("LinkAddress", int64(e.LinkAddress))
	w.b = append(o.b, '}')
}

func (w *objWriter) values(k string, vs []protocols.Value) {
	w.list(k, len(vs), func(o *objWriter, i int) {
		o.uint("Kind", uint64(vs[i].Kind))
		o.int("Int", vs[i].Int)
		o.float("F", vs[i].F)
		o.str("Str", vs[i].Str)
	})
}

// list appends the member k, a list of n objects, the i-th written by one.
func (w *objWriter) list(k string, n int, one func(o *objWriter, i int)) {
	if n == 0 {
		return
	}
	w.key(k)
	w.b = append(w.b, '[')
	for i := range n {
		if i > 0 {
			w.b = append(w.b, ',')
		}
		o := objWriter{b: append(w.b, '{')}
		one(&o, i)
		w.b = append(o.b, '}')
	}
	w.b = append(w.b, ']')
}

// appendJSONTime appends t as time.Time's MarshalJSON does (RFC 3339 with
// nanoseconds).
func appendJSONTime(b []byte, t time.Time) []byte {
	return append(t.AppendFormat(append(b, '"'), time.RFC3339Nano), '"')
}

// appendJSONString appends s as a JSON string as encoding/json writes it:
// the short escapes, \u00XX for other control bytes, <, > and & escaped
// for HTML, U+2028 and U+2029 escaped, invalid UTF-8 as U+FFFD.
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if jsonPlain[c] {
			i++
			continue
		}
		if c < utf8.RuneSelf {
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&15])
			}
			i++
			start = i
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 {
			b = append(append(b, s[start:i]...), `\ufffd`...)
			i += n
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(append(b, s[start:i]...), '\\', 'u', '2', '0', '2', hex[r&15])
			i += n
			start = i
			continue
		}
		i += n
	}
	return append(append(b, s[start:]...), '"')
}

// jsonPlain: the bytes a JSON string carries as they are (ASCII only;
// the rest is decoded as UTF-8).
var jsonPlain = func() (t [256]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\' && c != '<' && c != '>' && c != '&'
	}
	return t
}()

// appendHTMLSafe appends JSON that is already valid and compact (a
// record's values) as encoding/json writes a json.RawMessage: <, >, &,
// U+2028 and U+2029 escaped (json.HTMLEscape).
func appendHTMLSafe(b, raw []byte) []byte {
	out := bytes.NewBuffer(b)
	json.HTMLEscape(out, raw)
	return out.Bytes()
}

// appendJSON appends the incident as encoding/json wrote it by reflection.
func (inc *Incident) appendJSON(b []byte) []byte {
	b = appendJSONString(append(b, `{"id":`...), inc.ID)
	b = appendJSONString(append(b, `,"source":`...), inc.Source)
	b = appendJSONTime(append(b, `,"first":`...), inc.First)
	b = appendJSONTime(append(b, `,"last":`...), inc.Last)
	b = appendStrings(append(b, `,"assets":`...), inc.Assets)
	b = strconv.AppendInt(append(b, `,"asset_count":`...), int64(inc.AssetCount), 10)
	b = appendStrings(append(b, `,"alerts":`...), inc.Alerts)
	b = strconv.AppendInt(append(b, `,"alert_count":`...), int64(inc.AlertCount), 10)
	b = appendStrings(append(b, `,"kinds":`...), inc.Kinds)
	b = strconv.AppendInt(append(b, `,"max_severity":`...), int64(inc.MaxSeverity), 10)
	b = strconv.AppendInt(append(b, `,"score":`...), int64(inc.Score), 10)
	b = appendJSONString(append(b, `,"narrative":`...), inc.Narrative)
	if len(inc.Events) > 0 {
		b = append(b, `,"events":[`...)
		for i := range inc.Events {
			ev := &inc.Events[i]
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONTime(append(b, `{"ts":`...), ev.TS)
			b = appendJSONString(append(b, `,"kind":`...), ev.Kind)
			b = strconv.AppendInt(append(b, `,"severity":`...), int64(ev.Severity), 10)
			b = appendJSONString(append(b, `,"message":`...), ev.Message)
			b = append(appendJSONString(append(b, `,"alert":`...), ev.Alert), '}')
		}
		b = append(b, ']')
	}
	if inc.Skipped != 0 {
		b = strconv.AppendInt(append(b, `,"events_skipped":`...), int64(inc.Skipped), 10)
	}
	return append(b, '}')
}

// MarshalJSON writes the incident (appendJSON).
func (inc *Incident) MarshalJSON() ([]byte, error) { return inc.appendJSON(nil), nil }

// appendStrings appends a string list as encoding/json does (nil: null).
func appendStrings(b []byte, ss []string) []byte {
	if ss == nil {
		return append(b, "null"...)
	}
	b = append(b, '[')
	for i, s := range ss {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, s)
	}
	return append(b, ']')
}
