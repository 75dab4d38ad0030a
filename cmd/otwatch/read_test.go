package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

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

func TestRunUnknownCommand(t *testing.T) {
	assert.Equal(t, 2, run([]string{"frobnicate"}))
	assert.Equal(t, 2, run(nil))
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
