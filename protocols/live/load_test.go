//go:build linux

package live

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/otwatch/otwatch/protocols"
	_ "github.com/otwatch/otwatch/protocols/all"
	"github.com/otwatch/otwatch/protocols/capture"
	"github.com/otwatch/otwatch/protocols/pipeline"
)

// TestLoad is the load benchmark of issue 9, not a test: it runs only with
// OTWATCH_LIVE_LOAD=1 (root, tcpreplay). tcpreplay plays a corpus capture
// from a namespace into a veth at increasing packet rates; the other end is
// captured by a Source feeding the real pipeline. For each rate it logs the
// packets handled, kernel drops, the process's CPU and its RSS.
//
//	OTWATCH_LIVE_LOAD=1 OTWATCH_LIVE_RATES=50000,100000,200000 OTWATCH_LIVE_SECONDS=60 \
//	  go test -run TestLoad -v ./protocols/live/
//
// OTWATCH_LIVE_CAPTURE overrides the capture played (default: a 12k-frame
// Modbus capture of the corpus); OTWATCH_LIVE_FANOUT=1 turns fanout on.
func TestLoad(t *testing.T) {
	if os.Getenv("OTWATCH_LIVE_LOAD") == "" {
		t.Skip("load benchmark: set OTWATCH_LIVE_LOAD=1")
	}
	requireRoot(t)
	if _, err := exec.LookPath("tcpreplay"); err != nil {
		t.Skip("needs tcpreplay")
	}
	pcap := os.Getenv("OTWATCH_LIVE_CAPTURE")
	if pcap == "" {
		pcap = filepath.Join("..", "..", "..", "shared", "corpus", "antoine-lemay__Modbus_dataset", "characterization_modbus_6RTU_with_operate.pcap")
	}
	if _, err := os.Stat(pcap); err != nil {
		t.Skip(err)
	}
	rates := []int{50000, 100000, 200000, 300000}
	if s := os.Getenv("OTWATCH_LIVE_RATES"); s != "" {
		rates = nil
		for f := range strings.SplitSeq(s, ",") {
			r, err := strconv.Atoi(f)
			if err != nil {
				t.Fatal(err)
			}
			rates = append(rates, r)
		}
	}
	seconds := 10
	if s := os.Getenv("OTWATCH_LIVE_SECONDS"); s != "" {
		seconds, _ = strconv.Atoi(s)
	}
	ns := "otwL" + strconv.Itoa(os.Getpid()%100000)
	mon := "otwl" + strconv.Itoa(os.Getpid()%100000)
	run(t, "ip", "netns", "add", ns)
	t.Cleanup(func() { exec.Command("ip", "netns", "del", ns).Run() })
	t.Cleanup(func() { exec.Command("ip", "link", "del", mon).Run() })
	run(t, "ip", "link", "add", mon, "type", "veth", "peer", "name", "tx0", "netns", ns)
	run(t, "ip", "netns", "exec", ns, "sysctl", "-qw", "net.ipv6.conf.tx0.disable_ipv6=1")
	run(t, "ip", "-n", ns, "link", "set", "tx0", "up")
	if err := Prepare(mon); err != nil {
		t.Fatal(err)
	}

	src, err := Open(Config{Interfaces: []string{mon}, Fanout: os.Getenv("OTWATCH_LIVE_FANOUT") != ""})
	if err != nil {
		t.Fatal(err)
	}
	var txs uint64
	p := pipeline.New(pipeline.DefaultLimits(), func(*protocols.Transaction) { txs++ })
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- src.Run(ctx, func(f capture.Frame) { p.HandleFrame(f) }) }()
	defer func() {
		cancel()
		<-done
	}()
	time.Sleep(200 * time.Millisecond)
	for _, rate := range rates {
		before := src.Stats()[0]
		var ru0, ru1 syscall.Rusage
		syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)
		start := time.Now()
		out, err := exec.Command("ip", "netns", "exec", ns, "tcpreplay", "-q", "-i", "tx0", "--pps", strconv.Itoa(rate),
			"--loop", "0", "--duration", strconv.Itoa(seconds), pcap).CombinedOutput()
		if err != nil {
			t.Fatalf("tcpreplay: %v: %s", err, out)
		}
		time.Sleep(500 * time.Millisecond) // let the queue drain
		wall := time.Since(start)
		syscall.Getrusage(syscall.RUSAGE_SELF, &ru1)
		after := src.Stats()[0]
		cpu := time.Duration(ru1.Utime.Nano()+ru1.Stime.Nano()-ru0.Utime.Nano()-ru0.Stime.Nano()) * time.Nanosecond
		pk := after.Packets - before.Packets
		t.Logf("rate %7d pps: handled %9d (%.0f pps), kernel drops %d, freezes %d, CPU %.0f%% of one core, RSS %s, tcpreplay: %s",
			rate, pk, float64(pk)/float64(seconds), after.KernelDrops-before.KernelDrops, after.KernelFreezes-before.KernelFreezes,
			100*cpu.Seconds()/wall.Seconds(), rss(), lastLine(out))
	}
	t.Logf("transactions %d, pipeline %d packets", txs, p.Stats.Packets)
	if tx := txPackets(t, mon); tx != 0 {
		t.Errorf("monitor transmitted %d packets", tx)
	}
}

func rss() string {
	b, _ := os.ReadFile("/proc/self/status")
	var cur, peak string
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			cur = strings.TrimSpace(v)
		}
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			peak = strings.TrimSpace(v)
		}
	}
	return cur + " (peak " + peak + ")"
}

func lastLine(b []byte) string {
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if strings.Contains(lines[i], "Rated:") || strings.Contains(lines[i], "Actual:") {
			return strings.TrimSpace(lines[i])
		}
	}
	return strings.TrimSpace(lines[len(lines)-1])
}
