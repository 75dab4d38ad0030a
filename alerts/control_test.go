package alerts

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/otwatch/otwatch/learning/baseline"
	"github.com/otwatch/otwatch/protocols"
	"github.com/otwatch/otwatch/protocols/corpustest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func corpusCapture(t *testing.T, rel string) string {
	dir := corpustest.Dir(t)
	return filepath.Join(dir, rel)
}

func runCapture(t *testing.T, mode baseline.Mode, paths ...string) *collector {
	c := &collector{}
	e := NewEngine(Config{}, baseline.New(baseline.Config{Mode: mode, LearningPeriod: 24 * time.Hour}), c.sink)
	txs, _ := corpustest.Replay(t, paths...)
	for i := range txs {
		e.Observe(&txs[i])
	}
	e.Flush()
	return c
}

// Control commands in real captures alert while the PLC is still learning.
func TestControlKindsOnRealCaptures(t *testing.T) {
	t.Run("S7 PLC stop (snap7)", func(t *testing.T) {
		c := runCapture(t, baseline.ModeAuto, "../protocols/s7comm/testdata/snap7.pcap")
		a := c.first("plc_stop")
		require.NotNil(t, a, "%v", c.kinds())
		assert.Equal(t, 10, a.Severity)
		assert.True(t, a.Learning)
		assert.Equal(t, "s7comm", a.Proto)
		assert.Contains(t, a.Mitre, "T0858")
		assert.NotNil(t, c.first("config_change"), "the set clock of the same session: %v", c.kinds())
	})
	t.Run("S7 program download (STEP 7)", func(t *testing.T) {
		c := runCapture(t, baseline.ModeAuto, corpusCapture(t, "gymgit__s7-pcaps/step7_s300_download.pcapng"))
		a := c.first("program_download")
		require.NotNil(t, a, "%v", c.kinds())
		assert.Equal(t, 9, a.Severity)
		assert.Equal(t, []string{"T0843"}, a.Mitre)
	})
	t.Run("S7 stop (STEP 7)", func(t *testing.T) {
		c := runCapture(t, baseline.ModeAuto, corpusCapture(t, "gymgit__s7-pcaps/step7_s300_stop.pcapng"))
		require.NotNil(t, c.first("plc_stop"), "%v", c.kinds())
	})
}

// DNP3 SELECT/OPERATE of a CROB (real capture) reaching an outstation
// whose baseline never saw that master control it: flagged, with the CROB's
// group/variation and index as target.
func TestDNP3ControlFromUnlearnedMaster(t *testing.T) {
	txs, _ := corpustest.Replay(t, "../protocols/dnp3/testdata/dnp3_select_operate.pcap")
	c := &collector{}
	m := baseline.New(baseline.Config{Mode: baseline.ModeLearn})
	e := NewEngine(Config{}, m, c.sink)
	var controls []*protocols.Transaction
	for i := range txs {
		if txs[i].Op == protocols.OpControl {
			controls = append(controls, &txs[i])
		} else {
			e.Observe(&txs[i])
		}
	}
	require.NotEmpty(t, controls, "the capture holds SELECT/OPERATE")
	m.SetMode(baseline.ModeDetect)
	for _, tx := range controls {
		e.Observe(tx)
	}
	a := c.first("write_from_new_client")
	require.NotNil(t, a, "%v", c.kinds())
	assert.Equal(t, 8, a.Severity)
	assert.Equal(t, "dnp3", a.Proto)
	assert.Equal(t, "control", a.Op)
	require.NotEmpty(t, a.Targets)
	assert.Equal(t, "g12v1", a.Targets[0].Space)
}
