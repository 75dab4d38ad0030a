//go:build linux

package live

import (
	"context"
	"encoding/binary"
	"os/exec"
	"sync"
	"testing"
	"time"

	"github.com/otwatch/otwatch/protocols/capture"
	"github.com/otwatch/otwatch/protocols/frame"
)

// A tagged frame reaches the monitor with its 802.1Q tag, whether the
// kernel left it in the frame or moved it into the ring's header (the
// reader puts it back): the dissectors and the evidence see the wire.
func TestVLANTagsSurvive(t *testing.T) {
	n := newTestNet(t)
	// VLAN 42 between client and server, on top of their bridge ports.
	if out, err := exec.Command("ip", "-n", n.c, "link", "add", "link", "c0", "name", "probe.42", "type", "vlan", "id", "42").CombinedOutput(); err != nil {
		t.Skipf("no VLAN devices on this kernel (8021q): %s", out)
	}
	run(t, "ip", "-n", n.c, "link", "del", "probe.42")
	for _, h := range []struct{ ns, dev, addr string }{{n.c, "c0", "10.78.0.1/24"}, {n.s, "s0", "10.78.0.2/24"}} {
		run(t, "ip", "-n", h.ns, "link", "add", "link", h.dev, "name", h.dev+".42", "type", "vlan", "id", "42")
		run(t, "ip", "-n", h.ns, "addr", "add", h.addr, "dev", h.dev+".42")
		run(t, "ip", "-n", h.ns, "link", "set", h.dev+".42", "up")
	}
	src, err := Open(Config{Interfaces: []string{n.mon}, PollTimeout: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	tagged := 0
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- src.Run(ctx, func(f capture.Frame) {
			var d frame.Decoded
			if frame.Decode(f.LinkType, f.Data, &d) == nil && d.VLAN == 42 && d.DstPort == 9998 {
				mu.Lock()
				tagged++
				mu.Unlock()
			}
		})
	}()
	time.Sleep(200 * time.Millisecond)
	sendUDP(t, n.c, "10.78.0.2", 9998, 20)
	waitFor(t, "tagged UDP frames", 5*time.Second, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return tagged >= 20
	})
	cancel()
	<-done
	if tx := txPackets(t, n.mon); tx != 0 {
		t.Fatalf("monitor sent %d frames", tx)
	}
}

// The ring reader on a hand-made TPACKET_V3 block: frames in order, their
// times and wire lengths, and a tag the kernel moved into the header put
// back into the frame.
func TestRingReadsABlock(t *testing.T) {
	const blockSize = 4096
	mem := make([]byte, blockSize)
	ne := binary.NativeEndian
	ne.PutUint32(mem[bdBlockStatus:], tpStatusUser)
	ne.PutUint32(mem[bdNumPkts:], 2)
	ne.PutUint32(mem[bdFirstPkt:], 48)
	frameA := []byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 0x08, 0x00, 0x45}
	put := func(off, next int, data []byte, status uint32, sec, nsec uint32) {
		h := mem[off:]
		ne.PutUint32(h[phNextOffset:], uint32(next))
		ne.PutUint32(h[phSec:], sec)
		ne.PutUint32(h[phNsec:], nsec)
		ne.PutUint32(h[phSnapLen:], uint32(len(data)))
		ne.PutUint32(h[phLen:], uint32(len(data)+100))
		ne.PutUint32(h[phStatus:], status)
		ne.PutUint16(h[phMac:], 64)
		ne.PutUint32(h[phVLANTCI:], 42)
		copy(h[64:], data)
	}
	put(48, 256, frameA, 0, 10, 5)
	put(48+256, 0, frameA, tpStatusVLANValid, 11, 6)
	r := &ring{fd: -1, mem: mem, blockSize: blockSize, blocks: 1, pollTimeout: 1}
	data, ts, wire, err := r.read()
	if err != nil || string(data) != string(frameA) || ts != 10e9+5 || wire != len(frameA)+100 {
		t.Fatalf("first frame: %x %d %d %v", data, ts, wire, err)
	}
	data, ts, wire, err = r.read()
	want := append(append(append([]byte(nil), frameA[:12]...), 0x81, 0x00, 0x00, 42), frameA[12:]...)
	if err != nil || string(data) != string(want) || ts != 11e9+6 || wire != len(frameA)+104 {
		t.Fatalf("tagged frame: %x %d %d %v", data, ts, wire, err)
	}
	if _, _, _, err := r.read(); err == nil {
		t.Fatal("a read past the block on a closed socket must fail")
	}
	if st := ne.Uint32(mem[bdBlockStatus:]); st != 0 {
		t.Fatalf("block not handed back to the kernel: status %d", st)
	}
}
