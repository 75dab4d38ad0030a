//go:build linux

package enip_test

import (
	"testing"

	"github.com/otwatch/otwatch/protocols/livetest"
)

// TestLiveReplay plays real EtherNet/IP captures from a network namespace
// into the appliance's live capture (no CIP stack is packaged for Go or
// Debian here): an engineering tool's polling with a Quickdraw reset
// through Unconnected Send, and connected messaging with ListIdentity.
// Every record must be the one reading the file gives.
func TestLiveReplay(t *testing.T) {
	livetest.SameAsFiles(t, 2000, "testdata/iti_eip_reboot.pcap", "testdata/icsnpp_enip_cip_example.pcap")
}
