package main

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// -replay sends a real capture onto an interface: here the loopback, and
// the interface's packet counter shows the frames left.
func TestReplayOntoInterface(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("tcpreplay needs root")
	}
	if _, err := exec.LookPath("tcpreplay"); err != nil {
		t.Skip("tcpreplay not installed")
	}
	count := func() string {
		b, err := os.ReadFile("/sys/class/net/lo/statistics/tx_packets")
		if err != nil {
			t.Fatal(err)
		}
		return strings.TrimSpace(string(b))
	}
	before := count()
	if err := replay(context.Background(), "lo", "../otwatch/demo/modbus.pcap", 50, 1); err != nil {
		t.Fatal(err)
	}
	if count() == before {
		t.Fatal("no frame was sent")
	}
	if _, err := parseFlags([]string{"-replay", "x.pcap"}, os.Stderr); err == nil {
		t.Fatal("-replay without -replay-iface accepted")
	}
}
