package ui

import (
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/otwatch/otwatch/alerts"
)

// AlertStore keeps the most recent alerts with their operator marks and
// answers AlertQuery: a Backend can delegate its alert methods to it.
// It is safe for concurrent use.
type AlertStore struct {
	mu    sync.RWMutex
	max   int
	recs  []*AlertRecord // time order (oldest first); equal times in arrival order
	byID  map[string]*AlertRecord
	first int // index of the oldest kept record in recs
}

// NewAlertStore keeps at most max alerts (0: 100,000).
func NewAlertStore(max int) *AlertStore {
	if max <= 0 {
		max = 100000
	}
	return &AlertStore{max: max, byID: map[string]*AlertRecord{}}
}

// Add files an alert. An alert id already present replaces the alert and
// keeps its marks. The store keeps a and marshals it concurrently: give it
// a copy when the producer may still change the alert (alerts.Engine does:
// Repeats and Frames of the last alert of a key).
func (s *AlertStore) Add(a *alerts.Alert) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r, ok := s.byID[a.ID]; ok {
		r.Alert = a
		return
	}
	r := &AlertRecord{Alert: a}
	// alerts mostly arrive in time order; a late one (a summary of folded
	// repeats, a restart's history, a replay of an older capture) moves
	// back to its time, so every page lists alerts in time order
	s.recs = append(s.recs, r)
	i := len(s.recs) - 1
	for i > s.first && s.recs[i-1].Alert.TS.After(a.TS) {
		s.recs[i] = s.recs[i-1]
		i--
	}
	s.recs[i] = r
	s.byID[a.ID] = r
	if len(s.recs)-s.first > s.max {
		delete(s.byID, s.recs[s.first].Alert.ID)
		s.recs[s.first] = nil
		s.first++
		if s.first > len(s.recs)/2 {
			s.recs = append([]*AlertRecord(nil), s.recs[s.first:]...)
			s.first = 0
		}
	}
}

// Len is the number of alerts kept.
func (s *AlertStore) Len() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return len(s.recs) - s.first
}

// Get returns a copy of one record.
func (s *AlertStore) Get(id string) (AlertRecord, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	r, ok := s.byID[id]
	if !ok {
		return AlertRecord{}, false
	}
	return *r, true
}

// Acknowledge marks an alert acknowledged by user.
func (s *AlertStore) Acknowledge(id, user string, at time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.byID[id]
	if !ok {
		return fmt.Errorf("alert %s: %w", id, ErrNotFound)
	}
	r.Acknowledged = &OperatorMark{User: user, At: at.UTC()}
	return nil
}

// SetNormal records that user marked the alert normal.
func (s *AlertStore) SetNormal(id, user string, at time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.byID[id]
	if !ok {
		return fmt.Errorf("alert %s: %w", id, ErrNotFound)
	}
	r.MarkedNormal = &OperatorMark{User: user, At: at.UTC()}
	if r.Acknowledged == nil {
		r.Acknowledged = r.MarkedNormal
	}
	return nil
}

func (q AlertQuery) matches(r *AlertRecord, text string) bool {
	a := r.Alert
	if q.ID != "" && a.ID != q.ID {
		return false
	}
	if a.Severity < q.MinSeverity {
		return false
	}
	if q.Kind != "" && a.Kind != q.Kind {
		return false
	}
	if q.Incident != "" && a.Incident != q.Incident {
		return false
	}
	if q.Asset != "" && a.Asset != q.Asset && (a.Client == nil || a.Client.IP != q.Asset) && (a.Server == nil || a.Server.IP != q.Asset) {
		return false
	}
	if !q.Since.IsZero() && a.TS.Before(q.Since) {
		return false
	}
	if !q.Until.IsZero() && !a.TS.Before(q.Until) {
		return false
	}
	switch q.State {
	case "open":
		if r.Acknowledged != nil || r.MarkedNormal != nil {
			return false
		}
	case "acknowledged":
		if r.Acknowledged == nil {
			return false
		}
	case "normal":
		if r.MarkedNormal == nil {
			return false
		}
	}
	if text != "" && !strings.Contains(strings.ToLower(a.Message), text) && !strings.Contains(a.Kind, text) {
		return false
	}
	return true
}

// Query returns one page of matching records, newest first, and the number matching.
func (s *AlertStore) Query(q AlertQuery) ([]AlertRecord, int) {
	limit := q.Limit
	if limit <= 0 {
		limit = DefaultAlertLimit
	}
	limit = min(limit, MaxAlertLimit)
	offset := max(q.Offset, 0)
	text := strings.ToLower(q.Text)
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]AlertRecord, 0, min(limit, 64))
	total := 0
	for i := len(s.recs) - 1; i >= s.first; i-- {
		r := s.recs[i]
		if !q.matches(r, text) {
			continue
		}
		if total >= offset && len(out) < limit {
			out = append(out, *r)
		}
		total++
	}
	return out, total
}

// Stats summarises the alerts kept, with a histogram of the given bucket
// width (0: chosen so that there are at most 48 buckets).
func (s *AlertStore) Stats(bucket time.Duration) AlertStats {
	s.mu.RLock()
	defer s.mu.RUnlock()
	st := AlertStats{BySeverity: map[int]int{}, ByKind: map[string]int{}, ByAsset: map[string]int{}, Histogram: []Bucket{}}
	var lo, hi time.Time
	for _, r := range s.recs[s.first:] {
		a := r.Alert
		st.Total++
		if r.Acknowledged == nil && r.MarkedNormal == nil {
			st.Open++
			if a.Asset != "" {
				st.ByAsset[a.Asset]++
			}
		}
		st.BySeverity[a.Severity]++
		st.ByKind[a.Kind]++
		if lo.IsZero() || a.TS.Before(lo) {
			lo = a.TS
		}
		if a.TS.After(hi) {
			hi = a.TS
		}
	}
	if st.Total == 0 {
		return st
	}
	if bucket <= 0 {
		bucket = niceBucket(hi.Sub(lo) / 48)
	}
	st.BucketSecond = int64(bucket / time.Second)
	start := lo.Truncate(bucket)
	n := int(hi.Sub(start)/bucket) + 1
	if n > 10000 { // a tiny bucket over a long span: cap the work
		n, bucket = 10000, hi.Sub(start)/9999+1
	}
	st.Histogram = make([]Bucket, n)
	for i := range st.Histogram {
		st.Histogram[i].Start = start.Add(time.Duration(i) * bucket).UTC()
	}
	for _, r := range s.recs[s.first:] {
		i := int(r.Alert.TS.Sub(start) / bucket)
		if i >= 0 && i < n {
			st.Histogram[i].Count++
			st.Histogram[i].Max = max(st.Histogram[i].Max, r.Alert.Severity)
		}
	}
	return st
}

// niceBucket rounds a duration up to a readable histogram width.
func niceBucket(d time.Duration) time.Duration {
	for _, b := range []time.Duration{time.Second, 5 * time.Second, 10 * time.Second, 30 * time.Second, time.Minute,
		5 * time.Minute, 10 * time.Minute, 30 * time.Minute, time.Hour, 3 * time.Hour, 6 * time.Hour, 12 * time.Hour, 24 * time.Hour} {
		if d <= b {
			return b
		}
	}
	return 7 * 24 * time.Hour
}
