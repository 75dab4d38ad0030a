package config

import (
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/otwatch/otwatch/protocols"
)

const plantZones = `
zones:
  - name: cell-1
    networks: [10.1.1.0/24, "fd00:1::/64"]
    level: 1
  - {name: scada, networks: [10.1.0.0/24], level: 2}
conduits:
  - {from: scada, to: cell-1, protocols: [modbus, s7comm], ops: [read, write]}
  - {from: unzoned, to: scada, protocols: [opcua]}
`

func TestZones(t *testing.T) {
	c, err := Parse("z.conf", []byte("interfaces: [eth1]\n"+plantZones))
	if err != nil {
		t.Fatal(err)
	}
	s := c.Segmentation
	if len(s.Zones) != 2 || s.Zones[0].Name != "cell-1" || s.Zones[0].Level != 1 || len(s.Zones[0].Networks) != 2 {
		t.Fatalf("zones %+v", s.Zones)
	}
	if cd := s.Conduits[0]; cd.From != "scada" || cd.To != "cell-1" || len(cd.Protocols) != 2 ||
		len(cd.Ops) != 2 || cd.Ops[1] != protocols.OpWrite {
		t.Fatalf("conduit %+v", cd)
	}
	p, err := s.Policy()
	if err != nil || !p.Enforced() {
		t.Fatalf("policy %v %v", p, err)
	}
	if z, ok := p.ZoneOf(netip.MustParseAddr("fd00:1::5")); !ok || z.Name != "cell-1" {
		t.Fatalf("ZoneOf: %+v %v", z, ok)
	}
	// the same keys alone in a file, for otwatch read --zones
	path := filepath.Join(t.TempDir(), "zones.yaml")
	if err := os.WriteFile(path, []byte(plantZones), 0o644); err != nil {
		t.Fatal(err)
	}
	alone, err := LoadSegmentation(path)
	if err != nil || len(alone.Zones) != 2 || len(alone.Conduits) != 2 {
		t.Fatalf("LoadSegmentation: %+v %v", alone, err)
	}
	// or the daemon's whole configuration
	whole := filepath.Join(t.TempDir(), "otwatch.conf")
	if err := os.WriteFile(whole, []byte("interfaces: [eth1]\n"+plantZones), 0o644); err != nil {
		t.Fatal(err)
	}
	if fromWhole, err := LoadSegmentation(whole); err != nil || len(fromWhole.Zones) != 2 {
		t.Fatalf("LoadSegmentation of a whole configuration: %+v %v", fromWhole, err)
	}
	if err := os.WriteFile(path, []byte("zone:\n  - {name: a, networks: [10.0.0.0/8]}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadSegmentation(path); err == nil || !strings.Contains(err.Error(), `zone: unknown key, did you mean "zones"?`) {
		t.Fatalf("a zones-only file with a typo: %v", err)
	}
	none, err := Parse("n.conf", []byte("interfaces: [eth1]\n"))
	if p, _ := none.Segmentation.Policy(); err != nil || p != nil {
		t.Fatalf("no zones: policy %v %v", p, err)
	}
}

func TestZoneErrors(t *testing.T) {
	for _, tc := range []struct{ name, src, want string }{
		{"not a network", "zones:\n  - {name: a, networks: [10.1.1.0/33]}\n", `z.conf:2: zones[0].networks[0]: "10.1.1.0/33" is not a network`},
		{"no networks", "zones:\n  - {name: a}\n", `z.conf:2: zones[0].networks: required`},
		{"bad name", "zones:\n  - {name: Cell 1, networks: [10.0.0.0/8]}\n", `z.conf:2: zones[0].name: "Cell 1": want lower-case`},
		{"reserved name", "zones:\n  - {name: unzoned, networks: [10.0.0.0/8]}\n", `zones[0].name: "unzoned"`},
		{"twice", "zones:\n  - {name: a, networks: [10.0.0.0/8]}\n  - {name: a, networks: [11.0.0.0/8]}\n", `z.conf:3: zones[1].name: zone "a" is defined twice`},
		{"same network twice", "zones:\n  - {name: a, networks: [10.0.0.0/8]}\n  - {name: b, networks: [10.0.0.0/8]}\n", `z.conf:2: zones: network 10.0.0.0/8 is in zones "a" and "b"`},
		{"level out of range", "zones:\n  - {name: a, networks: [10.0.0.0/8], level: 7}\n", `zones[0].level`},
		{"conduit to an unknown zone", "conduits:\n  - {from: a, to: b}\nzones:\n  - {name: a, networks: [10.0.0.0/8]}\n", `z.conf:2: conduits[0].to: "b" is not a zone (zones: unzoned, a)`},
		{"conduit without to", "zones:\n  - {name: a, networks: [10.0.0.0/8]}\nconduits:\n  - {from: a}\n", `z.conf:4: conduits[0].to: required`},
		{"unknown protocol", "zones:\n  - {name: a, networks: [10.0.0.0/8]}\nconduits:\n  - {from: a, to: unzoned, protocols: [bacnet]}\n", `conduits[0].protocols[0]: "bacnet": want one of `},
		{"unknown op", "zones:\n  - {name: a, networks: [10.0.0.0/8]}\nconduits:\n  - {from: a, to: unzoned, ops: [reed]}\n", `conduits[0].ops[0]: "reed": want one of other, read`},
		{"conduits without zones", "conduits:\n  - {from: unzoned, to: unzoned}\n", `conduits: conduits need zones`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("z.conf", []byte(tc.src+"interfaces: [eth1]\n"))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error\n%v\nwant it to contain\n%s", err, tc.want)
			}
		})
	}
}
