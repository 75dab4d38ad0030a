//go:build linux

package iec104_test

import (
	"path/filepath"
	"testing"

	"github.com/otwatch/otwatch/protocols/corpustest"
	"github.com/otwatch/otwatch/protocols/livetest"
)

// TestLiveReplay plays the real captures of testdata from a network
// namespace into the appliance's live capture (no IEC 104 stack is packaged
// for Go or Debian here) and checks that every record is the one reading
// the file gives: same stations, types, causes, addresses, values.
func TestLiveReplay(t *testing.T) {
	if testing.Short() {
		t.Skip("replays through a namespace: not in -short")
	}
	for _, name := range []string{"ndpi_iec60870_5_104.pcap", "iti_javarmi_and_iec_misc.pcap"} {
		path := filepath.Join("testdata", name)
		want, _ := corpustest.Replay(t, path)
		livetest.SameAsFile(t, path, want, 1000)
	}
}
