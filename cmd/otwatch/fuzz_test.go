package main

import (
	"encoding/binary"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/otwatch/otwatch/learning/baseline"
	"github.com/otwatch/otwatch/learning/inventory"
	"github.com/otwatch/otwatch/protocols"
	"github.com/otwatch/otwatch/protocols/capture"
	"github.com/otwatch/otwatch/protocols/pipeline"
)

// FuzzMonitor feeds random frames through every dissector and the whole
// monitor behind them: inventory, baseline learning and then detection (a
// one-second learning period, frames up to 25.5 s apart), the alert
// engine and the network detectors. Learning, the inventory and the alert
// engine run inside a session's Emit, so a panic in any of them would be
// recovered by the pipeline's guard as a dissector panic and detach the
// flow: the monitor blind to it, with no crash to show. The invariant is
// therefore no *_panic anomaly, besides no crash.
//
// The input is a list of [link type selector][time step, 100 ms units]
// [2-byte length][frame]; the seeds are the first frames of the
// protocols' test captures.
//
//	go test -run '^$' -fuzz FuzzMonitor ./cmd/otwatch/
func FuzzMonitor(f *testing.F) {
	links := []uint32{capture.LinkEthernet, capture.LinkLinuxSLL, capture.LinkSLL2, capture.LinkNull, capture.LinkRaw}
	for _, path := range []string{
		"../../protocols/modbus/testdata/icsnpp_modbus_example.pcap",
		"../../protocols/dnp3/testdata/dnp3_select_operate.pcap",
		"../../protocols/s7comm/testdata/s7comm_synthetic.pcap",
		"../../protocols/s7comm/testdata/s7comm_plus.pcap",
		"../../protocols/opcua/testdata/icsnpp_open62541_mainloop.pcap",
		"../../protocols/iec104/testdata/ndpi_iec104.pcap",
		"../../protocols/enip/testdata/iti_eip_reboot.pcap",
	} {
		f.Add(seedFrames(f, path, links, 64))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		cfg := baseline.Config{Mode: baseline.ModeAuto, LearningPeriod: time.Second, StableFor: time.Millisecond}
		m := newMonitor(cfg, inventory.Limits{}, nil)
		p := pipeline.New(pipeline.DefaultLimits(), func(tx *protocols.Transaction) { m.observe(tx) })
		p.RecycleTransactions = true
		m.attach(p)
		ts := int64(1.7e18)
		for len(in) >= 4 {
			link := links[int(in[0])%len(links)]
			ts += int64(in[1]) * int64(100*time.Millisecond)
			n := min(int(binary.BigEndian.Uint16(in[2:])), len(in)-4)
			in = in[4:]
			p.HandleFrame(capture.Frame{Data: in[:n], TimeNano: ts, LinkType: link, OrigLen: uint32(n)})
			in = in[n:]
		}
		p.Flush()
		m.engine.Flush()
		for name, n := range p.Stats.Anomalies {
			if strings.HasSuffix(name, "_panic") {
				t.Fatalf("%s: %d (a panic below a session: learning, inventory or alerts)", name, n)
			}
		}
	})
}

// seedFrames encodes up to most frames of a capture in FuzzMonitor's input
// form, with their own time steps (capped at 25.5 s).
func seedFrames(f *testing.F, path string, links []uint32, most int) []byte {
	r, err := capture.Open(path)
	if err != nil {
		f.Fatal(err)
	}
	defer r.Close()
	var in []byte
	var last int64
	for i := 0; i < most; i++ {
		fr, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			f.Fatal(err)
		}
		sel := 0
		for j, l := range links {
			if l == fr.LinkType {
				sel = j
			}
		}
		step := int64(0)
		if last != 0 {
			step = min(max(fr.TimeNano-last, 0)/int64(100*time.Millisecond), 255)
		}
		last = fr.TimeNano
		in = append(in, byte(sel), byte(step), byte(len(fr.Data)>>8), byte(len(fr.Data)))
		in = append(in, fr.Data...)
	}
	return in
}
