package ui

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/otwatch/otwatch/learning/baseline"
	"github.com/otwatch/otwatch/ui/series"
)

// SeriesSource is implemented by backends that keep time series of
// process values and traffic (GET /api/series, /api/series/data).
type SeriesSource interface {
	Series() *series.Store
}

// maxSeriesKey bounds a series key in a query.
const maxSeriesKey = 1024

func (s *Server) seriesStore() (*series.Store, error) {
	src, ok := s.backend.(SeriesSource)
	if !ok || src.Series() == nil {
		return nil, echo.NewHTTPError(http.StatusNotImplemented, "this backend keeps no time series")
	}
	return src.Series(), nil
}

// TierDoc describes one resolution of the series.
type TierDoc struct {
	WidthSeconds float64 `json:"width_s"`
	KeepSeconds  float64 `json:"keep_s"`
}

type seriesList struct {
	Asset  string        `json:"asset"`
	Now    time.Time     `json:"now"` // latest observation (packet time)
	Tiers  []TierDoc     `json:"tiers"`
	Series []series.Info `json:"series"`
	Stats  series.Stats  `json:"stats"`
}

// getSeries lists an asset's series: its points' values and its traffic.
func (s *Server) getSeries(c echo.Context) error {
	st, err := s.seriesStore()
	if err != nil {
		return err
	}
	asset := strings.TrimSpace(c.QueryParam("asset"))
	ip, perr := netip.ParseAddr(asset)
	if perr != nil {
		return badRequest("asset %q: want an IP address", asset)
	}
	out := seriesList{Asset: ip.String(), Now: st.Now(), Series: st.List(ip.String()), Stats: st.Stats()}
	for _, t := range st.Tiers() {
		out.Tiers = append(out.Tiers, TierDoc{t.Width.Seconds(), t.Keep.Seconds()})
	}
	return c.JSON(http.StatusOK, out)
}

// Band is a point's learned value model, drawn behind its values.
type Band struct {
	Class    string    `json:"class"`
	Type     string    `json:"type,omitempty"`
	Min      float64   `json:"min"`
	Max      float64   `json:"max"`
	Distinct []float64 `json:"distinct,omitempty"`
	Count    uint32    `json:"count"`
}

type seriesData struct {
	series.Result
	Band *Band `json:"band,omitempty"` // the learned range of a point, when the baseline models it
}

// getSeriesData reads one series between since and until, at most
// max_points samples.
func (s *Server) getSeriesData(c echo.Context) error {
	st, err := s.seriesStore()
	if err != nil {
		return err
	}
	q := series.Query{Key: c.QueryParam("key")}
	if q.Key == "" || len(q.Key) > maxSeriesKey {
		return badRequest("key: 1 to %d characters (GET /api/series lists them)", maxSeriesKey)
	}
	if err := parseSinceUntil(c.QueryParam, &q.Since, &q.Until); err != nil {
		return badRequest("%v", err)
	}
	if x := c.QueryParam("max_points"); x != "" {
		n, err := strconv.Atoi(x)
		if err != nil || n < 2 || n > series.MaxPoints {
			return badRequest("max_points %q: want 2 to %d", x, series.MaxPoints)
		}
		q.MaxPoints = n
	}
	res, err := st.Query(q)
	switch {
	case errors.Is(err, series.ErrNoSeries):
		return echo.NewHTTPError(http.StatusNotFound, "no such series")
	case errors.Is(err, series.ErrRange):
		return badRequest("%v", err)
	case err != nil:
		return err
	}
	out := seriesData{Result: res}
	if p := res.Point; p != nil {
		out.Band = s.band(p)
	}
	return c.JSON(http.StatusOK, out)
}

// band finds the baseline's value model of a point.
func (s *Server) band(p *series.Point) *Band {
	raw, ok := s.backend.Baseline(p.Asset)
	if !ok {
		return nil
	}
	var doc baseline.AssetDoc
	if json.Unmarshal(raw, &doc) != nil {
		return nil
	}
	for _, d := range doc.Points {
		if d.Proto != p.Proto || d.Unit != p.Unit || d.Space != p.Space || d.Address != p.Address || d.ID != p.ID || d.Field != p.Field {
			continue
		}
		if (d.Bit == nil) != (p.Bit == nil) || (d.Bit != nil && *d.Bit != *p.Bit) {
			continue
		}
		return &Band{Class: string(d.Class), Type: d.Type, Min: d.Model.Min, Max: d.Model.Max, Distinct: d.Model.Distinct, Count: d.Model.Count}
	}
	return nil
}
