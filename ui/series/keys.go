package series

import (
	"math"
	"slices"
	"strconv"

	"github.com/otwatch/otwatch/alerts/finding"
	"github.com/otwatch/otwatch/learning/baseline"
	"github.com/otwatch/otwatch/protocols"
)

// Sources of a point's values.
const (
	SourceWrite  = "write"  // written by a client
	SourceRead   = "read"   // returned by the device to a read
	SourceReport = "report" // sent by the device unasked (DNP3 unsolicited)
)

// Traffic metrics.
const (
	MetricTransactions = "transactions"
	MetricWrites       = "writes" // writes, control, program and firmware operations
)

// Point names a process point the way the baseline's value models do
// (baseline.PointDoc), and which values of it a series holds.
type Point struct {
	Asset   string `json:"asset"` // the device holding the point (server IP)
	Proto   string `json:"proto"`
	Unit    string `json:"unit"`
	Space   string `json:"space"`
	Address uint64 `json:"address"`
	Bit     *uint8 `json:"bit,omitempty"`
	Field   string `json:"field,omitempty"`
	ID      string `json:"id,omitempty"`
	Source  string `json:"source"`
}

// Traffic names a traffic series: of an asset (Client empty, Asset the
// asset's IP) or of a link (Client to Asset over Proto).
type Traffic struct {
	Asset  string `json:"asset"`
	Client string `json:"client,omitempty"`
	Proto  string `json:"proto,omitempty"`
	Metric string `json:"metric"`
}

// A series key is a readable string: "v|asset|proto|unit|space|address|
// sub|field|source|id" for a point (the id last: an OPC UA NodeId may hold
// anything), "t|asset|client|proto|metric" for traffic.

func appendPointKey(b []byte, asset, proto, unit string, p baseline.PointRef, source string) []byte {
	b = append(b, "v|"...)
	b = append(append(b, asset...), '|')
	b = append(append(b, proto...), '|')
	b = append(append(b, unit...), '|')
	b = append(append(b, p.Space...), '|')
	b = append(strconv.AppendUint(b, p.Address, 10), '|')
	b = append(strconv.AppendUint(b, uint64(p.Sub), 10), '|')
	b = append(append(b, p.Field...), '|')
	b = append(append(b, source...), '|')
	return append(b, p.ID...)
}

func appendTrafficKey(b []byte, asset, client, proto, metric string) []byte {
	b = append(b, "t|"...)
	b = append(append(b, asset...), '|')
	b = append(append(b, client...), '|')
	b = append(append(b, proto...), '|')
	return append(b, metric...)
}

// PointKey is the key of a point's series.
func PointKey(p Point) string {
	var sub uint8
	if p.Bit != nil {
		sub = *p.Bit + 1
	}
	return string(appendPointKey(nil, p.Asset, p.Proto, p.Unit, baseline.PointRef{Space: p.Space, Address: p.Address, Sub: sub, Field: p.Field, ID: p.ID}, p.Source))
}

// TrafficKey is the key of a traffic series.
func TrafficKey(t Traffic) string {
	return string(appendTrafficKey(nil, t.Asset, t.Client, t.Proto, t.Metric))
}

// ParseKey reads a key: a point's or a traffic series'. Both are keys as
// alerts write theirs (finding.Key), of kind "v" or "t".
func ParseKey(key string) (*Point, *Traffic, bool) {
	k, _ := finding.ParseKey(key, 9) // a point's id, last, may hold '|'
	f := k.Parts
	switch k.Kind {
	case "v":
		if len(f) != 9 {
			return nil, nil, false
		}
		addr, err1 := strconv.ParseUint(f[4], 10, 64)
		sub, err2 := strconv.ParseUint(f[5], 10, 8)
		if err1 != nil || err2 != nil || f[0] == "" {
			return nil, nil, false
		}
		p := &Point{Asset: f[0], Proto: f[1], Unit: f[2], Space: f[3], Address: addr, Field: f[6], Source: f[7], ID: f[8]}
		if sub > 0 {
			b := uint8(sub - 1)
			p.Bit = &b
		}
		return p, nil, true
	case "t":
		if len(f) != 4 || f[0] == "" || f[3] == "" {
			return nil, nil, false
		}
		return nil, &Traffic{Asset: f[0], Client: f[1], Proto: f[2], Metric: f[3]}, true
	}
	return nil, nil, false
}

func assetOf(key string) string {
	k, _ := finding.ParseKey(key, 2)
	return k.Part(0)
}

func writes(op protocols.Op) bool {
	switch op {
	case protocols.OpWrite, protocols.OpControl, protocols.OpProgramDownload, protocols.OpFirmwareUpdate:
		return true
	}
	return false
}

// ObserveTx records a transaction: its traffic (the server's, the
// client's, the link's) and the values written to its points or returned
// by them.
func (s *Store) ObserveTx(tx *protocols.Transaction) {
	t := tx.Time().UnixNano()
	if t <= 0 || !tx.Server.IP.IsValid() {
		return
	}
	var sbuf, cbuf [64]byte
	server := tx.Server.IP.AppendTo(sbuf[:0])
	client := tx.Client.IP.AppendTo(cbuf[:0])
	w := writes(tx.Op)
	s.mu.Lock()
	defer s.mu.Unlock()
	var kb [256]byte
	count := func(key []byte) {
		if sr := s.get(key, KindCount); sr != nil {
			s.observe(sr, t, 1)
		}
	}
	count(appendTrafficKey(kb[:0], string(server), "", "", MetricTransactions))
	if tx.Client.IP.IsValid() {
		count(appendTrafficKey(kb[:0], string(client), "", "", MetricTransactions))
		count(appendTrafficKey(kb[:0], string(server), string(client), tx.Proto, MetricTransactions))
	}
	if w {
		count(appendTrafficKey(kb[:0], string(server), "", "", MetricWrites))
		if tx.Client.IP.IsValid() {
			count(appendTrafficKey(kb[:0], string(server), string(client), tx.Proto, MetricWrites))
		}
	}
	source := SourceWrite
	if tx.Outcome == protocols.OutcomeUnsolicited {
		source = SourceReport
	}
	value := func(p baseline.PointRef, src string) {
		if math.IsNaN(p.V) || math.IsInf(p.V, 0) {
			return
		}
		sr := s.get(appendPointKey(kb[:0], string(server), tx.Proto, tx.Unit, p, src), KindValue)
		if sr == nil {
			return
		}
		s.observe(sr, t, p.V)
		if src == SourceWrite && tx.Client.IP.IsValid() && !slices.Contains(sr.writers, tx.Client.IP) {
			if len(sr.writers) == maxWriters {
				sr.writers = sr.writers[1:]
			}
			sr.writers = append(sr.writers, tx.Client.IP)
		}
	}
	if w || source == SourceReport {
		baseline.EachPoint(tx, func(p baseline.PointRef) { value(p, source) })
	}
	if len(tx.ReadValues) > 0 && tx.Outcome != protocols.OutcomeUnsolicited {
		rtx := protocols.Transaction{Targets: tx.Targets, Values: tx.ReadValues}
		baseline.EachPoint(&rtx, func(p baseline.PointRef) { value(p, SourceRead) })
	}
}
