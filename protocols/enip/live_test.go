//go:build linux

package enip_test

import (
	"path/filepath"
	"testing"

	"github.com/otwatch/otwatch/protocols/corpustest"
	"github.com/otwatch/otwatch/protocols/livetest"
)

// TestLiveReplay plays real EtherNet/IP captures from a network namespace
// into the appliance's live capture (no CIP stack is packaged for Go or
// Debian here): an engineering tool's polling with a Quickdraw reset
// through Unconnected Send, and connected messaging with ListIdentity and
// implicit I/O. Every record must be the one reading the file gives.
func TestLiveReplay(t *testing.T) {
	if testing.Short() {
		t.Skip("replays through a namespace: not in -short")
	}
	for _, name := range []string{"iti_eip_reboot.pcap", "icsnpp_enip_cip_example.pcap"} {
		path := filepath.Join("testdata", name)
		want, _ := corpustest.Replay(t, path)
		livetest.SameAsFile(t, path, want, 2000)
	}
}
