package dnp3_test

import (
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/otwatch/otwatch/protocols"
	"github.com/otwatch/otwatch/protocols/corpustest"
	_ "github.com/otwatch/otwatch/protocols/dnp3"
)

// pdu is one DNP3 application fragment as tshark and otwatch both describe
// it; the code follows RECORDS.md (a response carries its request's code).
type pdu struct {
	frame int
	dir   string
	code  int
}

func (p pdu) String() string { return fmt.Sprintf("frame %d %s code %d", p.frame, p.dir, p.code) }

// detail is what a request says beyond its code, compared where tshark
// decoded the whole fragment: object spaces, control indices, CROB
// operations and analog output values.
type detail struct {
	spaces  []string
	indices []string // g12/g41 point indices
	crobOps []string
	analog  []string
}

func (d detail) String() string {
	return fmt.Sprintf("spaces=%v indices=%v crob=%v analog=%v", d.spaces, d.indices, d.crobOps, d.analog)
}

var noResponse = map[int]bool{0: true, 6: true, 8: true, 10: true, 12: true}

// find returns the values of key anywhere below node, depth first.
func find(node any, key string, out *[]string) {
	switch n := node.(type) {
	case map[string]any:
		keys := make([]string, 0, len(n))
		for k := range n {
			keys = append(keys, k)
		}
		sort.Strings(keys) // maps lose tshark's order; callers sort what they compare
		for _, k := range keys {
			v := n[k]
			if k == key {
				switch x := v.(type) {
				case string:
					*out = append(*out, x)
				case []any:
					for _, e := range x {
						if s, ok := e.(string); ok {
							*out = append(*out, s)
						}
					}
				}
				continue
			}
			find(v, key, out)
		}
	case []any:
		for _, e := range n {
			find(e, key, out)
		}
	}
}

// has reports whether key occurs anywhere below node (tshark's expert flags carry empty values).
func has(node any, key string) bool {
	switch n := node.(type) {
	case map[string]any:
		for k, v := range n {
			if k == key || has(v, key) {
				return true
			}
		}
	case []any:
		for _, e := range n {
			if has(e, key) {
				return true
			}
		}
	}
	return false
}

func first(node any, key string) string {
	var out []string
	find(node, key, &out)
	if len(out) == 0 {
		return ""
	}
	return out[0]
}

var decodeAs = regexp.MustCompile(`-d\s+(\w+\.port==\d+,\w+)`)

// tsharkArgs asks tshark for the DNP3 application layer of a capture, with
// the decode-as its manifest notes give.
func tsharkArgs(c corpustest.Capture) []string {
	var args []string
	for _, m := range decodeAs.FindAllStringSubmatch(c.Notes, -1) {
		args = append(args, "-d", m[1])
	}
	return append(args, "-Y", "dnp3.al.func", "-T", "json", "--no-duplicate-keys", "-J", "frame tcp udp dnp3")
}

// tsharkPDUs applies the oracle's pairing rules (shared/tools/tshark_oracle.py)
// to tshark's dissection.
func tsharkPDUs(t *testing.T, out []byte) ([]pdu, map[int]detail) {
	packets, err := corpustest.TsharkLayers(out)
	if err != nil {
		t.Fatalf("tshark json: %v", err)
	}
	type assoc struct {
		conn               string
		master, outstation string
	}
	requests := map[string]int{}
	open, last := map[assoc]int{}, map[assoc]int{}
	var pdus []pdu
	details := map[int]detail{}
	for _, l := range packets {
		frame := corpustest.Int(first(l["frame"], "frame.number"))
		proto := "tcp"
		if l["tcp"] == nil {
			proto = "udp"
		}
		if has(l[proto], "tcp.analysis.retransmission") || has(l[proto], "tcp.analysis.spurious_retransmission") {
			continue
		}
		conn := proto + first(l[proto], proto+".stream")
		for _, link := range corpustest.AsList(l["dnp3"]) {
			fcs := first(link, "dnp3.al.func")
			if fcs == "" {
				continue
			}
			fc := corpustest.Int(fcs)
			src, dst, seq := first(link, "dnp3.src"), first(link, "dnp3.dst"), first(link, "dnp3.al.seq")
			if fc < 128 {
				if !noResponse[fc] {
					requests[conn+"/"+src+"/"+dst+"/"+seq] = fc
					open[assoc{conn, src, dst}] = fc
				}
				pdus = append(pdus, pdu{frame, "request", fc})
				if fc >= 1 && fc <= 6 {
					details[frame] = tsharkDetail(link)
				}
				continue
			}
			a, code := assoc{conn, dst, src}, fc
			if fc != 130 {
				if first(link, "dnp3.al.fir") == "1" {
					if c, ok := requests[conn+"/"+dst+"/"+src+"/"+seq]; ok {
						code = c
					} else if c, ok := open[a]; ok {
						code = c
					}
					last[a] = code
					delete(open, a)
				} else if c, ok := last[a]; ok {
					code = c
				}
			}
			pdus = append(pdus, pdu{frame, "response", code})
		}
	}
	return pdus, details
}

func tsharkDetail(link any) detail {
	var d detail
	var objs []string
	find(link, "dnp3.al.obj", &objs)
	for _, o := range objs {
		v := corpustest.Int(o)
		d.spaces = append(d.spaces, fmt.Sprintf("g%dv%d", v>>8, v&0xFF))
	}
	var ops, trips, ints, floats []string
	find(link, "dnp3.ctl.op", &ops)
	find(link, "dnp3.ctl.trip", &trips)
	for i, op := range ops {
		code := byte(corpustest.Int(op))
		if i < len(trips) {
			code |= byte(corpustest.Int(trips[i])) << 6
		}
		d.crobOps = append(d.crobOps, crobName(code))
	}
	find(link, "dnp3.al.anaout.int", &ints)
	find(link, "dnp3.al.anaout.float", &floats)
	find(link, "dnp3.al.anaout.double", &floats)
	for _, v := range ints {
		d.analog = append(d.analog, v)
	}
	for _, v := range floats {
		f, _ := strconv.ParseFloat(v, 64)
		d.analog = append(d.analog, strconv.FormatFloat(float64(float32(f)), 'g', 6, 64))
	}
	if len(ops) > 0 || len(ints)+len(floats) > 0 {
		find(link, "dnp3.al.index", &d.indices)
	}
	return d.normal()
}

var crobOps = map[byte]string{0: "nul", 1: "pulse_on", 2: "pulse_off", 3: "latch_on", 4: "latch_off"}

func crobName(code byte) string {
	op, ok := crobOps[code&0x0F]
	if !ok {
		op = "op" + strconv.Itoa(int(code&0x0F))
	}
	return [4]string{"", "close_", "trip_", "reserved_"}[code>>6] + op
}

func (d detail) normal() detail {
	for _, s := range []*[]string{&d.spaces, &d.indices, &d.crobOps, &d.analog} {
		sort.Strings(*s)
		*s = slices.Compact(*s)
	}
	return d
}

func ourDetail(tx *protocols.Transaction) detail {
	var d detail
	control := false
	for _, tg := range tx.Targets {
		d.spaces = append(d.spaces, tg.Space)
		if strings.HasPrefix(tg.Space, "g12v") || strings.HasPrefix(tg.Space, "g41v") {
			control = true
			for i := uint64(0); i < tg.Count && i < 256; i++ {
				d.indices = append(d.indices, strconv.FormatUint(tg.Address+i, 10))
			}
		}
	}
	for _, v := range tx.Values {
		switch v.Kind {
		case protocols.ValueString:
			if control {
				d.crobOps = append(d.crobOps, v.Str)
			}
		case protocols.ValueInt:
			if control {
				d.analog = append(d.analog, strconv.FormatInt(v.Int, 10))
			}
		case protocols.ValueFloat:
			d.analog = append(d.analog, strconv.FormatFloat(float64(float32(v.F)), 'g', 6, 64))
		}
	}
	return d.normal()
}

// TestConformanceWithTshark compares every DNP3 application fragment of
// every corpus capture with tshark: frame, direction and function code, and
// for the requests users act on (read, write, select, operate, direct
// operate) the object spaces, control indices, CROB operations and analog
// output values.
func TestConformanceWithTshark(t *testing.T) {
	corpustest.Tshark(t)
	exceptions := corpustest.LoadExceptions(t)
	var mu sync.Mutex
	matched, total := 0, 0
	captures := corpustest.Captures(t, "dnp3")
	outputs, errs := corpustest.TsharkJSONEach(t, captures, tsharkArgs)
	t.Run("captures", func(t *testing.T) {
		for i, c := range captures {
			t.Run(c.Rel, func(t *testing.T) {
				if errs[i] != nil {
					t.Fatal(errs[i])
				}
				want, details := tsharkPDUs(t, outputs[i])
				txs, _ := corpustest.Replay(t, c.Path)
				var got []pdu
				ours := map[int]*protocols.Transaction{}
				for i := range txs {
					tx := &txs[i]
					if tx.Proto != "dnp3" {
						continue
					}
					if tx.RequestFrame != 0 {
						got = append(got, pdu{int(tx.RequestFrame), "request", tx.Code})
						ours[int(tx.RequestFrame)] = tx
					}
					if tx.ResponseFrame != 0 {
						got = append(got, pdu{int(tx.ResponseFrame), "response", tx.Code})
					}
				}
				left := map[pdu]int{}
				for _, p := range want {
					left[p]++
				}
				var missing, extra []pdu
				n := 0
				for _, p := range got {
					if left[p] > 0 {
						left[p]--
						n++
					} else {
						extra = append(extra, p)
					}
				}
				for p, k := range left {
					for ; k > 0; k-- {
						missing = append(missing, p)
					}
				}
				sort.Slice(missing, func(i, j int) bool { return missing[i].frame < missing[j].frame })
				sort.Slice(extra, func(i, j int) bool { return extra[i].frame < extra[j].frame })
				mu.Lock()
				matched += n
				total += max(len(want), len(got))
				mu.Unlock()
				report := func(kind string, ps []pdu) {
					for _, p := range ps {
						if exceptions.Excused(c.Rel, p.frame, p.dir) {
							continue
						}
						t.Errorf("%s: %v", kind, p)
					}
				}
				report("tshark only", missing)
				report("otwatch only", extra)
				for frame, d := range details {
					tx := ours[frame]
					if tx == nil || len(tx.Anomalies) > 0 || tx.Attr("targets_truncated") != "" {
						continue // not decoded by us as a whole: the code check above covers it
					}
					if got := ourDetail(tx); got.String() != d.String() {
						if exceptions.Excused(c.Rel, frame, "request") {
							continue
						}
						t.Errorf("frame %d objects:\n  ours   %v\n  tshark %v", frame, got, d)
					}
				}
			})
		}
	})
	if total > 0 {
		t.Logf("dnp3 agreement with tshark: %d of %d (%.2f%%)", matched, total, 100*float64(matched)/float64(total))
	}
	exceptions.CheckStale(t)
}
