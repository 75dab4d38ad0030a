package opcua

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/otwatch/otwatch/protocols"
	"github.com/otwatch/otwatch/protocols/corpustest"
)

// side is one OPC UA service message as both tshark and otwatch describe it.
type side struct {
	frame int
	dir   string
	code  int
}

func (s side) FrameDir() (int, string) { return s.frame, s.dir }

func (s side) String() string { return fmt.Sprintf("frame %d %s code %d", s.frame, s.dir, s.code) }

var decodeAs = regexp.MustCompile(`-d\s+(\w+\.port==\d+,\w+)`)

// tsharkSides applies the rules of shared/tools/tshark_oracle.py: one side per
// OPN/MSG/CLO message whose service NodeId tshark decodes; a request iff the
// NodeId is a request encoding; a response takes the code of the request with
// the same (TCP stream, secure channel id, request id), else the request
// its own encoding answers (634 -> 631), else its own. Messages completed by a
// TCP retransmission are dropped.
func tsharkSides(t *testing.T, c corpustest.Capture) []side {
	var opts []string
	for _, m := range decodeAs.FindAllStringSubmatch(c.Notes, -1) {
		opts = append(opts, "-d", m[1])
	}
	opts = append(opts, "-Y", "opcua")
	rows := corpustest.FieldsOnce(t, c.Path, opts, "frame.number", "tcp.stream", "opcua.transport.type",
		"opcua.transport.scid", "opcua.security.rqid", "opcua.servicenodeid.numeric")
	requests := map[string]int{}
	var out []side
	for _, r := range rows {
		frame, _ := strconv.Atoi(r[0])
		var secured int
		for _, typ := range corpustest.Occurrences(r[2]) {
			if typ == "OPN" || typ == "MSG" || typ == "CLO" {
				secured++
			}
		}
		scids, rqids, nodes := corpustest.Occurrences(r[3]), corpustest.Occurrences(r[4]), corpustest.Occurrences(r[5])
		if len(nodes) == 0 {
			continue // encrypted or transport-only
		}
		if len(nodes) != secured || len(scids) != secured || len(rqids) != secured {
			t.Fatalf("frame %d: cannot align %d messages with %d scids, %d request ids, %d NodeIds", frame, secured, len(scids), len(rqids), len(nodes))
		}
		for i, n := range nodes {
			code, _ := strconv.Atoi(n)
			key := r[1] + "/" + scids[i] + "/" + rqids[i]
			if IsRequest(code) {
				requests[key] = code
				out = append(out, side{frame, "request", code})
				continue
			}
			if req, ok := requests[key]; ok {
				code = req
			} else if req, ok := requestOf[code]; ok {
				code = req
			}
			out = append(out, side{frame, "response", code})
		}
	}
	return out
}

func ourSides(txs []protocols.Transaction) []side {
	var out []side
	for _, tx := range txs {
		if tx.Proto != "opcua" || tx.Encrypted {
			continue
		}
		if tx.RequestFrame != 0 {
			out = append(out, side{int(tx.RequestFrame), "request", tx.Code})
		}
		if tx.ResponseFrame != 0 {
			out = append(out, side{int(tx.ResponseFrame), "response", tx.Code})
		}
	}
	return out
}

// TestConformanceWithTshark compares the service NodeId, direction and frame
// of every OPC UA message of every corpus capture with tshark's dissection.
func TestConformanceWithTshark(t *testing.T) {
	corpustest.Tshark(t)
	exceptions := corpustest.LoadExceptions(t)
	caps := corpustest.Captures(t, "opcua")
	if len(caps) == 0 {
		t.Skip("no OPC UA captures in the corpus")
	}
	for _, c := range caps {
		c := c
		if c.Row["duplicate_of"] != "" && c.Row["duplicate_of"] != "-" {
			continue // byte-identical to another capture of the list
		}
		t.Run(c.Rel, func(t *testing.T) {
			want := tsharkSides(t, c)
			txs, _ := corpustest.Replay(t, c.Path)
			got := ourSides(txs)
			corpustest.Compare(t, exceptions, c.Rel, want, got)
		})
	}
	exceptions.CheckStale(t)
}

// icsnppService matches "<id>\t<Name>Request" / "...Response" in
// opcua_binary.log lines.
var icsnppService = regexp.MustCompile(`\t(\d+)\t[A-Za-z0-9]+(Request|Response|Fault)\t`)

// TestICSNPPBaselines checks our transactions against CISA ICSNPP's Zeek
// baselines: the requests per service (exactly, or at least as many for the
// data-gap traces where ICSNPP's analyzer stops), the NodeIds written, and
// the endpoint URL / session details.
func TestICSNPPBaselines(t *testing.T) {
	dir := corpustest.Dir(t)
	base := filepath.Join(dir, "cisagov__icsnpp-opcua-binary", "tests")
	for _, c := range []struct {
		baseline, trace string
		atLeast         bool
	}{
		{"analyzer.basic", "open62541_client-server_mainloop.pcap", false},
		{"analyzer.no-handshake", "open62541_client-server_mainloop-no-handshake.pcap", false},
		{"analyzer.non-standard-port", "open62541_client-server_mainloop-not-localhost-non-standard-port.pcap", false},
		{"analyzer.data-gap", "opcua_with-gap.pcap", true},
		{"analyzer.data-gap_with-handshake", "opcua_with-gap_with-handshake.pcap", true},
	} {
		t.Run(c.baseline, func(t *testing.T) {
			logText, err := os.ReadFile(filepath.Join(base, "baseline", c.baseline, "opcua_binary.log"))
			if err != nil {
				t.Skipf("ICSNPP baseline absent: %v", err)
			}
			txs, _ := corpustest.Replay(t, filepath.Join(base, "traces", c.trace))
			theirs := map[int]int{}
			for _, m := range icsnppService.FindAllStringSubmatch(string(logText), -1) {
				if m[2] == "Request" {
					id, _ := strconv.Atoi(m[1])
					theirs[id]++
				}
			}
			ours := map[int]int{}
			for _, tx := range txs {
				if tx.RequestFrame != 0 {
					ours[tx.Code]++
				}
			}
			for id, n := range theirs {
				if ours[id] < n || (!c.atLeast && ours[id] != n) {
					t.Errorf("%s: %d requests, ICSNPP %d", ServiceName(id), ours[id], n)
				}
			}
			if !c.atLeast {
				for id, n := range ours {
					if theirs[id] == 0 {
						t.Errorf("%s: %d requests, ICSNPP none", ServiceName(id), n)
					}
				}
			}
			// Written NodeIds: ICSNPP's write log gives namespace and string id.
			if w, err := os.ReadFile(filepath.Join(base, "baseline", c.baseline, "opcua_binary_write.log")); err == nil {
				checked := 0
				defer func() {
					if checked == 0 {
						t.Error("no write checked")
					}
				}()
				for _, line := range strings.Split(string(w), "\n") {
					// ts uid 4-tuple is_orig 4-tuple encoding namespace numeric string ...
					f := strings.Split(line, "\t")
					if len(f) < 15 || f[6] != "T" || f[14] == "-" {
						continue
					}
					checked++
					id := "ns=" + f[12] + ";s=" + f[14]
					found := false
					for _, tx := range txs {
						if tx.Code == WriteRequest && len(tx.Targets) > 0 && tx.Targets[0].ID == id && len(tx.Values) > 0 {
							found = true
						}
					}
					if !found {
						t.Errorf("no write to %s with a value", id)
					}
				}
			}
			// Endpoint and session details.
			if strings.Contains(string(logText), "opc.tcp://") {
				url := regexp.MustCompile(`opc\.tcp://[^\t]+`).FindString(string(logText))
				found := false
				for _, tx := range txs {
					found = found || tx.Unit == url
				}
				if !found {
					t.Errorf("no transaction with unit %s", url)
				}
			}
		})
	}
}
