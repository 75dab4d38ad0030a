package conversations

import (
	"net/netip"
	"testing"
	"time"

	"github.com/otwatch/otwatch/alerts/finding"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const sec = int64(time.Second)

// a plant: 10.0.0.1 is a Modbus PLC on 502, 10.0.0.5 an OPC UA server on 4840
func plant() func(netip.Addr) (string, []uint16, bool) {
	return func(ip netip.Addr) (string, []uint16, bool) {
		switch ip.String() {
		case "10.0.0.1":
			return "modbus", []uint16{502}, true
		case "10.0.0.5":
			return "opcua", []uint16{4840}, true
		}
		return "", nil, false
	}
}

func ap(s string) netip.AddrPort { return netip.MustParseAddrPort(s) }

func TestConversations(t *testing.T) {
	learnedUntil := time.Unix(100, 0)
	d := New(0)
	d.Learning = func(now time.Time) bool { return now.Before(learnedUntil) }
	d.Controller = plant()
	observe := func(at int64, c, s string, proto uint8) []finding.Finding {
		return d.Observe(ap(c), ap(s), proto, uint64(at), at*sec)
	}
	// learning: the HMI polls the PLC, the engineering station uses its web page, the PLC syncs NTP
	for _, f := range [][]finding.Finding{
		observe(1, "10.0.0.20:40000", "10.0.0.1:502", 6),
		observe(2, "10.0.0.30:40001", "10.0.0.1:80", 6),
		observe(3, "10.0.0.1:123", "10.0.0.254:123", 17),
	} {
		require.Empty(t, f, "nothing alerts while learning")
	}
	for _, tc := range []struct {
		name      string
		at        int64
		c, s      string
		proto     uint8
		kind, msg string
	}{
		{"the learned web session, from a new client port", 200, "10.0.0.30:50000", "10.0.0.1:80", 6, "", ""},
		{"the learned NTP", 201, "10.0.0.1:123", "10.0.0.254:123", 17, "", ""},
		{"a new client on the PLC's Modbus port: the baseline's business", 202, "10.0.0.99:40000", "10.0.0.1:502", 6, "", ""},
		{"SSH to the PLC", 203, "10.0.0.99:40002", "10.0.0.1:22", 6, "new_conversation",
			"10.0.0.99 opened TCP 10.0.0.99 → 10.0.0.1:22 on a modbus controller"},
		{"SNMP to the OPC UA server", 204, "10.0.0.30:40003", "10.0.0.5:161", 17, "new_conversation", "UDP 10.0.0.30 → 10.0.0.5:161"},
		{"the PLC calls out", 205, "10.0.0.1:49152", "203.0.113.7:443", 6, "controller_outbound",
			"10.0.0.1 (a modbus controller) opened TCP 10.0.0.1 → 203.0.113.7:443"},
		{"office traffic with no controller", 206, "10.0.0.30:40004", "10.0.9.9:445", 6, "", ""},
		{"the same SSH again: once is enough (the engine folds the rest)", 207, "10.0.0.99:40005", "10.0.0.1:22", 6, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := observe(tc.at, tc.c, tc.s, tc.proto)
			if tc.kind == "" {
				assert.Empty(t, got)
				return
			}
			require.Len(t, got, 1)
			assert.Equal(t, tc.kind, got[0].Kind())
			assert.Contains(t, got[0].Message, tc.msg)
			assert.Equal(t, []uint64{uint64(tc.at)}, got[0].Frames)
		})
	}

	// the learned conversations survive a restart
	b, err := d.MarshalState()
	require.NoError(t, err)
	again := New(0)
	again.Learning = func(time.Time) bool { return false }
	again.Controller = plant()
	require.NoError(t, again.UnmarshalState(b))
	assert.Empty(t, again.Observe(ap("10.0.0.30:1"), ap("10.0.0.1:80"), 6, 1, 300*sec))
	assert.Len(t, again.Observe(ap("10.0.0.30:1"), ap("10.0.0.1:21"), 6, 1, 300*sec), 1, "FTP is new")
	assert.Error(t, again.UnmarshalState([]byte(`[{"c":"x"}]`)))
}

func TestBounded(t *testing.T) {
	d := New(2)
	d.Learning = func(time.Time) bool { return true }
	for i := 0; i < 5; i++ {
		d.Observe(netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, 1, byte(i)}), 1), ap("10.0.0.1:80"), 6, 1, 0)
	}
	assert.Len(t, d.known, 2)
	assert.Equal(t, uint64(3), d.Dropped)
}

// Parties that are no host (addresses of real corpus frames): none is a
// conversation.
func TestConversationsOnlyBetweenTwoHosts(t *testing.T) {
	d := New(0)
	d.Learning = func(time.Time) bool { return false }
	d.Controller = func(ip netip.Addr) (string, []uint16, bool) {
		switch ip.String() {
		case "192.168.1.104", "118.189.96.132":
			return "modbus", []uint16{502}, true
		}
		return "", nil, false
	}
	for _, tc := range []struct {
		name         string
		client, srv  string
		proto        uint8
		frame        uint64
		wantFindings int
	}{
		// (a subnet's directed broadcast, e.g. 192.168.1.255 in Lemay's frame 1739,
		// is told by its broadcast MAC: the pipeline keeps it out, see
		// protocols/pipeline TestUDPConversationRoles)
		{"a limited broadcast address as the server", "192.168.1.104:138", "255.255.255.255:138", 17, 1739, 0},
		{"a limited broadcast address as the opener", "255.255.255.255:138", "192.168.1.104:138", 17, 1739, 0},
		{"a multicast group as the server (LLMNR)", "192.168.1.104:5355", "224.0.0.252:5355", 17, 1, 0},
		{"a DHCP client without an address", "0.0.0.0:68", "192.168.1.104:67", 17, 1, 0},
		// zeek__zeek/testing/btest/Traces/modbus/modbusSmall.pcap frames 101-102: the
		// anonymised Modbus device asks DNS at its own address
		{"a host talking to itself", "118.189.96.132:56426", "118.189.96.132:53", 17, 101, 0},
		// the same RTU opening a real conversation still alerts
		{"the RTU calling out to a host", "192.168.1.104:1045", "192.168.1.100:139", 6, 10079, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := d.Observe(ap(tc.client), ap(tc.srv), tc.proto, tc.frame, 1000*sec)
			assert.Len(t, got, tc.wantFindings)
			if tc.wantFindings == 0 {
				assert.False(t, d.Known(ap(tc.client).Addr(), ap(tc.srv).Addr(), tc.proto, ap(tc.srv).Port()), "not remembered either")
			}
		})
	}
}

// Conversations picked up mid-stream (their opening not seen), on Lemay's
// six-RTU plant: the RTUs 192.168.1.101..106 serve Modbus on 502, the
// master 192.168.1.100 polls them. The pipeline's client/server is a guess.
func TestConversationsPickedUp(t *testing.T) {
	learnedUntil := time.Unix(1000, 0)
	d := New(0)
	d.Learning = func(now time.Time) bool { return now.Before(learnedUntil) }
	d.Controller = func(ip netip.Addr) (string, []uint16, bool) {
		if b := ip.As4(); b[3] >= 101 && b[3] <= 106 {
			return "modbus", []uint16{502}, true
		}
		return "", nil, false
	}
	// learned: the master's poll of .103 picked up mid-stream, the SMB
	// session .104 opened to the master, an RTU-to-RTU session mid-stream
	require.Empty(t, d.ObservePickedUp(ap("192.168.1.100:2055"), ap("192.168.1.103:502"), 6, 1, 10*sec))
	require.Empty(t, d.Observe(ap("192.168.1.104:1039"), ap("192.168.1.100:139"), 6, 2, 11*sec))
	require.Empty(t, d.ObservePickedUp(ap("192.168.1.106:3000"), ap("192.168.1.102:1200"), 6, 3, 12*sec))
	for _, tc := range []struct {
		name        string
		client, srv string
		want        string // the finding's message, "" none
	}{
		{"a Modbus poll picked up mid-stream: its ICS protocol", "192.168.1.100:2091", "192.168.1.103:502", ""},
		{"the learned SMB session, picked up the other way round", "192.168.1.100:139", "192.168.1.104:1039", ""},
		{"the learned RTU-to-RTU session", "192.168.1.102:1200", "192.168.1.106:3000", ""},
		// moving_two_files_modbus_6RTU.pcap frames 325-326: the labelled C&C channel
		{"a channel between two RTUs set up before capture", "192.168.1.105:7145", "192.168.1.101:1613",
			"192.168.1.105:7145 and 192.168.1.101:1613 hold a TCP conversation with 192.168.1.101 (a modbus controller) never seen while the network was learned; it began before capture started, so who opened it is unknown"},
		{"the master and an office host: no controller", "192.168.1.100:445", "192.168.1.20:1050", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := d.ObservePickedUp(ap(tc.client), ap(tc.srv), 6, 325, 2000*sec)
			if tc.want == "" {
				assert.Empty(t, got)
				return
			}
			require.Len(t, got, 1)
			assert.Equal(t, "new_conversation", got[0].Kind())
			assert.Equal(t, tc.want, got[0].Message)
			assert.Equal(t, "192.168.1.101", got[0].Dest.IP, "filed under the controller")
		})
	}
	assert.Empty(t, d.ObservePickedUp(ap("192.168.1.101:1613"), ap("192.168.1.105:7145"), 6, 1343, 2060*sec), "once")
}
