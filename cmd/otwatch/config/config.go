// Package config reads otwatch's configuration file: YAML (a strict subset,
// see README.md), every key known, every value checked, every error naming
// the file, the line and the key.
package config

import (
	"fmt"
	"os"
	"reflect"
	"strings"
	"time"

	"github.com/otwatch/otwatch/learning/baseline"
	"github.com/otwatch/otwatch/protocols/pipeline"
)

// Config is the whole configuration. Load fills every unset key with its
// default (Default), so users read values, never zeroes.
type Config struct {
	// Interfaces to monitor (required).
	Interfaces []string
	Capture    Capture
	Management Management
	Database   Database
	Learning   Learning
	Limits     pipeline.Limits
	Syslog     []Syslog
	Evidence   Evidence
	// Advisories tunes the vulnerability ranking (learning/advisories).
	Advisories Advisories
	// Segmentation: the zones and conduits (IEC 62443) the plant drew.
	Segmentation Segmentation
	// Path is the file the configuration came from ("" for Default).
	Path string
}

// Capture tunes live capture (protocols/live.Config).
type Capture struct {
	Fanout        bool
	SnapLen       int
	RingBlockSize int
	RingBlocks    int
	// AllowAddressed skips the check that refuses a monitor interface with
	// an IP address.
	AllowAddressed bool
	// Prepare sets each monitor interface up, promiscuous, ARP off and IPv6
	// off at start-up (needs CAP_NET_ADMIN). On by default: Linux gives
	// every interface that is up an IPv6 link-local address, which the
	// passive check refuses and which would make the host transmit
	// (neighbour discovery, MLD); prepared, a fresh interface starts silent.
	Prepare bool
	// MergeVLANs keys flows without their VLAN (pipeline.Pipeline.MergeVLANs),
	// for a SPAN of several VLANs with routing between them.
	MergeVLANs bool
}

// Management is where operators and monitoring reach the appliance.
type Management struct {
	// Listen serves /metrics and /healthz (plain HTTP, for scrapers).
	Listen string
	// Dashboard serves the web dashboard over HTTPS; "" turns it off.
	Dashboard string
}

// Database is the bbolt state file.
type Database struct {
	Path               string
	CheckpointInterval time.Duration
}

// Learning selects how baselines are learned (learning/baseline.Config).
type Learning struct {
	Mode      baseline.Mode
	Period    time.Duration
	StableFor time.Duration
}

// Syslog is one alert destination.
type Syslog struct {
	Name    string
	Network string // udp, tcp, tls
	Address string // host:port
	Header  string // rfc5424 or rfc3164
	Format  string // payload: json, cef (ArcSight, Sentinel) or leef (QRadar)
	// Framing for tcp and tls: octet-counting (RFC 6587 3.4.1) or lf
	// (non-transparent, newline); "none" for udp.
	Framing     string
	Facility    string // kern … local7 (RFC 5424 names)
	MinSeverity int    // alerts below this otwatch severity (1–10) are not sent
	TLS         TLSFiles
}

// TLSFiles are the PEM files of a tls destination.
type TLSFiles struct {
	CAFile     string // trusted CA for the server; empty: the system roots
	CertFile   string // client certificate, with KeyFile
	KeyFile    string
	ServerName string // name checked in the server's certificate; empty: the address's host
}

// Advisories tunes vulnerable_asset alerts.
type Advisories struct {
	// AlertCVSS: a match alerts when its CVE is known exploited (KEV) or
	// has at least this CVSS base score (default 9.0, "critical").
	AlertCVSS float64
	// Keyring: an armoured OpenPGP public key file; documents uploaded on
	// the dashboard with a NAME.asc signature are checked against it.
	Keyring string
}

// Evidence is packet evidence kept around alerts.
type Evidence struct {
	Dir      string
	Before   int   // packets of the alert's flows kept before it
	After    int   // and after it
	MaxBytes int64 // the directory's cap; the oldest evidence goes first
	// MaxPerMinute caps the evidence files written a minute: beyond it an
	// alert gets no file, counted and summed up (limit_reached, custody log)
	MaxPerMinute int
}

// Defaults of keys that are not given.
const (
	DefaultListen             = "127.0.0.1:9180"
	DefaultDashboard          = ":8443"
	DefaultDatabase           = "/var/lib/otwatch/state.db"
	DefaultCheckpointInterval = 5 * time.Minute
	DefaultEvidenceDir        = "/var/lib/otwatch/evidence"
	DefaultEvidencePackets    = 50
	DefaultEvidenceMaxBytes   = 1 << 30
	DefaultEvidencePerMinute  = 120
	DefaultSnapLen            = 65535
	DefaultRingBlockSize      = 1 << 20
	DefaultRingBlocks         = 32
	DefaultLearningPeriod     = time.Hour
	DefaultAlertCVSS          = 9.0
)

// Default is the configuration of an empty file plus the interfaces.
func Default() *Config {
	return &Config{
		Capture:    Capture{SnapLen: DefaultSnapLen, RingBlockSize: DefaultRingBlockSize, RingBlocks: DefaultRingBlocks, Prepare: true},
		Management: Management{Listen: DefaultListen, Dashboard: DefaultDashboard},
		Database:   Database{Path: DefaultDatabase, CheckpointInterval: DefaultCheckpointInterval},
		Learning:   Learning{Mode: baseline.ModeAuto, Period: DefaultLearningPeriod},
		Limits:     pipeline.DefaultLimits(),
		Advisories: Advisories{AlertCVSS: DefaultAlertCVSS},
		Evidence: Evidence{Dir: DefaultEvidenceDir, Before: DefaultEvidencePackets, After: DefaultEvidencePackets,
			MaxBytes: DefaultEvidenceMaxBytes, MaxPerMinute: DefaultEvidencePerMinute},
	}
}

// syslogDefaults fills a destination's unset keys.
func syslogDefaults() Syslog {
	return Syslog{Network: "udp", Header: "rfc5424", Format: "json", Facility: "local0", MinSeverity: 1}
}

// Error is one problem in the file: where, which key, what.
type Error struct {
	File string
	Line int    // 0 when the problem has no line (a missing file)
	Key  string // dotted path, e.g. "syslog[1].facility"; "" for the file itself
	Msg  string
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
	}
	if e.Key != "" {
		b.WriteString(": ")
		b.WriteString(e.Key)
	}
	b.WriteString(": ")
	b.WriteString(e.Msg)
	return b.String()
}

// Errors are all the problems of one file, in line order.
type Errors []*Error

func (es Errors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// Load reads and checks a configuration file. The error, when not nil, is
// an Errors listing every problem found (use errors.As to reach it).
func Load(path string) (*Config, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, Errors{{File: path, Msg: err.Error()}}
	}
	return Parse(path, src)
}

// Check reports whether the file at path is a valid configuration.
func Check(path string) error {
	_, err := Load(path)
	return err
}

// Parse checks a configuration held in memory; name appears in errors.
func Parse(name string, src []byte) (*Config, error) {
	d := &decoder{file: name}
	c := d.decode(src)
	if len(d.errs) > 0 {
		return nil, d.errs
	}
	c.Path = name
	return c, nil
}

// RestartNeeded lists the top-level keys that differ between c and next and
// that a reload (SIGHUP) cannot apply: interfaces, capture, management,
// database and limits. learning, syslog and evidence can be reloaded.
func (c *Config) RestartNeeded(next *Config) []string {
	var keys []string
	for _, k := range []struct {
		name string
		a, b any
	}{
		{"interfaces", c.Interfaces, next.Interfaces},
		{"capture", c.Capture, next.Capture},
		{"management", c.Management, next.Management},
		{"database", c.Database, next.Database},
		{"limits", c.Limits, next.Limits},
	} {
		if !reflect.DeepEqual(k.a, k.b) {
			keys = append(keys, k.name)
		}
	}
	return keys
}

// Baseline is the learning section as a baseline.Config.
func (l Learning) Baseline() baseline.Config {
	return baseline.Config{Mode: l.Mode, LearningPeriod: l.Period, StableFor: l.StableFor}
}
