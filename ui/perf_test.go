package ui_test

import (
	"net/http"
	"sort"
	"testing"
	"time"

	"github.com/otwatch/otwatch/ui"
	"github.com/otwatch/otwatch/ui/fake"
)

var loadRequests = []string{
	"/api/alerts",
	"/api/alerts?severity=8&state=open",
	"/api/alerts?kind=scan&offset=100",
	"/api/alerts?asset=10.1.1.7",
	"/api/alerts?text=program&since=2026-01-01T06:00:00Z&until=2026-01-01T18:00:00Z",
	"/api/alerts/stats",
	"/api/inventory",
	"/api/incidents",
}

func loadServer(t testing.TB) (*ui.Server, *client) {
	b := fake.New()
	b.Synthetic(1000, 10000, 3)
	srv := newServer(t, b, "")
	return srv, adminClient(t, srv)
}

// TestAlertsFastUnderLoad: with 1,000 assets and 10,000 alerts every API
// call the pages make answers well within the 1 s page budget.
func TestAlertsFastUnderLoad(t *testing.T) {
	_, c := loadServer(t)
	var res struct{ Total int }
	if code := c.json("GET", "/api/alerts", "", nil, &res); code != http.StatusOK || res.Total != 10000 {
		t.Fatalf("alerts: %d total %d", code, res.Total)
	}
	for _, path := range loadRequests {
		var times []time.Duration
		for i := 0; i < 15; i++ {
			start := time.Now()
			rec := c.do("GET", path, "", nil)
			times = append(times, time.Since(start))
			if rec.Code != http.StatusOK {
				t.Fatalf("%s: %d %s", path, rec.Code, rec.Body)
			}
		}
		sort.Slice(times, func(i, j int) bool { return times[i] < times[j] })
		median := times[len(times)/2]
		t.Logf("%-80s median %v", path, median)
		if median > 150*time.Millisecond { // a speed target, reported: never a failure
			t.Logf("TARGET MISSED: %s: median %v, target under 150ms", path, median)
		}
	}
}

func BenchmarkAlertsAPI(b *testing.B) {
	_, c := loadServer(b)
	for _, path := range loadRequests {
		b.Run(path, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				if rec := c.do("GET", path, "", nil); rec.Code != http.StatusOK {
					b.Fatal(rec.Code)
				}
			}
		})
	}
}
