package ui_test

import (
	"encoding/json"
	"net/http"
	"net/netip"
	"net/url"
	"testing"
	"time"

	"github.com/otwatch/otwatch/learning/baseline"
	"github.com/otwatch/otwatch/ui"
	"github.com/otwatch/otwatch/ui/fake"
	"github.com/otwatch/otwatch/ui/series"
)

type seriesDataResp struct {
	series.Result
	Band *ui.Band `json:"band"`
}

var (
	scada = netip.MustParseAddr("192.168.10.5")
	plc   = netip.MustParseAddr("192.168.10.20")
)

// setpointBackend: a setpoint written every second for 2 hours (learned),
// then 10 minutes of detection with one write far outside it.
func setpointBackend(t testing.TB) (*fake.Backend, time.Time) {
	b := fake.New()
	return b, feedSetpoint(b)
}

func feedSetpoint(b *fake.Backend) time.Time {
	start := time.Date(2004, 10, 15, 6, 0, 0, 0, time.UTC) // the day after the demo captures
	learn := fake.SetpointWrites(scada, plc, 40, start, time.Second, 7200, func(i int) float64 { return float64(500 + i%60) })
	b.Feed(true, learn...)
	detect := fake.SetpointWrites(scada, plc, 40, start.Add(2*time.Hour), time.Second, 600, func(i int) float64 {
		if i == 300 {
			return 9000
		}
		return float64(520 + i%10)
	})
	b.Feed(false, detect...)
	return start
}

func TestSeriesAPI(t *testing.T) {
	b, start := setpointBackend(t)
	srv := newServer(t, b, "")
	if err := srv.Auth().CreateUser("viewer", testPassword, ui.RoleViewer); err != nil {
		t.Fatal(err)
	}
	key := series.PointKey(series.Point{Asset: plc.String(), Proto: "modbus", Unit: "1", Space: "holding_register", Address: 40, Source: series.SourceWrite})
	dataURL := "/api/series/data?key=" + url.QueryEscape(key)

	// auth: nothing without a session or token
	anon := newClient(t, srv.Handler())
	for _, p := range []string{"/api/series?asset=" + plc.String(), dataURL} {
		if code := anon.json("GET", p, "", nil, nil); code != http.StatusUnauthorized {
			t.Errorf("%s without a session: %d", p, code)
		}
	}
	c := newClient(t, srv.Handler())
	if code := c.login("viewer", testPassword); code != http.StatusOK {
		t.Fatalf("login: %d", code)
	}
	tok, _, err := srv.Auth().CreateToken("viewer", "trends")
	if err != nil {
		t.Fatal(err)
	}
	bearer := newClient(t, srv.Handler())
	bearer.bearer = tok

	// the list: the point's written values and the traffic of asset and link
	var list struct {
		Asset  string        `json:"asset"`
		Tiers  []ui.TierDoc  `json:"tiers"`
		Series []series.Info `json:"series"`
	}
	if code := bearer.json("GET", "/api/series?asset="+plc.String(), "", nil, &list); code != http.StatusOK {
		t.Fatalf("list with a token: %d", code)
	}
	kinds := map[string]bool{}
	for _, in := range list.Series {
		kinds[in.Key] = true
	}
	for _, want := range []string{key, series.TrafficKey(series.Traffic{Asset: plc.String(), Metric: "transactions"}),
		series.TrafficKey(series.Traffic{Asset: plc.String(), Client: scada.String(), Proto: "modbus", Metric: "writes"})} {
		if !kinds[want] {
			t.Errorf("list lacks %q: %v", want, kinds)
		}
	}
	if len(list.Tiers) != 3 || list.Tiers[0].WidthSeconds != 1 || list.Tiers[2].KeepSeconds != 30*86400 {
		t.Errorf("tiers %+v", list.Tiers)
	}

	// the whole series: 2 h 10 min at 1 min (the hour at 1 s does not reach back)
	var all seriesDataResp
	if code := c.json("GET", dataURL, "", nil, &all); code != http.StatusOK {
		t.Fatalf("data: %d", code)
	}
	if all.Tier != 1 || all.StepSeconds != 60 || len(all.Samples) != 130 || all.Count != 7800 {
		t.Errorf("whole series: tier %d step %v, %d samples, count %d", all.Tier, all.StepSeconds, len(all.Samples), all.Count)
	}
	var n uint64
	for _, s := range all.Samples {
		n += uint64(s.N)
	}
	if n != 7800 {
		t.Errorf("samples hold %d writes, want 7800", n)
	}
	// the band is the baseline's value model of the point
	raw, _ := b.Baseline(plc.String())
	var doc baseline.AssetDoc
	json.Unmarshal(raw, &doc)
	var model *baseline.PointDoc
	for i, p := range doc.Points {
		if p.Space == "holding_register" && p.Address == 40 {
			model = &doc.Points[i]
		}
	}
	if model == nil || all.Band == nil || all.Band.Min != model.Model.Min || all.Band.Max != model.Model.Max || all.Band.Min != 500 || all.Band.Max != 559 {
		t.Errorf("band %+v, baseline model %+v", all.Band, model)
	}
	// the out-of-range write is in the data and raised an alert on the point
	var maxSeen float64
	for _, s := range all.Samples {
		maxSeen = max(maxSeen, s.Max)
	}
	if maxSeen != 9000 {
		t.Errorf("largest value %v, want the 9000 written", maxSeen)
	}

	// downsampling: the last 10 minutes at 1 s, asked for 50 points
	since, until := start.Add(2*time.Hour), start.Add(2*time.Hour+10*time.Minute)
	var ds seriesDataResp
	q := dataURL + "&max_points=50&since=" + since.Format(time.RFC3339) + "&until=" + until.Format(time.RFC3339)
	if code := c.json("GET", q, "", nil, &ds); code != http.StatusOK {
		t.Fatalf("downsampled: %d", code)
	}
	if ds.Tier != 0 || len(ds.Samples) > 50 || len(ds.Samples) < 40 || !ds.Merged || ds.StepSeconds != 13 {
		t.Errorf("downsampled: tier %d, %d samples of %v s, merged %v", ds.Tier, len(ds.Samples), ds.StepSeconds, ds.Merged)
	}
	n = 0
	for _, s := range ds.Samples {
		n += uint64(s.N)
		if s.T < since.UnixMilli() || s.T >= until.UnixMilli() {
			t.Errorf("sample at %d outside the range", s.T)
		}
	}
	if n != 600 {
		t.Errorf("downsampled samples hold %d writes, want 600", n)
	}

	// retention: the first hour is past the 1 s tier, read at 1 min and said so
	var old seriesDataResp
	q = dataURL + "&since=" + start.Format(time.RFC3339) + "&until=" + start.Add(10*time.Minute).Format(time.RFC3339)
	if code := c.json("GET", q, "", nil, &old); code != http.StatusOK {
		t.Fatalf("old range: %d", code)
	}
	if old.Tier != 1 || len(old.Samples) != 10 || old.Clamped {
		t.Errorf("first 10 minutes: tier %d, %d samples, clamped %v", old.Tier, len(old.Samples), old.Clamped)
	}
	if !old.Retained.Equal(start.Add(2*time.Hour+10*time.Minute-time.Second-24*time.Hour)) && old.Retained.IsZero() {
		t.Errorf("retained %v", old.Retained)
	}

	// bounds
	for _, bad := range []string{
		"/api/series", "/api/series?asset=plc-7", "/api/series/data", dataURL + "&max_points=1", dataURL + "&max_points=2001",
		dataURL + "&max_points=x", dataURL + "&since=yesterday", dataURL + "&since=" + until.Format(time.RFC3339) + "&until=" + since.Format(time.RFC3339),
		dataURL + "&since=" + start.Add(-40*24*time.Hour).Format(time.RFC3339) + "&until=" + start.Format(time.RFC3339),
		"/api/series/data?key=" + url.QueryEscape(string(make([]byte, 2000))),
	} {
		if code := c.json("GET", bad, "", nil, nil); code != http.StatusBadRequest {
			t.Errorf("%s: %d, want 400", bad, code)
		}
	}
	if code := c.json("GET", "/api/series/data?key=v%7Cnope", "", nil, nil); code != http.StatusNotFound {
		t.Errorf("unknown series: %d, want 404", code)
	}
}

// TestSeriesAPIWithoutStore: a backend without time series says so.
func TestSeriesAPIWithoutStore(t *testing.T) {
	srv := newServer(t, noSeries{fake.New()}, "")
	srv.Auth().CreateUser("viewer", testPassword, ui.RoleViewer)
	c := newClient(t, srv.Handler())
	c.login("viewer", testPassword)
	if code := c.json("GET", "/api/series?asset=10.0.0.1", "", nil, nil); code != http.StatusNotImplemented {
		t.Errorf("no store: %d, want 501", code)
	}
}

type noSeries struct{ ui.Backend }
