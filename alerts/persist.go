package alerts

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/maphash"
	"sort"
	"time"

	"github.com/otwatch/otwatch/learning/store"
	"github.com/otwatch/otwatch/protocols"
)

// The engine is kept in the state file as records (learning/store's
// Incremental): one per alert key's regulation, one per incident (by its
// id) and one for the rest (maintenance, feedback, counters), and its
// recent alerts as a queue (store.Queued), one record each, numbered in
// the order remembered. Incidents were in the one record of the rest
// until the seventh session of 2026-12-06: after a flood that record was
// 2.3 MB (1,135 incidents), rewritten at every checkpoint while any
// incident changed; a file written so loads, and its next save is full.
// A checkpoint writes the records that changed since the last one. As one
// snapshot, a flood of deviations (every PLC of a plant written once)
// grew it to 38 MB in twenty minutes, rewritten whole at every checkpoint
// on the capture goroutine: 1.3 s and 42 MB a checkpoint.
//
// What changed is noted where it changes: raise (the key's regulation, and
// the recent alert a repeat is counted into), remember (a new recent alert,
// and the oldest one it drops), forgetOldest and flushKey. The rest is
// compared by its hash at the save. TestIncrementalStateMatchesSnapshot
// checks that the records always load to what the snapshot holds.

var (
	recRegs      = []byte("regulation")
	recRecent    = []byte("recent")
	recMeta      = []byte("meta")
	recIncidents = []byte("incident")
	keyMeta      = []byte("meta")
)

// persisted is what the engine knows of its records on disk.
type persisted struct {
	full      bool                // the next save writes everything
	regs      map[string]struct{} // alert keys whose regulation changed
	recent    map[uint64]struct{} // recent alerts (by rseq) added, changed or dropped
	incidents []string            // ids of the incidents dropped (a changed one is marked unsaved)
	metaSum   uint64
}

var sumSeed = maphash.MakeSeed()

// regChanged notes the regulation of key as changed, unless the next save
// writes everything anyway (a new engine, a read without a state file).
func (p *persisted) regChanged(key string) {
	if p.full {
		return
	}
	if p.regs == nil {
		p.regs = map[string]struct{}{}
	}
	p.regs[key] = struct{}{}
}

// incidentDropped notes an incident dropped past the retention or the
// bound, unless the next save writes everything.
func (p *persisted) incidentDropped(id string) {
	if !p.full {
		p.incidents = append(p.incidents, id)
	}
}

// recentChanged notes the recent alert numbered rseq (0: not, or no
// longer, a recent alert), unless the next save writes everything.
func (p *persisted) recentChanged(rseq uint64) {
	if rseq == 0 || p.full {
		return
	}
	if p.recent == nil {
		p.recent = map[uint64]struct{}{}
	}
	p.recent[rseq] = struct{}{}
}

// engineMeta is the engine's state without its regulations and recent
// alerts.
type engineMeta struct {
	Maint    Maintenance    `json:"maintenance,omitzero"`
	Feedback map[string]int `json:"feedback"`
	// Incidents: in files written before they had records of their own
	Incidents []Incident `json:"incidents,omitempty"`
	Seq       uint64     `json:"seq"`
}

// NeedsFull says the next save must write everything (store.Incremental).
func (e *Engine) NeedsFull() bool { return e.ps.full }

// SaveFailed says the last save did not reach the disk (store.Incremental).
func (e *Engine) SaveFailed() { e.ps.full = true }

// recentAt returns the recent alert numbered rseq, nil when it was dropped:
// e.order holds the last len(e.order) alerts remembered, numbered up to
// e.recentSeq.
func (e *Engine) recentAt(rseq uint64) *Alert {
	first := e.recentSeq - uint64(len(e.order)) + 1
	if rseq < first || rseq > e.recentSeq {
		return nil
	}
	return e.recent[e.order[rseq-first]]
}

// SaveChanges writes the regulations and the rest that changed since the
// last save; every one when full (store.Incremental).
func (e *Engine) SaveChanges(w store.Writer, full bool) error {
	p := &e.ps
	full = full || p.full
	var buf []byte
	keys := make([]string, 0, len(p.regs))
	if full {
		for k := range e.regs {
			keys = append(keys, k)
		}
	} else {
		for k := range p.regs {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		var err error
		if r := e.regs[k]; r != nil {
			buf = appendRegulation(buf[:0], r)
			err = w.Put(recRegs, []byte(k), buf)
		} else {
			err = w.Delete(recRegs, []byte(k))
		}
		if err != nil {
			return err
		}
	}
	for _, inc := range e.incidents.all {
		if full || inc.unsaved {
			buf = appendIncidentRecord(buf[:0], inc)
			if err := w.Put(recIncidents, []byte(inc.ID), buf); err != nil {
				return err
			}
			inc.unsaved = false
		}
	}
	if !full {
		for _, id := range p.incidents {
			if err := w.Delete(recIncidents, []byte(id)); err != nil {
				return err
			}
		}
	}
	meta, err := e.metaRecord()
	if err != nil {
		return err
	}
	if sum := maphash.Bytes(sumSeed, meta); full || sum != p.metaSum {
		if err := w.Put(recMeta, keyMeta, meta); err != nil {
			return err
		}
		p.metaSum = sum
	}
	p.full, p.regs, p.incidents = false, nil, nil
	return nil
}

// SaveQueue writes the recent alerts remembered, changed or dropped since
// the last save, keyed by their number; every one when full
// (store.Queued).
func (e *Engine) SaveQueue(w store.Writer, full bool) error {
	var key [8]byte
	var buf []byte // the writer copies what it is given
	put := func(a *Alert) error {
		binary.BigEndian.PutUint64(key[:], a.rseq)
		buf = appendAlertRecord(buf[:0], a)
		return w.Put(recRecent, key[:], buf)
	}
	if full {
		for _, id := range e.order {
			if a := e.recent[id]; a != nil {
				if err := put(a); err != nil {
					return err
				}
			}
		}
		e.ps.recent = nil
		return nil
	}
	seqs := make([]uint64, 0, len(e.ps.recent))
	for s := range e.ps.recent {
		seqs = append(seqs, s)
	}
	sort.Slice(seqs, func(i, j int) bool { return seqs[i] < seqs[j] })
	for _, s := range seqs {
		var err error
		if a := e.recentAt(s); a != nil {
			err = put(a)
		} else {
			binary.BigEndian.PutUint64(key[:], s)
			err = w.Delete(recRecent, key[:])
		}
		if err != nil {
			return err
		}
	}
	e.ps.recent = nil
	return nil
}

// LoadRecords restores the regulations and the rest (store.Incremental);
// LoadQueue then the recent alerts.
func (e *Engine) LoadRecords(r store.Reader) error {
	var meta engineMeta
	seen := false
	if err := r.ForEach(recMeta, func(_, v []byte) error {
		seen = true
		return json.Unmarshal(v, &meta)
	}); err != nil {
		return fmt.Errorf("alert state: %w", err)
	}
	if !seen {
		return errors.New("alert state: no meta record")
	}
	migrate := len(meta.Incidents) > 0 // written in the meta record: saved again as records
	if err := r.ForEach(recIncidents, func(k, v []byte) error {
		inc, err := readIncidentRecord(v)
		if err != nil {
			return fmt.Errorf("incident %q: %w", k, err)
		}
		meta.Incidents = append(meta.Incidents, inc)
		return nil
	}); err != nil {
		return fmt.Errorf("alert state: %w", err)
	}
	regs := map[string]*regulation{}
	if err := r.ForEach(recRegs, func(k, v []byte) error {
		reg, err := readRegulation(v)
		if err != nil {
			return fmt.Errorf("regulation of %q: %w", k, err)
		}
		regs[string(k)] = reg
		return nil
	}); err != nil {
		return fmt.Errorf("alert state: %w", err)
	}
	if meta.Feedback == nil {
		meta.Feedback = map[string]int{}
	}
	e.maint, e.feedback, e.seq, e.regs = meta.Maint, meta.Feedback, meta.Seq, regs
	// what is on disk is what a full save would write, but for incidents
	// past the retention, which restore drops and the notes delete
	e.ps = persisted{full: migrate}
	e.incidents.restore(meta.Incidents)
	e.restoreRecent(nil, 0)
	rec, err := e.metaRecord()
	e.ps.metaSum = maphash.Bytes(sumSeed, rec)
	return err
}

// metaRecord is the engine's state without its regulations, incidents and
// recent alerts.
func (e *Engine) metaRecord() ([]byte, error) {
	b, err := json.Marshal(engineMeta{Maint: e.maint, Feedback: e.feedback, Seq: e.seq})
	if err != nil {
		return nil, fmt.Errorf("alert state: %w", err)
	}
	return b, nil
}

// LoadQueue restores the recent alerts (store.Queued).
func (e *Engine) LoadQueue(r store.Reader) error {
	var saved []*Alert
	var first, last uint64
	consecutive := true
	if err := r.ForEach(recRecent, func(k, v []byte) error {
		if len(k) != 8 {
			return fmt.Errorf("recent alert key %x", k)
		}
		a, err := readSavedRecord(v)
		if err != nil {
			return fmt.Errorf("recent alert %x: %w", k, err)
		}
		s := binary.BigEndian.Uint64(k)
		if first == 0 {
			first = s
		}
		consecutive = consecutive && (last == 0 || s == last+1)
		last = s
		a.rseq = s
		saved = append(saved, a)
		return nil
	}); err != nil {
		return fmt.Errorf("alert state: %w", err)
	}
	start := uint64(0)
	if consecutive && first > 0 {
		start = first - 1 // the numbers on disk stand
	} else if !consecutive {
		e.ps.full = true // numbered again: written again
	}
	for _, s := range e.restoreRecent(saved, start) {
		e.ps.recentChanged(s) // beyond MaxRecent: goes
	}
	return nil
}

// restoreRecent replaces the recent alerts, numbered from start+1 in
// order; beyond MaxRecent the oldest go, and their numbers as they were
// are returned.
func (e *Engine) restoreRecent(keep []*Alert, start uint64) (dropped []uint64) {
	if over := len(keep) - e.cfg.MaxRecent; over > 0 {
		for _, a := range keep[:over] {
			dropped = append(dropped, a.rseq)
		}
		keep, start = keep[over:], start+uint64(over)
	}
	e.recent, e.order = make(map[string]*Alert, len(keep)), make([]string, 0, len(keep))
	for i, a := range keep {
		a.rseq = start + uint64(i) + 1
		e.recent[a.ID] = a
		e.order = append(e.order, a.ID)
	}
	e.recentSeq = start + uint64(len(keep))
	return dropped
}

// A regulation record: uvarint folded count, the times (state-record
// times, protocols/staterec.go) of the last alert, the first and last
// fold, uvarint count and the alert times, uvarint count and the frames.

func appendRegulation(b []byte, r *regulation) []byte {
	b = binary.AppendUvarint(b, r.Folded)
	b = protocols.AppendRecTime(protocols.AppendRecTime(protocols.AppendRecTime(b, r.LastAlert), r.FoldFirst), r.FoldLast)
	b = binary.AppendUvarint(b, uint64(len(r.AlertTimes)))
	for _, t := range r.AlertTimes {
		b = protocols.AppendRecTime(b, t)
	}
	b = binary.AppendUvarint(b, uint64(len(r.FoldFrames)))
	for _, f := range r.FoldFrames {
		b = binary.AppendUvarint(b, f)
	}
	return b
}

var errRegulation = errors.New("damaged record")

func readRegulation(b []byte) (*regulation, error) {
	c := protocols.NewCursor(b)
	r := &regulation{Folded: c.Uvarint()}
	r.LastAlert, r.FoldFirst, r.FoldLast = c.Time(), c.Time(), c.Time()
	if n := c.Count(); n > 0 {
		r.AlertTimes = make([]time.Time, n)
		for i := range r.AlertTimes {
			r.AlertTimes[i] = c.Time()
		}
	}
	if n := c.Count(); n > 0 {
		r.FoldFrames = make([]uint64, n)
		for i := range r.FoldFrames {
			r.FoldFrames[i] = c.Uvarint()
		}
	}
	if c.Failed() || c.Len() != 0 {
		return nil, errRegulation
	}
	return r, nil
}
