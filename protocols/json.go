package protocols

import (
	"math"
	"net/netip"
	"strconv"
	"time"
	"unicode/utf8"
)

// TimeFormat is RFC 3339 UTC with nanoseconds, as the records carry it.
const TimeFormat = "2006-01-02T15:04:05.000000000Z"

// AppendJSON appends the transaction as one JSON object in the record format
// of docs RECORDS.md (field order fixed, so output is byte-stable across
// machines). Hand-written: it runs once per transaction and must not allocate.
func (t *Transaction) AppendJSON(b []byte) []byte {
	b = append(b, `{"ts":"`...)
	b = AppendTime(b, t.Time())
	b = append(b, `","proto":`...)
	b = AppendString(b, t.Proto)
	b = append(b, `,"client":`...)
	b = t.Client.appendJSON(b)
	b = append(b, `,"server":`...)
	b = t.Server.appendJSON(b)
	b = append(b, `,"unit":`...)
	b = AppendString(b, t.Unit)
	b = append(b, `,"op":"`...)
	b = append(b, t.Op.String()...)
	b = append(b, `","code":`...)
	b = strconv.AppendInt(b, int64(t.Code), 10)
	if t.HasSubcode {
		b = append(b, `,"subcode":`...)
		b = strconv.AppendInt(b, int64(t.Subcode), 10)
	}
	b = append(b, `,"code_name":`...)
	b = AppendString(b, t.CodeName)
	if t.SubcodeName != "" {
		b = append(b, `,"subcode_name":`...)
		b = AppendString(b, t.SubcodeName)
	}
	b = append(b, `,"targets":[`...)
	for i, tg := range t.Targets {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"space":`...)
		b = AppendString(b, tg.Space)
		if tg.Space == "node" || tg.ID != "" {
			b = append(b, `,"id":`...)
			b = AppendString(b, tg.ID)
		} else {
			if tg.File != 0 {
				b = append(b, `,"file":`...)
				b = strconv.AppendUint(b, uint64(tg.File), 10)
			}
			b = append(b, `,"address":`...)
			b = strconv.AppendUint(b, tg.Address, 10)
			b = append(b, `,"count":`...)
			b = strconv.AppendUint(b, tg.Count, 10)
		}
		b = append(b, '}')
	}
	b = append(b, `],"values":`...)
	b = AppendValues(b, t.Values)
	if t.ValuesTruncated {
		b = append(b, `,"values_truncated":true`...)
	}
	if len(t.ReadValues) > 0 {
		b = append(b, `,"read_values":`...)
		b = AppendValues(b, t.ReadValues)
		if t.ReadValuesTruncated {
			b = append(b, `,"read_values_truncated":true`...)
		}
	}
	b = append(b, `,"outcome":"`...)
	b = append(b, t.Outcome.String()...)
	b = append(b, '"')
	if t.Outcome == OutcomeException && t.HasException {
		b = append(b, `,"exception_code":`...)
		b = strconv.AppendInt(b, t.ExceptionCode, 10)
	}
	if t.HasID {
		b = append(b, `,"transaction_id":`...)
		b = strconv.AppendUint(b, t.ID, 10)
	}
	if t.RequestFrame != 0 {
		b = append(b, `,"request_frame":`...)
		b = strconv.AppendUint(b, t.RequestFrame, 10)
	}
	if t.ResponseFrame != 0 {
		b = append(b, `,"response_frame":`...)
		b = strconv.AppendUint(b, t.ResponseFrame, 10)
	}
	b = append(b, `,"anomalies":[`...)
	for i, a := range t.Anomalies {
		if i > 0 {
			b = append(b, ',')
		}
		b = AppendString(b, a)
	}
	b = append(b, ']')
	if t.Encrypted {
		b = append(b, `,"encrypted":true`...)
	}
	if t.Broadcast {
		b = append(b, `,"broadcast":true`...)
	}
	if t.VLAN != 0 {
		b = append(b, `,"vlan":`...)
		b = strconv.AppendUint(b, uint64(t.VLAN), 10)
	}
	if len(t.Attrs) > 0 {
		b = append(b, `,"detail":{`...)
		for i, a := range t.Attrs {
			if i > 0 {
				b = append(b, ',')
			}
			b = AppendString(b, a.Key)
			b = append(b, ':')
			b = AppendString(b, a.Value)
		}
		b = append(b, '}')
	}
	return append(b, '}')
}

func (e *Endpoint) appendJSON(b []byte) []byte {
	b = append(b, `{"ip":"`...)
	b = AppendAddr(b, e.IP)
	b = append(b, `","port":`...)
	b = strconv.AppendUint(b, uint64(e.Port), 10)
	b = append(b, `,"mac":"`...)
	if e.HasMAC {
		b = AppendMAC(b, e.MAC)
	}
	b = append(b, '"')
	if e.LinkAddress >= 0 {
		b = append(b, `,"address":`...)
		b = strconv.AppendInt(b, int64(e.LinkAddress), 10)
	}
	return append(b, '}')
}

// AppendAddr appends an IP address (nothing for the zero Addr).
func AppendAddr(b []byte, a netip.Addr) []byte {
	if !a.IsValid() {
		return b
	}
	return a.AppendTo(b)
}

// AppendMAC appends aa:bb:cc:dd:ee:ff.
func AppendMAC(b []byte, m [6]byte) []byte {
	const hex = "0123456789abcdef"
	for i, c := range m {
		if i > 0 {
			b = append(b, ':')
		}
		b = append(b, hex[c>>4], hex[c&15])
	}
	return b
}

// AppendValues appends values as a JSON array.
func AppendValues(b []byte, vs []Value) []byte {
	b = append(b, '[')
	for i, v := range vs {
		if i > 0 {
			b = append(b, ',')
		}
		b = v.appendJSON(b)
	}
	return append(b, ']')
}

func (v Value) appendJSON(b []byte) []byte {
	switch v.Kind {
	case ValueFloat:
		if math.IsNaN(v.F) || math.IsInf(v.F, 0) { // not representable as a JSON number
			return AppendString(b, strconv.FormatFloat(v.F, 'g', -1, 64))
		}
		return strconv.AppendFloat(b, v.F, 'g', -1, 64)
	case ValueString:
		return AppendString(b, v.Str)
	case ValueBool:
		return strconv.AppendBool(b, v.Int != 0)
	}
	return strconv.AppendInt(b, v.Int, 10)
}

// AppendString appends s as a JSON string.
func AppendString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	i := 0
	for i < len(s) && s[i] >= 0x20 && s[i] < utf8.RuneSelf && s[i] != '"' && s[i] != '\\' {
		i++
	}
	b = append(b, s[:i]...) // the plain prefix (usually all of it) at once
	for i < len(s) {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				b = append(b, '\\', c)
			case c < 0x20:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&15])
			default:
				b = append(b, c)
			}
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 {
			b = append(b, `\ufffd`...)
		} else {
			b = append(b, s[i:i+n]...)
		}
		i += n
	}
	return append(b, '"')
}

// FormatTime renders a time as the records do.
func FormatTime(t time.Time) string { return string(AppendTime(nil, t)) }

// AppendTime appends t as the records carry it (TimeFormat, UTC). It does
// what t.UTC().AppendFormat(b, TimeFormat) does, without parsing the layout
// on every record (that was half of the records' encoding).
func AppendTime(b []byte, t time.Time) []byte {
	sec := t.Unix()
	days, rem := sec/86400, sec%86400
	if rem < 0 {
		days, rem = days-1, rem+86400
	}
	// Civil date from days since 1970-01-01 (proleptic Gregorian, H. Hinnant).
	z := days + 719468
	era := z / 146097
	if z < 0 && z%146097 != 0 {
		era--
	}
	doe := z - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	y := yoe + era*400
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	d := doy - (153*mp+2)/5 + 1
	m := mp + 3
	if mp >= 10 {
		m = mp - 9
	}
	if m <= 2 {
		y++
	}
	if y < 0 || y > 9999 {
		return t.UTC().AppendFormat(b, TimeFormat)
	}
	ns := t.Nanosecond()
	var buf [30]byte // 2006-01-02T15:04:05.000000000Z
	put := func(at, width int, v int64) {
		for i := at + width - 1; i >= at; i-- {
			buf[i] = byte('0' + v%10)
			v /= 10
		}
	}
	put(0, 4, y)
	buf[4] = '-'
	put(5, 2, m)
	buf[7] = '-'
	put(8, 2, d)
	buf[10] = 'T'
	put(11, 2, rem/3600)
	buf[13] = ':'
	put(14, 2, rem/60%60)
	buf[16] = ':'
	put(17, 2, rem%60)
	buf[19] = '.'
	put(20, 9, int64(ns))
	buf[29] = 'Z'
	return append(b, buf[:]...)
}
