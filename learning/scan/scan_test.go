package scan

import (
	"fmt"
	"github.com/otwatch/otwatch/alerts/finding"
	"github.com/otwatch/otwatch/learning/conversations"
	"net/netip"
	"testing"
	"time"

	"github.com/otwatch/otwatch/protocols/frame"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const sec = int64(time.Second)

// feeder plays packets through a detector and collects its findings. Its
// conversations detector hears of each SYN-ACK, as the pipeline's
// ConversationAnswered events make the monitor's do: the known-good pairs.
type feeder struct {
	d     *Detector
	convs *conversations.Detector
	frame uint64
	found []finding.Finding
}

func newFeeder() *feeder {
	f := &feeder{d: New(Config{}), convs: conversations.New(0)}
	f.d.Known = func(c, s netip.Addr, port uint16) bool { return f.convs.Known(c, s, frame.ProtoTCP, port) }
	return f
}

func ip(s string) netip.Addr { return netip.MustParseAddr(s) }

func (f *feeder) tcp(ns int64, src string, sport uint16, dst string, dport uint16, flags uint8) {
	f.frame++
	p := &frame.Decoded{Src: ip(src), Dst: ip(dst), SrcPort: sport, DstPort: dport, IPProto: frame.ProtoTCP, Flags: flags}
	f.found = append(f.found, f.d.ObservePacket(p, f.frame, ns)...)
	if flags == synack {
		f.convs.Observe(netip.AddrPortFrom(p.Dst, dport), netip.AddrPortFrom(p.Src, sport), frame.ProtoTCP, f.frame, ns)
	}
}

func (f *feeder) icmp(ns int64, src, dst string, typ, code uint8, orig *frame.Decoded) {
	f.frame++
	p := &frame.Decoded{Src: ip(src), Dst: ip(dst), IPProto: frame.ProtoICMP}
	p.ICMP = frame.ICMP{Valid: true, Type: typ, Code: code}
	if orig != nil {
		p.ICMP.Orig, p.ICMP.OrigProto, p.ICMP.OrigSrc, p.ICMP.OrigDst = true, orig.IPProto, orig.Src, orig.Dst
		p.ICMP.OrigSrcPort, p.ICMP.OrigDstPort = orig.SrcPort, orig.DstPort
	}
	f.found = append(f.found, f.d.ObserveICMP(p, f.frame, ns)...)
}

// pingGroup is an echo request delivered to the link's broadcast MAC.
func (f *feeder) pingGroup(ns int64, src, dst string) {
	f.frame++
	p := &frame.Decoded{Src: ip(src), Dst: ip(dst), IPProto: frame.ProtoICMP, GroupDst: true}
	p.ICMP = frame.ICMP{Valid: true, Type: 8}
	f.found = append(f.found, f.d.ObserveICMP(p, f.frame, ns)...)
}

func (f *feeder) arp(ns int64, op uint16, sender, target string) {
	f.frame++
	p := &frame.Decoded{}
	p.ARP = frame.ARP{Valid: true, Op: op, SenderIP: ip(sender), TargetIP: ip(target), SenderMAC: [6]byte{0, 0x0c, 0x29, 1, 2, 3}}
	f.found = append(f.found, f.d.ObserveARP(p, f.frame, ns)...)
}

const (
	syn    = frame.FlagSYN
	synack = frame.FlagSYN | frame.FlagACK
	rst    = frame.FlagRST | frame.FlagACK
)

func TestScans(t *testing.T) {
	const scanner, plc, master = "10.0.0.66", "10.0.0.1", "10.0.0.2"
	tests := []struct {
		name  string
		play  func(f *feeder)
		kinds []string
		check func(t *testing.T, got []finding.Finding)
	}{
		{"nmap -sS on a PLC: closed ports refuse", func(f *feeder) {
			for port := uint16(1); port <= 100; port++ {
				f.tcp(int64(port)*sec/100, scanner, 40000, plc, port, syn)
				if port == 102 || port == 80 {
					f.tcp(int64(port)*sec/100, plc, port, scanner, 40000, synack)
					continue
				}
				f.tcp(int64(port)*sec/100, plc, port, scanner, 40000, rst)
			}
		}, []string{"port_scan"}, func(t *testing.T, got []finding.Finding) {
			g := got[0]
			assert.Equal(t, scanner, g.Source.IP)
			assert.Equal(t, 1, g.Hosts)
			assert.Equal(t, 16, g.Ports, "raised at the threshold")
			assert.Equal(t, plc, g.Dest.IP, "the one host scanned")
			assert.Equal(t, []uint64{1, 3, 5, 7, 9, 11, 13, 15}, g.Frames, "the first refusals' SYNs")
			assert.Contains(t, g.Message, "16 TCP ports on 10.0.0.1")
		}},
		{"a filtered host: unanswered SYNs fail after the timeout", func(f *feeder) {
			for port := uint16(1); port <= 20; port++ {
				f.tcp(int64(port)*sec/10, scanner, 40000, plc, port, syn)
			}
			f.found = append(f.found, f.d.Advance(10*sec)...) // a quiet network: the clock moves time on
		}, []string{"port_scan"}, nil},
		{"a sweep of port 502 across a routed subnet", func(f *feeder) {
			for h := 1; h <= 30; h++ {
				f.tcp(int64(h)*sec/10, scanner, 40000, fmt.Sprintf("10.0.1.%d", h), 502, syn)
			}
			f.tcp(10*sec, master, 50000, plc, 502, frame.FlagACK)
		}, []string{"port_scan"}, func(t *testing.T, got []finding.Finding) {
			assert.Equal(t, 16, got[0].Hosts)
			assert.Nil(t, got[0].Dest, "a sweep has no one target")
			assert.Contains(t, got[0].Message, "16 hosts on 1 TCP ports")
		}},
		{"a SCADA master connecting to 40 RTUs: every one answers", func(f *feeder) {
			for h := 1; h <= 40; h++ {
				rtu := fmt.Sprintf("10.0.2.%d", h)
				f.tcp(int64(h)*sec/10, master, uint16(50000+h), rtu, 20000, syn)
				f.tcp(int64(h)*sec/10, rtu, 20000, master, uint16(50000+h), synack)
			}
			f.tcp(10*sec, master, 50000, plc, 502, frame.FlagACK)
		}, nil, nil},
		{"the master's reconnect storm after an outage: known-good pairs", func(f *feeder) {
			for h := 1; h <= 40; h++ {
				rtu := fmt.Sprintf("10.0.2.%d", h)
				f.tcp(0, master, uint16(50000+h), rtu, 20000, syn)
				f.tcp(0, rtu, 20000, master, uint16(50000+h), synack)
			}
			for h := 1; h <= 40; h++ { // an hour later the radio link is down: nothing answers
				f.tcp(3600*sec, master, uint16(51000+h), fmt.Sprintf("10.0.2.%d", h), 20000, syn)
			}
			f.tcp(3610*sec, master, 50000, plc, 502, frame.FlagACK)
		}, nil, nil},
		{"failures spread thinner than the window: no scan", func(f *feeder) {
			for port := uint16(1); port <= 30; port++ {
				at := int64(port) * 10 * sec // one refused port every 10 s
				f.tcp(at, scanner, 40000, plc, port, syn)
				f.tcp(at, plc, port, scanner, 40000, rst)
			}
		}, nil, nil},
		{"nmap -sn on the local subnet: ARP for addresses that do not exist", func(f *feeder) {
			f.arp(0, frame.ARPReply, plc, scanner) // the PLC exists
			for h := 1; h <= 40; h++ {
				f.arp(int64(h)*sec/100, frame.ARPRequest, scanner, fmt.Sprintf("10.0.0.%d", 100+h))
			}
			f.arp(10*sec, frame.ARPRequest, master, plc)
		}, []string{"host_sweep"}, func(t *testing.T, got []finding.Finding) {
			assert.Equal(t, 16, got[0].Hosts)
			// the evidence is the first eight requests, whatever the order
			// of the detector's maps
			assert.Equal(t, []uint64{2, 3, 4, 5, 6, 7, 8, 9}, got[0].Frames)
			assert.Contains(t, got[0].Message, "asked ARP for at least 16 addresses that do not exist")
		}},
		{"nmap -sU on a PLC: closed UDP ports answer port unreachable", func(f *feeder) {
			for port := uint16(100); port < 130; port++ {
				probe := &frame.Decoded{Src: ip(scanner), Dst: ip(plc), IPProto: frame.ProtoUDP, SrcPort: 40000, DstPort: port}
				f.icmp(int64(port)*sec/100, plc, scanner, 3, 3, probe)
			}
		}, []string{"port_scan"}, func(t *testing.T, got []finding.Finding) {
			assert.Contains(t, got[0].Message, "tried at least 16 UDP ports on 10.0.0.1")
		}},
		{"a DNP3/UDP master polling a dead outstation: one target", func(f *feeder) {
			for i := int64(0); i < 40; i++ {
				probe := &frame.Decoded{Src: ip(master), Dst: ip(plc), IPProto: frame.ProtoUDP, SrcPort: 20000, DstPort: 20000}
				f.icmp(i*sec, plc, master, 3, 3, probe)
			}
		}, nil, nil},
		{"a ping sweep across a routed subnet", func(f *feeder) {
			f.icmp(0, scanner, "10.0.1.1", 8, 0, nil)
			f.icmp(0, "10.0.1.1", scanner, 0, 0, nil) // the one that exists answers
			for h := 2; h <= 30; h++ {
				f.icmp(int64(h)*sec/100, scanner, fmt.Sprintf("10.0.1.%d", h), 8, 0, nil)
			}
			f.found = append(f.found, f.d.Advance(10*sec)...)
		}, []string{"host_sweep"}, func(t *testing.T, got []finding.Finding) {
			assert.Contains(t, got[0].Message, "10.0.0.66 pinged at least 16 addresses that do not exist")
		}},
		// ITI__ICS-Security-Tools/pcaps/IEC61850/Sample_File_MMS_and_GOOSE.pcap frames 34-35:
		// 172.16.0.101 pings 172.16.202.0 and it answers: an address ending in .0
		// is a host in a /16, so the address alone never makes a non-target
		{"pings to hosts whose addresses end in .0 are attempts like any other", func(f *feeder) {
			f.icmp(0, "172.16.0.101", "172.16.202.0", 8, 0, nil)
			f.icmp(0, "172.16.202.0", "172.16.0.101", 0, 0, nil)
			for h := 1; h <= 20; h++ {
				f.icmp(int64(h)*sec/100, "172.16.0.101", fmt.Sprintf("172.16.%d.0", h), 8, 0, nil)
			}
			f.found = append(f.found, f.d.Advance(10*sec)...)
		}, []string{"host_sweep"}, nil},
		{"pings to 20 subnets' broadcast (the broadcast MAC) and groups: no one host asked", func(f *feeder) {
			for h := 1; h <= 20; h++ {
				f.pingGroup(int64(h)*sec/100, master, fmt.Sprintf("10.0.%d.255", h))
				f.icmp(int64(h)*sec/100, master, fmt.Sprintf("224.0.0.%d", h), 8, 0, nil)
			}
			f.icmp(sec, master, "255.255.255.255", 8, 0, nil)
			f.found = append(f.found, f.d.Advance(10*sec)...)
		}, nil, nil},
		{"hosts refusing datagrams sent to groups: no target refused", func(f *feeder) {
			for port := uint16(100); port < 130; port++ {
				probe := &frame.Decoded{Src: ip(master), Dst: ip("10.0.0.255"), IPProto: frame.ProtoUDP, SrcPort: 40000, DstPort: port}
				f.icmp(int64(port)*sec/100, plc, master, 3, 3, probe) // the PLC answers the broadcast
				probe.Dst = ip(fmt.Sprintf("239.1.1.%d", port))
				f.icmp(int64(port)*sec/100, plc, master, 3, 3, probe)
			}
		}, nil, nil},
		{"a monitoring station pinging 40 hosts that answer", func(f *feeder) {
			for h := 1; h <= 40; h++ {
				f.icmp(int64(h)*sec/10, master, fmt.Sprintf("10.0.2.%d", h), 8, 0, nil)
				f.icmp(int64(h)*sec/10, fmt.Sprintf("10.0.2.%d", h), master, 0, 0, nil)
			}
			f.found = append(f.found, f.d.Advance(10*sec)...)
		}, nil, nil},
		{"a master ARPing 40 existing peers whose replies the SPAN misses", func(f *feeder) {
			for h := 1; h <= 40; h++ {
				f.tcp(0, fmt.Sprintf("10.0.0.%d", 100+h), 20000, master, 20000, frame.FlagACK) // they talk
			}
			for h := 1; h <= 40; h++ {
				f.arp(sec+int64(h)*sec/100, frame.ARPRequest, master, fmt.Sprintf("10.0.0.%d", 100+h))
			}
			f.arp(10*sec, frame.ARPRequest, master, plc)
		}, nil, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFeeder()
			tc.play(f)
			var kinds []string
			for _, g := range f.found {
				kinds = append(kinds, g.Kind())
			}
			require.Equal(t, tc.kinds, kinds)
			if tc.check != nil {
				tc.check(t, f.found)
			}
		})
	}
}

func TestKnownPairsSurviveARestart(t *testing.T) {
	f := newFeeder()
	for h := 1; h <= 20; h++ {
		rtu := fmt.Sprintf("10.0.2.%d", h)
		f.tcp(0, "10.0.0.2", 50000, rtu, 20000, syn)
		f.tcp(0, rtu, 20000, "10.0.0.2", 50000, synack)
	}
	// the known pairs are the conversations detector's state
	b, err := f.convs.MarshalState()
	require.NoError(t, err)
	restarted := newFeeder()
	require.NoError(t, restarted.convs.UnmarshalState(b))
	for h := 1; h <= 20; h++ {
		restarted.tcp(100*sec, "10.0.0.2", 51000, fmt.Sprintf("10.0.2.%d", h), 20000, syn)
	}
	restarted.tcp(110*sec, "10.0.0.9", 1, "10.0.0.1", 2, frame.FlagACK)
	assert.Empty(t, restarted.found)
	assert.Error(t, restarted.convs.UnmarshalState([]byte(`[{"c":"nope"}]`)))
}

func TestBounded(t *testing.T) {
	d := New(Config{MaxSources: 2, MaxPending: 3})
	for s := 0; s < 5; s++ {
		for port := uint16(1); port <= 5; port++ {
			p := &frame.Decoded{Src: ip(fmt.Sprintf("10.9.0.%d", s)), Dst: ip("10.0.0.1"), DstPort: port, IPProto: frame.ProtoTCP, Flags: syn}
			d.ObservePacket(p, 1, 0)
		}
	}
	assert.Len(t, d.sources, 2)
	for _, s := range d.sources {
		assert.Len(t, s.pending, 3)
	}
	assert.Equal(t, uint64(3*5+2*2), d.Dropped)
}

// BenchmarkObservePacket: the cost the detector adds to every TCP packet of
// a busy plant (established flows: ACKs with data), and to a SYN.
func BenchmarkObservePacket(b *testing.B) {
	d := New(Config{})
	d.Heard = func(netip.Addr) (int64, bool) { return 0, false }
	data := &frame.Decoded{Src: ip("10.0.0.2"), Dst: ip("10.0.0.1"), SrcPort: 50000, DstPort: 502, IPProto: frame.ProtoTCP, Flags: frame.FlagACK | frame.FlagPSH}
	synPkt := &frame.Decoded{Src: ip("10.0.0.2"), Dst: ip("10.0.0.1"), SrcPort: 50000, DstPort: 502, IPProto: frame.ProtoTCP, Flags: syn}
	b.Run("data", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			d.ObservePacket(data, uint64(i), int64(i)*1000)
		}
	})
	b.Run("syn", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			synPkt.SrcPort = uint16(i)
			synPkt.DstPort = uint16(i % 4096)
			d.ObservePacket(synPkt, uint64(i), int64(i)*1000)
		}
	})
}
