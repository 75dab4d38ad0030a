package alerts

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/otwatch/otwatch/alerts/finding"
	"github.com/otwatch/otwatch/learning/baseline"
	"github.com/otwatch/otwatch/learning/store"
	"github.com/otwatch/otwatch/protocols"
	_ "github.com/otwatch/otwatch/protocols/all"
	"github.com/otwatch/otwatch/protocols/corpustest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type collector struct{ alerts []*Alert }

func (c *collector) sink(a *Alert) { cp := *a; c.alerts = append(c.alerts, &cp) }

func (c *collector) kinds() map[string]int {
	m := map[string]int{}
	for _, a := range c.alerts {
		m[a.Kind]++
	}
	return m
}

func (c *collector) first(kind string) *Alert {
	for _, a := range c.alerts {
		if a.Kind == kind {
			return a
		}
	}
	return nil
}

func newTestEngine(mode baseline.Mode) (*Engine, *baseline.Model, *collector) {
	c := &collector{}
	m := baseline.New(baseline.Config{Mode: mode, LearningPeriod: time.Minute})
	return NewEngine(Config{}, m, c.sink), m, c
}

var t0 = time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)

// tx builds a Modbus transaction at t0+sec.
func tx(client, server string, sec float64, op protocols.Op, code int, space string, addr, count uint64, values ...int64) *protocols.Transaction {
	t := &protocols.Transaction{Proto: "modbus", Unit: "1", Op: op, Code: code, CodeName: "f" + string(rune('a'+code%26)),
		Client:      protocols.Endpoint{IP: netip.MustParseAddr(client), Port: 40000, LinkAddress: -1},
		Server:      protocols.Endpoint{IP: netip.MustParseAddr(server), Port: 502, LinkAddress: -1},
		RequestTime: t0.Add(time.Duration(sec * float64(time.Second))), RequestFrame: uint64(sec*10) + 1, Outcome: protocols.OutcomeOK}
	if space != "" {
		t.Targets = []protocols.Target{{Space: space, Address: addr, Count: count}}
	}
	for _, v := range values {
		t.Values = append(t.Values, protocols.IntValue(v))
	}
	return t
}

func TestControlCommandsAlertWhileLearning(t *testing.T) {
	c := &collector{}
	e := NewEngine(Config{}, baseline.New(baseline.Config{Mode: baseline.ModeAuto, LearningPeriod: 24 * time.Hour}), c.sink)
	// Real traffic (suricata-verify): force listen only, restart communications, device identification.
	txs, _ := corpustest.Replay(t, "../protocols/modbus/testdata/suricata_modbus.pcap")
	for i := range txs {
		e.Observe(&txs[i])
	}
	e.Flush()
	kinds := c.kinds()
	require.NotZero(t, kinds["force_listen_only"])
	require.NotZero(t, kinds["restart"])
	for _, k := range []string{"new_link", "new_function", "write_from_new_client", "value_out_of_range"} {
		assert.Zero(t, kinds[k], "no behaviour alert (%s) while learning", k)
	}
	a := c.first("force_listen_only")
	assert.Equal(t, 9, a.Severity)
	assert.True(t, a.Learning)
	assert.Equal(t, []string{"T0814"}, a.Mitre)
	assert.Equal(t, "10.0.0.57", a.Client.IP)
	assert.NotEmpty(t, a.Frames)
	assert.Contains(t, a.Message, "forced 10.0.0.3 into listen-only mode")
	assert.Contains(t, a.Message, "refused it (exception 11)", "the device answered with gateway target failed")
}

func TestSecondClientOnRealTraffic(t *testing.T) {
	var capture string
	for _, c := range corpustest.Captures(t, "modbus") {
		if filepath.Base(c.Path) == "modbusBig.pcap" {
			capture = c.Path
		}
	}
	if capture == "" {
		t.Skip("modbusBig.pcap not in the corpus")
	}
	txs, _ := corpustest.Replay(t, capture)
	e, m, c := newTestEngine(baseline.ModeLearn)
	rogue := netip.MustParseAddr("10.235.149.95")
	for i := range txs {
		if txs[i].Client.IP != rogue {
			e.Observe(&txs[i]) // the baseline: the usual master alone
		}
	}
	m.SetMode(baseline.ModeDetect)
	for i := range txs {
		e.Observe(&txs[i])
	}
	e.Flush()
	// The second client speaks S7comm-plus to the Modbus PLC: it explores the
	// PLC and re-arms the notification credit of a monitoring job (TIS,
	// attribute 2711) — a new link and a new protocol, but no write.
	assert.Nil(t, c.first("write_from_new_client"), "re-arming notification credits writes nothing to the process")
	var a *Alert
	for _, x := range c.alerts {
		if x.Kind == "new_link" && x.Proto == "s7comm-plus" {
			a = x
		}
	}
	require.NotNil(t, a, "kinds: %v", c.kinds())
	assert.Equal(t, "10.235.149.95", a.Client.IP)
	assert.Equal(t, "10.235.149.243", a.Server.IP)
	assert.NotNil(t, c.first("new_protocol"), "the PLC never spoke S7comm-plus while learning")
	for _, a := range c.alerts {
		if a.Client != nil && a.Client.IP != "10.235.149.95" && a.Kind != "cyclic_stopped" && a.Kind != "malformed_pdu" {
			t.Errorf("the learned master raised %s: %s", a.Kind, a.Message)
		}
	}
	assert.NotEmpty(t, a.Incident)
}

func TestBehaviourRules(t *testing.T) {
	e, m, c := newTestEngine(baseline.ModeLearn)
	for i := 0; i < 30; i++ {
		sec := float64(i * 10)
		e.Observe(tx("10.0.0.1", "10.0.0.2", sec, protocols.OpRead, 3, "holding_register", 0, 10))
		e.Observe(tx("10.0.0.1", "10.0.0.2", sec+1, protocols.OpWrite, 6, "holding_register", 5, 1, int64(100+i%5)))
		e.Observe(tx("10.0.0.1", "10.0.0.2", sec+2, protocols.OpWrite, 5, "coil", 3, 1, int64(i%2)))
	}
	require.Empty(t, c.alerts, "learning raises no behaviour alert")
	m.SetMode(baseline.ModeDetect)
	base := 400.0
	e.Observe(tx("10.0.0.1", "10.0.0.2", base, protocols.OpWrite, 6, "holding_register", 5, 1, 102))    // normal
	e.Observe(tx("10.0.0.1", "10.0.0.2", base+1, protocols.OpWrite, 6, "holding_register", 5, 1, 5000)) // value out of range
	e.Observe(tx("10.0.0.1", "10.0.0.2", base+2, protocols.OpWrite, 6, "holding_register", 77, 1, 1))   // unseen target
	e.Observe(tx("10.0.0.1", "10.0.0.2", base+3, protocols.OpWrite, 5, "coil", 3, 1, 7))                // enumerated {0,1}
	e.Observe(tx("10.0.0.1", "10.0.0.2", base+4, protocols.OpRead, 4, "input_register", 0, 1))          // new function
	e.Observe(tx("10.0.0.66", "10.0.0.2", base+5, protocols.OpWrite, 6, "holding_register", 5, 1, 101)) // new client writes
	e.Observe(tx("10.0.0.1", "10.0.0.9", base+6, protocols.OpRead, 3, "holding_register", 0, 1))        // new server
	kinds := c.kinds()
	assert.Equal(t, 2, kinds["value_out_of_range"], "%v", kinds)
	assert.Equal(t, 1, kinds["write_to_unseen_target"])
	assert.Equal(t, 1, kinds["new_function"])
	assert.Equal(t, 1, kinds["write_from_new_client"])
	assert.Equal(t, 2, kinds["new_asset"], "10.0.0.66 and 10.0.0.9")
	vo := c.first("value_out_of_range")
	assert.Contains(t, vo.Message, "wrote 5000 to holding_register 5")
	assert.Contains(t, vo.Message, "more than 10 times the largest magnitude learned (104); learned values {100, 101, 102, 103, 104}")
	assert.Equal(t, 7, vo.Severity, "an order of magnitude out: the kind's full severity")
	assert.Equal(t, "[5000]", string(vo.Values))
}

// TestFarValueIsNotFoldedIntoMildOnes: a point written a little outside
// its range again and again (an alert folded and lowered as it recurs),
// then written an order of magnitude out. The extreme write is its own
// alert at the kind's full severity, not a repeat counted into the mild
// alert or lowered by its recurrence.
func TestFarValueIsNotFoldedIntoMildOnes(t *testing.T) {
	e, m, c := newTestEngine(baseline.ModeLearn)
	for i := 0; i < 30; i++ {
		e.Observe(tx("10.0.0.1", "10.0.0.2", float64(i*10), protocols.OpWrite, 6, "holding_register", 5, 1, int64(100+i%5)))
	}
	m.SetMode(baseline.ModeDetect)
	for i := 0; i < 5; i++ { // every 15 minutes, beyond the fold window
		e.Observe(tx("10.0.0.1", "10.0.0.2", float64(400+i*900), protocols.OpWrite, 6, "holding_register", 5, 1, 150))
	}
	mild := c.alerts[len(c.alerts)-1]
	require.Equal(t, "value_out_of_range", mild.Kind)
	require.Less(t, mild.Severity, 4, "outside the range (three levels lower), then lowered as it recurs: %s", mild.Message)
	n := len(c.alerts)
	far := tx("10.0.0.1", "10.0.0.2", 400+4*900+30, protocols.OpWrite, 6, "holding_register", 5, 1, 5000)
	e.Observe(far)
	require.Len(t, c.alerts, n+1, "the order-of-magnitude write within the mild alert's fold window")
	a := c.alerts[n]
	assert.Equal(t, "value_out_of_range", a.Kind)
	assert.Equal(t, 7, a.Severity, "%s", a.Message)
	assert.Contains(t, a.Message, "wrote 5000 to holding_register 5")
	assert.Contains(t, a.Frames, far.RequestFrame)
	assert.Zero(t, mild.Repeats)
	assert.NotEqual(t, mild.Key, a.Key)
}

func TestCyclicStoppedAndBursts(t *testing.T) {
	e, m, c := newTestEngine(baseline.ModeLearn)
	for i := 0; i < 20; i++ {
		e.Observe(tx("10.0.0.1", "10.0.0.2", float64(i*2), protocols.OpRead, 3, "holding_register", 0, 10))
		e.Observe(tx("10.0.0.1", "10.0.0.3", float64(i*2), protocols.OpRead, 3, "holding_register", 0, 10))
	}
	m.SetMode(baseline.ModeDetect)
	// 10.0.0.2 goes quiet; 10.0.0.3 keeps being polled, then receives a write burst
	for i := 20; i < 40; i++ {
		e.Observe(tx("10.0.0.1", "10.0.0.3", float64(i*2), protocols.OpRead, 3, "holding_register", 0, 10))
	}
	stopped := c.first("cyclic_stopped")
	require.NotNil(t, stopped, "%v", c.kinds())
	assert.Contains(t, stopped.Message, "stopped polling 10.0.0.2")
	assert.Equal(t, 1, c.kinds()["cyclic_stopped"], "reported once")
	for i := 0; i < 40; i++ {
		e.Observe(tx("10.0.0.1", "10.0.0.3", 80+float64(i)*0.1, protocols.OpRead, 3, "holding_register", 0, 10))
		x := tx("10.0.0.1", "10.0.0.3", 80+float64(i)*0.1, protocols.OpRead, 3, "holding_register", 0, 10)
		x.Outcome, x.ExceptionCode, x.HasException = protocols.OutcomeException, 2, true
		e.Observe(x)
	}
	assert.Equal(t, 1, c.kinds()["exception_burst"], "%v", c.kinds())
}

func TestFoldingSelfRegulationAndMarkNormal(t *testing.T) {
	e, m, c := newTestEngine(baseline.ModeLearn)
	e.Observe(tx("10.0.0.1", "10.0.0.2", 0, protocols.OpRead, 3, "holding_register", 0, 10))
	e.Observe(tx("10.0.0.1", "10.0.0.2", 1, protocols.OpWrite, 6, "holding_register", 10, 1, 1))
	m.SetMode(baseline.ModeDetect)
	// the same unseen-target write every 15 minutes (beyond the fold window), and twice within it
	for i := 0; i < 7; i++ {
		sec := float64(60 + i*900)
		e.Observe(tx("10.0.0.1", "10.0.0.2", sec, protocols.OpWrite, 6, "holding_register", 40, 1, 1))
		e.Observe(tx("10.0.0.1", "10.0.0.2", sec+30, protocols.OpWrite, 6, "holding_register", 40, 1, 1))
	}
	e.Flush()
	var sevs []int
	for _, a := range c.alerts {
		if a.Kind == "write_to_unseen_target" && a.Repeats <= 1 && !strings.HasPrefix(a.Message, "1 more") {
			sevs = append(sevs, a.Severity)
		}
	}
	// from the fourth alert on a regular cadence, one level per recurrence, at most three
	assert.Equal(t, []int{7, 7, 7, 6, 5, 4, 4}, sevs)
	last := c.alerts[len(c.alerts)-1]
	assert.Contains(t, last.Message, "1 more time at ", "the final folded repeat is reported, not dropped")
	lowered := c.alerts[len(c.alerts)-2]
	assert.Contains(t, lowered.Message, "severity lowered from 7 to 4: recurs every ~15m0s")
	assert.Equal(t, uint64(1), lowered.Repeats, "the repeat folded into it since the previous alert")
	assert.Equal(t, uint64(7), e.Folded)

	// operator: "this is normal" — the write joins the baseline
	require.NoError(t, e.MarkNormal(c.first("write_to_unseen_target").ID))
	n := len(c.alerts)
	e.Observe(tx("10.0.0.1", "10.0.0.2", 9000, protocols.OpWrite, 6, "holding_register", 40, 1, 1))
	assert.Len(t, c.alerts, n, "accepted into the baseline")
	e.Observe(tx("10.0.0.1", "10.0.0.2", 9100, protocols.OpWrite, 6, "holding_register", 41, 1, 1))
	require.Len(t, c.alerts, n+1)
	assert.Equal(t, 6, c.alerts[n].Severity, "operators marked this kind normal on this asset once")
	assert.Contains(t, c.alerts[n].Message, "operators marked 1 such alerts normal")
	assert.Error(t, e.MarkNormal("nonexistent"))
}

func TestIncidentNarrative(t *testing.T) {
	e, m, c := newTestEngine(baseline.ModeLearn)
	for i := 0; i < 6; i++ {
		e.Observe(tx("10.0.0.1", "10.0.0.2", float64(i), protocols.OpWrite, 6, "holding_register", 5, 1, int64(10+i)))
	}
	m.SetMode(baseline.ModeDetect)
	e.Observe(tx("10.0.0.66", "10.0.0.2", 100, protocols.OpRead, 3, "holding_register", 0, 10))
	e.Observe(tx("10.0.0.66", "10.0.0.2", 110, protocols.OpWrite, 6, "holding_register", 5, 1, 999))
	stop := tx("10.0.0.66", "10.0.0.2", 120, protocols.OpStop, 41, "", 0, 0)
	e.Observe(stop)
	e.Observe(tx("10.0.0.66", "10.0.0.2", 5000, protocols.OpRead, 3, "holding_register", 0, 10)) // much later: a new incident? no alert at all
	incs := e.Incidents()
	require.NotEmpty(t, incs)
	var inc *Incident
	for i := range incs {
		if incs[i].Source == "10.0.0.66" {
			inc = &incs[i]
		}
	}
	require.NotNil(t, inc)
	assert.Equal(t, 10, inc.MaxSeverity)
	assert.Equal(t, []string{"new_asset", "new_link"}, inc.Kinds[:2])
	assert.Contains(t, inc.Kinds, "plc_stop")
	assert.Contains(t, inc.Kinds, "value_out_of_range")
	assert.Contains(t, inc.Narrative, "10.0.0.66, a host not in the baseline, was first seen")
	assert.Contains(t, inc.Narrative, "told 10.0.0.2 to stop")
	assert.Contains(t, inc.Narrative, "Highest severity 10 (plc_stop)")
	assert.Greater(t, inc.Score, 70)
	inIncident := 0
	for _, a := range c.alerts {
		if a.Client != nil && a.Client.IP == "10.0.0.66" && a.TS.Before(t0.Add(1000*time.Second)) {
			assert.Equal(t, inc.ID, a.Incident)
			inIncident++
		}
	}
	assert.Equal(t, len(inc.Alerts), inIncident)
	late := c.alerts[len(c.alerts)-1]
	assert.NotEqual(t, inc.ID, late.Incident, "an alert past the incident window opens a new incident")
}

// TestRestartGivesIdenticalAlerts: learn, stop, restart from the database,
// detect — the alerts equal those of one uninterrupted run.
func TestRestartGivesIdenticalAlerts(t *testing.T) {
	var stream []*protocols.Transaction
	for i := 0; i < 40; i++ {
		stream = append(stream, tx("10.0.0.1", "10.0.0.2", float64(i*5), protocols.OpRead, 3, "holding_register", 0, 10))
		stream = append(stream, tx("10.0.0.1", "10.0.0.2", float64(i*5)+1, protocols.OpWrite, 6, "holding_register", 5, 1, int64(i%3)))
	}
	for i := 0; i < 40; i++ {
		sec := 200 + float64(i*5)
		stream = append(stream, tx("10.0.0.1", "10.0.0.2", sec, protocols.OpRead, 3, "holding_register", 0, 10))
		stream = append(stream, tx("10.0.0.1", "10.0.0.2", sec+1, protocols.OpWrite, 6, "holding_register", 5, 1, int64(i%7)))
		if i%9 == 0 {
			stream = append(stream, tx("10.0.0.7", "10.0.0.2", sec+2, protocols.OpWrite, 16, "holding_register", 30, 2, 1, 2))
		}
	}
	render := func(as []*Alert) []string {
		var out []string
		for _, a := range as {
			out = append(out, strings.Join([]string{a.ID, a.TS.String(), a.Kind, a.Key, a.Message, a.Incident}, " | "))
		}
		return out
	}
	cfg := baseline.Config{Mode: baseline.ModeAuto, LearningPeriod: 100 * time.Second, StableFor: 10 * time.Second}
	whole := &collector{}
	m := baseline.New(cfg)
	e := NewEngine(Config{}, m, whole.sink)
	for _, x := range stream {
		e.Observe(x)
	}
	require.NotEmpty(t, whole.alerts)

	db := filepath.Join(t.TempDir(), "state.db")
	parts := &collector{}
	for half := 0; half < 2; half++ {
		st, err := store.Open(db)
		require.NoError(t, err)
		m := baseline.New(cfg)
		e := NewEngine(Config{}, m, parts.sink)
		comps := map[string]store.Component{"baseline": m, "alerts": e}
		require.NoError(t, st.Load(comps))
		lo, hi := 0, len(stream)/2
		if half == 1 {
			lo, hi = hi, len(stream)
		}
		for _, x := range stream[lo:hi] {
			e.Observe(x)
		}
		require.NoError(t, st.Checkpoint(comps))
		require.NoError(t, st.Close())
	}
	assert.Equal(t, render(whole.alerts), render(parts.alerts))
}

func TestKindsTableInREADME(t *testing.T) {
	b, err := os.ReadFile("README.md")
	require.NoError(t, err)
	for _, k := range Kinds() {
		assert.Contains(t, string(b), KindRow(k), "README documents %s as the kind table says", k.Kind)
	}
}

func TestMarkNormalAfterRestart(t *testing.T) {
	e, m, c := newTestEngine(baseline.ModeLearn)
	e.Observe(tx("10.0.0.1", "10.0.0.2", 0, protocols.OpRead, 3, "holding_register", 0, 10))
	m.SetMode(baseline.ModeDetect)
	e.Observe(tx("10.0.0.1", "10.0.0.2", 60, protocols.OpWrite, 6, "holding_register", 50, 1, 3))
	require.Len(t, c.alerts, 2) // new_function, write_to_unseen_target
	mb, err := m.MarshalState()
	require.NoError(t, err)
	eb, err := e.MarshalState()
	require.NoError(t, err)

	m2 := baseline.New(baseline.Config{Mode: baseline.ModeDetect})
	require.NoError(t, m2.UnmarshalState(mb))
	c2 := &collector{}
	e2 := NewEngine(Config{}, m2, c2.sink)
	require.NoError(t, e2.UnmarshalState(eb))
	require.Len(t, e2.Recent(), 2)
	require.NoError(t, e2.MarkNormal(c.alerts[1].ID))
	e2.Observe(tx("10.0.0.1", "10.0.0.2", 7200, protocols.OpWrite, 6, "holding_register", 50, 1, 3))
	assert.Empty(t, c2.alerts, "the restored alert's transaction joined the baseline")
}

func TestRegulationMemoryIsBounded(t *testing.T) {
	e, m, c := newTestEngine(baseline.ModeLearn)
	e.Observe(tx("10.0.0.1", "10.0.0.2", 0, protocols.OpRead, 3, "holding_register", 0, 10))
	m.SetMode(baseline.ModeDetect)
	// many sources, each writing a few registers it never wrote: each a
	// key of its own, each alerted
	const sources, each = 25000, 4
	for i := 0; i < sources*each; i++ {
		client := fmt.Sprintf("10.%d.%d.%d", 1+i/each/62500, (i/each/250)%250, 1+(i/each)%250)
		e.Observe(tx(client, "10.0.0.2", 60+float64(i)*0.001, protocols.OpWrite, 6, "holding_register", uint64(1000+i), 1, 1))
	}
	assert.LessOrEqual(t, len(e.regs), maxRegulated)
	assert.GreaterOrEqual(t, c.kinds()["write_to_unseen_target"], sources*each, "every new target still alerted: %v", c.kinds())
}

// TestFloodOfDistinctDeviations: one trusted client writes 40,000
// registers it never wrote. The first few alert one by one, then one alert
// says it keeps going and counts the rest, summed up with their range when
// the window ends: a handful of alerts, none lost.
func TestFloodOfDistinctDeviations(t *testing.T) {
	e, m, c := newTestEngine(baseline.ModeLearn)
	e.Observe(tx("10.0.0.1", "10.0.0.2", 0, protocols.OpRead, 3, "holding_register", 0, 10))
	e.Observe(tx("10.0.0.1", "10.0.0.2", 1, protocols.OpWrite, 6, "holding_register", 5, 1, 1))
	m.SetMode(baseline.ModeDetect)
	const n = 40000
	for i := 0; i < n; i++ {
		e.Observe(tx("10.0.0.1", "10.0.0.2", 60+float64(i)*0.001, protocols.OpWrite, 6, "holding_register", uint64(1000+i), 1, 1))
	}
	e.Flush()
	got := c.kinds()["write_to_unseen_target"]
	assert.Equal(t, familyAlone+2, got, "five one by one, the family's alert and its summary: %v", c.kinds())
	assert.Equal(t, uint64(got), e.Raised["write_to_unseen_target"], "the summary counts as an alert, as it was written")
	var summary *Alert
	for _, a := range c.alerts {
		if a.Kind == "write_to_unseen_target" && strings.Contains(a.Message, "were counted in one alert") {
			summary = a
		}
	}
	require.NotNil(t, summary)
	assert.Contains(t, summary.Message, "39,995 write_to_unseen_target deviations from 10.0.0.1 on 10.0.0.2")
	assert.True(t, strings.HasSuffix(summary.Message, "not raised one by one: holding_register 1005–40999"), summary.Message)
	assert.Equal(t, uint64(n-familyAlone-1), summary.Repeats)
	inc := e.Incidents()
	require.Len(t, inc, 1)
	assert.LessOrEqual(t, len(inc[0].Alerts), maxIncidentAlerts)
	assert.Equal(t, len(c.alerts), inc[0].AlertCount)
	// a new window: the client keeps going an hour later and alerts again
	e.Observe(tx("10.0.0.1", "10.0.0.2", 7200, protocols.OpWrite, 6, "holding_register", 60000, 1, 1))
	assert.Equal(t, familyAlone+3, c.kinds()["write_to_unseen_target"], "one more, one by one")
}

// TestFloodOutOfOrderFoldsAsInOrder: transactions reach the engine in the
// order their responses came, each timed by its request, so the time steps
// back a little between connections all the time. A family must not end
// on such a step: the same flood, its times shuffled by up to 2 s, folds
// into as many alerts as in order. A step back of more than the fold
// window is a clock reset, which ends the families.
func TestFloodOutOfOrderFoldsAsInOrder(t *testing.T) {
	for _, jitter := range []float64{0, 2} {
		e, m, c := newTestEngine(baseline.ModeLearn)
		e.Observe(tx("10.0.0.1", "10.0.0.2", 0, protocols.OpRead, 3, "holding_register", 0, 10))
		e.Observe(tx("10.0.0.1", "10.0.0.2", 1, protocols.OpWrite, 6, "holding_register", 5, 1, 1))
		m.SetMode(baseline.ModeDetect)
		for i := range 20000 {
			at := 60 + float64(i)*0.01
			if i%2 == 1 {
				at -= jitter // an earlier request answered later
			}
			e.Observe(tx("10.0.0.1", "10.0.0.2", at, protocols.OpWrite, 6, "holding_register", uint64(1000+i), 1, 1))
		}
		assert.Equal(t, familyAlone+1, c.kinds()["write_to_unseen_target"], "jitter %vs: five one by one and the family's alert, still open", jitter)
		e.Observe(tx("10.0.0.1", "10.0.0.2", 60-700, protocols.OpWrite, 6, "holding_register", 70000, 1, 1))
		assert.Equal(t, familyAlone+2, c.kinds()["write_to_unseen_target"], "jitter %vs: a clock 700 s back closes the family: its summary", jitter)
		e.Observe(tx("10.0.0.1", "10.0.0.2", 60-699, protocols.OpWrite, 6, "holding_register", 70001, 1, 1))
		assert.Equal(t, familyAlone+3, c.kinds()["write_to_unseen_target"], "jitter %vs: and the next deviation alerts anew", jitter)
	}
}

// TestFamilyKeepsEvidence: a write to a point never written, counted into
// a family among a hundred others, keeps its frames in the summary; the
// summary's evidence stays bounded however many it counts.
func TestFamilyKeepsEvidence(t *testing.T) {
	e, m, c := newTestEngine(baseline.ModeLearn)
	e.Observe(tx("10.0.0.1", "10.0.0.2", 0, protocols.OpRead, 3, "holding_register", 0, 10))
	m.SetMode(baseline.ModeDetect)
	const n = 1000
	var frameOf [n]uint64
	for i := range n {
		w := tx("10.0.0.1", "10.0.0.2", 60+float64(i)*0.5, protocols.OpWrite, 6, "holding_register", uint64(1000+i), 1, 1)
		frameOf[i] = w.RequestFrame
		e.Observe(w)
	}
	e.Flush()
	var summary *Alert
	for _, a := range c.alerts {
		if strings.Contains(a.Message, "were counted in one alert") {
			summary = a
		}
	}
	require.NotNil(t, summary)
	assert.Contains(t, summary.Frames, frameOf[120], "the 120th deviation's request")
	assert.Len(t, summary.Frames, familyFrames, "bounded")
	assert.NotContains(t, summary.Frames, frameOf[n-1], "past the bound, counted without frames")
}

// A declared maintenance window lowers the engineering alerts, names the
// window in them, ends by itself and survives a restart; attacks keep their
// severity.
func TestMaintenanceWindow(t *testing.T) {
	e, _, c := newTestEngine(baseline.ModeDetect)
	e.SetMaintenance(Maintenance{Until: t0.Add(time.Hour), Reason: "replace CPU in cell 3", By: "alice"})
	b, err := e.MarshalState()
	require.NoError(t, err)
	e2, _, c2 := newTestEngine(baseline.ModeDetect)
	require.NoError(t, e2.UnmarshalState(b))
	assert.Equal(t, "alice", e2.Maintenance().By, "the window survives a restart")

	for _, eng := range []*Engine{e, e2} {
		eng.Observe(tx("10.0.0.1", "10.0.0.2", 60, protocols.OpProgramDownload, 0, "", 0, 0))
		eng.Raise(finding.Finding{Key: finding.NewKey("arp_spoofing", "10.0.0.2", "a", "b"), Time: t0.Add(61 * time.Second), Asset: "10.0.0.2",
			Frames: []uint64{7}, Message: "spoofed"})
		eng.Observe(tx("10.0.0.1", "10.0.0.3", 2*3600, protocols.OpProgramDownload, 0, "", 0, 0)) // after the window
	}
	for _, all := range [][]*Alert{c.alerts, c2.alerts} {
		var got []*Alert // (detection without a baseline adds new_asset and the like)
		for _, a := range all {
			if a.Kind == "program_download" || a.Kind == "arp_spoofing" {
				got = append(got, a)
			}
		}
		require.Len(t, got, 3)
		assert.Equal(t, "program_download", got[0].Kind)
		assert.Equal(t, 6, got[0].Severity, "lowered from 9 during the window")
		assert.Contains(t, got[0].Regulation, "maintenance window alice declared until 2026-03-01T09:00:00Z (replace CPU in cell 3)")
		assert.Equal(t, 9, got[1].Severity, "an attack is not lowered")
		assert.Equal(t, 9, got[2].Severity, "the window ended")
	}
	e.SetMaintenance(Maintenance{})
	assert.True(t, e.Maintenance().Until.IsZero())
}
