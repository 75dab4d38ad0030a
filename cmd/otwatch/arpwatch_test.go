package main

import (
	"bytes"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// arpCapture writes ARP replies (sender IP, sender MAC, second) to a pcap.
func arpCapture(t *testing.T, path string, claims []arpClaim) {
	f, err := os.Create(path)
	require.NoError(t, err)
	defer f.Close()
	w := pcapgo.NewWriter(f)
	require.NoError(t, w.WriteFileHeader(65535, layers.LinkTypeEthernet))
	for _, c := range claims {
		mac, err := net.ParseMAC(c.mac)
		require.NoError(t, err)
		buf := gopacket.NewSerializeBuffer()
		require.NoError(t, gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true},
			&layers.Ethernet{SrcMAC: mac, DstMAC: net.HardwareAddr{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, EthernetType: layers.EthernetTypeARP},
			&layers.ARP{AddrType: layers.LinkTypeEthernet, Protocol: layers.EthernetTypeIPv4, HwAddressSize: 6, ProtAddressSize: 4,
				Operation: layers.ARPReply, SourceHwAddress: mac, SourceProtAddress: net.ParseIP(c.ip).To4(),
				DstHwAddress: make([]byte, 6), DstProtAddress: net.ParseIP(c.ip).To4()}))
		ts := time.Unix(1_700_000_000+c.sec, 0)
		require.NoError(t, w.WritePacket(gopacket.CaptureInfo{Timestamp: ts, CaptureLength: len(buf.Bytes()), Length: len(buf.Bytes())}, buf.Bytes()))
	}
}

type arpClaim struct {
	sec     int64
	ip, mac string
}

func TestReadARPSpoofingAndMarkNormal(t *testing.T) {
	const plc, hmi = "10.0.0.10", "10.0.0.20"
	const plcMAC, hmiMAC, attacker = "00:0e:8c:01:02:03", "00:80:f4:0a:0b:0c", "00:0c:29:de:ad:01"
	dir := t.TempDir()
	db := filepath.Join(dir, "state.db")
	poisoned := filepath.Join(dir, "poisoned.pcap")
	// the attacker poisons both sides every 2 s while the real hosts still answer
	claims := []arpClaim{{0, plc, plcMAC}, {0, hmi, hmiMAC}}
	for s := int64(10); s < 20; s += 2 {
		claims = append(claims, arpClaim{s, plc, attacker}, arpClaim{s, hmi, attacker}, arpClaim{s + 1, plc, plcMAC}, arpClaim{s + 1, hmi, hmiMAC})
	}
	arpCapture(t, poisoned, claims)
	alertsFile := filepath.Join(dir, "alerts.jsonl")
	code, _, stderr := runCmd("--db", db, "--alerts", alertsFile, poisoned)
	require.Equal(t, 0, code, stderr)
	b, err := os.ReadFile(alertsFile)
	require.NoError(t, err)
	var spoofs []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var a map[string]any
		require.NoError(t, json.Unmarshal([]byte(line), &a))
		assert.Contains(t, []string{"arp_spoofing", "mac_changed"}, a["kind"], line)
		if a["kind"] == "arp_spoofing" {
			spoofs = append(spoofs, a)
		}
	}
	// one alert per victim address at the first poisoned reply; the other
	// nine of each are folded into one summary alert at the end
	require.Len(t, spoofs, 4, "%s", b)
	assert.Nil(t, spoofs[1]["repeats"])
	assert.Equal(t, float64(9), spoofs[2]["repeats"])
	assert.Equal(t, float64(9), spoofs[3]["repeats"])
	assert.Contains(t, spoofs[1]["message"], "also claims 10.0.0.10", "the attacker's MAC claims both ends")
	first := spoofs[0]
	assert.Equal(t, float64(9), first["severity"])
	assert.Equal(t, []any{"T0830"}, first["mitre"])
	assert.Equal(t, []any{float64(3)}, first["frames"], "the first poisoned reply is the evidence")
	assert.Contains(t, first["message"], plc)
	assert.Contains(t, stderr, "alerts        4 alerts: arp_spoofing=4; 18 repeats folded into them", "the summary counts the 4 alerts written, the 2 summaries of repeats included")

	// An operator says this address really moves between these two MACs
	// (it is a redundant pair): it joins what is normal.
	var out, errb bytes.Buffer
	require.Equal(t, 0, cmdAlerts([]string{"normal", "--db", db, first["id"].(string)}, &out, &errb), errb.String())
	again := filepath.Join(dir, "again.pcap")
	// an hour later (past the fold window): the attacker claims both again
	arpCapture(t, again, []arpClaim{{3600, plc, attacker}, {3601, plc, plcMAC}, {3602, hmi, attacker}})
	alertsFile2 := filepath.Join(dir, "alerts2.jsonl")
	code, _, stderr = runCmd("--db", db, "--alerts", alertsFile2, again)
	require.Equal(t, 0, code, stderr)
	b, err = os.ReadFile(alertsFile2)
	require.NoError(t, err)
	var assets []any
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var a map[string]any
		require.NoError(t, json.Unmarshal([]byte(line), &a))
		assets = append(assets, a["asset"])
	}
	assert.Equal(t, []any{hmi}, assets, "the accepted pair no longer alerts; the other address still does")
}
