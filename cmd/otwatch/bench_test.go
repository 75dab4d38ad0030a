package main

import (
	"io"
	"testing"

	"github.com/otwatch/otwatch/learning/baseline"
	"github.com/otwatch/otwatch/learning/inventory"
	"github.com/otwatch/otwatch/protocols"
	"github.com/otwatch/otwatch/protocols/capture"
	"github.com/otwatch/otwatch/protocols/pipeline"
)

// BenchmarkMonitor runs the whole monitor (inventory, baseline, alerts and
// the network detectors) over the corpus's largest Modbus capture, and the
// same without the network detectors' hooks (ARP watch, scans,
// conversations): the difference is what those detectors cost.
//
//	go test -run '^$' -bench Monitor ./cmd/otwatch/
func BenchmarkMonitor(b *testing.B) {
	const path = "../../../shared/corpus/zeek__zeek/testing/btest/Traces/modbus/modbusBig.pcap"
	r, err := capture.Open(path)
	if err != nil {
		b.Skipf("corpus capture: %v", err)
	}
	var frames []capture.Frame
	for {
		f, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			b.Fatal(err)
		}
		f.Data = append([]byte(nil), f.Data...)
		frames = append(frames, f)
	}
	r.Close()
	for _, tc := range []struct {
		name    string
		network bool
	}{{"all", true}, {"without-network-detectors", false}} {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				m := newMonitor(baseline.Config{Mode: baseline.ModeAuto}, inventory.Limits{}, nil)
				p := pipeline.New(pipeline.DefaultLimits(), func(tx *protocols.Transaction) { m.observe(tx) })
				m.attach(p)
				if !tc.network {
					p.Events = func(e *pipeline.Event) {
						switch e.Kind {
						case pipeline.PacketSeen:
							m.inv.ObservePacket(e.Decoded, e.Len, e.Time, e.Memo)
						case pipeline.LLDPSeen:
							m.network(e)
						}
					}
				}
				for _, f := range frames {
					p.HandleFrame(f)
				}
				p.Flush()
				m.engine.Flush()
			}
			b.ReportMetric(float64(len(frames)*b.N)/b.Elapsed().Seconds(), "packets/s")
		})
	}
}
