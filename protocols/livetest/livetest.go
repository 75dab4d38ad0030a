//go:build linux

// Package livetest replays a real capture through a network namespace into
// the appliance's own live capture, for the protocol packages' tests: the
// path a monitored SPAN port takes (veth, AF_PACKET ring, pipeline), where
// no client/server stack of the protocol is at hand to generate traffic.
package livetest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/otwatch/otwatch/protocols"
	"github.com/otwatch/otwatch/protocols/capture"
	"github.com/otwatch/otwatch/protocols/corpustest"
	"github.com/otwatch/otwatch/protocols/live"
	"github.com/otwatch/otwatch/protocols/pipeline"
)

// replays counts Replay's calls in this test binary (namespace names).
var replays atomic.Int32

// Replay plays pcap with tcpreplay (at pps packets per second) from a fresh
// namespace into a veth pair whose other end the live source captures, runs
// the frames through a pipeline of the registered dissectors and returns
// the transactions (cloned). It skips without root, iproute2 or tcpreplay,
// and fails if the monitor interface transmitted anything.
func Replay(t *testing.T, pcap string, pps int) []protocols.Transaction {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root (network namespaces, AF_PACKET)")
	}
	for _, tool := range []string{"ip", "tcpreplay"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("needs %s", tool)
		}
	}
	// Names unique across the test binaries go test runs at once (each
	// has its own pid) and across the calls of one: fixed widths, so no
	// pid and counter can spell another's, and a prefix no other test uses.
	id := fmt.Sprintf("%05d%03d", os.Getpid()%100000, replays.Add(1)%1000)
	ns, mon := "otwL"+id, "otwl"+id
	run(t, "ip", "netns", "add", ns)
	t.Cleanup(func() { exec.Command("ip", "netns", "del", ns).Run() })
	run(t, "ip", "link", "add", mon, "type", "veth", "peer", "name", "tx0", "netns", ns)
	t.Cleanup(func() { exec.Command("ip", "link", "del", mon).Run() })
	run(t, "ip", "netns", "exec", ns, "sysctl", "-qw", "net.ipv6.conf.tx0.disable_ipv6=1")
	run(t, "ip", "-n", ns, "link", "set", "tx0", "up")
	if err := live.Prepare(mon); err != nil {
		t.Fatal(err)
	}
	src, err := live.Open(live.Config{Interfaces: []string{mon}})
	if err != nil {
		t.Fatal(err)
	}
	var txs []protocols.Transaction
	p := pipeline.New(pipeline.DefaultLimits(), func(tx *protocols.Transaction) { txs = append(txs, *tx.Clone()) })
	frames := make(chan capture.Frame, 4096)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- src.Run(ctx, func(f capture.Frame) {
			f.Data = append([]byte(nil), f.Data...)
			frames <- f
		})
		close(frames)
	}()
	time.Sleep(200 * time.Millisecond)
	out, err := exec.Command("ip", "netns", "exec", ns, "tcpreplay", "-q", "-i", "tx0", "--pps", strconv.Itoa(pps), pcap).CombinedOutput()
	if err != nil {
		cancel()
		<-done
		t.Fatalf("tcpreplay: %v: %s", err, out)
	}
	time.Sleep(500 * time.Millisecond)
	cancel()
	for f := range frames {
		p.HandleFrame(f)
	}
	if err := <-done; err != nil && err != context.Canceled {
		t.Logf("live source: %v", err)
	}
	p.Flush()
	if tx := txPackets(t, mon); tx != 0 {
		t.Errorf("monitor interface %s transmitted %d packets", mon, tx)
	}
	return txs
}

func run(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
		t.Fatalf("%s: %v: %s", strings.Join(args, " "), err, out)
	}
}

func txPackets(t *testing.T, dev string) uint64 {
	t.Helper()
	b, err := os.ReadFile("/sys/class/net/" + dev + "/statistics/tx_packets")
	if err != nil {
		t.Fatal(err)
	}
	v, _ := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
	return v
}

// Shape is a record without what a live replay changes (times, frame
// numbers): what the dissector made of the bytes.
func Shape(tx *protocols.Transaction) string {
	var b strings.Builder
	b.WriteString(tx.Proto + " " + tx.Client.IP.String() + ">" + tx.Server.IP.String() + " " + tx.Unit + " " + tx.Op.String() +
		" " + strconv.Itoa(tx.Code) + "/" + strconv.Itoa(tx.Subcode) + " " + tx.CodeName + " " + tx.Outcome.String())
	for _, tg := range tx.Targets {
		b.WriteString(" " + tg.Space + ":" + tg.ID + ":" + strconv.FormatUint(tg.Address, 10) + "+" + strconv.FormatUint(tg.Count, 10))
	}
	for _, v := range tx.Values {
		b.WriteString(" v=" + strconv.FormatFloat(v.F, 'g', -1, 64) + "/" + strconv.FormatInt(v.Int, 10) + "/" + v.Str)
	}
	if tx.RequestFrame != 0 {
		b.WriteString(" req")
	}
	if tx.ResponseFrame != 0 {
		b.WriteString(" resp")
	}
	return b.String()
}

// SameAsFile replays path live (Replay) and checks that the records are
// those reading the file gives, shape for shape (Shape); want are the
// file's records (corpustest.Replay).
func SameAsFile(t *testing.T, path string, want []protocols.Transaction, pps int) {
	t.Helper()
	if len(want) == 0 {
		t.Fatalf("%s: no records from the file: nothing to compare", path)
	}
	got := Replay(t, path, pps)
	count := map[string]int{}
	for i := range want {
		count[Shape(&want[i])]++
	}
	for i := range got {
		count[Shape(&got[i])]--
	}
	for shape, n := range count {
		if n != 0 {
			t.Errorf("%s: %d more from the file than live", shape, n)
		}
	}
	if len(got) != len(want) {
		t.Errorf("%d records live, %d from the file", len(got), len(want))
	}
}

// SameAsFiles runs SameAsFile on each capture, outside -short.
func SameAsFiles(t *testing.T, pps int, paths ...string) {
	t.Helper()
	if testing.Short() {
		t.Skip("replays through a namespace: not in -short")
	}
	for _, path := range paths {
		want, _ := corpustest.Replay(t, path)
		SameAsFile(t, path, want, pps)
	}
}
