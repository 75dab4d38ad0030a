package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestReadZones(t *testing.T) {
	dir := t.TempDir()
	zonesFile := filepath.Join(dir, "zones.yaml")
	// the PLC 10.0.0.3 in a cell, 10.0.0.8 and the HMI 10.0.0.9 in SCADA,
	// which may only read the cell; the engineering laptop 10.0.0.57 is in no zone
	require.NoError(t, os.WriteFile(zonesFile, []byte(`
zones:
  - {name: cell, networks: [10.0.0.0/29], level: 1}
  - {name: scada, networks: [10.0.0.8/29], level: 2}
conduits:
  - {from: scada, to: cell, protocols: [modbus], ops: [read]}
`), 0o644))
	alertsFile, invFile := filepath.Join(dir, "alerts.jsonl"), filepath.Join(dir, "inv.json")
	code, _, stderr := runCmd("--zones", zonesFile, "--alerts", alertsFile, "--inventory", invFile,
		"../../protocols/modbus/testdata/suricata_modbus.pcap")
	require.Equal(t, 0, code, stderr)

	b, err := os.ReadFile(alertsFile)
	require.NoError(t, err)
	var keys []string
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var a struct {
			Kind, Key, Message string
			Severity           int
		}
		require.NoError(t, json.Unmarshal([]byte(line), &a))
		if a.Kind != "zone_violation" || strings.Contains(a.Message, " more time") { // a summary of repeats
			continue
		}
		assert.Equal(t, 7, a.Severity)
		keys = append(keys, strings.TrimPrefix(a.Key, "zone_violation|"))
		if strings.HasPrefix(a.Key, "zone_violation|10.0.0.9|") {
			assert.Contains(t, a.Message, "the conduit scada → cell (modbus, read only) does not allow it")
		}
	}
	sort.Strings(keys)
	assert.Equal(t, []string{
		"10.0.0.57|10.0.0.3|modbus|control", "10.0.0.57|10.0.0.3|modbus|diagnostic", "10.0.0.57|10.0.0.3|modbus|discovery",
		"10.0.0.57|10.0.0.3|modbus|restart", "10.0.0.57|10.0.0.8|modbus|discovery", "10.0.0.57|10.0.0.8|modbus|read",
		"10.0.0.9|10.0.0.3|modbus|write",
	}, keys, "the HMI's reads pass the conduit; its writes and everything from the unzoned laptop do not")

	var doc struct {
		Assets []struct {
			IPs   []string
			Zone  string
			Level *int
		}
	}
	b, err = os.ReadFile(invFile)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, &doc))
	zoneOf := map[string]string{}
	for _, a := range doc.Assets {
		zoneOf[a.IPs[0]] = a.Zone
		if a.IPs[0] == "10.0.0.3" {
			require.NotNil(t, a.Level)
			assert.Equal(t, 1, *a.Level)
		}
	}
	// 10.0.0.8 and .9 share a MAC in this capture: one asset
	assert.Equal(t, map[string]string{"10.0.0.3": "cell", "10.0.0.8": "scada", "10.0.0.57": ""}, zoneOf)

	code, _, stderr = runCmd("--zones", filepath.Join(dir, "missing.yaml"), "../../protocols/modbus/testdata/suricata_modbus.pcap")
	assert.Equal(t, 2, code)
	assert.Contains(t, stderr, "missing.yaml")
}
