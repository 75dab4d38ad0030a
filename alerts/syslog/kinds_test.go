package syslog

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/otwatch/otwatch/alerts"
)

// kindAlerts is one alert of every kind: the real alerts of the plant in
// cmd/otwatch's TestAlertsCarryTheirParties (testdata/alerts_by_kind.jsonl,
// which that test keeps up to date), and for each kind the plant does not
// raise, a real alert of a kind with the same parties, renamed.
func kindAlerts(t *testing.T) []*alerts.Alert {
	f, err := os.Open("testdata/alerts_by_kind.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	byKind := map[string]*alerts.Alert{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var a alerts.Alert
		if err := json.Unmarshal(sc.Bytes(), &a); err != nil {
			t.Fatal(err)
		}
		byKind[a.Kind] = &a
	}
	var out []*alerts.Alert
	for _, k := range alerts.Kinds() {
		if a, ok := byKind[k.Kind]; ok {
			out = append(out, a)
			continue
		}
		want, _ := alerts.KindParties(k.Kind)
		var like *alerts.Alert
		for kind, a := range byKind {
			if p, _ := alerts.KindParties(kind); reflect.DeepEqual(p, want) || (like == nil && p.Destination != "" &&
				want.Destination != "" && p.DestPort == want.DestPort) {
				like = a
			}
		}
		if like == nil {
			if want.Destination != "" {
				t.Fatalf("no alert in the fixture has the parties of %s (%+v)", k.Kind, want)
			}
			like = &alerts.Alert{TS: time.Date(2026, 5, 4, 10, 0, 0, 0, time.UTC), Severity: k.Severity, Frames: []uint64{}}
			if want.Source != "" {
				like.Client = &alerts.Endpoint{IP: "10.1.0.66"}
			}
		}
		cp := *like
		cp.Kind, cp.Severity, cp.BaseSeverity, cp.Mitre = k.Kind, k.Severity, k.Severity, k.Mitre
		cp.ID = fmt.Sprintf("%016x", len(out)+1)
		cp.Message = "(" + k.Kind + " like " + like.Kind + ") " + like.Message
		out = append(out, &cp)
	}
	return out
}

// Every alert kind through a real syslog daemon, in CEF, LEEF and JSON:
// the product version is the header's, and the destination of every kind
// that has one arrives in CEF dst/dpt/dmac, LEEF dst/dstPort/dstMAC and the
// JSON server (the source likewise).
func testDaemonKinds(t *testing.T, d *daemon) {
	defer func(v string) { ProductVersion = v }(ProductVersion)
	ProductVersion = "1.4.2-7-gabc1234" // cmd/otwatch sets it to `otwatch version`'s
	list := kindAlerts(t)
	byID := map[string]*alerts.Alert{}
	withDest := 0
	for _, a := range list {
		byID[a.ID] = a
		if a.Server != nil {
			withDest++
		}
	}
	d.start(t)
	for _, format := range []string{"cef", "leef", "json"} {
		t.Run(format, func(t *testing.T) {
			s, err := NewSender(d.destination(t, "tcp", format, "rfc5424"))
			if err != nil {
				t.Fatal(err)
			}
			for _, a := range list {
				if err := s.Send(a); err != nil {
					t.Fatal(err)
				}
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := s.Close(ctx); err != nil {
				t.Fatal(err)
			}
			prefix := map[string]string{"cef": "CEF:", "leef": "LEEF:", "json": "{"}[format]
			var got []received
			waitFor(t, 10*time.Second, fmt.Sprintf("%d %s messages in %s's output", len(list), format, d.name), func() bool {
				got = got[:0]
				for _, r := range d.lines(t) {
					if strings.HasPrefix(strings.TrimPrefix(r.Msg, " "), prefix) {
						got = append(got, r)
					}
				}
				return len(got) >= len(list)
			})
			seen, dests := map[string]bool{}, 0
			for _, r := range got {
				body := strings.TrimPrefix(r.Msg, " ")
				a, src, dst := checkKindMessage(t, format, body, byID)
				if a == nil {
					continue
				}
				seen[a.Kind] = true
				p, _ := alerts.KindParties(a.Kind)
				if p.Destination != "" && !p.Sometimes && dst == nil {
					t.Errorf("%s via %s: %s has a destination (%s) but none arrived: %s", format, d.name, a.Kind, p.Destination, body)
				}
				if p.Destination == "" && dst != nil {
					t.Errorf("%s via %s: %s has no destination, yet %+v arrived", format, d.name, a.Kind, dst)
				}
				if !reflect.DeepEqual(dst, a.Server) {
					t.Errorf("%s via %s: %s destination %+v, sent %+v", format, d.name, a.Kind, dst, a.Server)
				}
				if !reflect.DeepEqual(src, a.Client) {
					t.Errorf("%s via %s: %s source %+v, sent %+v", format, d.name, a.Kind, src, a.Client)
				}
				if dst != nil {
					dests++
				}
			}
			for _, k := range alerts.Kinds() {
				if !seen[k.Kind] {
					t.Errorf("%s via %s: no %s alert arrived", format, d.name, k.Kind)
				}
			}
			if dests != withDest {
				t.Errorf("%s via %s: %d alerts arrived with a destination, %d were sent", format, d.name, dests, withDest)
			}
		})
	}
}

// checkKindMessage parses one message strictly, checks the version, and
// returns the alert it carries with the source and destination that arrived.
func checkKindMessage(t *testing.T, format, body string, byID map[string]*alerts.Alert) (a *alerts.Alert, src, dst *alerts.Endpoint) {
	t.Helper()
	endpoint := func(ip, port, mac string) *alerts.Endpoint {
		if ip == "" {
			return nil
		}
		n, _ := strconv.Atoi(port)
		return &alerts.Endpoint{IP: ip, Port: uint16(n), MAC: mac}
	}
	switch format {
	case "cef":
		ev, err := parseCEF(body)
		if err != nil {
			t.Fatalf("strict CEF: %v: %s", err, body)
		}
		if a = byID[ev.Ext["externalId"]]; a == nil {
			return nil, nil, nil // another test's message
		}
		if ev.Header[3] != ProductVersion {
			t.Errorf("CEF version %q, want the product version %q", ev.Header[3], ProductVersion)
		}
		return a, endpoint(ev.Ext["src"], ev.Ext["spt"], ev.Ext["smac"]), endpoint(ev.Ext["dst"], ev.Ext["dpt"], ev.Ext["dmac"])
	case "leef":
		ev, err := parseLEEF(body)
		if err != nil {
			t.Fatalf("strict LEEF: %v: %s", err, body)
		}
		if a = byID[ev.Attr["alertId"]]; a == nil {
			return nil, nil, nil
		}
		if ev.Version != ProductVersion {
			t.Errorf("LEEF version %q, want the product version %q", ev.Version, ProductVersion)
		}
		return a, endpoint(ev.Attr["src"], ev.Attr["srcPort"], ev.Attr["srcMAC"]), endpoint(ev.Attr["dst"], ev.Attr["dstPort"], ev.Attr["dstMAC"])
	default:
		var back alerts.Alert
		if err := json.Unmarshal([]byte(body), &back); err != nil {
			t.Fatalf("JSON: %v: %s", err, body)
		}
		if a = byID[back.ID]; a == nil {
			return nil, nil, nil
		}
		return a, back.Client, back.Server
	}
}

func TestRsyslogEveryKind(t *testing.T) { testDaemonKinds(t, newRsyslog(t)) }

func TestSyslogNGEveryKind(t *testing.T) { testDaemonKinds(t, newSyslogNG(t)) }

// The README's table of sources and destinations is alerts.KindParties,
// row for row, for every kind.
func TestSyslogREADMEPartiesTable(t *testing.T) {
	b, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	or := func(s string) string {
		if s == "" {
			return "—"
		}
		return s
	}
	for _, k := range alerts.Kinds() {
		p, ok := alerts.KindParties(k.Kind)
		if !ok {
			t.Errorf("%s: no parties", k.Kind)
			continue
		}
		row := "| `" + k.Kind + "` | " + or(p.Source) + " | " + or(p.Destination) + " |\n"
		if !strings.Contains(string(b), row) {
			t.Errorf("README.md lacks the row\n%s", row)
		}
	}
}
