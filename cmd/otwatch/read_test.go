package main

import (
	"bytes"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
	"github.com/otwatch/otwatch/protocols/capture"
	"github.com/otwatch/otwatch/protocols/frame"
	"github.com/otwatch/otwatch/protocols/pipeline"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func runCmd(args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := cmdRead(args, &out, &errb)
	return code, out.String(), errb.String()
}

const golden = "../../protocols/modbus/testdata/icsnpp_modbus_example.pcap"

func TestReadWritesRecords(t *testing.T) {
	code, out, stderr := runCmd("--records", "-", golden)
	require.Equal(t, 0, code, stderr)
	want, err := os.ReadFile("../../protocols/modbus/testdata/icsnpp_modbus_example.golden.jsonl")
	require.NoError(t, err)
	// the golden file ends with the pipeline's anomaly counts, which read prints in its summary
	records := string(want[:bytes.LastIndex(want[:len(want)-1], []byte("\n"))+1])
	assert.True(t, records == out, "records differ from the golden file")
	assert.Contains(t, stderr, "100 packets")
	assert.Contains(t, stderr, "modbus       24:")
}

func TestReadSeveralCapturesAreOneStream(t *testing.T) {
	const second = "../../protocols/modbus/testdata/suricata_modbus.pcap"
	code, out, _ := runCmd("--records", "-", golden, second)
	require.Equal(t, 0, code)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	require.Equal(t, 24+23, len(lines))
	// the second file's first request is its frame 8: frame 108 of the stream
	assert.Contains(t, lines[24], `"request_frame":108,`, "frame numbers count across files")
}

func TestReadTruncatedCapture(t *testing.T) {
	data, err := os.ReadFile(golden)
	require.NoError(t, err)
	path := filepath.Join(t.TempDir(), "cut.pcap")
	require.NoError(t, os.WriteFile(path, data[:len(data)-30], 0o644))
	code, out, stderr := runCmd("--records", "-", path)
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr, path)
	assert.Regexp(t, `byte offset \d+`, stderr)
	assert.Equal(t, 24, strings.Count(out, "\n"), "everything readable was processed")
}

func TestReadNotACapture(t *testing.T) {
	path := filepath.Join(t.TempDir(), "notes.txt")
	require.NoError(t, os.WriteFile(path, []byte("these are notes, not packets\n"), 0o644))
	code, out, stderr := runCmd("--records", "-", golden, path)
	assert.Equal(t, 2, code)
	assert.Empty(t, out, "nothing is done when an input is not a capture")
	assert.Equal(t, 1, strings.Count(stderr, "\n"), "one line: %q", stderr)
	assert.Contains(t, stderr, "not a pcap or pcapng capture")
}

func TestReadUsageErrors(t *testing.T) {
	for _, args := range [][]string{{}, {"--mode", "sometimes", golden}, {"--bogus", golden}, {"/nonexistent.pcap"}} {
		code, _, stderr := runCmd(args...)
		assert.Equal(t, 2, code, "%v", args)
		assert.Equal(t, 1, strings.Count(stderr, "\n"), "one line for %v: %q", args, stderr)
	}
}

func TestReadInventoryAndRestart(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "state.db")
	inv1 := filepath.Join(dir, "inv1.json")
	code, _, stderr := runCmd("--quiet", "--db", db, "--inventory", inv1, "../../protocols/s7comm/testdata/snap7.pcap")
	require.Equal(t, 0, code, stderr)
	b, err := os.ReadFile(inv1)
	require.NoError(t, err)
	var doc struct {
		Assets []struct {
			IPs      []string                          `json:"ips"`
			Vendor   string                            `json:"vendor"`
			Roles    []string                          `json:"roles"`
			Identity map[string]struct{ Value string } `json:"identity"`
			Packets  uint64                            `json:"packets"`
		} `json:"assets"`
		Links []map[string]any `json:"links"`
	}
	require.NoError(t, json.Unmarshal(b, &doc))
	require.Len(t, doc.Assets, 2)
	plc := doc.Assets[1]
	assert.Equal(t, "Siemens AG", plc.Vendor)
	assert.Equal(t, []string{"plc"}, plc.Roles)
	assert.Equal(t, "6ES7 315-2EH14-0AB0", plc.Identity["order_number"].Value)
	assert.Contains(t, doc.Assets[0].Roles, "engineering_workstation", "it stopped the PLC and uploaded blocks")
	require.Len(t, doc.Links, 1)

	// a second run on the same database continues the counts
	code, _, stderr = runCmd("--quiet", "--db", db, "../../protocols/s7comm/testdata/snap7.pcap")
	require.Equal(t, 0, code, stderr)
	var out, errb bytes.Buffer
	require.Equal(t, 0, cmdInventory([]string{"export", "--db", db}, &out, &errb), errb.String())
	var doc2 struct {
		Assets []struct {
			Packets uint64 `json:"packets"`
		} `json:"assets"`
	}
	require.NoError(t, json.Unmarshal(out.Bytes(), &doc2))
	require.Len(t, doc2.Assets, 2)
	assert.Greater(t, doc2.Assets[1].Packets, plc.Packets, "counts continue across runs")
	out.Reset()
	require.Equal(t, 0, cmdInventory([]string{"export", "--format", "csv", "--db", db}, &out, &errb))
	assert.Contains(t, out.String(), "Siemens AG")
}

// trunkCapture rewrites a capture as a SPAN of two routed VLANs shows it:
// every frame twice, first on its sender's VLAN (clients 10, the Modbus
// server 20) with its own MAC, then on the other VLAN from the router's MAC.
func trunkCapture(t *testing.T, src, dst string) (frames int) {
	r, err := capture.Open(src)
	require.NoError(t, err)
	defer r.Close()
	out, err := os.Create(dst)
	require.NoError(t, err)
	defer out.Close()
	w := pcapgo.NewWriter(out)
	require.NoError(t, w.WriteFileHeader(65535, layers.LinkTypeEthernet))
	router := []byte{0x00, 0x1b, 0x54, 0xaa, 0xbb, 0xcc}
	tagged := func(data []byte, vlan uint16, srcMAC []byte) []byte {
		b := append([]byte{}, data[:12]...)
		b = append(b, 0x81, 0x00, byte(vlan>>8), byte(vlan))
		b = append(b, data[12:]...)
		if srcMAC != nil {
			copy(b[6:12], srcMAC)
		}
		return b
	}
	var d frame.Decoded
	for {
		f, err := r.Next()
		if err == io.EOF {
			break
		}
		require.NoError(t, err)
		require.NoError(t, frame.Decode(f.LinkType, f.Data, &d))
		own, far := uint16(10), uint16(20)
		if d.SrcPort == 502 {
			own, far = 20, 10
		}
		for i, b := range [][]byte{tagged(f.Data, own, nil), tagged(f.Data, far, router)} {
			ts := time.Unix(0, f.TimeNano+int64(i)*100e3)
			require.NoError(t, w.WritePacket(gopacket.CaptureInfo{Timestamp: ts, CaptureLength: len(b), Length: len(b)}, b))
		}
		frames++
	}
	return frames
}

func TestReadMergeVLANs(t *testing.T) {
	trunk := filepath.Join(t.TempDir(), "trunk.pcap")
	require.Equal(t, 100, trunkCapture(t, golden, trunk))
	parse := func(out string) []map[string]any {
		var recs []map[string]any
		for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
			var m map[string]any
			require.NoError(t, json.Unmarshal([]byte(line), &m))
			recs = append(recs, m)
		}
		return recs
	}
	_, plain, _ := runCmd("--records", "-", golden)
	want := parse(plain)
	require.Len(t, want, 24)

	code, doubled, _ := runCmd("--records", "-", trunk)
	require.Equal(t, 0, code)
	assert.Len(t, parse(doubled), 48, "without merging, each VLAN's copy is its own flow")

	code, merged, stderr := runCmd("--records", "-", "--merge-vlans", trunk)
	require.Equal(t, 0, code, stderr)
	got := parse(merged)
	require.Len(t, got, len(want))
	for i := range want {
		for _, field := range []string{"code", "op", "targets", "values", "outcome", "client", "server", "unit"} {
			assert.Equal(t, want[i][field], got[i][field], "record %d %s", i, field)
		}
		// the original frame n is the trunk's frame 2n-1: the first sighting
		for _, field := range []string{"request_frame", "response_frame"} {
			if n, ok := want[i][field].(float64); ok {
				assert.Equal(t, 2*n-1, got[i][field], "record %d %s", i, field)
			}
		}
	}
}

// A panic while `otwatch read` handles a frame is named on stderr, even
// with --quiet, and alerted; the frames after it, in that capture and the
// next, are read as before, the state is saved, and the status is 1.
func TestReadSurvivesAPanickingFrame(t *testing.T) {
	dir := t.TempDir()
	bug := filepath.Join(dir, "bug.pcap")
	f, err := os.Create(bug)
	require.NoError(t, err)
	w := pcapgo.NewWriter(f)
	require.NoError(t, w.WriteFileHeader(65535, layers.LinkTypeEthernet))
	udp := mustUDPFrame(t, 6666)
	require.NoError(t, w.WritePacket(gopacket.CaptureInfo{Timestamp: time.Unix(0, udp.TimeNano), CaptureLength: len(udp.Data), Length: len(udp.Data)}, udp.Data))
	require.NoError(t, f.Close())
	readPipelineHook = func(p *pipeline.Pipeline) {
		inner := p.Events
		p.Events = func(e *pipeline.Event) {
			if e.Kind == pipeline.PacketSeen && e.Decoded.SrcPort == 6666 {
				panic("a bug nobody found yet")
			}
			inner(e)
		}
	}
	defer func() { readPipelineHook = nil }()
	const second = "../../protocols/modbus/testdata/suricata_modbus.pcap"
	alertsFile, db := filepath.Join(dir, "alerts.jsonl"), filepath.Join(dir, "state.db")
	code, out, stderr := runCmd("--quiet", "--records", "-", "--alerts", alertsFile, "--db", db, golden, bug, second)
	assert.Equal(t, 1, code)
	assert.Equal(t, "otwatch read: internal error on frame 101 (46 bytes, link type 1): a bug nobody found yet; capture goes on\n", stderr)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	require.Equal(t, 24+23, len(lines), "both captures were read in full")
	assert.Contains(t, lines[24], `"request_frame":109,`, "the second capture's frames after the panicking one")
	raised, err := os.ReadFile(alertsFile)
	require.NoError(t, err)
	assert.Contains(t, string(raised), `"kind":"internal_error"`)
	code, _, stderr = runCmd("--mode", "detect", "--db", db, golden)
	assert.Equal(t, 0, code, stderr)
	assert.Regexp(t, `baseline +[1-9][0-9]* assets`, stderr, "the state the run learned was saved")
}
