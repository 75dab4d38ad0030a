package main

import (
	"encoding/hex"
	"strings"
	"testing"
	"time"

	"github.com/otwatch/otwatch/alerts"
	"github.com/otwatch/otwatch/learning/baseline"
	"github.com/otwatch/otwatch/learning/inventory"
	"github.com/otwatch/otwatch/protocols/capture"
	"github.com/otwatch/otwatch/protocols/pipeline"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// corpusFrame is one Ethernet frame of a shared-corpus capture.
func corpusFrame(t *testing.T, sec float64, hexBytes string) capture.Frame {
	t.Helper()
	b, err := hex.DecodeString(strings.Join(strings.Fields(hexBytes), ""))
	require.NoError(t, err)
	return capture.Frame{Data: b, TimeNano: int64(sec * 1e9), LinkType: capture.LinkEthernet}
}

// TestNewHostOnlyIfNothingSeenWhileLearning: a host is new only if nothing
// of it was seen while the network learned (IP traffic, ARP, DHCP, LLDP).
// Real frames of ../shared/corpus, learned then detected in one monitor.
func TestNewHostOnlyIfNothingSeenWhileLearning(t *testing.T) {
	// antoine-lemay__Modbus_dataset/characterization_modbus_6RTU_with_operate.pcap
	// frame 137: the RTU 192.168.1.103 answers the master's SYN (SYN-ACK from 502)
	rtuSynAck := corpusFrame(t, 1424798870.652145, `000c29eeb784 000c29dc42e5 0800
		450000300934400080066d78 c0a80167 c0a80164 01f609596217aeab1bc766b27012faf065770000020405b401010402`)
	// frame 8089, 220 s later: its first ARP, a reply to the master
	rtuARP := corpusFrame(t, 1424799090.653676, `000c29eeb784 000c29dc42e5 0806
		0001 0800 06 04 0002 000c29dc42e5 c0a80167 000c29eeb784 c0a80164`)
	// ITI__ICS-Security-Tools/pcaps/openics/EIP-IPAddressChangeAttempt.pcap frame 2948:
	// 192.168.10.105 acknowledges 192.168.10.131 to 00:e0:62:60:35:d0 (KoyoDL405)
	dhcpAck := corpusFrame(t, 1226525402.931824, `ffffffffffff 001d0999b22c 0800
		450001 82c64000008011a819 c0a80a69 ffffffff 0043 0044 016e 0ebc
		02010600abcd00140000000000000000c0a80a83c0a80a690000000000e0626035d00000000000000000000044424c6963656e7365536572766572`+
		strings.Repeat("00", 177)+`638253633501050104ffffff003a04ffffffff3b04ffffffff3304ffffffff3604c0a80a690304c0a80a010c094b6f796f444c343035ff`+
		strings.Repeat("00", 67))
	// cisagov__icsnpp-enip/tests/traces/enip_cip_example.pcap frame 107: the same
	// device announces 192.168.10.131 in ARP
	koyoARP := corpusFrame(t, 1224804554.584948, `ffffffffffff 00e0626035d0 0806
		0001 0800 06 04 0001 00e0626035d0 c0a80a83 000000000000 c0a80a83 000000000000000000000000000000000000`)
	// the same capture, frame 558: 192.168.1.4, never seen before, asks for its gateway
	strangerARP := corpusFrame(t, 1594737341.560161, `ffffffffffff 644bf02b3171 0806
		0001 0800 06 04 0001 644bf02b3171 c0a80104 000000000000 c0a80101 000000000000000000000000000000000000`)
	// qut-infosec__2017QUT_S7comm/.../20161215192146.ConveyorBeltOn_Flooding.hmi.pcap
	// frame 15: the HMI WINDOWS-7-VM (08:00:27:2e:cf:f4) announces 10.10.10.20 in LLDP
	hmiLLDP := corpusFrame(t, 1481793707.667089, `0180c200000e 0800272ecff4 88cc
		020d0777696e646f77732d372d766d 040907706f72742d303031 060200 14 0a0c57494e444f57532d372d564d
		0c23696e6e6f74656b20476d6248205669727475616c426f782c312e322c30202b20484d49 0e0400800080
		101405010a0a0a140200000001082b0601040181c06e fe08000ecf0200000000 fe0a000ecf050800272ecff4
		fe0900120f0103ec03001e 0000`)
	// its ARP reply for 10.10.10.20 an hour later (built: the capture holds none)
	hmiARP := corpusFrame(t, 1481797307.0, `ffffffffffff 0800272ecff4 0806
		0001 0800 06 04 0002 0800272ecff4 0a0a0a14 000000000000 0a0a0a14`)
	// ITI__ICS-Security-Tools/pcaps/IEC61850/Sample_File_MMS_and_GOOSE.pcap frame 35:
	// 172.16.202.0 answers a ping
	pingReply := corpusFrame(t, 1216384408.564038, `001b2102f79d 000adc030500 0800
		4500002809a600003c0152a9 ac10ca00 ac100065 0000 39c7 614b 0000 7d00d2d74545454545454545 000000000000`)
	// its ARP reply a minute later (built from the frame's own MAC)
	pingerARP := corpusFrame(t, 1216384468.0, `ffffffffffff 000adc030500 0806
		0001 0800 06 04 0002 000adc030500 ac10ca00 000000000000 ac10ca00`)

	// qut-infosec__2017QUT_S7comm/.../20161215192146.ConveyorBeltOn_Flooding.hmi.pcap
	// frames 525 and 1348: the PLC 10.10.10.10 resolves its peer 10.10.10.11,
	// again 60 s later (the reply, unicast to the PLC, is not mirrored here)
	plcAsks := corpusFrame(t, 1481793744.841954, `ffffffffffff 001b1b17f882 0806
		0001 0800 06 04 0001 001b1b17f882 0a0a0a0a 0a420066c1ca 0a0a0a0b 5c7900000000000000000000000000000000`)
	plcAsksAgain := corpusFrame(t, 1481793804.838777, `ffffffffffff 001b1b17f882 0806
		0001 0800 06 04 0001 001b1b17f882 0a0a0a0a 0a420066c1ca 0a0a0a0b 5c8000000000000000000000000000000000`)
	// .../20161215193421.WaterTankOnAuto_Flooding.hmi.pcap frame 9869: 10.10.10.11
	// (00:1c:06:08:3f:a4) asks for the PLC: its first frame at this capture point
	peerARP := corpusFrame(t, 1481795184.807886, `ffffffffffff 001c06083fa4 0806
		0001 0800 06 04 0001 001c06083fa4 0a0a0a0b 1e060ad90a0a 0a0a0a0a 0a0a000000000000000000000000000000000000`)

	for _, tc := range []struct {
		name          string
		learn, detect []capture.Frame
		wantNew       []string
	}{
		{"a peer the PLC kept resolving while learning", []capture.Frame{plcAsks, plcAsksAgain}, []capture.Frame{peerARP}, nil},
		{"a peer asked for once (a sweep, a typo) is not known", []capture.Frame{plcAsks}, []capture.Frame{peerARP}, []string{"10.10.10.11"}},
		{"an RTU polled all through learning ARPs later", []capture.Frame{rtuSynAck}, []capture.Frame{rtuARP}, nil},
		{"the same ARP with nothing of the RTU learned", nil, []capture.Frame{rtuARP}, []string{"192.168.1.103"}},
		{"a device that got its address from DHCP while learning", []capture.Frame{dhcpAck}, []capture.Frame{koyoARP}, nil},
		{"a device announced in LLDP while learning", []capture.Frame{hmiLLDP}, []capture.Frame{hmiARP}, nil},
		{"a host that only answered pings while learning", []capture.Frame{pingReply}, []capture.Frame{pingerARP}, nil},
		{"a device never seen", []capture.Frame{rtuSynAck, dhcpAck, hmiLLDP}, []capture.Frame{strangerARP, rtuARP, koyoARP, hmiARP}, []string{"192.168.1.4"}},
		{"an ARP while learning is no alert either", []capture.Frame{strangerARP}, []capture.Frame{strangerARP}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var newHosts []string
			m := newMonitor(baseline.Config{Mode: baseline.ModeLearn}, inventory.Limits{}, func(a *alerts.Alert) {
				if a.Kind == "new_host" {
					newHosts = append(newHosts, a.Asset)
				}
			})
			p := pipeline.New(pipeline.DefaultLimits(), m.observe)
			m.attach(p)
			for _, f := range tc.learn {
				p.HandleFrame(f)
			}
			m.model.SetMode(baseline.ModeDetect)
			for _, f := range tc.detect {
				p.HandleFrame(f)
			}
			p.Flush()
			m.engine.Flush()
			assert.Equal(t, tc.wantNew, newHosts)
		})
	}
}

// The learned hosts are the baseline document's network.hosts: exported,
// reviewable, and what a detect run on another capture judges by.
func TestKnownHostsExported(t *testing.T) {
	m := newMonitor(baseline.Config{Mode: baseline.ModeLearn}, inventory.Limits{}, func(*alerts.Alert) {})
	p := pipeline.New(pipeline.DefaultLimits(), m.observe)
	m.attach(p)
	p.HandleFrame(corpusFrame(t, 1216384408.564038, `001b2102f79d 000adc030500 0800
		4500002809a600003c0152a9 ac10ca00 ac100065 0000 39c7 614b 0000 7d00d2d74545454545454545 000000000000`))
	doc := m.model.Export(time.Unix(1216384409, 0))
	var hosts []string
	for _, h := range doc.Network.Hosts {
		hosts = append(hosts, h.IP)
	}
	assert.Equal(t, []string{"172.16.202.0"}, hosts)
}
