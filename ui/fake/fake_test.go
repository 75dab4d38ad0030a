package fake

import (
	"encoding/binary"
	"encoding/json"
	"path/filepath"
	"sort"
	"testing"

	"github.com/otwatch/otwatch/ui"
)

func captures(t *testing.T) []string {
	files, _ := filepath.Glob("../testdata/*.pcap")
	if len(files) == 0 {
		t.Fatal("no captures in ui/testdata")
	}
	sort.Strings(files)
	return files
}

func TestReplayDeterministic(t *testing.T) {
	var first []byte
	for i := 0; i < 2; i++ {
		b := New()
		if err := b.Replay(0.5, captures(t)...); err != nil {
			t.Fatal(err)
		}
		recs, total, _ := b.Alerts(ui.AlertQuery{Limit: ui.MaxAlertLimit})
		if total == 0 {
			t.Fatal("no alerts")
		}
		// alert ids are not compared: baseline.Model.Tick returns its
		// cyclic_stopped findings in map order, so the engine's sequence
		// numbers (part of the id) vary between runs
		ids := []string{}
		for _, r := range recs {
			ids = append(ids, r.Alert.Kind+"|"+r.Alert.Key+"|"+r.Alert.TS.String())
		}
		sort.Strings(ids)
		inv, _ := b.Inventory()
		got, _ := json.Marshal([]any{ids, json.RawMessage(inv)})
		if i == 0 {
			first = got
		} else if string(got) != string(first) {
			t.Fatal("two replays differ")
		}
	}
}

func TestEvidence(t *testing.T) {
	b := New()
	if err := b.Replay(0.5, captures(t)...); err != nil {
		t.Fatal(err)
	}
	a, err := b.FirstAlert("program_download", "new_function")
	if err != nil {
		t.Fatal(err)
	}
	pcap, err := b.Evidence(a.ID)
	if err != nil {
		t.Fatal(err)
	}
	if binary.LittleEndian.Uint32(pcap) != 0xa1b23c4d || len(pcap) < 24+16 {
		t.Fatalf("not a pcap: % x", pcap[:min(len(pcap), 24)])
	}
	if _, err := b.Evidence("nope"); err == nil {
		t.Error("evidence of an unknown alert")
	}
}

func TestSynthetic(t *testing.T) {
	b := New()
	b.Synthetic(100, 500, 1)
	var inv struct{ Assets, Links []json.RawMessage }
	raw, _ := b.Inventory()
	json.Unmarshal(raw, &inv)
	if len(inv.Assets) != 100 || len(inv.Links) == 0 {
		t.Fatalf("%d assets %d links", len(inv.Assets), len(inv.Links))
	}
	if _, n, _ := b.Alerts(ui.AlertQuery{}); n != 500 {
		t.Fatalf("%d alerts", n)
	}
	if err := b.MarkNormal("syn-000001", "ops"); err != nil {
		t.Fatal(err)
	}
	if _, n, _ := b.Alerts(ui.AlertQuery{State: "normal"}); n != 1 {
		t.Fatalf("%d normal", n)
	}
}
