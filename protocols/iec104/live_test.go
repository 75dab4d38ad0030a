//go:build linux

package iec104_test

import (
	"testing"

	"github.com/otwatch/otwatch/protocols/livetest"
)

// TestLiveReplay plays the real captures of testdata from a network
// namespace into the appliance's live capture (no IEC 104 stack is packaged
// for Go or Debian here) and checks that every record is the one reading
// the file gives: same stations, types, causes, addresses, values.
func TestLiveReplay(t *testing.T) {
	livetest.SameAsFiles(t, 1000, "testdata/ndpi_iec60870_5_104.pcap", "testdata/iti_javarmi_and_iec_misc.pcap")
}
