package advisories

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/otwatch/otwatch/learning/inventory"
)

// benchFeed is the whole CISA feed when ../shared/advisories is there,
// else the committed excerpt.
func benchFeed(b *testing.B) *Feed {
	paths := []string{"testdata/csaf", "testdata/kev-excerpt.json"}
	if dir := sharedAdvisories(); dir != "" {
		paths = []string{filepath.Join(dir, "cisa-csaf-ot"), filepath.Join(dir, "cisa-kev")}
	}
	files, err := ReadPaths(paths)
	if err != nil {
		b.Fatal(err)
	}
	f := NewFeed()
	p, err := f.Plan(Read(files, Options{}))
	if err != nil {
		b.Fatal(err)
	}
	f.Commit(p)
	return f
}

// plant is n S7 CPUs (S7-300, S7-1200, S7-1500 in turn), each polled by
// one of n/10 HMIs, with a quarter of the HMIs in the office zone.
func plant(n int) inventory.Document {
	orders := []string{"6ES7 315-2EH14-0AB0", "6ES7 214-1HE30-0XB0", "6ES7 511-1AK00-0AB0"}
	fws := []string{"V3.2.7", "V2.2", "V1.0"}
	cell, office := 1, 4
	var doc inventory.Document
	for i := 0; i < n; i++ {
		a := asset(fmt.Sprintf("mac:plc%05d", i), "s7comm", "szl_0x0011", uint64(i+1), "order_number", orders[i%3], "firmware", fws[i%3],
			"module_type_name", "CPU")
		a.IPs, a.Roles, a.Zone, a.Level = []string{fmt.Sprintf("10.%d.%d.10", i/250, i%250)}, []string{"plc"}, "cell", &cell
		doc.Assets = append(doc.Assets, a)
		hmi := fmt.Sprintf("mac:hmi%05d", i/10)
		if i%10 == 0 {
			h := inventory.Asset{ID: hmi, IPs: []string{fmt.Sprintf("10.200.%d.%d", i/2500, (i/10)%250)}, Roles: []string{"hmi"}, Zone: "scada"}
			if i%40 == 0 {
				h.Zone, h.Level = "office", &office
			}
			doc.Assets = append(doc.Assets, h)
		}
		doc.Links = append(doc.Links, inventory.Link{Client: hmi, Server: a.ID, Proto: "s7comm", Ops: map[string]uint64{"read": 100, "write": 3}})
	}
	return doc
}

// BenchmarkAssess: ranking 1,000 S7 CPUs and their HMIs against the feed
// (the daemon does it every 15 s and for each dashboard view).
func BenchmarkAssess(b *testing.B) {
	f := benchFeed(b)
	doc := plant(1000)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		r := f.Assess(Observed{Doc: doc, Zoned: true}, time.Now())
		if len(r.PatchFirst) != 1000 {
			b.Fatalf("%d ranked", len(r.PatchFirst))
		}
	}
}
