//go:build linux

package live

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/otwatch/otwatch/protocols/capture"
)

// The namespace tests build, per test:
//
//	netns C (client 10.77.0.1, c0) ─veth─ c1 ┐
//	netns S (server 10.77.0.2, s0) ─veth─ s1 ├ br0 (ageing_time 0: floods like a hub) in netns B
//	root ns: monitor MON (no address)  ─veth─ m1 ┘
//
// and capture on MON with a Source while C talks to S.

func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root (network namespaces, AF_PACKET)")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("needs iproute2's ip")
	}
}

func run(t *testing.T, args ...string) {
	t.Helper()
	out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v: %s", strings.Join(args, " "), err, out)
	}
}

type testNet struct {
	c, s, b string // namespace names
	mon     string // monitor interface in the test's namespace
}

func newTestNet(t *testing.T) *testNet {
	requireRoot(t)
	id := strconv.Itoa(os.Getpid()%100000) + strings.ToLower(t.Name()[len(t.Name())-2:])
	n := &testNet{c: "otwC" + id, s: "otwS" + id, b: "otwB" + id, mon: "otwm" + strconv.Itoa(os.Getpid()%100000)}
	for _, ns := range []string{n.c, n.s, n.b} {
		run(t, "ip", "netns", "add", ns)
		t.Cleanup(func() { exec.Command("ip", "netns", "del", ns).Run() })
	}
	t.Cleanup(func() { exec.Command("ip", "link", "del", n.mon).Run() })
	run(t, "ip", "-n", n.b, "link", "add", "br0", "type", "bridge", "ageing_time", "0")
	run(t, "ip", "-n", n.b, "link", "set", "br0", "up")
	for _, h := range []struct{ ns, dev, addr string }{{n.c, "c", "10.77.0.1/24"}, {n.s, "s", "10.77.0.2/24"}} {
		run(t, "ip", "-n", n.b, "link", "add", h.dev+"0", "type", "veth", "peer", "name", h.dev+"1")
		run(t, "ip", "-n", n.b, "link", "set", h.dev+"0", "netns", h.ns)
		run(t, "ip", "-n", n.b, "link", "set", h.dev+"1", "master", "br0", "up")
		run(t, "ip", "-n", h.ns, "addr", "add", h.addr, "dev", h.dev+"0")
		run(t, "ip", "-n", h.ns, "link", "set", h.dev+"0", "up")
		run(t, "ip", "-n", h.ns, "link", "set", "lo", "up")
	}
	n.addMonitor(t)
	return n
}

// addMonitor (re)creates the monitor veth, attaches its peer to the bridge
// and prepares it; its tx_packets must stay 0.
func (n *testNet) addMonitor(t *testing.T) {
	run(t, "ip", "link", "add", n.mon, "type", "veth", "peer", "name", "m1", "netns", n.b)
	run(t, "ip", "-n", n.b, "link", "set", "m1", "master", "br0", "up")
	if tx := txPackets(t, n.mon); tx != 0 {
		t.Fatalf("new monitor has tx_packets %d", tx)
	}
	if err := Prepare(n.mon); err != nil {
		t.Fatal(err)
	}
	if err := CheckPassive(n.mon); err != nil {
		t.Fatalf("prepared monitor is not passive: %v", err)
	}
	b, err := os.ReadFile("/sys/class/net/" + n.mon + "/flags")
	if err != nil {
		t.Fatal(err)
	}
	flags, err := strconv.ParseUint(strings.TrimSpace(string(b)), 0, 32)
	if want := uint64(unix.IFF_UP | unix.IFF_NOARP | unix.IFF_PROMISC); err != nil || flags&want != want {
		t.Fatalf("prepared monitor flags %#x, want up, noarp, promisc (%#x)", flags, want)
	}
	v6, err := os.ReadFile("/proc/sys/net/ipv6/conf/" + n.mon + "/disable_ipv6")
	if err == nil && strings.TrimSpace(string(v6)) != "1" {
		t.Fatalf("IPv6 still on: disable_ipv6 = %s", v6)
	}
}

func txPackets(t *testing.T, dev string) uint64 {
	t.Helper()
	b, err := os.ReadFile("/sys/class/net/" + dev + "/statistics/tx_packets")
	if err != nil {
		t.Fatal(err)
	}
	v, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// inNS runs f on a thread moved into the named namespace. Sockets f creates
// belong to that namespace and can be used from any goroutine afterwards.
// The thread stays locked and dies with its goroutine.
func inNS(ns string, f func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		fd, err := unix.Open("/run/netns/"+ns, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			errc <- err
			return
		}
		defer unix.Close(fd)
		if err := unix.Setns(fd, unix.CLONE_NEWNET); err != nil {
			errc <- err
			return
		}
		errc <- f()
	}()
	return <-errc
}

// counter counts the test's frames seen by the handler.
type counter struct {
	mu       sync.Mutex
	udp      map[uint16]int // datagrams by destination port, payload starting "otw"
	tcpBytes int            // payload bytes to port 5020
	links    map[uint32]int
}

func newCounter() *counter { return &counter{udp: map[uint16]int{}, links: map[uint32]int{}} }

func (c *counter) handle(f capture.Frame) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.links[f.LinkType]++
	d := f.Data
	if len(d) < 14+20 || binary.BigEndian.Uint16(d[12:]) != 0x0800 {
		return
	}
	ip := d[14:]
	ihl := int(ip[0]&0xf) * 4
	if len(ip) < ihl+8 {
		return
	}
	l4 := ip[ihl:]
	dport := binary.BigEndian.Uint16(l4[2:])
	switch ip[9] {
	case 17:
		if len(l4) >= 11 && string(l4[8:11]) == "otw" {
			c.udp[dport]++
		}
	case 6:
		off := int(l4[12]>>4) * 4
		if dport == 5020 && len(l4) >= off {
			c.tcpBytes += len(l4) - off
		}
	}
}

func (c *counter) get(port uint16) (int, int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.udp[port], c.tcpBytes
}

func waitFor(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func sendUDP(t *testing.T, ns, dst string, port, n int) {
	t.Helper()
	var conn net.Conn
	err := inNS(ns, func() (err error) {
		conn, err = net.Dial("udp4", net.JoinHostPort(dst, strconv.Itoa(port)))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for i := range n {
		if _, err := fmt.Fprintf(conn, "otw-udp-%d", i); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestCaptureAcrossBridgeAndInterfaceLoss(t *testing.T) {
	n := newTestNet(t)
	// The server side: a UDP sink and a TCP sink.
	var udp net.PacketConn
	var tcp net.Listener
	if err := inNS(n.s, func() (err error) {
		if udp, err = net.ListenPacket("udp4", "10.77.0.2:9999"); err != nil {
			return err
		}
		tcp, err = net.Listen("tcp4", "10.77.0.2:5020")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer udp.Close()
	defer tcp.Close()
	go func() {
		buf := make([]byte, 2048)
		for {
			if _, _, err := udp.ReadFrom(buf); err != nil {
				return
			}
		}
	}()
	received := make(chan int, 1)
	go func() {
		c, err := tcp.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		total := 0
		buf := make([]byte, 4096)
		for {
			k, err := c.Read(buf)
			total += k
			if err != nil {
				received <- total
				return
			}
		}
	}()

	src, err := Open(Config{Interfaces: []string{n.mon}, Fanout: true, PollTimeout: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	cnt := newCounter()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- src.Run(ctx, cnt.handle) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()

	// 1. Known UDP and TCP traffic from C to S, seen on the monitor.
	sendUDP(t, n.c, "10.77.0.2", 9999, 25)
	var conn net.Conn
	if err := inNS(n.c, func() (err error) { conn, err = net.Dial("tcp4", "10.77.0.2:5020"); return err }); err != nil {
		t.Fatal(err)
	}
	sent := 0
	for i := range 20 {
		k, err := fmt.Fprintf(conn, "otw-tcp-%02d\n", i)
		if err != nil {
			t.Fatal(err)
		}
		sent += k
		time.Sleep(2 * time.Millisecond)
	}
	conn.Close()
	if got := <-received; got != sent {
		t.Fatalf("server received %d bytes, sent %d", got, sent)
	}
	waitFor(t, "25 datagrams and the TCP payload", 5*time.Second, func() bool {
		u, b := cnt.get(9999)
		return u >= 25 && b >= sent
	})
	if u, b := cnt.get(9999); u != 25 || b != sent {
		t.Errorf("captured %d datagrams, %d TCP payload bytes; want 25, %d", u, b, sent)
	}

	// 2. The monitor goes down and comes back: capture resumes by itself.
	run(t, "ip", "link", "set", n.mon, "down")
	waitFor(t, "the interface to be seen down", 5*time.Second, func() bool { return !src.Stats()[0].Up })
	run(t, "ip", "link", "set", n.mon, "up")
	waitFor(t, "the interface to be seen up", 10*time.Second, func() bool { return src.Stats()[0].Up })
	sendUDP(t, n.c, "10.77.0.2", 9999, 10)
	waitFor(t, "datagrams after down/up", 5*time.Second, func() bool { u, _ := cnt.get(9999); return u >= 35 })

	// 3. The monitor vanishes and a new one of the same name appears.
	if tx := txPackets(t, n.mon); tx != 0 {
		t.Fatalf("monitor transmitted %d packets", tx)
	}
	run(t, "ip", "link", "del", n.mon)
	waitFor(t, "the interface to be seen gone", 5*time.Second, func() bool { return !src.Stats()[0].Up })
	n.addMonitor(t)
	waitFor(t, "the new interface to be captured", 15*time.Second, func() bool { return src.Stats()[0].Up })
	sendUDP(t, n.c, "10.77.0.2", 9999, 10)
	waitFor(t, "datagrams on the new interface", 5*time.Second, func() bool { u, _ := cnt.get(9999); return u >= 45 })

	st := src.Stats()[0]
	t.Logf("stats: %+v", st)
	if u, _ := cnt.get(9999); u != 45 {
		t.Errorf("captured %d datagrams, want 45", u)
	}
	if st.Restarts < 2 || st.KernelDrops != 0 || st.KernelPackets == 0 || st.Packets == 0 || st.LastError == "" || time.Since(st.LastFrame) > 10*time.Second {
		t.Errorf("stats %+v: want ≥2 restarts, kernel packets, no drops, a last error", st)
	}
	// Strict passivity: the monitor never transmitted.
	if tx := txPackets(t, n.mon); tx != 0 {
		t.Errorf("monitor transmitted %d packets", tx)
	}
	cnt.mu.Lock()
	if len(cnt.links) != 1 || cnt.links[capture.LinkEthernet] == 0 {
		t.Errorf("link types %v, want Ethernet only", cnt.links)
	}
	cnt.mu.Unlock()
}

// On loopback every frame passes the packet taps twice (outgoing, then
// incoming); the outgoing copy is filtered out.
func TestLoopbackSkipsOutgoingCopies(t *testing.T) {
	requireRoot(t)
	src, err := Open(Config{Interfaces: []string{"lo"}, PollTimeout: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	sink, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer sink.Close()
	port := sink.LocalAddr().(*net.UDPAddr).Port
	cnt := newCounter()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	// tick and handle share plain counters: the race detector proves they
	// run on one goroutine.
	var ticks, frames int
	go func() {
		done <- src.RunTicking(ctx, func(f capture.Frame) { frames++; cnt.handle(f) }, 10*time.Millisecond, func(time.Time) { ticks++ })
	}()
	time.Sleep(100 * time.Millisecond)
	conn, err := net.Dial("udp4", sink.LocalAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		fmt.Fprintf(conn, "otw-lo-%d", i)
	}
	conn.Close()
	waitFor(t, "10 datagrams", 3*time.Second, func() bool { u, _ := cnt.get(uint16(port)); return u >= 10 })
	time.Sleep(200 * time.Millisecond)
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if u, _ := cnt.get(uint16(port)); u != 10 {
		t.Errorf("captured %d datagrams on lo, want 10 (outgoing copies dropped)", u)
	}
	if ticks < 5 || frames < 10 {
		t.Errorf("%d ticks, %d frames: want ticks every 10 ms while idle", ticks, frames)
	}
	if err := CheckPassive("lo"); err == nil || !strings.Contains(err.Error(), "127.0.0.1") {
		t.Errorf("CheckPassive(lo) = %v, want an error naming 127.0.0.1", err)
	}
	var ae *AddressError
	if !errors.As(CheckPassive("lo"), &ae) {
		t.Errorf("CheckPassive(lo) is not an *AddressError")
	}
}

// A handler that stops consuming fills the queue, then the ring; the kernel
// then drops, and the drops are counted, not silent.
func TestKernelDropsAreCounted(t *testing.T) {
	requireRoot(t)
	src, err := Open(Config{Interfaces: []string{"lo"}, SnapLen: 1500, BlockSize: 8192, NumBlocks: 2, PollTimeout: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	sink, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer sink.Close()
	go func() {
		buf := make([]byte, 2048)
		for {
			if _, _, err := sink.ReadFrom(buf); err != nil {
				return
			}
		}
	}()
	port := uint16(sink.LocalAddr().(*net.UDPAddr).Port)
	release := make(chan struct{})
	var once sync.Once
	cnt := newCounter()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- src.Run(ctx, func(f capture.Frame) {
			once.Do(func() { <-release }) // stall on the first frame
			cnt.handle(f)
		})
	}()
	time.Sleep(100 * time.Millisecond)
	conn, err := net.Dial("udp4", sink.LocalAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	const sent = 60000 // more than the 64 queued batches of 512 frames and the ring hold
	for i := range sent {
		fmt.Fprintf(conn, "otw-drop-%d", i)
	}
	conn.Close()
	time.Sleep(200 * time.Millisecond)
	close(release)
	waitFor(t, "the queue to drain", 10*time.Second, func() bool {
		st := src.Stats()[0]
		u, _ := cnt.get(port)
		return uint64(u)+st.KernelDrops >= sent
	})
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	st := src.Stats()[0]
	u, _ := cnt.get(port)
	t.Logf("captured %d of %d, stats %+v", u, sent, st)
	if st.KernelDrops == 0 || u >= sent {
		t.Errorf("no drops counted: captured %d of %d, stats %+v", u, sent, st)
	}
}

// An interface that is down at start-up is waited for, not refused.
func TestOpenWaitsForADownInterface(t *testing.T) {
	requireRoot(t)
	ns := "otwD" + strconv.Itoa(os.Getpid()%100000)
	mon := "otwd" + strconv.Itoa(os.Getpid()%100000)
	run(t, "ip", "netns", "add", ns)
	t.Cleanup(func() { exec.Command("ip", "netns", "del", ns).Run() })
	t.Cleanup(func() { exec.Command("ip", "link", "del", mon).Run() })
	run(t, "ip", "link", "add", mon, "type", "veth", "peer", "name", "p0", "netns", ns)
	if err := os.WriteFile("/proc/sys/net/ipv6/conf/"+mon+"/disable_ipv6", []byte("1"), 0); err != nil {
		t.Fatal(err)
	}
	src, err := Open(Config{Interfaces: []string{mon}, PollTimeout: 20 * time.Millisecond})
	if err != nil {
		t.Fatalf("Open on a down interface: %v", err)
	}
	if st := src.Stats()[0]; st.Up || !strings.Contains(st.LastError, "down") {
		t.Fatalf("stats %+v: want down", st)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- src.Run(ctx, func(capture.Frame) {}) }()
	run(t, "ip", "link", "set", mon, "up")
	waitFor(t, "the interface to be captured", 10*time.Second, func() bool { return src.Stats()[0].Up })
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if _, err := Open(Config{Interfaces: []string{"otwnone0"}}); err == nil {
		t.Error("Open on a missing interface succeeded")
	}
}

// A steady trickle (a frame every 20 ms, so the poll never times out) must
// still reach the handler promptly.
func TestTrickleLatency(t *testing.T) {
	requireRoot(t)
	src, err := Open(Config{Interfaces: []string{"lo"}, PollTimeout: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	sink, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer sink.Close()
	port := uint16(sink.LocalAddr().(*net.UDPAddr).Port)
	var mu sync.Mutex
	var worst time.Duration
	seen := 0
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- src.Run(ctx, func(f capture.Frame) {
			d := f.Data
			if len(d) < 42 || binary.BigEndian.Uint16(d[12:]) != 0x0800 || d[23] != 17 || binary.BigEndian.Uint16(d[36:]) != port {
				return
			}
			lat := time.Since(time.Unix(0, f.TimeNano))
			mu.Lock()
			seen++
			worst = max(worst, lat)
			mu.Unlock()
		})
	}()
	time.Sleep(100 * time.Millisecond)
	conn, err := net.Dial("udp4", sink.LocalAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	for i := range 50 {
		fmt.Fprintf(conn, "otw-trickle-%d", i)
		time.Sleep(20 * time.Millisecond)
	}
	conn.Close()
	time.Sleep(300 * time.Millisecond)
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	t.Logf("%d frames, worst latency %s", seen, worst)
	if seen != 50 || worst > 400*time.Millisecond {
		t.Errorf("%d frames, worst latency %s: want 50 within 400 ms", seen, worst)
	}
}
