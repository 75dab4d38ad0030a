package pipeline

import (
	"fmt"
	"net/netip"
	"testing"

	"github.com/otwatch/otwatch/protocols"
	"github.com/otwatch/otwatch/protocols/capture"
	"github.com/otwatch/otwatch/protocols/dnp3"
	"github.com/otwatch/otwatch/protocols/modbus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Real frames of the shared corpus (paths under ../shared/corpus), with
// their capture times in Unix nanoseconds.
var (
	// antoine-lemay__Modbus_dataset/moving_two_files_modbus_6RTU.pcap frame 329:
	// 192.168.1.100:138 → 192.168.1.255:138, NetBIOS browser "Local Master
	// Announcement", to the broadcast MAC
	lemayBrowser = capture.Frame{TimeNano: 1424796541853485000, Data: mustHex(`
		ffffffffffff 000c29eeb784 0800
		450000e5 51cb 0000 80 11 6389 c0a80164 c0a801ff
		008a 008a 00d1 15fd
		110280a0c0a80164008a00bb000020454e46454646434e4447444245424448444a44454447444844434444444343410020464845504643454c45484643455046464641434143414341434143414341424f00ff534d422500000000000000000000000000000000000000000000000000000011000021000000000000000000e803000000000000000021005600030001000000020032005c4d41494c534c4f545c42524f575345000f0080fc0a004d54552d3631413739343637323332000501031004000f0155aa00`)}
	// the same capture, frame 331: 192.168.1.104:137 asks the subnet
	// broadcast 192.168.1.255:137 for the name MTU-61A79467232<20>
	lemayNameQuery = capture.Frame{TimeNano: 1424796541932005000, Data: mustHex(`
		ffffffffffff 000c293c113f 0800
		4500004e 0779 0000 80 11 ae6e c0a80168 c0a801ff
		0089 0089 003a 711e
		801701100001000000000000 20454e46454646434e4447444245424448444a44454447444844434444444343410000200001`)}
	// frame 332, 0.27 ms later: 192.168.1.100:137 answers 192.168.1.104:137 by unicast
	lemayNameAnswer = capture.Frame{TimeNano: 1424796541932277000, Data: mustHex(`
		000c293c113f 000c29eeb784 0800
		4500005a 51cc 0000 80 11 64aa c0a80164 c0a80168
		0089 0089 0046 97b9
		801785000000000100000000 20454e46454646434e4447444245424448444a44454447444844434444444343410000200001000493e000060000c0a80164`)}
	// ITI__ICS-Security-Tools/pcaps/openics/EIP-IPAddressChangeAttempt.pcap
	// frame 3985: 192.168.10.105:1136 → 255.255.255.255:44818, EtherNet/IP
	// ListIdentity request
	eipListIdentity = capture.Frame{TimeNano: 1226525494728147000, Data: mustHex(`
		ffffffffffff 001d0999b22c 0800
		45000034 c6c6 0000 80 11 a8e1 c0a80a69 ffffffff
		0470 af12 0020 1e1a
		6300 0000 00000000 00000000 0000000000000000 00000000 000000000000`)}
	// frame 3986: the 1756-ENBT/A at 192.168.10.120:44818 answers it by unicast
	eipIdentity = capture.Frame{TimeNano: 1226525494729778000, Data: mustHex(`
		001d0999b22c 0000bc3eebe4 0800
		45000067 0152 0000 40 11 e302 c0a80a78 c0a80a69
		af12 0470 0053 a82f
		63003300000000000000000000000000000000000000000001000c002d0001000002af12c0a80a78000000000000000001000c003a0004073000c3ae51000b313735362d454e42542f4103`)}
	// zeek__zeek/testing/btest/Traces/dnp3/dnp3_udp_write.pcap frame 1: the
	// master 192.168.80.160:1128 writes to the outstation 192.168.80.12:20000
	dnp3Write = capture.Frame{TimeNano: 1420058753490016000, Data: mustHex(`
		0050c24f9464 001676c7cedb 0800
		45000031 d983 0000 80 11 3f3b c0a850a0 c0a8500c
		0468 4e20 001d 3895
		05640ec401006400cd12 ccce025001000707003835`)}
	// frame 2: the outstation's response
	dnp3WriteResponse = capture.Frame{TimeNano: 1420058753490949000, Data: mustHex(`
		001676c7cedb 0050c24f9464 0800
		4500002d 0d2e 0000 40 11 4b95 c0a8500c c0a850a0
		4e20 0468 0019 7ef0
		05640a4464000100cbe1 f7ce810000ec52 aa`)}
	// zeek__zeek/testing/btest/Traces/dnp3/dnp3_udp_read.pcap frames 1-3:
	// the outstation speaks first (link status request from port 20000),
	// the master answers, the outstation asks again 5 s later
	dnp3LinkStatus = capture.Frame{TimeNano: 1420058422352798000, Data: mustHex(`
		001676c7cedb 0050c24f9464 0800
		45000026 0cd7 0000 40 11 4bf3 c0a8500c c0a850a0
		4e20 0468 0012 9d37
		0564054964000100 7e5f aaaaaaaaaaaaaaaa`)}
	dnp3LinkStatusReply = capture.Frame{TimeNano: 1420058422385080000, Data: mustHex(`
		0050c24f9464 001676c7cedb 0800
		45000026 cb34 0000 80 11 4d95 c0a850a0 c0a8500c
		0468 4e20 0012 7abd
		0564058b01006400 a097`)}
	dnp3LinkStatusAgain = capture.Frame{TimeNano: 1420058427384702000, Data: mustHex(`
		001676c7cedb 0050c24f9464 0800
		45000026 0cd8 0000 40 11 4bf2 c0a8500c c0a850a0
		4e20 0468 0012 9d37
		0564054964000100 7e5f aaaaaaaaaaaaaaaa`)}
)

// TestUDPConversationRoles: the rules of who opened a UDP conversation and
// who serves it, on real frames.
func TestUDPConversationRoles(t *testing.T) {
	type conv struct {
		client, server string
		frame          uint64
	}
	for _, tc := range []struct {
		name   string
		frames []capture.Frame
		want   []conv
	}{
		{"a datagram to the subnet broadcast has no party", []capture.Frame{lemayBrowser}, nil},
		{"the answer to a broadcast name query opens nothing", []capture.Frame{lemayNameQuery, lemayNameAnswer}, nil},
		{"a PLC answering a broadcast ListIdentity does not call out", []capture.Frame{eipListIdentity, eipIdentity}, nil},
		{"the first sender asks, the answerer serves", []capture.Frame{dnp3Write, dnp3WriteResponse},
			[]conv{{"192.168.80.160:1128", "192.168.80.12:20000", 2}}},
		{"the side on the ICS server port serves, though it spoke first",
			[]capture.Frame{dnp3LinkStatus, dnp3LinkStatusReply, dnp3LinkStatusAgain},
			[]conv{{"192.168.80.160:1128", "192.168.80.12:20000", 3}}},
		{"a unicast answer with no query seen is the first sender asking", []capture.Frame{lemayNameAnswer}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got []conv
			p := NewWith(Limits{}, []*protocols.Dissector{modbus.Dissector, dnp3.Dissector}, func(*protocols.Transaction) {})
			p.Events = func(e *Event) {
				if e.Kind == ConversationAnswered {
					assert.Equal(t, uint8(17), e.IPProto)
					got = append(got, conv{e.Client.String(), e.Server.String(), e.Frame})
				}
			}
			for _, f := range tc.frames {
				f.LinkType = capture.LinkEthernet
				p.HandleFrame(f)
			}
			p.Flush()
			assert.Equal(t, tc.want, got)
		})
	}
}

// The query memory is bounded and forgets old queries.
func TestGroupQueriesBounded(t *testing.T) {
	var q groupQueries
	for i := 0; i < maxGroupQueries+10; i++ {
		q.ask(netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}), 137), 0)
	}
	assert.Len(t, q.last, maxGroupQueries)
	// once the old ones are past the window, a new sender takes a slot
	late := netip.AddrPortFrom(netip.MustParseAddr("10.9.9.9"), 137)
	q.ask(late, groupQueryWindow+1)
	assert.True(t, q.answered(late, groupQueryWindow+2))
	assert.False(t, q.answered(netip.AddrPortFrom(netip.MustParseAddr("10.0.0.1"), 137), groupQueryWindow+2))
	assert.Len(t, q.last, 1)
	assert.False(t, q.answered(late, 2*groupQueryWindow+2), "an answer after the window is not one")
	assert.False(t, q.answered(late, groupQueryWindow), "nor one before the query")
}

// A TCP conversation that began before capture started:
// antoine-lemay__Modbus_dataset/moving_two_files_modbus_6RTU.pcap frames 325
// and 326, the labelled C&C channel between the RTUs 192.168.1.101:1613 and
// 192.168.1.105:7145 (TLS application data; its SYN precedes the capture).
var (
	lemayCC = capture.Frame{TimeNano: 1424796541485530000, Data: mustHex(`000c2970aab7 000c29f9a875 0800
		4500009d44c140008006317b c0a80165 c0a80169 064d 1be9 3c7f181f 4f2de298 5018 f92c 779d 0000
		170300007061c696bd4189531a11fe67db51b7c5f592608e2f1a2018418bf461e9be18867a5765fc91fed35add805956d9dfdcb33a7192e22e6d47fc71b4f8b4fad69c90d40a91b2d1d294bc5bb9a877cb31694a3d4a4ba8d44da425162fe94e9e7271c99ce311365c121e34dcff15b001c1419b07`)}
	lemayCCReply = capture.Frame{TimeNano: 1424796541493096000, Data: mustHex(`000c29f9a875 000c2970aab7 0800
		45000072021a40008006744d c0a80169 c0a80165 1be9 064d 4f2de298 3c7f1894 5018 fa7b f61a 0000
		1703000020ffd188cf0ec30d1a37d13d3faa085d6e36971d5ec190e1776646f4a15c94720b1703000020509b409d3d483f4f0adce488345cef2c7527479d72f9909a3b005d999401bd8f`)}
)

func TestTCPConversationPickedUp(t *testing.T) {
	var opened, picked []string
	p := NewWith(Limits{}, []*protocols.Dissector{modbus.Dissector}, func(*protocols.Transaction) {})
	p.Events = func(e *Event) {
		switch e.Kind {
		case ConversationAnswered:
			opened = append(opened, e.Client.String()+" "+e.Server.String())
		case ConversationPickedUp:
			assert.Equal(t, uint8(6), e.IPProto)
			picked = append(picked, fmt.Sprintf("%s %s @%d", e.Client, e.Server, e.Frame))
		}
	}
	for _, f := range []capture.Frame{lemayCC, lemayCCReply, lemayCC} {
		f.LinkType = capture.LinkEthernet
		p.HandleFrame(f)
	}
	// the lower port guessed as the server: who opened it is unknown
	assert.Equal(t, []string{"192.168.1.105:7145 192.168.1.101:1613 @2"}, picked, "once both sides spoke, once")
	assert.Empty(t, opened)

	// with its handshake seen, the conversation is an opened one, never
	// picked up; a Modbus poll picked up mid-stream is the baseline's
	r := newRun(Limits{})
	r.p.Events = func(e *Event) {
		if e.Kind == ConversationPickedUp {
			t.Errorf("picked up %s %s", e.Client, e.Server)
		}
	}
	c := newConn(t, 40300, 8080)
	r.feed(c.handshake()...)
	r.feed(c.send(true, []byte("GET /")), c.send(false, []byte("200")))
	poll := newConn(t, 40301, 502)
	r.feed(poll.send(true, readReq), poll.send(false, readResp))
	require.Len(t, r.txs, 1, "the poll was dissected")
}
