package modbus_test

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/otwatch/otwatch/protocols"
	"github.com/otwatch/otwatch/protocols/corpustest"
)

// pduSide is one Modbus PDU as both tshark and otwatch can describe it.
type pduSide struct {
	frame    int
	dir      string
	fc, unit int
	tid      int
	exc      int // -1: not an exception
	addr     int // -1: none or not compared
	qty      int
}

func (p pduSide) FrameDir() (int, string) { return p.frame, p.dir }

func (p pduSide) String() string {
	return fmt.Sprintf("frame %d %s fc=%d unit=%d tid=%d exc=%d addr=%d qty=%d", p.frame, p.dir, p.fc, p.unit, p.tid, p.exc, p.addr, p.qty)
}

// addressed: request codes whose start address and quantity tshark shows as
// reference_num and word_cnt/bit_cnt.
var addressed = map[int]string{1: "bit", 2: "bit", 3: "word", 4: "word", 15: "bit", 16: "word", 5: "", 6: "", 22: ""}

// tsharkSides reads the PDUs tshark dissects, dropping TCP retransmissions
// (a reassembling monitor sees those bytes once).
func tsharkSides(t *testing.T, path string) []pduSide {
	rows := corpustest.FieldsOnce(t, path, nil, "frame.number", "tcp.dstport", "udp.dstport", "mbtcp.trans_id", "mbtcp.unit_id",
		"modbus.func_code", "modbus.exception_code", "modbus.reference_num", "modbus.word_cnt", "modbus.bit_cnt")
	var out []pduSide
	for _, r := range rows {
		if r[5] == "" {
			continue
		}
		dir := "response"
		if r[1] == "502" || r[2] == "502" {
			dir = "request"
		}
		tids, units, fcs := corpustest.Occurrences(r[3]), corpustest.Occurrences(r[4]), corpustest.Occurrences(r[5])
		excs, refs, words, bits := corpustest.Occurrences(r[6]), corpustest.Occurrences(r[7]), corpustest.Occurrences(r[8]), corpustest.Occurrences(r[9])
		single := len(fcs) == 1
		for i, fc := range fcs {
			p := pduSide{frame: corpustest.Int(r[0]), dir: dir, fc: corpustest.Int(fc), exc: -1, addr: -1, qty: -1}
			if i < len(tids) {
				p.tid = corpustest.Int(tids[i])
			}
			if i < len(units) {
				p.unit = corpustest.Int(units[i])
			}
			if single && len(excs) == 1 {
				p.exc = corpustest.Int(excs[0])
			}
			if kind, ok := addressed[p.fc]; ok && single && dir == "request" && len(refs) == 1 {
				p.addr = corpustest.Int(refs[0])
				switch {
				case kind == "word" && len(words) == 1:
					p.qty = corpustest.Int(words[0])
				case kind == "bit" && len(bits) == 1:
					p.qty = corpustest.Int(bits[0])
				}
			}
			out = append(out, p)
		}
	}
	return out
}

// ourSides turns our transactions into the same shape. Fields tshark could
// not attribute (several PDUs in a frame) are blanked on both sides by key.
func ourSides(txs []protocols.Transaction, multi map[int]bool) []pduSide {
	var out []pduSide
	for _, tx := range txs {
		if tx.Proto != "modbus" {
			continue
		}
		unit := corpustest.Int(tx.Unit)
		if tx.RequestFrame != 0 {
			p := pduSide{frame: int(tx.RequestFrame), dir: "request", fc: tx.Code, unit: unit, tid: int(tx.ID), exc: -1, addr: -1, qty: -1}
			if _, ok := addressed[tx.Code]; ok && !multi[p.frame] && len(tx.Targets) > 0 {
				p.addr = int(tx.Targets[0].Address)
				if addressed[tx.Code] != "" {
					p.qty = int(tx.Targets[0].Count)
				}
			}
			out = append(out, p)
		}
		if tx.ResponseFrame != 0 {
			p := pduSide{frame: int(tx.ResponseFrame), dir: "response", fc: tx.Code, unit: unit, tid: int(tx.ID), exc: -1, addr: -1, qty: -1}
			if tx.Outcome == protocols.OutcomeException && !multi[p.frame] {
				p.exc = int(tx.ExceptionCode)
			}
			out = append(out, p)
		}
	}
	return out
}

// TestConformanceWithTshark compares every Modbus PDU of every corpus
// capture with tshark's dissection: frame, direction, function code, unit,
// transaction id, exception code, start address and quantity.
func TestConformanceWithTshark(t *testing.T) {
	corpustest.Tshark(t)
	exceptions := corpustest.LoadExceptions(t)
	for _, c := range corpustest.Captures(t, "modbus") {
		c := c
		t.Run(c.Rel, func(t *testing.T) {
			want := tsharkSides(t, c.Path)
			txs, _ := corpustest.Replay(t, c.Path)
			multi := map[int]bool{}
			perFrame := map[int]int{}
			for _, p := range want {
				perFrame[p.frame]++
			}
			for f, n := range perFrame {
				multi[f] = n > 1
			}
			got := ourSides(txs, multi)
			corpustest.Compare(t, exceptions, c.Rel, want, got)
			if len(want) > 0 && len(got) == 0 {
				t.Errorf("no Modbus PDUs found, tshark has %d", len(want))
			}
		})
	}
	exceptions.CheckStale(t)
}

// TestICSNPPDetailedBaseline checks function, address, quantity and written
// values against CISA ICSNPP's modbus_detailed.log for modbus_example.pcap.
func TestICSNPPDetailedBaseline(t *testing.T) {
	dir := corpustest.Dir(t)
	base := filepath.Join(dir, "cisagov__icsnpp-modbus", "testing")
	rows := corpustest.ZeekLog(t, filepath.Join(base, "baseline", "analyzer.basic", "modbus_detailed.log"))
	txs, _ := corpustest.Replay(t, filepath.Join(base, "traces", "modbus_example.pcap"))
	byTid := map[int][]protocols.Transaction{}
	for _, tx := range txs {
		byTid[int(tx.ID)] = append(byTid[int(tx.ID)], tx)
	}
	// ICSNPP's function names where they differ from ours.
	names := map[string]string{"REPORT_SLAVE_ID": "report_server_id", "ENCAP_INTERFACE_TRANSPORT": "encapsulated_interface_transport"}
	checked := 0
	for _, f := range rows {
		tid, unit, fn, addr, qty, reqVals := corpustest.Int(f[6]), f[7], f[8], f[9], f[10], f[11]
		want := names[fn]
		if want == "" {
			want = strings.ToLower(fn)
		}
		var tx *protocols.Transaction
		for i := range byTid[tid] {
			if c := &byTid[tid][i]; c.CodeName == want && c.Unit == unit {
				tx = c
			}
		}
		if tx == nil {
			t.Errorf("tid %d unit %s %s: no transaction", tid, unit, fn)
			continue
		}
		checked++
		if addr != "-" && len(tx.Targets) > 0 && strconv.FormatUint(tx.Targets[0].Address, 10) != addr {
			t.Errorf("tid %d %s: address %d, ICSNPP %s", tid, fn, tx.Targets[0].Address, addr)
		}
		if qty != "-" && qty != "0" && len(tx.Targets) > 0 && strconv.FormatUint(tx.Targets[0].Count, 10) != qty {
			t.Errorf("tid %d %s: quantity %d, ICSNPP %s", tid, fn, tx.Targets[0].Count, qty)
		}
		if reqVals != "-" {
			var got []string
			for _, v := range tx.Values {
				got = append(got, strconv.FormatInt(v.Int, 10))
			}
			if strings.Join(got, ",") != reqVals {
				t.Errorf("tid %d %s: values %v, ICSNPP %s", tid, fn, got, reqVals)
			}
		}
		if exc := f[19]; exc != "-" && tx.Outcome != protocols.OutcomeException {
			t.Errorf("tid %d %s: ICSNPP saw exception %s, we %v", tid, fn, exc, tx.Outcome)
		}
	}
	if checked < 20 {
		t.Fatalf("only %d baseline lines checked", checked)
	}
}
