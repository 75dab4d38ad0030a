package lldp

import (
	"encoding/hex"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"github.com/otwatch/otwatch/protocols/capture"
	"github.com/otwatch/otwatch/protocols/frame"
	"github.com/otwatch/otwatch/protocols/testkit"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The HMI's announcement in the QUT S7 captures (frame bytes after the ethertype).
const hmiLLDP = `
	020d 07 77696e646f77732d372d766d | chassis id, locally assigned: windows-7-vm
	0409 07 706f72742d303031 | port id, locally assigned: port-001
	0602 0014 | TTL 20
	0a0c 57494e444f57532d372d564d | system name WINDOWS-7-VM
	0c23 696e6e6f74656b20476d6248205669727475616c426f782c312e322c30202b20484d49 | system description
	0e04 0080 0080 | capabilities: station, enabled
	1014 05 01 0a0a0a14 02 00000001 08 2b0601040181c06e | management address 10.10.10.20
	fe08 000ecf 02 00000000 | PROFIBUS organisation TLV
	0000 | end`

func TestParse(t *testing.T) {
	in, err := Parse(testkit.Hex(t, hmiLLDP))
	require.NoError(t, err)
	assert.Equal(t, "windows-7-vm", in.ChassisID)
	assert.False(t, in.HasChassis)
	assert.Equal(t, "port-001", in.PortID)
	assert.Equal(t, uint16(20), in.TTL)
	assert.Equal(t, "WINDOWS-7-VM", in.SystemName)
	assert.Equal(t, "innotek GmbH VirtualBox,1.2,0 + HMI", in.SystemDesc)
	assert.Equal(t, uint16(0x80), in.Capabilities)
	require.Len(t, in.MgmtAddrs, 1)
	assert.Equal(t, "10.10.10.20", in.MgmtAddrs[0].String())

	mac, err := Parse(testkit.Hex(t, `0207 04 001b1b3434cb | chassis id MAC
		0409 07 706f72742d303033 0602 0014 0000`))
	require.NoError(t, err)
	assert.Equal(t, "00:1b:1b:34:34:cb", mac.ChassisID)
	assert.True(t, mac.HasChassis)

	for name, b := range map[string]string{
		"truncated":            `020d 07 77696e`,
		"port id first":        `0409 07 706f72742d303031 0207 04 001b1b3434cb 0602 0014`,
		"empty":                ``,
		"chassis id too short": `0201 07 0409 07 706f72742d303031 0602 0014`,
	} {
		_, err := Parse(testkit.Hex(t, b))
		assert.Error(t, err, name)
	}
}

// TestAgainstTshark decodes every LLDP frame of a corpus capture and
// compares chassis id, port id, TTL, system name and description with
// Wireshark's.
func TestAgainstTshark(t *testing.T) {
	const path = "../../../shared/corpus/qut-infosec__2017QUT_S7comm/LabelledDataset/20161215163606_s7_process_attacks/20161216202830/20161215193421.WaterTankOnAuto_Flooding/20161215193421.WaterTankOnAuto_Flooding.hmi.pcap"
	if _, err := os.Stat(path); err != nil {
		t.Skip("shared corpus absent")
	}
	if _, err := exec.LookPath("tshark"); err != nil {
		t.Skip("tshark absent")
	}
	out, err := exec.Command("tshark", "-r", path, "-Y", "lldp", "-T", "fields", "-E", "separator=|",
		"-e", "frame.number", "-e", "lldp.chassis.id.mac", "-e", "lldp.chassis.id", "-e", "lldp.port.id",
		"-e", "lldp.time_to_live", "-e", "lldp.tlv.system.name", "-e", "lldp.tlv.system.desc", "-e", "lldp.port.id.mac").Output()
	require.NoError(t, err)
	want := map[uint64][]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Split(line, "|")
		var n uint64
		for _, c := range f[0] {
			n = n*10 + uint64(c-'0')
		}
		chassis := f[1]
		if chassis == "" { // a locally assigned id: tshark gives its bytes in hex
			if b, err := hex.DecodeString(f[2]); err == nil {
				chassis = string(b)
			} else {
				chassis = f[2]
			}
		}
		port := f[3]
		if port == "" {
			port = f[7] // a MAC port id is its own field
		}
		want[n] = []string{chassis, port, f[4], f[5], f[6]}
	}
	r, err := capture.Open(path)
	require.NoError(t, err)
	defer r.Close()
	var d frame.Decoded
	checked := 0
	for n := uint64(1); ; n++ {
		fr, err := r.Next()
		if err == io.EOF {
			break
		}
		require.NoError(t, err)
		frame.Decode(fr.LinkType, fr.Data, &d)
		if d.LLDP == nil {
			continue
		}
		in, err := Parse(d.LLDP)
		require.NoError(t, err, "frame %d", n)
		w, ok := want[n]
		require.True(t, ok, "frame %d: tshark shows no LLDP", n)
		assert.Equal(t, w, []string{in.ChassisID, in.PortID, strconv.Itoa(int(in.TTL)), in.SystemName, in.SystemDesc}, "frame %d", n)
		checked++
	}
	assert.Equal(t, len(want), checked, "every LLDP frame tshark shows")
	t.Logf("%d LLDP frames agree with tshark", checked)
}

func FuzzParse(f *testing.F) {
	f.Add(testkit.Hex(nil, hmiLLDP))
	f.Add(testkit.Hex(nil, `0207 04 001b1b3434cb 0409 07 706f72742d303033 0602 0014 0000`))
	f.Fuzz(func(t *testing.T, b []byte) {
		in, err := Parse(b)
		if err == nil && in.ChassisID == "" {
			t.Fatal("a parsed LLDPDU without a chassis id")
		}
	})
}

// TestHostileSystemName: LLDP names reach the inventory with controls,
// bidi overrides, separators and bad bytes escaped.
func TestHostileSystemName(t *testing.T) {
	in, err := Parse(testkit.Hex(t, `0207 04 001b1b3434cb 0409 07 706f72742d303033 0602 0014
		0a1c `+testkit.HostileHex+` 0c1c `+testkit.HostileHex+` 0000`))
	if err != nil {
		t.Fatal(err)
	}
	if in.SystemName != testkit.HostileShown || in.SystemDesc != testkit.HostileShown {
		t.Errorf("system name %q, description %q, want %q", in.SystemName, in.SystemDesc, testkit.HostileShown)
	}
}
