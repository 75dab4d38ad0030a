package enip_test

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/otwatch/otwatch/protocols"
	"github.com/otwatch/otwatch/protocols/corpustest"
	"github.com/otwatch/otwatch/protocols/enip"
)

// tsharkSides reads every CIP message tshark decodes (Multiple Service
// Packet members and Unconnected Send's embedded requests included),
// dropping TCP retransmissions.
// (The class of a reply tshark takes from the request it matched, which
// for an Unconnected Send is the envelope's class 6 while we give the
// embedded request's: conformance.py counts that; this test compares
// frame, direction and service.)
func tsharkSides(t *testing.T, path string) []corpustest.CodeSide {
	// cip.service is the service octet with its response bit, one per
	// message whatever layer (cip, cipcm, cipcls) shows it.
	var out []corpustest.CodeSide
	for _, r := range corpustest.FieldsOnce(t, path, nil, "frame.number", "cip.service") {
		for _, sv := range corpustest.Occurrences(r[1]) {
			v, dir := corpustest.Int(sv), "request"
			if v&0x80 != 0 {
				dir = "response"
			}
			out = append(out, corpustest.CodeSide{Frame: corpustest.Int(r[0]), Dir: dir, Code: v & 0x7F})
		}
	}
	return out
}

// TestConformanceWithTshark compares every CIP message of every corpus
// capture with tshark's dissection: frame, direction and service.
func TestConformanceWithTshark(t *testing.T) {
	corpustest.CompareCorpus(t, enip.ProtoCIP, tsharkSides, func(txs []protocols.Transaction, _ []corpustest.CodeSide) []corpustest.CodeSide {
		return corpustest.CodeSides(txs, enip.ProtoCIP)
	})
}

// TestICSNPPBaselines checks our records against CISA ICSNPP's cip.log
// (service, class, instance of every request; service and status of every
// reply, Multiple Service Packet members included) and cip_identity.log
// (the identity of the ListIdentity reply), field by field.
func TestICSNPPBaselines(t *testing.T) {
	dir := corpustest.Dir(t)
	base := filepath.Join(dir, "cisagov__icsnpp-enip", "tests")
	for _, c := range []struct{ trace, baseline string }{
		{"enip_cip_example.pcap", "analyzer.basic"},
		{"multiple_service_packet_cip.pcapng", "analyzer.multiple_service_request"},
		{"set_attribute_single_service_cip.pcapng", "analyzer.set_attr_single_service"},
	} {
		t.Run(c.baseline, func(t *testing.T) {
			want := map[string]int{}
			for _, f := range corpustest.ZeekLog(t, filepath.Join(base, "baseline", c.baseline, "cip.log")) {
				// direction, service, status code, class, instance
				if f[12] == "request" {
					want[fmt.Sprintf("request %s class=%s instance=%s", f[13], f[19], f[21])]++
				} else {
					want[fmt.Sprintf("response %s status=%s", f[13], f[15])]++
				}
			}
			txs, _ := corpustest.Replay(t, filepath.Join(base, "traces", c.trace))
			got := map[string]int{}
			for _, tx := range txs {
				if tx.Proto != enip.ProtoCIP {
					continue
				}
				svc := fmt.Sprintf("0x%02x", tx.Code)
				if tx.RequestFrame != 0 {
					class, instance := "-", "-"
					if len(tx.Targets) > 0 && tx.Targets[0].Space == "cip" {
						parts := strings.Split(tx.Targets[0].ID, "/")
						class = fmt.Sprintf("0x%02x", corpustest.Int(parts[0]))
						if len(parts) > 1 {
							instance = fmt.Sprintf("0x%02x", corpustest.Int(parts[1]))
						}
					}
					got[fmt.Sprintf("request %s class=%s instance=%s", svc, class, instance)]++
				}
				if tx.ResponseFrame != 0 {
					got[fmt.Sprintf("response %s status=0x%02x", svc, tx.ExceptionCode)]++
				}
			}
			for k, n := range want {
				if got[k] != n {
					t.Errorf("%s: ICSNPP %d, otwatch %d", k, n, got[k])
				}
			}
			for k, n := range got {
				if want[k] == 0 {
					t.Errorf("%s: otwatch %d, ICSNPP none", k, n)
				}
			}
		})
	}
	t.Run("cip_identity", func(t *testing.T) {
		rows := corpustest.ZeekLog(t, filepath.Join(base, "baseline", "analyzer.basic", "cip_identity.log"))
		if len(rows) != 1 {
			t.Fatalf("%d identity lines", len(rows))
		}
		f := rows[0]
		txs, _ := corpustest.Replay(t, filepath.Join(base, "traces", "enip_cip_example.pcap"))
		var id *protocols.Transaction
		for i := range txs {
			if txs[i].Attr("product_name") != "" {
				id = &txs[i]
			}
		}
		if id == nil {
			t.Fatal("no identity in our records")
		}
		// socket address 12, vendor id 14 and name 15, device type 17,
		// product code 18, revision 19, serial 21, product name 22
		for _, c := range []struct{ ours, theirs string }{
			{id.Attr("vendor_id"), f[14]}, {id.Attr("vendor_name"), f[15]}, {id.Attr("product_code"), f[18]},
			{id.Attr("revision"), f[19]}, {id.Attr("serial"), f[21]}, {id.Attr("product_name"), f[22]},
			{id.Attr("device_type"), strings.ReplaceAll(strings.ToLower(f[17]), " ", "_")},
			{id.Server.IP.String(), f[12]},
		} {
			if c.ours != c.theirs {
				t.Errorf("identity: otwatch %q, ICSNPP %q", c.ours, c.theirs)
			}
		}
	})
}
