// Package ui is otwatch's local web dashboard: a JSON API (documented by
// the OpenAPI file it serves), server-sent events and a dependency-free
// single-page app embedded in the binary. It only presents and takes
// operator actions through the Backend the daemon implements; it owns the
// dashboard's own security: users, sessions, CSRF, API tokens, TLS and the
// audit log.
package ui

import (
	"encoding/json"
	"time"

	"github.com/otwatch/otwatch/alerts"
)

// Backend is what the daemon gives the dashboard. Methods are called from
// many goroutines at once.
type Backend interface {
	// Inventory is the RECORDS.md inventory document ({"assets":[...],"links":[...]}).
	Inventory() (json.RawMessage, error)
	// Alerts returns the alerts matching q (newest first), one page of
	// them, and how many matched in all.
	Alerts(q AlertQuery) ([]AlertRecord, int, error)
	// AlertStats summarises every alert, with a histogram of bucket width.
	AlertStats(bucket time.Duration) AlertStats
	// Incidents lists the incidents, newest first.
	Incidents() []alerts.Incident
	// Baseline is one server asset's baseline document (baseline.AssetDoc).
	Baseline(asset string) (json.RawMessage, bool)
	// BaselineExport is the whole baseline document (baseline.Document).
	BaselineExport() (json.RawMessage, error)
	// MarkNormal: the alert's transaction joins the baseline.
	MarkNormal(alertID, user string) error
	// Acknowledge records that an operator has seen the alert.
	Acknowledge(alertID, user string) error
	// Health is the capture and system state.
	Health() Health
	// Subscribe delivers live events until cancel is called. A slow
	// subscriber may miss events (the channel should be buffered and
	// sends non-blocking).
	Subscribe() (events <-chan Event, cancel func())
}

// ErrNotFound is returned (wrapped or not) by MarkNormal and Acknowledge
// for an unknown alert id.
var ErrNotFound = errNotFound{}

type errNotFound struct{}

func (errNotFound) Error() string { return "not found" }

// AlertQuery filters and pages alerts. Zero values do not filter.
type AlertQuery struct {
	ID          string    `json:"id,omitempty"`
	MinSeverity int       `json:"min_severity,omitempty"`
	Kind        string    `json:"kind,omitempty"`
	Asset       string    `json:"asset,omitempty"` // the alert's asset, client or server IP
	Incident    string    `json:"incident,omitempty"`
	Since       time.Time `json:"since,omitempty"`
	Until       time.Time `json:"until,omitempty"`
	Text        string    `json:"text,omitempty"`  // substring of the message, case-insensitive
	State       string    `json:"state,omitempty"` // "", open, acknowledged, normal
	Offset      int       `json:"offset,omitempty"`
	Limit       int       `json:"limit,omitempty"` // 0: DefaultAlertLimit; capped at MaxAlertLimit
}

// Paging limits for AlertQuery.
const (
	DefaultAlertLimit = 100
	MaxAlertLimit     = 1000
)

// OperatorMark is who did an operator action on an alert, and when.
type OperatorMark struct {
	User string    `json:"user"`
	At   time.Time `json:"at"`
}

// AlertRecord is an alert with the operator actions taken on it.
type AlertRecord struct {
	Alert        *alerts.Alert `json:"alert"`
	Acknowledged *OperatorMark `json:"acknowledged,omitempty"`
	MarkedNormal *OperatorMark `json:"marked_normal,omitempty"`
}

// AlertStats summarises the alerts for the overview page.
type AlertStats struct {
	Total        int            `json:"total"`
	Open         int            `json:"open"` // neither acknowledged nor marked normal
	BySeverity   map[int]int    `json:"by_severity"`
	ByKind       map[string]int `json:"by_kind"`
	ByAsset      map[string]int `json:"by_asset"` // open alerts per asset IP
	BucketSecond int64          `json:"bucket_s"`
	Histogram    []Bucket       `json:"histogram"` // ascending time, empty buckets included
}

// Bucket is one histogram bar.
type Bucket struct {
	Start time.Time `json:"start"`
	Count int       `json:"count"`
	Max   int       `json:"max_severity"`
}

// Health is the capture and system state shown on the overview and system pages.
type Health struct {
	Version      string            `json:"version"`
	Started      time.Time         `json:"started"`
	UptimeSecond int64             `json:"uptime_s"`
	Mode         string            `json:"mode,omitempty"` // learning mode: auto, learn, detect
	Packets      uint64            `json:"packets"`
	Drops        uint64            `json:"drops"`
	Transactions uint64            `json:"transactions"`
	Flows        int               `json:"flows"`
	Interfaces   []Interface       `json:"interfaces"`
	Disk         *Disk             `json:"disk,omitempty"`
	Limits       map[string]uint64 `json:"limits_hit,omitempty"`
	// Detection says how many server assets detect and how many still
	// learn (no behaviour alert is raised for those), and until when.
	Detection *Detection `json:"detection,omitempty"`
	// Slot is the appliance's root slot booted (a or b), "" off the
	// appliance; GET /api/system/update has the details.
	Slot string `json:"slot,omitempty"`
}

// Detection is the baselines' state: assets detecting and learning.
type Detection struct {
	Detecting     int       `json:"detecting"`
	Learning      int       `json:"learning"`
	LearningUntil time.Time `json:"learning_until,omitzero"` // auto mode: learning lasts at least until then
}

// Interface is one capture interface (or replayed file).
type Interface struct {
	Name    string `json:"name"`
	Up      bool   `json:"up"`
	Packets uint64 `json:"packets"`
	Drops   uint64 `json:"drops"`
	Bytes   uint64 `json:"bytes"`
}

// Disk is the state directory's file system.
type Disk struct {
	Path       string `json:"path"`
	TotalBytes uint64 `json:"total_bytes"`
	FreeBytes  uint64 `json:"free_bytes"`
}

// Event is one live update sent over server-sent events.
type Event struct {
	Type string          `json:"type"` // alert, asset, counters
	Data json.RawMessage `json:"data"`
}

// EvidenceSource is implemented by backends that keep captured frames: it
// cuts the pcap of the frames an alert names (GET /api/alerts/{id}/evidence).
type EvidenceSource interface {
	Evidence(alertID string) (pcap []byte, err error)
}

// Settings are the operator-editable settings.
type Settings struct {
	Mode   string   `json:"mode"`   // learning mode: auto, learn or detect
	Syslog []string `json:"syslog"` // destinations: udp://host:port, tcp://host:port or tls://host:port
	// A maintenance window (alerts.Maintenance): until when planned
	// engineering work lowers the engineering alerts, and why. A past or
	// zero time ends it; the backend records who declared it.
	MaintenanceUntil  time.Time `json:"maintenance_until,omitzero"`
	MaintenanceReason string    `json:"maintenance_reason,omitempty"`
	MaintenanceBy     string    `json:"maintenance_by,omitempty"`
}

// MaintenanceOf is the window settings declare: the same window as before
// when it did not change, else one declared by user; none when it ended.
func MaintenanceOf(s Settings, user string, current alerts.Maintenance) alerts.Maintenance {
	if s.MaintenanceUntil.IsZero() || !s.MaintenanceUntil.After(time.Now()) {
		return alerts.Maintenance{}
	}
	if s.MaintenanceUntil.Equal(current.Until) && s.MaintenanceReason == current.Reason {
		return current
	}
	return alerts.Maintenance{Until: s.MaintenanceUntil.UTC(), Reason: s.MaintenanceReason, By: user}
}

// MaxMaintenance bounds a declared maintenance window.
const MaxMaintenance = 7 * 24 * time.Hour

// SettingsStore is implemented by backends whose settings the dashboard
// may change (GET and PUT /api/settings).
type SettingsStore interface {
	Settings() Settings
	SetSettings(s Settings, user string) error
}
