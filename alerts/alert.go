package alerts

import (
	"encoding/json"
	"time"

	"github.com/otwatch/otwatch/protocols"
)

// Endpoint is a flow side as RECORDS.md writes it.
type Endpoint struct {
	IP      string `json:"ip"`
	Port    uint16 `json:"port"`
	MAC     string `json:"mac"`
	Address *int32 `json:"address,omitempty"`
}

// Target is a transaction target as RECORDS.md writes it.
type Target struct {
	Space   string  `json:"space"`
	ID      string  `json:"id,omitempty"`
	File    uint32  `json:"file,omitempty"`
	Address *uint64 `json:"address,omitempty"`
	Count   *uint64 `json:"count,omitempty"`
}

// Alert is one alert record (RECORDS.md "Alert record"). Fields after
// Incident are otwatch's additions.
type Alert struct {
	ID       string          `json:"id"`
	TS       time.Time       `json:"ts"`
	Kind     string          `json:"kind"`
	Severity int             `json:"severity"`
	Proto    string          `json:"proto,omitempty"`
	Client   *Endpoint       `json:"client,omitempty"`
	Server   *Endpoint       `json:"server,omitempty"`
	Unit     string          `json:"unit,omitempty"`
	Op       string          `json:"op,omitempty"`
	Code     *int            `json:"code,omitempty"`
	Targets  []Target        `json:"targets,omitempty"`
	Values   json.RawMessage `json:"values,omitempty"`
	Frames   []uint64        `json:"frames"`
	Message  string          `json:"message"`
	Mitre    []string        `json:"mitre,omitempty"`
	Incident string          `json:"incident,omitempty"`

	BaseSeverity int    `json:"base_severity"`
	Regulation   string `json:"regulation,omitempty"` // why the severity was lowered
	Learning     bool   `json:"learning,omitempty"`   // raised while the asset was still learning
	Repeats      uint64 `json:"repeats,omitempty"`    // occurrences folded into this alert
	Key          string `json:"key"`                  // what deviated: repeats of the same key fold
	Asset        string `json:"asset,omitempty"`      // the server asset (or new host) concerned

	// tx is the triggering transaction's state record (read back by
	// transaction), for "mark normal": a flood keeps thousands of alerts,
	// and the record is one small allocation where a clone of the
	// transaction was several larger ones
	tx []byte
	// rseq numbers the alert among those the engine remembered, for its
	// record in the state file (0: not remembered)
	rseq uint64
}

// alertParts is an alert with what it points to, allocated as one: a flood
// makes thousands of alerts, and each of these was an allocation of its own.
type alertParts struct {
	alert          Alert
	client, server Endpoint
	links          [2]int32 // the endpoints' link addresses
	code           int
	target         [1]Target // the first target and its range
	targetRange    [2]uint64
	frames         [2]uint64
}

// endpoint fills out with e, its address named by names and its link
// address kept in link.
func endpoint(out *Endpoint, e protocols.Endpoint, names *protocols.AddrTexts, link *int32) *Endpoint {
	*out = Endpoint{IP: names.Text(e.IP), Port: e.Port}
	if e.HasMAC {
		out.MAC = names.MAC(e.MAC)
	}
	if e.LinkAddress >= 0 {
		*link = e.LinkAddress
		out.Address = link
	}
	return out
}

// fillFromTransaction copies the transaction fields RECORDS.md lists,
// addresses named by names, into the alert of p.
func (p *alertParts) fillFromTransaction(tx *protocols.Transaction, names *protocols.AddrTexts) {
	if tx == nil {
		return
	}
	a := &p.alert
	a.Proto, a.Unit, a.Op = tx.Proto, tx.Unit, tx.Op.String()
	p.code = tx.Code
	a.Code = &p.code
	if tx.Client.IP.IsValid() {
		a.Client = endpoint(&p.client, tx.Client, names, &p.links[0])
	}
	if tx.Server.IP.IsValid() {
		a.Server = endpoint(&p.server, tx.Server, names, &p.links[1])
	}
	for i, tg := range tx.Targets {
		t := Target{Space: tg.Space, ID: tg.ID, File: tg.File}
		if tg.ID == "" {
			if i == 0 {
				p.targetRange = [2]uint64{tg.Address, tg.Count}
				t.Address, t.Count = &p.targetRange[0], &p.targetRange[1]
			} else {
				addr, count := tg.Address, tg.Count
				t.Address, t.Count = &addr, &count
			}
		}
		if i == 0 {
			a.Targets = p.target[:0:1]
		}
		a.Targets = append(a.Targets, t)
	}
	if len(tx.Values) > 0 {
		a.Values = protocols.AppendValues(nil, tx.Values) // the records' own encoding
	}
	a.Frames = p.frames[:0]
	for _, f := range []uint64{tx.RequestFrame, tx.ResponseFrame} {
		if f != 0 {
			a.Frames = append(a.Frames, f)
		}
	}
}
