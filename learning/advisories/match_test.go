package advisories

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otwatch/otwatch/learning/inventory"
)

// testFeed is the feed of the committed real advisories (testdata/csaf)
// and the KEV excerpt.
func testFeed(t testing.TB) *Feed {
	t.Helper()
	files, err := ReadPaths([]string{"testdata/csaf", "testdata/kev-excerpt.json"})
	require.NoError(t, err)
	im := Read(files, Options{Now: time.Date(2025, 9, 1, 0, 0, 0, 0, time.UTC)})
	require.Empty(t, im.Problems)
	require.Len(t, im.Advisories, 12)
	require.NotNil(t, im.KEV)
	f := NewFeed()
	p, err := f.Plan(im)
	require.NoError(t, err)
	f.Commit(p)
	return f
}

// asset is an inventory asset with identity fields as the inventory
// renders them: value, protocol, message, frame.
func asset(id string, proto, message string, frame uint64, fields ...string) inventory.Asset {
	a := inventory.Asset{ID: id, IPs: []string{"10.0.0.1"}, Identity: map[string]inventory.Identity{}}
	for i := 0; i+1 < len(fields); i += 2 {
		a.Identity[fields[i]] = inventory.Identity{Value: fields[i+1], Source: inventory.Source{Proto: proto, Message: message, Frame: frame}}
	}
	return a
}

// TestMatchTable: real identities from corpus captures against real
// advisories: which match, with which confidence and CVEs, which fit the
// product but not the firmware, and which must not appear at all.
func TestMatchTable(t *testing.T) {
	f := testFeed(t)
	cases := []struct {
		name  string
		asset inventory.Asset
		// "ADVISORY how confidence CVE…" of the affected matches (all of them, in any order)
		affected []string
		// advisories that fit the product, with the firmware outside the range
		notAffected []string
		possible    []string
		absent      []string // must not appear in any list
		missing     []string // substrings of Missing
		notes       []string
	}{
		{
			// snap7.pcap (cisagov/icsnpp-s7comm), SZL 0x0011 in frame 4, 0x001c in frame 6: a real CPU 315-2 PN/DP
			name: "S7-300 CPU 315-2 PN/DP V3.2.7 (SZL)",
			asset: asset("plc", "s7comm", "szl_0x0011", 4, "order_number", "6ES7 315-2EH14-0AB0", "firmware", "V3.2.7",
				"module_type_name", "CPU 315-2 PN/DP", "hardware_version", "3", "copyright", "Original Siemens Equipment"),
			affected: []string{
				"ICSA-19-283-02 order number high CVE-2019-10936", // "(6ES7315-2EH14-0AB0)" vers:all/<V3.2.17
				"ICSA-20-070-02 family high CVE-2019-18336",       // "S7-300 CPU family", All versions < V3.X.17
			},
			// the same document lists the 315F-2 and 317-2 (other order numbers), S7-1200 and S7-1500 families
			absent: []string{"ICSA-18-282-05", "ICSA-19-036-04", "ICSA-22-041-01", "ICSA-19-318-02", "ICSA-17-353-01", "ICSA-23-348-15"},
		},
		{
			// s7ident.pcap (cisagov/icsnpp-s7comm): a Snap7 server answering as a CPU 315-2 PN/DP V3.2.6
			name: "S7-300 V3.2.6 (Snap7 server's SZL)",
			asset: asset("snap7", "s7comm", "szl_0x0011", 10, "order_number", "6ES7 315-2EH14-0AB0", "firmware", "V3.2.6",
				"module_type_name", "CPU 315-2 PN/DP"),
			affected: []string{"ICSA-19-283-02 order number high CVE-2019-10936", "ICSA-20-070-02 family high CVE-2019-18336"},
		},
		{
			// S7-1511_db2_var1_HMI.pcap (ITI/ICS-Security-Tools), S7comm-plus session setup in frame 7: "6ES7 511-1AK00-0AB0;V1.0"
			name:  "S7-1500 CPU 1511-1 PN V1.0 (S7comm-plus)",
			asset: asset("s1511", "s7comm-plus", "create_object", 7, "order_number", "6ES7 511-1AK00-0AB0", "firmware", "V1.0"),
			affected: []string{
				"ICSA-19-283-02 family high CVE-2019-10936", // S7-1500 CPU family vers:all/<V2.0
				"ICSA-19-036-04 family high CVE-2018-16558", // <= V1.8.5
				"ICSA-22-041-01 family high CVE-2021-37204", // <V2.9.2
				"ICSA-22-286-04 family high CVE-2022-38465", // < V2.9.2, CVSS 9.3
			},
			notAffected: []string{"ICSA-18-282-05"}, // same family, >= V2.0 and < V2.5
			// "SIMATIC S7-1500 Software Controller" sits in ICSA-19-036-04 too: a similar name, another product
		},
		{
			// V13_1200_TP1200sim_….pcapng (ITI/ICS-Security-Tools), S7comm-plus session setup in frame 8: "6ES7 214-1HE30-0XB0 ;V2.2"
			name:  "S7-1200 CPU 1214C V2.2 (S7comm-plus)",
			asset: asset("s1214", "s7comm-plus", "create_object", 8, "order_number", "6ES7 214-1HE30-0XB0", "firmware", "V2.2"),
			affected: []string{
				"ICSA-19-283-02 family high CVE-2019-10936",
				"ICSA-22-041-01 family high CVE-2021-37204", // <V4.5.0 (the >=V4.5.0<V4.5.2 entry does not fit)
				"ICSA-19-318-02 family high CVE-2019-13945", // "S7-1200 CPU family < V4.x": all versions of the old generation
				"ICSA-22-286-04 family high CVE-2022-38465", // < V4.5.0
			},
			absent: []string{"ICSA-18-282-05", "ICSA-19-036-04"},
		},
		{
			// s7comm-plus.pcap (ntop/nDPI), frame 12: "6ES7 211-1BE31-0XB0 ;V3.0", here without the firmware
			name:     "S7-1200 CPU 1211C, firmware unknown",
			asset:    asset("s1211", "s7comm-plus", "create_object", 12, "order_number", "6ES7 211-1BE31-0XB0"),
			affected: []string{"ICSA-19-318-02 family medium CVE-2019-13945"}[:0],    // nothing can be decided…
			possible: []string{"ICSA-19-283-02", "ICSA-22-041-01", "ICSA-19-318-02"}, // …but the family fits: check by hand
			missing:  []string{"the firmware version"},
		},
		{
			// modbus_example.pcap (Zeek): function 43/14 device identification
			name:   "Modbus device identification of no advisory's vendor",
			asset:  asset("zeek", "modbus", "read_device_identification", 32, "vendor_name", "Zeek Modbus Test", "product_code", "Protocol Parsing is fun!", "firmware", "1.2.3.6"),
			absent: []string{"ICSA-19-283-02", "ICSA-17-353-01", "ICSA-23-348-15", "ICSA-22-228-04"},
			notes:  []string{`no imported advisory names the vendor "Zeek Modbus Test" (the device's vendor name)`},
		},
		{
			// opcua_with-gap.pcap (corpus): the Softing gateway's application description, no BuildInfo
			name:    "OPC UA Softing gateway without product name or version",
			asset:   asset("softing", "opcua", "get_endpoints", 12, "application_name", "Softing OPC UA Gateway", "application_uri", "urn:00:06:71:33:05:02", "product_uri", "urn:Softing:SoftingOPCUAGateway"),
			absent:  []string{"ICSA-22-228-04"}, // Softing's uaGate, Secure Integration Server…: not this product
			missing: []string{"only the OPC UA application description (application and product URI) was seen, not the server's BuildInfo"},
		},
		{
			// a constructed identity: vendor ABB's Ellipse 8.8.12 must match ABB's advisory and neither
			// Abbott Laboratories' Ellipse (another vendor with a similar name) nor Hitachi Energy's "Ellipse EAM"
			name:     "ABB Ellipse against Abbott's Ellipse",
			asset:    asset("abb", "opcua", "read", 1, "manufacturer_name", "ABB", "product_name", "Ellipse", "software_version", "8.8.12"),
			affected: []string{"ICSA-17-353-01 model medium CVE-2017-16731"},
			absent:   []string{"ICSMA-18-107-01", "ICSA-21-061-01"},
		},
		{
			// a constructed identity: a Unitronics Vision V570 with OS 12.30 (KEV-listed CVE-2023-6448)
			name:     "Unitronics Vision, known exploited",
			asset:    asset("vision", "modbus", "read_device_identification", 2, "vendor_name", "Unitronics", "product_code", "V570-57-T20B", "firmware", "12.30"),
			affected: []string{"ICSA-23-348-15 family high CVE-2023-6448"},
		},
		{
			name:        "Unitronics Vision, firmware fixed",
			asset:       asset("vision2", "modbus", "read_device_identification", 2, "vendor_name", "Unitronics", "product_code", "V570-57-T20B", "firmware", "12.38"),
			notAffected: []string{"ICSA-23-348-15"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := f.Match(&tc.asset)
			var got []string
			for _, x := range m.Affected {
				for _, want := range tc.affected {
					if strings.HasPrefix(want, x.Advisory+" ") {
						ids := make([]string, 0, len(x.CVEs))
						for _, c := range x.CVEs {
							ids = append(ids, c.ID)
						}
						parts := strings.Fields(want)
						assert.Equal(t, strings.Join(parts[1:len(parts)-2], " "), x.How, "%s: how", x.Advisory)
						assert.Equal(t, parts[len(parts)-2], x.Confidence, "%s: confidence (%s)", x.Advisory, x.Reason)
						assert.Contains(t, ids, parts[len(parts)-1], x.Advisory)
						assert.NotEmpty(t, x.Evidence, "evidence")
						assert.NotZero(t, x.Evidence[0].Frame, "the frame that carried it")
					}
				}
				got = append(got, x.Advisory)
			}
			var want []string
			for _, w := range tc.affected {
				want = append(want, strings.Fields(w)[0])
			}
			assert.ElementsMatch(t, want, got, "affected advisories")
			for _, adv := range tc.notAffected {
				assert.True(t, has(m.NotAffected, adv), "%s fits but the firmware is outside its range: %+v", adv, m.NotAffected)
			}
			for _, adv := range tc.possible {
				assert.True(t, has(m.Possible, adv), "%s is possible", adv)
			}
			for _, adv := range tc.absent {
				assert.False(t, has(m.Affected, adv) || has(m.Possible, adv) || has(m.NotAffected, adv), "%s must not match", adv)
			}
			assert.Equal(t, tc.notes, m.Notes)
			for _, miss := range tc.missing {
				assert.True(t, slices.ContainsFunc(m.Missing, func(s string) bool { return strings.Contains(s, miss) }), "missing %q in %q", miss, m.Missing)
			}
		})
	}
}

func has(ms []Match, adv string) bool {
	return slices.ContainsFunc(ms, func(m Match) bool { return m.Advisory == adv })
}

// TestMatchPicksTheRightEntry: an advisory listing a family's models by
// order number matches the one the wire names, not its F or T variant.
func TestMatchPicksTheRightEntry(t *testing.T) {
	f := testFeed(t)
	a := asset("plc", "s7comm", "szl_0x0011", 4, "order_number", "6ES7 315-2EH14-0AB0", "firmware", "V3.2.7")
	m := f.Match(&a)
	for _, x := range m.Affected {
		if x.Advisory == "ICSA-19-283-02" {
			assert.Equal(t, "SIMATIC S7-300 CPU 315-2 PN/DP (6ES7315-2EH14-0AB0)", x.Product)
			assert.Equal(t, "vers:all/<V3.2.17", x.Range)
			assert.Contains(t, x.Reason, `firmware V3.2.7 is in "vers:all/<V3.2.17"`)
			return
		}
	}
	t.Fatal("ICSA-19-283-02 not matched")
}

// TestVersionInProductName: "S7-1200 CPU family V4.x" does not concern a
// V2.2 CPU; "< V4.x" does.
func TestVersionInProductName(t *testing.T) {
	f := testFeed(t)
	a := asset("s1214", "s7comm-plus", "x", 1, "order_number", "6ES7 214-1HE30-0XB0", "firmware", "V2.2")
	m := f.Match(&a)
	var reasons []string
	for _, x := range append(append([]Match{}, m.Affected...), m.NotAffected...) {
		if x.Advisory == "ICSA-19-318-02" {
			reasons = append(reasons, x.Status+": "+x.Reason)
		}
	}
	require.NotEmpty(t, reasons)
	assert.Contains(t, reasons[0], "affected")
	assert.Contains(t, reasons[0], "< V4.x")
}

func TestVendorKey(t *testing.T) {
	for in, want := range map[string]string{
		"Siemens": "siemens", "Siemens AG": "siemens", "Siemens Healthineers": "siemens-healthineers",
		"Schneider Electric": "schneider", "Schneider Electric Software, LLC": "schneider", "Rockwell Automation ": "rockwell",
		"Allen-Bradley": "rockwell", "ABB": "abb", "Abbott Laboratories": "abbott laboratories", "Hitachi Energy": "hitachi-energy",
		"Mitsubishi Electric Corporation": "mitsubishi", "Delta Electronics": "delta", "Delta Controls Inc.": "delta controls",
		"": "",
	} {
		assert.Equal(t, want, VendorKey(in), in)
	}
}

// TestSnap7EndToEnd: the real capture through the real pipeline and
// inventory, ranked against the real advisories: the CPU is first, with
// its evidence at the frames tshark shows, and the path from the
// engineering station when zones place the CPU in a cell.
func TestSnap7EndToEnd(t *testing.T) {
	f := testFeed(t)
	inv := replayInventory(t, "testdata/snap7.pcap")
	r := f.Assess(Observed{Doc: inv.Document()}, time.Now())
	require.Len(t, r.PatchFirst, 1)
	top := r.PatchFirst[0]
	assert.Equal(t, 1, top.Rank)
	assert.Equal(t, []string{"134.217.61.211"}, top.IPs)
	assert.Contains(t, top.Identity, "6ES7 315-2EH14-0AB0")
	assert.Equal(t, 7.5, top.MaxCVSS)
	var ev []Evidence
	for _, m := range top.Match.Affected {
		if m.Advisory == "ICSA-19-283-02" {
			ev = m.Evidence
		}
	}
	require.NotEmpty(t, ev)
	assert.Equal(t, Evidence{Field: "order_number", Value: "6ES7 315-2EH14-0AB0", Proto: "s7comm", Message: "szl_0x0011", Frame: 4, TS: ev[0].TS}, ev[0])
	// the lab used public addresses: each host is an entry point by itself
	require.NotEmpty(t, top.Paths)
	assert.Empty(t, top.Paths[0].Hops)
	assert.Contains(t, top.Paths[0].Why, "public address 134.217.61.211")
	assert.Equal(t, 1, top.Exposure.Changers, "the TIA station writes and stops it")

	// zones drawn (the lab's public addresses are then plant addresses): the CPU in a level-1 cell,
	// the station in the office network at level 4
	doc := inv.Document()
	lvl, office := 1, 4
	for i := range doc.Assets {
		if doc.Assets[i].IPs[0] == "134.217.61.211" {
			doc.Assets[i].Zone, doc.Assets[i].Level = "cell", &lvl
		} else {
			doc.Assets[i].Zone, doc.Assets[i].Level = "office", &office
		}
	}
	r = f.Assess(Observed{Doc: doc, Zoned: true}, time.Now())
	top = r.PatchFirst[0]
	require.NotEmpty(t, top.Paths)
	// the office is an entry point (level 4); the path has one hop over S7comm with its writes and stop
	p := top.Paths[0]
	assert.Contains(t, p.Why, "zone office is at level 4")
	require.Len(t, p.Hops, 1)
	assert.Equal(t, "s7comm", p.Hops[0].Proto)
	assert.Subset(t, p.Hops[0].Ops, []string{"write", "stop"})
	assert.Contains(t, top.Exposure.Outside[0], "from zone office into zone cell")
	assert.Empty(t, top.Exposure.Internet, "zoned public addresses are the plant's")
}

// TestRankKEVFirst: a known exploited match outranks a higher exposure.
func TestRankKEVFirst(t *testing.T) {
	f := testFeed(t)
	lvl := 1
	s7 := asset("mac:s7", "s7comm", "szl_0x0011", 4, "order_number", "6ES7 315-2EH14-0AB0", "firmware", "V3.2.7")
	s7.IPs, s7.Roles, s7.Zone, s7.Level = []string{"10.1.1.10"}, []string{"plc"}, "cell", &lvl
	vis := asset("mac:vision", "modbus", "read_device_identification", 2, "vendor_name", "Unitronics", "product_code", "V570-57-T20B", "firmware", "12.30")
	vis.IPs, vis.Roles = []string{"10.1.2.10"}, []string{"plc"}
	hmi := inventory.Asset{ID: "mac:hmi", IPs: []string{"10.1.1.20"}, Roles: []string{"hmi"}}
	ws := inventory.Asset{ID: "mac:laptop", IPs: []string{"192.168.7.5"}}
	doc := inventory.Document{Assets: []inventory.Asset{s7, vis, hmi, ws}, Links: []inventory.Link{
		{Client: "mac:hmi", Server: "mac:s7", Proto: "s7comm", Ops: map[string]uint64{"read": 100, "write": 5}},
		{Client: "mac:laptop", Server: "mac:hmi", Proto: "opcua", Ops: map[string]uint64{"read": 3}},
	}}
	hmiLvl := 2
	doc.Assets[2].Zone, doc.Assets[2].Level = "scada", &hmiLvl
	doc.Assets[1].Zone, doc.Assets[1].Level = "cell2", &lvl
	r := f.Assess(Observed{Doc: doc, Zoned: true}, time.Now())
	require.Len(t, r.PatchFirst, 2)
	assert.Equal(t, "mac:vision", r.PatchFirst[0].Asset, "KEV first: %+v", r.PatchFirst[0].Reasons)
	assert.Equal(t, []string{"CVE-2023-6448"}, r.PatchFirst[0].KEV)
	s := r.PatchFirst[1]
	assert.Equal(t, "mac:s7", s.Asset)
	// the laptop (outside every zone) reaches the HMI, which writes to the S7: a two-hop path
	require.NotEmpty(t, s.Paths)
	assert.Equal(t, "mac:laptop", s.Paths[0].Entry)
	require.Len(t, s.Paths[0].Hops, 2)
	assert.Equal(t, Hop{From: "mac:laptop", To: "mac:hmi", Proto: "opcua", Ops: []string{"read"}}, s.Paths[0].Hops[0])
	assert.Equal(t, Hop{From: "mac:hmi", To: "mac:s7", Proto: "s7comm", Ops: []string{"read", "write"}}, s.Paths[0].Hops[1])
	var why []string
	for _, x := range s.Reasons {
		why = append(why, x.Why)
	}
	assert.Contains(t, strings.Join(why, "|"), "reachable from entry point 192.168.7.5")
	assert.Contains(t, strings.Join(why, "|"), "a controller (plc)")
	// a controller that others write to ranks above the same match on an idle workstation
	idle := asset("mac:idle", "s7comm", "szl_0x0011", 9, "order_number", "6ES7 315-2EH14-0AB0", "firmware", "V3.2.7")
	idle.IPs, idle.Zone, idle.Level = []string{"10.1.1.99"}, "cell", &lvl
	doc.Assets = append(doc.Assets, idle)
	r = f.Assess(Observed{Doc: doc, Zoned: true}, time.Now())
	rank := map[string]int{}
	for _, x := range r.PatchFirst {
		rank[x.Asset] = x.Rank
	}
	assert.Less(t, rank["mac:s7"], rank["mac:idle"])
}

func TestWatchAlertsOnceAndOnNewMatches(t *testing.T) {
	dir := t.TempDir()
	// first only the advisories, no KEV catalog: nothing alerts at 9.0 (the S7's worst is 7.5, the Vision's 9.8)
	files, err := ReadPaths([]string{"testdata/csaf/icsa-19-283-02.json", "testdata/csaf/icsa-23-348-15.json"})
	require.NoError(t, err)
	f := NewFeed()
	p, _ := f.Plan(Read(files, Options{}))
	f.Commit(p)
	s7 := asset("mac:s7", "s7comm", "szl_0x0011", 4, "order_number", "6ES7 315-2EH14-0AB0", "firmware", "V3.2.7")
	vis := asset("mac:vision", "modbus", "read_device_identification", 2, "vendor_name", "Unitronics", "product_code", "V570-57-T20B", "firmware", "12.30")
	doc := inventory.Document{Assets: []inventory.Asset{s7, vis}}
	w := NewWatch()
	found := w.Check(f.Assess(Observed{Doc: doc}, time.Now()))
	require.Len(t, found, 1, "CVSS 9.8 is critical")
	assert.Equal(t, "mac:vision", found[0].Key.Part(0))
	assert.Contains(t, found[0].Message, "CVE-2023-6448 (CVSS 9.8, ICSA-23-348-15)")
	assert.Equal(t, []uint64{2}, found[0].Frames)
	assert.Empty(t, w.Check(f.Assess(Observed{Doc: doc}, time.Now())), "reported once")
	// a restart keeps what was reported
	b, err := w.MarshalState()
	require.NoError(t, err)
	w2 := NewWatch()
	require.NoError(t, w2.UnmarshalState(b))
	assert.Empty(t, w2.Check(f.Assess(Observed{Doc: doc}, time.Now())))
	// the KEV catalog is imported: CVE-2023-6448 is already reported; lowering the threshold to 7.0
	// makes the S7's CVEs alert, once
	kev, err := ReadPaths([]string{"testdata/kev-excerpt.json"})
	require.NoError(t, err)
	p, _ = f.Plan(Read(kev, Options{}))
	f.Commit(p)
	w2.AlertCVSS = 7
	found = w2.Check(f.Assess(Observed{Doc: doc}, time.Now()))
	require.Len(t, found, 1)
	assert.Equal(t, "mac:s7", found[0].Key.Part(0))
	assert.Contains(t, found[0].Message, "CVE-2019-10936 (CVSS 7.5, ICSA-19-283-02)")
	assert.Contains(t, found[0].Message, "[alerting from CVSS 7.0]")
	assert.Error(t, w2.UnmarshalState([]byte(`{"version":1,"reported":{"a":["not a cve"]}}`)))
	assert.Error(t, w2.UnmarshalState([]byte(`{`)))
	_ = dir
}

// replayInventory runs a capture through the pipeline into an inventory.
func replayInventory(t testing.TB, path string) *inventory.Inventory {
	t.Helper()
	if _, err := os.Stat(path); err != nil {
		t.Fatal(err)
	}
	inv := inventory.New(inventory.Limits{})
	replay(t, inv, filepath.Clean(path))
	return inv
}

// TestS71500EndToEnd: the S7comm-plus session setup of a real S7-1500
// (order number and firmware in frame 7) through the real pipeline and
// inventory: a family match with a critical CVE, which alerts at the
// default threshold with frame 7 as its evidence.
func TestS71500EndToEnd(t *testing.T) {
	files, err := ReadPaths([]string{"testdata/csaf/icsa-22-286-04.json", "testdata/csaf/icsa-19-283-02.json", "testdata/csaf/icsa-18-282-05.json"})
	require.NoError(t, err)
	f := NewFeed()
	p, err := f.Plan(Read(files, Options{}))
	require.NoError(t, err)
	f.Commit(p)
	inv := replayInventory(t, "testdata/S7-1511_db2_var1_HMI.pcap")
	r := f.Assess(Observed{Doc: inv.Document()}, time.Now())
	require.Len(t, r.PatchFirst, 1)
	top := r.PatchFirst[0]
	assert.Equal(t, []string{"192.168.25.139"}, top.IPs)
	assert.Equal(t, "siemens, 6ES7 511-1AK00-0AB0, firmware V1.0", top.Identity)
	assert.True(t, has(top.Match.NotAffected, "ICSA-18-282-05"), ">= V2.0 and < V2.5 does not hold V1.0")
	require.NotEmpty(t, top.CVEs)
	assert.Equal(t, CVE{ID: "CVE-2022-38465", CVSS: 9.3, Vector: top.CVEs[0].Vector, Remedy: top.CVEs[0].Remedy}, CVE{ID: top.CVEs[0].ID, CVSS: top.CVEs[0].CVSS,
		Vector: top.CVEs[0].Vector, Remedy: top.CVEs[0].Remedy}, "the worst first")
	found := NewWatch().Check(r)
	require.Len(t, found, 1, "CVSS 9.3 alerts at the default 9.0")
	assert.Equal(t, []uint64{7}, found[0].Frames)
	assert.Contains(t, found[0].Message, "CVE-2022-38465 (CVSS 9.3, ICSA-22-286-04)")
	assert.NotContains(t, found[0].Message, "CVE-2019-10936", "7.5 does not alert")
	for _, m := range top.Match.Affected {
		assert.Equal(t, Evidence{Field: "order_number", Value: "6ES7 511-1AK00-0AB0", Proto: "s7comm-plus", Message: "create_object", Frame: 7, TS: m.Evidence[0].TS}, m.Evidence[0])
	}
}
