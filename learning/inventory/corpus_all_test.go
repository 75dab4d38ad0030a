// The host check over every corpus capture with every dissector switched on.
package inventory_test

import (
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/otwatch/otwatch/learning/inventory"
	"github.com/otwatch/otwatch/protocols/corpustest"

	_ "github.com/otwatch/otwatch/protocols/all"
)

var decodeAs = regexp.MustCompile(`-d\s+(\w+)\.port==(\d+),(\w+)`)

var serverPorts = map[string]string{"502": "modbus", "20000": "dnp3", "102": "s7comm", "4840": "opcua"}

// allExpect: address → set of "proto/side" from tshark. The server is the
// side on the protocol's port (a -d port from the manifest notes too); for
// DNP3 the application function says which side is the master.
func allExpect(t *testing.T, c corpustest.Capture) map[string]map[string]bool {
	var opts []string
	ports := map[string]string{}
	for k, v := range serverPorts {
		ports[k] = v
	}
	for _, m := range decodeAs.FindAllStringSubmatch(c.Notes, -1) {
		opts = append(opts, "-d", m[1]+".port=="+m[2]+","+m[3])
		ports[m[2]] = map[string]string{"mbtcp": "modbus", "dnp3": "dnp3", "opcua": "opcua", "tpkt": "s7comm"}[m[3]]
	}
	opts = append(opts, "-Y", "(modbus || dnp3.al.func || s7comm || opcua.transport.type) && !tcp.analysis.retransmission && !tcp.analysis.spurious_retransmission")
	rows := corpustest.Fields(t, c.Path, opts, "frame.number", "ip.src", "ip.dst", "ipv6.src", "ipv6.dst",
		"tcp.srcport", "tcp.dstport", "udp.srcport", "udp.dstport", "frame.protocols", "dnp3.al.func")
	want := map[string]map[string]bool{}
	add := func(ip, what string) {
		if want[ip] == nil {
			want[ip] = map[string]bool{}
		}
		if what != "" {
			want[ip][what] = true
		}
	}
	for _, r := range rows {
		for len(r) < 11 {
			r = append(r, "")
		}
		src, dst := last(r[1]), last(r[2])
		if src == "" {
			src, dst = last(r[3]), last(r[4])
		}
		sport, dport := last(r[5]), last(r[6])
		if sport == "" {
			sport, dport = last(r[7]), last(r[8])
		}
		layers := ":" + r[9] + ":"
		proto := ""
		for _, p := range []string{"modbus", "dnp3", "s7comm", "opcua"} {
			if strings.Contains(layers, ":"+p+":") {
				proto = p
			}
		}
		if proto == "" {
			continue
		}
		switch {
		case proto == "dnp3" && r[10] != "":
			// a request (function 1..127) comes from the master, whatever
			// the link layer's DIR bit says (synthetic captures get it wrong)
			// CONFIRM (0) is answered in both directions and says nothing
			fc, err := strconv.Atoi(strings.SplitN(r[10], ",", 2)[0])
			if err == nil && fc == 0 {
				continue
			}
			if err == nil && fc < 128 {
				add(src, "dnp3/client")
				add(dst, "dnp3/server")
			} else {
				add(src, "dnp3/server")
				add(dst, "dnp3/client")
			}
		case ports[dport] == proto && ports[sport] != proto:
			add(dst, proto+"/server")
			add(src, proto+"/client")
		case ports[sport] == proto && ports[dport] != proto:
			add(src, proto+"/server")
			add(dst, proto+"/client")
		default:
			add(src, "")
			add(dst, "")
		}
	}
	return want
}

func TestCorpusAllHosts(t *testing.T) {
	if testing.Short() {
		t.Skip("every corpus capture against tshark, 3 to 12 minutes on 2 cores: skipped with -short (make test-full runs it)")
	}
	corpustest.Tshark(t)
	caps := corpustest.Captures(t, "")
	start := time.Now()
	var hosts, found, sides, sidesOK int
	var bad []string
	for _, c := range caps {
		if c.Row["duplicate_of"] != "" && c.Row["duplicate_of"] != "-" {
			continue
		}
		want := allExpect(t, c)
		if len(want) == 0 {
			continue
		}
		inv := inventory.New(inventory.Limits{})
		replay(t, inv, c.Path)
		doc := inv.Document()
		byID := map[string]*inventory.Asset{}
		for i := range doc.Assets {
			byID[doc.Assets[i].ID] = &doc.Assets[i]
		}
		ips := make([]string, 0, len(want))
		for ip := range want {
			ips = append(ips, ip)
		}
		sort.Strings(ips)
		for _, ip := range ips {
			hosts++
			id, ok := inv.AssetID(mustAddr(t, ip))
			if !ok {
				bad = append(bad, fmt.Sprintf("%s: %s not an asset (tshark: %v)", c.Rel, ip, want[ip]))
				continue
			}
			found++
			have := map[string]bool{}
			for _, p := range byID[id].Protocols {
				name := p.Proto
				if name == "s7comm-plus" {
					name = "s7comm"
				}
				have[name+"/"+p.Side] = true
			}
			for w := range want[ip] {
				sides++
				if have[w] {
					sidesOK++
				} else {
					bad = append(bad, fmt.Sprintf("%s: %s (%s) lacks %s, has %v", c.Rel, ip, id, w, have))
				}
			}
		}
	}
	sort.Strings(bad)
	for _, b := range bad {
		t.Log(b)
	}
	t.Logf("%d captures in %v: %d/%d hosts are assets, %d/%d protocol sides right",
		len(caps), time.Since(start).Round(time.Second), found, hosts, sidesOK, sides)
	if len(bad) > 0 {
		t.Errorf("%d disagreements", len(bad))
	}
}
