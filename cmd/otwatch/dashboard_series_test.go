package main

import (
	"bytes"
	"io"
	"log"
	"os"
	"path/filepath"
	"testing"

	"github.com/otwatch/otwatch/alerts"
	"github.com/otwatch/otwatch/learning/baseline"
	"github.com/otwatch/otwatch/learning/inventory"
	"github.com/otwatch/otwatch/protocols/pipeline"
	"github.com/otwatch/otwatch/ui/series"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestDashboardSeries: the daemon feeds the dashboard's time series every
// transaction the monitor sees, persisted in series.db: each server's
// traffic series counts what the inventory counts, the written registers
// have their values, and all of it is there after a restart.
func TestDashboardSeries(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "demo.pcap")
	if err := os.WriteFile(path, demoCapture, 0o600); err != nil {
		t.Fatal(err)
	}
	d := &daemon{log: log.New(io.Discard, "", 0)}
	d.mon = newMonitor(baseline.Config{Mode: baseline.ModeAuto}, inventory.Limits{}, func(*alerts.Alert) {})
	d.model, d.engine = d.mon.model, d.mon.engine
	d.dash = newDashboardBackend(d)
	db := filepath.Join(dir, "series.db")
	d.dash.openSeries(db)
	if d.dash.Series() == nil {
		t.Fatal("no time series opened")
	}
	p := pipeline.New(pipeline.DefaultLimits(), d.mon.observe)
	d.mon.attach(p)
	if err := p.ReplayFile(path); err != nil {
		t.Fatal(err)
	}
	p.Flush()
	doc := d.mon.inv.Document()
	servers, points := 0, 0
	check := func(st *series.Store) {
		for _, a := range doc.Assets {
			for _, pr := range a.Protocols {
				if pr.Side != "server" || len(a.IPs) == 0 {
					continue
				}
				servers++
				key := series.TrafficKey(series.Traffic{Asset: a.IPs[0], Metric: series.MetricTransactions})
				r, err := st.Query(series.Query{Key: key})
				if err != nil {
					t.Errorf("%s: %v", key, err)
					continue
				}
				var n uint64
				for _, s := range r.Samples {
					n += uint64(s.N)
				}
				if n != pr.Transactions || r.Count != pr.Transactions {
					t.Errorf("%s: the series counts %d (%d in its samples), the inventory %d transactions", a.IPs[0], r.Count, n, pr.Transactions)
				}
				for _, in := range st.List(a.IPs[0]) {
					if in.Point != nil {
						points++
					}
				}
			}
		}
	}
	check(d.dash.Series())
	if servers == 0 || points == 0 {
		t.Fatalf("demo capture: %d servers, %d written points in the series", servers, points)
	}
	d.dash.closeSeries()
	st, err := series.Open(series.Config{Path: db})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	before := points
	servers, points = 0, 0
	check(st)
	if points != before {
		t.Errorf("after a restart %d written points, before %d", points, before)
	}
}

// TestDamagedSeriesFile: a series.db that will not open (here: garbage, as
// a power cut on a bad card might leave) never stops the daemon: it is moved
// aside, kept for a look, and a new history starts.
func TestDamagedSeriesFile(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "series.db")
	require.NoError(t, os.WriteFile(db, bytes.Repeat([]byte("not a bbolt file "), 1000), 0o600))
	var logs bytes.Buffer
	d := &daemon{log: log.New(&logs, "", 0)}
	d.mon = newMonitor(baseline.Config{Mode: baseline.ModeAuto}, inventory.Limits{}, func(*alerts.Alert) {})
	d.model, d.engine = d.mon.model, d.mon.engine
	d.dash = newDashboardBackend(d)
	d.dash.openSeries(db)
	require.NotNil(t, d.dash.Series(), "a new history started")
	d.dash.closeSeries()
	aside, _ := filepath.Glob(db + ".damaged-*")
	assert.Len(t, aside, 1, "the damaged file is kept aside")
	assert.Contains(t, logs.String(), "moved aside")
}
