package main

import (
	"io"
	"os"
	"path/filepath"
	"syscall"
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

// BenchmarkReadWarm runs `otwatch read --quiet` on each per-protocol
// throughput input in this process, after one pass that warms the heap, and
// reports the CPU time (user+sys, the garbage collector's included) and the
// page faults of a pass. Against the whole-process figures of the README it
// separates the work from what a fresh process adds: its start-up and the
// first touch of every page its heap grows into.
//
//	OTWATCH_THROUGHPUT_DIR=/tmp/tp go test -run '^$' -bench Pipeline -benchtime 1x ./protocols/pipeline/
//	OTWATCH_THROUGHPUT_DIR=/tmp/tp go test -run '^$' -bench ReadWarm -benchtime 5x ./cmd/otwatch/
func BenchmarkReadWarm(b *testing.B) {
	dir := os.Getenv("OTWATCH_THROUGHPUT_DIR")
	if dir == "" {
		b.Skip("set OTWATCH_THROUGHPUT_DIR to the inputs BenchmarkPipeline keeps there")
	}
	for _, p := range protocols.Profiles() {
		if p.Bench == nil {
			continue
		}
		path := filepath.Join(dir, p.Name+".pcap")
		b.Run(p.Name, func(b *testing.B) {
			if _, err := os.Stat(path); err != nil {
				b.Skip(err)
			}
			read := func() {
				if code := cmdRead([]string{"--quiet", path}, io.Discard, io.Discard); code != 0 {
					b.Fatalf("otwatch read %s: exit %d", path, code)
				}
			}
			read()
			cpu, faults := cpuAndFaults()
			for b.Loop() {
				read()
			}
			cpu2, faults2 := cpuAndFaults()
			b.ReportMetric(float64(cpu2-cpu)/1e6/float64(b.N), "cpu-ms/pass")
			b.ReportMetric(float64(faults2-faults)/float64(b.N), "faults/pass")
		})
	}
}

// cpuAndFaults is the process's CPU time (ns) and minor page faults so far.
func cpuAndFaults() (int64, int64) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano(), ru.Minflt
}
