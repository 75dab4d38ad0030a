package baseline

// Table tests of the detection rules, each learned from real transactions
// of a capture in the protocols' testdata (see each folder's
// PROVENANCE.md): the attack is the real transaction with one thing
// changed, as an attacker riding the trusted client would change it.

import (
	"encoding/json"
	"math"
	"net/netip"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/otwatch/otwatch/alerts/finding"
	"github.com/otwatch/otwatch/protocols"
	_ "github.com/otwatch/otwatch/protocols/all"
	"github.com/otwatch/otwatch/protocols/corpustest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func testdata(proto, name string) string {
	return filepath.Join("..", "..", "protocols", proto, "testdata", name)
}

// replayed returns a capture's transactions in time order.
func replayed(t *testing.T, path string) []*protocols.Transaction {
	t.Helper()
	txs, _ := corpustest.Replay(t, path)
	out := make([]*protocols.Transaction, len(txs))
	for i := range txs {
		out[i] = &txs[i]
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Time().Before(out[j].Time()) })
	return out
}

// learned is a model in detect mode that learned every transaction.
func learned(txs []*protocols.Transaction) *Model {
	m := New(Config{Mode: ModeLearn})
	for _, tx := range txs {
		m.Observe(tx)
	}
	m.SetMode(ModeDetect)
	return m
}

// clone copies a transaction deeply enough to change it.
func clone(tx *protocols.Transaction, at time.Time) *protocols.Transaction {
	c := *tx
	c.Targets = append([]protocols.Target(nil), tx.Targets...)
	c.Values = append([]protocols.Value(nil), tx.Values...)
	c.Points = append([]protocols.Point(nil), tx.Points...)
	c.RequestTime, c.ResponseTime = at, at
	return &c
}

// setPoint changes one field of every point of a transaction.
func setPoint(tx *protocols.Transaction, field string, v float64) *protocols.Transaction {
	for i := range tx.Points {
		if tx.Points[i].Field == field {
			tx.Points[i].V = v
		}
	}
	return tx
}

// find returns the first transaction the predicate holds for.
func find(t *testing.T, txs []*protocols.Transaction, what string, ok func(*protocols.Transaction) bool) *protocols.Transaction {
	t.Helper()
	for _, tx := range txs {
		if ok(tx) {
			return tx
		}
	}
	t.Fatalf("no transaction %s", what)
	return nil
}

func findingsOf(fs []finding.Finding, kind string) []finding.Finding {
	var out []finding.Finding
	for _, f := range fs {
		if f.Kind() == kind {
			out = append(out, f)
		}
	}
	return out
}

// TestValueModelsFromTheFirstSample: arkime's modbus.pcap, where
// 10.1.1.234 wrote holding register 500 = 80 three times and registers
// 100..102 only 0 and 1. An order of magnitude out, a sign flip or the
// type's extreme alerts at full severity from these few samples; outside
// the learned range by less alerts lowered; inside it, nothing.
func TestValueModelsFromTheFirstSample(t *testing.T) {
	txs := replayed(t, testdata("modbus", "arkime_modbus.pcap"))
	m := learned(txs)
	hr500 := find(t, txs, "writing holding register 500", func(tx *protocols.Transaction) bool {
		return tx.Code == 6 && len(tx.Targets) == 1 && tx.Targets[0].Address == 500
	})
	require.Len(t, hr500.Points, 1)
	assert.Equal(t, protocols.TypeReg, hr500.Points[0].Type)
	hr100 := find(t, txs, "writing holding register 100 = 1", func(tx *protocols.Transaction) bool {
		return tx.Code == 6 && len(tx.Targets) == 1 && tx.Targets[0].Address == 100 && len(tx.Points) == 1 && tx.Points[0].V == 1
	})
	at := hr500.Time().Add(time.Hour)
	for _, tc := range []struct {
		name  string
		tx    *protocols.Transaction
		v     float64
		lower int    // -1: no alert
		why   string // in the message
	}{
		{"the learned value replayed", hr500, 80, -1, ""},
		{"within the margin (10% of the magnitude)", hr500, 87, -1, ""},
		{"outside the learned value, not far", hr500, 120, 3, "outside the learned values {80}"},
		{"ten times the largest learned magnitude", hr500, 900, 0, "more than 10 times the largest magnitude learned (80)"},
		{"negative as an INT where only positives were learned", hr500, 0x8000 + 80, 0, "negative as a signed 16-bit integer (-32688)"},
		{"the register's extreme", hr500, 0xFFFF, 0, "the register16's extreme value"},
		{"a flag register learned 0/1 written 5", hr100, 5, 3, "outside the learned values {0, 1}"},
		{"a flag register learned 0/1 written 11", hr100, 11, 0, "more than 10 times"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			at = at.Add(time.Minute)
			tx := setPoint(clone(tc.tx, at), protocols.FieldValue, tc.v)
			fs := findingsOf(m.Observe(tx), "value_out_of_range")
			if tc.lower < 0 {
				assert.Empty(t, fs)
				return
			}
			require.Len(t, fs, 1)
			assert.Equal(t, tc.lower, fs[0].Lower, fs[0].Message)
			assert.Contains(t, fs[0].Message, tc.why)
		})
	}
}

// TestCommandParameters: icsnpp's dnp3_example.pcap, 134 SELECT/133
// OPERATE of g12v1 CROBs (CLOSE PULSE_ON, count 1, on-time 500 ms) on
// indexes 0..63. The command's operation type, count and times are learned
// per point; an operation type never learned or a parameter an order of
// magnitude out alerts, as does a control on an index never operated.
func TestCommandParameters(t *testing.T) {
	txs := replayed(t, testdata("dnp3", "dnp3_example.pcap"))
	sel := find(t, txs, "a SELECT of a CROB", func(tx *protocols.Transaction) bool {
		return tx.Code == 3 && len(tx.Targets) == 1 && tx.Targets[0].Space == "g12v1"
	})
	fields := map[string]protocols.Point{}
	for _, p := range sel.Points {
		fields[p.Field] = p
	}
	require.Len(t, fields, 4, "operation type, count, on-time and off-time: %+v", sel.Points)
	op, count, on := fields[protocols.FieldOp].V, fields[protocols.FieldCount].V, fields[protocols.FieldOnTime].V
	assert.Equal(t, protocols.TypeCode, fields[protocols.FieldOp].Type)
	assert.Equal(t, 1.0, count)
	assert.Equal(t, 500.0, on)
	m := learned(txs)
	at := sel.Time().Add(time.Hour)
	latchOn := float64(uint8(op)&0xF0 | 0x03)
	for _, tc := range []struct {
		name  string
		field string
		v     float64
		kind  string // "" none
		why   string
	}{
		{"the learned command replayed", protocols.FieldOp, op, "", ""},
		{"an operation type never learned for the point (LATCH_ON)", protocols.FieldOp, latchOn, "value_out_of_range", "a code never learned for this point"},
		{"count 100 times the learned", protocols.FieldCount, 100 * count, "value_out_of_range", "more than 10 times"},
		{"on-time 100 times the learned", protocols.FieldOnTime, 100 * on, "value_out_of_range", "more than 10 times"},
		{"on-time 1.5 times the learned: the same operation", protocols.FieldOnTime, 1.5 * on, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			at = at.Add(time.Minute)
			fs := m.Observe(setPoint(clone(sel, at), tc.field, tc.v))
			if tc.kind == "" {
				assert.Empty(t, fs)
				return
			}
			got := findingsOf(fs, tc.kind)
			require.Len(t, got, 1, "%+v", fs)
			assert.Contains(t, got[0].Message, tc.why)
			assert.Equal(t, 0, got[0].Lower)
		})
	}
	t.Run("a control on an index never operated", func(t *testing.T) {
		seen := map[uint64]bool{}
		for _, tx := range txs {
			if tx.Op == protocols.OpControl {
				for _, tg := range tx.Targets {
					seen[tg.Address] = true
				}
			}
		}
		var idx uint64 = 200
		for seen[idx] {
			idx++
		}
		tx := clone(sel, at.Add(time.Hour))
		tx.Targets[0].Address = idx
		fs := findingsOf(m.Observe(tx), "write_to_unseen_target")
		require.Len(t, fs, 1)
		assert.Contains(t, fs[0].Message, "select (dnp3 3)")
	})
}

// TestMultiByteItemIsOnePoint: the libnodave demo writes M 0..15 as four
// BYTE x4 items; each is one 32-bit point (a DWORD, DINT or REAL tag), not
// four byte points with a quarter of the samples each.
func TestMultiByteItemIsOnePoint(t *testing.T) {
	txs := replayed(t, testdata("s7comm", "s7comm_varservice_libnodavedemo.pcap"))
	w := find(t, txs, "a write of M 0..3", func(tx *protocols.Transaction) bool {
		return tx.Op == protocols.OpWrite && len(tx.Targets) == 1 && tx.Targets[0].Space == "M" && tx.Targets[0].Count == 4
	})
	require.Len(t, w.Values, 4, "the records keep the four bytes")
	require.Len(t, w.Points, 1, "the value models see one point")
	p := w.Points[0]
	assert.Equal(t, protocols.NumType{Kind: protocols.NumRegister, Bits: 32}, p.Type)
	var want uint32
	for _, v := range w.Values {
		want = want<<8 | uint32(v.Int)
	}
	assert.Equal(t, float64(want), p.V)
	m := learned(txs)
	at := w.Time().Add(time.Hour)
	assert.Empty(t, m.Observe(clone(w, at)), "a replay")
	fs := findingsOf(m.Observe(setPoint(clone(w, at.Add(time.Second)), "", float64(^uint32(0)))), "value_out_of_range")
	require.Len(t, fs, 1)
	assert.Contains(t, fs[0].Message, "M 0")
}

// TestWriteBeyondLearnedRange: the libnodave demo writes M 0..15 while
// learning; a write of M 0..211 alerts, and names only what is new.
func TestWriteBeyondLearnedRange(t *testing.T) {
	txs := replayed(t, testdata("s7comm", "s7comm_varservice_libnodavedemo.pcap"))
	w := find(t, txs, "a write of M 0..3", func(tx *protocols.Transaction) bool {
		return tx.Op == protocols.OpWrite && len(tx.Targets) == 1 && tx.Targets[0].Space == "M" && tx.Targets[0].Address == 0
	})
	m := learned(txs)
	wide := clone(w, w.Time().Add(time.Hour))
	wide.Targets[0].Count = 212
	fs := findingsOf(m.Observe(wide), "write_to_unseen_target")
	require.Len(t, fs, 1)
	assert.Contains(t, fs[0].Message, "to M 0..211 on")
	assert.Contains(t, fs[0].Message, "of which M 16..211 no client wrote")

	apart := clone(w, w.Time().Add(2*time.Hour))
	apart.Targets[0].Address = 300
	fs = findingsOf(m.Observe(apart), "write_to_unseen_target")
	require.Len(t, fs, 1)
	assert.Contains(t, fs[0].Message, "M 300..303 on")
	assert.Contains(t, fs[0].Message, ", which no client wrote", "none of it was written")
}

// TestNoSilentClass: modbusBig (zeek), where the HMI polls coils it never
// writes. Writing one is alerted, lowered with the reason.
func TestNoSilentClass(t *testing.T) {
	path := filepath.Join(corpustest.Dir(t), "zeek__zeek/testing/btest/Traces/modbus/modbusBig.pcap")
	txs := replayed(t, path)
	m := learned(txs)
	poll := find(t, txs, "a read of coils", func(tx *protocols.Transaction) bool {
		return tx.Code == 1 && len(tx.Targets) == 1 && tx.Targets[0].Count > 0
	})
	write := find(t, txs, "a coil write by the poller", func(tx *protocols.Transaction) bool {
		return tx.Code == 5 && tx.Client.IP == poll.Client.IP && tx.Server.IP == poll.Server.IP
	})
	// a coil the client polls but never wrote
	written := map[uint64]bool{}
	for _, tx := range txs {
		if tx.Op == protocols.OpWrite && tx.Proto == "modbus" && tx.Server.IP == poll.Server.IP {
			for _, tg := range tx.Targets {
				for a := tg.Address; a <= lastAddress(tg); a++ {
					written[a] = true
				}
			}
		}
	}
	tg := poll.Targets[0]
	addr := tg.Address
	for written[addr] && addr < tg.Address+tg.Count {
		addr++
	}
	require.False(t, written[addr], "every polled coil was written")
	tx := clone(write, write.Time().Add(time.Hour))
	tx.Targets[0].Address = addr
	fs := findingsOf(m.Observe(tx), "write_to_unseen_target")
	require.Len(t, fs, 1)
	assert.Equal(t, 2, fs[0].Lower)
	assert.Contains(t, fs[0].LowerWhy, "reads these points cyclically")
}

// controlsOf picks the control commands (dnp3_example's SELECT/OPERATE).
func controlsOf(txs []*protocols.Transaction) []*protocols.Transaction {
	var out []*protocols.Transaction
	for _, tx := range txs {
		if tx.Op == protocols.OpControl {
			out = append(out, tx)
		}
	}
	return out
}

// TestSlidingRate: the SELECT/OPERATE rate learned on dnp3_example; a
// burst of its real commands well above it alerts once, wherever it falls
// against the clock, and a modestly busier second does not.
func TestSlidingRate(t *testing.T) {
	txs := replayed(t, testdata("dnp3", "dnp3_example.pcap"))
	m := learned(txs)
	controls := controlsOf(txs)
	l := m.assets[controls[0].Server.IP].links[linkKey{m.clients.id(controls[0].Client.IP, false), m.strs.id("dnp3", false)}]
	learnedShort, learnedLong := l.rates[rateControls].MaxShort, l.rates[rateControls].MaxLong
	require.NotZero(t, learnedShort)
	t.Logf("learned: %d controls in 1 s, %d in 10 s", learnedShort, learnedLong)
	for _, offset := range []time.Duration{0, 50 * time.Millisecond, 950 * time.Millisecond, 4950 * time.Millisecond} {
		m := learned(txs)
		start := controls[len(controls)-1].Time().Add(time.Hour).Truncate(10 * time.Second).Add(offset)
		bursts := 0
		// 200 learned commands within 2 s
		for i := 0; i < 200; i++ {
			tx := clone(controls[i%len(controls)], start.Add(time.Duration(i)*10*time.Millisecond))
			bursts += len(findingsOf(m.Observe(tx), "write_burst"))
		}
		assert.Equal(t, 1, bursts, "offset %v: one burst, one alert", offset)
	}
	// the learned peak plus a third, spread as learned: no alert
	m = learned(txs)
	start := controls[len(controls)-1].Time().Add(2 * time.Hour)
	n := int(learnedShort) * 4 / 3
	for i := 0; i < n; i++ {
		tx := clone(controls[i%len(controls)], start.Add(time.Duration(i)*time.Second/time.Duration(n)))
		assert.Empty(t, findingsOf(m.Observe(tx), "write_burst"))
	}
}

// TestResponseWithoutItsRequest: a DNP3 response whose request came
// before capture started (a plant that learns on one capture and detects
// on the next, split between a SELECT and its answer) carries 129, not
// the client's function: detection raises nothing on it and learning
// does not take 129 for a function the client uses.
func TestResponseWithoutItsRequest(t *testing.T) {
	txs := replayed(t, testdata("dnp3", "dnp3_example.pcap"))
	sel := find(t, txs, "a select", func(tx *protocols.Transaction) bool { return tx.Code == 3 && tx.ResponseFrame != 0 })
	orphan := func(at time.Time) *protocols.Transaction {
		tx := clone(sel, at)
		tx.RequestFrame, tx.RequestTime = 0, time.Time{}
		tx.Code, tx.CodeName, tx.Op, tx.FunctionUnknown = 129, "response", protocols.OpRead, true
		tx.Points, tx.Values = nil, nil
		return tx
	}
	m := learned(txs)
	at := txs[len(txs)-1].Time().Add(time.Hour)
	assert.Empty(t, kinds(m.Observe(orphan(at))), "nothing to say of a response to a request not seen")
	known := orphan(at)
	known.FunctionUnknown = false
	assert.Equal(t, []string{"new_function"}, kinds(m.Observe(known)), "the same transaction naming 129 as the client's function is new")

	m = New(Config{Mode: ModeLearn})
	for _, tx := range txs {
		m.Observe(tx)
	}
	m.Observe(orphan(at))
	assert.Nil(t, m.function(m.assets[sel.Server.IP], orphan(at)), "not learned as a function")
}

// TestBurstsInARow: a client that floods again two seconds after a flood
// (its 1 s rate fell back in between, the 10 s window still holds the
// first) is a second burst, and a second alert; one long flood stays one.
// A slow flood, over the learned 10 s count but never over the 1 s one,
// is one burst too.
func TestBurstsInARow(t *testing.T) {
	txs := replayed(t, testdata("dnp3", "dnp3_example.pcap"))
	controls := controlsOf(txs)
	flood := func(m *Model, start time.Time, n int, every time.Duration) (bursts int) {
		for i := range n {
			tx := clone(controls[i%len(controls)], start.Add(time.Duration(i)*every))
			bursts += len(findingsOf(m.Observe(tx), "write_burst"))
		}
		return bursts
	}
	m := learned(txs)
	l := m.assets[controls[0].Server.IP].links[linkKey{m.clients.id(controls[0].Client.IP, false), m.strs.id("dnp3", false)}]
	learnedShort, learnedLong := l.rates[rateControls].MaxShort, l.rates[rateControls].MaxLong
	start := controls[len(controls)-1].Time().Add(time.Hour)
	// enough commands at 100 a second that the 10 s window is over its threshold too
	n := int(burstOver(learnedLong, 2, 10)) + 50
	end := start.Add(time.Duration(n) * 10 * time.Millisecond)
	assert.Equal(t, 1, flood(m, start, n, 10*time.Millisecond), "the first flood")
	assert.Equal(t, 1, flood(m, end.Add(2*time.Second), 200, 10*time.Millisecond),
		"two seconds after it ended, its commands still in the 10 s window: another")
	assert.Equal(t, 1, flood(m, end.Add(30*time.Second), 2000, 10*time.Millisecond), "20 s of flooding: one")

	// a steady rate under the 1 s threshold for 20 s: over the 10 s one
	perSecond := int(burstOver(learnedShort, 2, 10)) * 7 / 8
	require.Greater(t, uint32(10*perSecond), burstOver(learnedLong, 2, 10),
		"learned %d in 1 s and %d in 10 s: %d a second stays under the 10 s threshold", learnedShort, learnedLong, perSecond)
	m = learned(txs)
	assert.Equal(t, 1, flood(m, start, 20*perSecond, time.Second/time.Duration(perSecond)), "a slow flood: one burst, in the 10 s window")
}

// TestFrozenInDetection: whatever arrives while an asset detects, what it
// learned is unchanged: the export before and after (times of last use
// aside) are equal, and a replay of the attack alerts again.
func TestFrozenInDetection(t *testing.T) {
	txs := replayed(t, testdata("dnp3", "dnp3_example.pcap"))
	cut := len(txs) * 6 / 10
	m := New(Config{Mode: ModeLearn})
	for _, tx := range txs[:cut] {
		m.Observe(tx)
	}
	m.SetMode(ModeDetect)
	end := txs[len(txs)-1].Time()
	before := learnedPart(t, m.Export(end))
	sel := find(t, txs, "a SELECT", func(tx *protocols.Transaction) bool { return tx.Code == 3 })
	at := end.Add(time.Minute)
	var attack []*protocols.Transaction
	for i := 0; i < 300; i++ { // a burst of commands with a far on-time, on new indexes, by a new client too
		tx := setPoint(clone(sel, at.Add(time.Duration(i)*time.Millisecond)), protocols.FieldOnTime, 1e6)
		if i%2 == 1 {
			tx.Targets[0].Address = uint64(100 + i%50)
		}
		if i%3 == 0 {
			tx.Client.IP = netip.MustParseAddr("10.10.20.66")
		}
		attack = append(attack, tx)
	}
	for _, tx := range append(txs[cut:], attack...) {
		m.Observe(tx)
	}
	m.Tick(at.Add(time.Hour))
	after := learnedPart(t, m.Export(end))
	if before != after {
		i := 0
		for i < len(before) && i < len(after) && before[i] == after[i] {
			i++
		}
		t.Errorf("detection changed the learned baseline at byte %d: %.200q became %.200q", i, before[max(i-100, 0):], after[max(i-100, 0):])
	}
	assert.Empty(t, Diff(m.Export(end), m.Export(end)))
	fs := m.Observe(clone(attack[2], at.Add(2*time.Hour)))
	assert.NotEmpty(t, findingsOf(fs, "value_out_of_range"), "the attack is still judged by the frozen model")
	fs = m.Observe(clone(attack[1], at.Add(2*time.Hour)))
	assert.NotEmpty(t, findingsOf(fs, "write_to_unseen_target"))
	fs = m.Observe(clone(attack[3], at.Add(3*time.Hour)))
	assert.NotEmpty(t, findingsOf(fs, "write_from_new_client"), "the new client is still new")
}

// learnedPart renders an export without what detection may move (when a
// function was last used), for comparison.
func learnedPart(t *testing.T, doc Document) string {
	t.Helper()
	for i := range doc.Assets {
		for j := range doc.Assets[i].Functions {
			doc.Assets[i].Functions[j].LastSeen = nil
		}
		doc.Assets[i].State = ""
	}
	b, err := json.Marshal(doc)
	require.NoError(t, err)
	return string(b)
}

// TestUnitNotKnownMatches: an S7 connection picked up mid-stream has no
// unit ("" : no COTP setup seen); after the HMI reconnects it is "0/2".
// The same client repeating what it learned is the same client on the
// same PLC; another rack/slot is not.
func TestUnitNotKnownMatches(t *testing.T) {
	txs := replayed(t, testdata("s7comm", "s7comm_varservice_libnodavedemo.pcap"))
	read := find(t, txs, "a read var", func(tx *protocols.Transaction) bool { return tx.Code == 4 })
	m := New(Config{Mode: ModeLearn})
	for _, tx := range txs {
		c := clone(tx, tx.Time())
		c.Unit = "" // as if picked up mid-stream
		m.Observe(c)
	}
	m.SetMode(ModeDetect)
	at := read.Time().Add(time.Hour)
	for _, tc := range []struct {
		unit string
		want []string
	}{{"0/2", nil}, {"", nil}} {
		tx := clone(read, at)
		tx.Unit = tc.unit
		assert.Equal(t, tc.want, kinds(m.Observe(tx)), "unit %q", tc.unit)
	}
	// learned on 0/2, a read on 0/3 is another CPU in the rack
	m = learned(txs)
	tx := clone(read, at)
	tx.Unit = "0/3"
	assert.Equal(t, []string{"new_function"}, kinds(m.Observe(tx)))
	tx = clone(read, at.Add(time.Second))
	tx.Unit = ""
	assert.Empty(t, m.Observe(tx), "a mid-stream pickup of the learned client")
}

// TestUnsolicitedIsNotAFunction: DNP3 unsolicited responses are the
// outstation reporting by itself; they never become a function of the
// master, so a replayed poll does not alert and no poll "stops".
func TestUnsolicitedIsNotAFunction(t *testing.T) {
	txs := replayed(t, testdata("dnp3", "dnp3_example.pcap"))
	var unsol int
	for _, tx := range txs {
		if tx.Outcome == protocols.OutcomeUnsolicited {
			unsol++
			assert.Equal(t, "10.10.20.5", tx.Client.IP.String(), "the master (DIR bit), whoever opened TCP")
		}
	}
	require.NotZero(t, unsol)
	m := learned(txs)
	for k := range m.assets[netip.MustParseAddr("10.10.20.8")].functions {
		assert.NotEqual(t, int32(130), k.code, "an unsolicited response learned as a function")
	}
	for _, k := range keysOf(m) {
		assert.False(t, strings.HasPrefix(k, "10.10.20.8|"), "the outstation as a client: %s", k)
	}
}

// keysOf lists the learned functions as "client|server|code".
func keysOf(m *Model) []string {
	var out []string
	for ip, a := range m.assets {
		for k := range a.functions {
			out = append(out, m.clients.addr(k.client).String()+"|"+ip.String()+"|"+string(rune('0'+k.code%10)))
		}
	}
	return out
}

// BenchmarkDetectCommands: detection of the real SELECT/OPERATE and polls
// of dnp3_example (four typed points per CROB), none deviating.
func BenchmarkDetectCommands(b *testing.B) {
	txs, _ := corpustest.Replay(b, testdata("dnp3", "dnp3_example.pcap"))
	m := New(Config{Mode: ModeLearn})
	for i := range txs {
		m.Observe(&txs[i])
	}
	m.SetMode(ModeDetect)
	start := txs[len(txs)-1].Time().Add(time.Hour)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		tx := &txs[i%len(txs)]
		tx.RequestTime = start.Add(time.Duration(i) * 100 * time.Millisecond)
		tx.ResponseFrame = 0
		if fs := m.Observe(tx); len(fs) != 0 {
			b.Fatalf("%v", fs)
		}
	}
}

// TestOPCUAWritesAndCalls: the open62541 client of icsnpp's mainloop
// capture writes the Int32 node ns=1;s=the.answer (1, then 2) and calls
// method ns=1;i=62541. Values are judged by their Variant type; a node
// never written and a method never called alert.
func TestOPCUAWritesAndCalls(t *testing.T) {
	txs := replayed(t, testdata("opcua", "icsnpp_open62541_mainloop.pcap"))
	m := learned(txs)
	w := find(t, txs, "a write", func(tx *protocols.Transaction) bool { return tx.Code == 673 })
	require.Len(t, w.Points, 1)
	assert.Equal(t, protocols.IntType(32), w.Points[0].Type)
	call := find(t, txs, "a call", func(tx *protocols.Transaction) bool { return tx.Code == 712 })
	at := w.Time().Add(time.Hour)
	for _, tc := range []struct {
		name string
		tx   *protocols.Transaction
		v    float64
		kind string
	}{
		{"a learned value", w, 2, ""},
		{"an order of magnitude out", w, 40, "value_out_of_range"},
		{"negative where only positives were learned", w, -1, "value_out_of_range"},
	} {
		at = at.Add(time.Minute)
		fs := m.Observe(setPoint(clone(tc.tx, at), protocols.FieldValue, tc.v))
		if tc.kind == "" {
			assert.Empty(t, fs, tc.name)
		} else {
			assert.Len(t, findingsOf(fs, tc.kind), 1, tc.name)
		}
	}
	other := clone(w, at.Add(time.Minute))
	other.Targets[0].ID = "ns=1;s=the.valve"
	assert.Len(t, findingsOf(m.Observe(other), "write_to_unseen_target"), 1, "a node never written")
	c := clone(call, at.Add(2*time.Minute))
	c.Targets[1].ID = "ns=1;i=99999"
	fs := findingsOf(m.Observe(c), "write_to_unseen_target")
	require.Len(t, fs, 1, "a method never called")
	assert.Contains(t, fs[0].Message, "ns=1;i=99999")
}

// TestUnansweredPollStillRuns: a poll whose responses the mirror port does
// not carry reaches the model only when the dissector gives up on each
// response (a minute late for S7): it still runs and is no cyclic_stopped,
// until it really stops.
func TestUnansweredPollStillRuns(t *testing.T) {
	txs := replayed(t, testdata("modbus", "icsnpp_modbus_example.pcap"))
	poll := find(t, txs, "a read", func(tx *protocols.Transaction) bool { return tx.Op == protocols.OpRead })
	const period, late = 3 * time.Second, 60 * time.Second
	t0 := poll.Time()
	unanswered := func(i int) *protocols.Transaction {
		tx := clone(poll, t0.Add(time.Duration(i)*period))
		tx.Proto, tx.Outcome, tx.ResponseFrame = "s7comm", protocols.OutcomeNoResponse, 0
		return tx
	}
	m := New(Config{Mode: ModeLearn})
	for i := 0; i < 40; i++ {
		m.Observe(unanswered(i))
	}
	m.SetMode(ModeDetect)
	// detection: request i arrives at request time + late; the clock is
	// the packets', which the next requests on the wire advance
	var stopped []finding.Finding
	for i := 40; i < 200; i++ {
		m.Observe(unanswered(i))
		now := t0.Add(time.Duration(i)*period + late)
		for s := time.Duration(0); s < period; s += time.Second {
			stopped = append(stopped, findingsOf(m.Tick(now.Add(s)), "cyclic_stopped")...)
		}
	}
	assert.Empty(t, stopped, "the poll ran all along")
	// it stops: the alert comes once the late allowance has passed too
	last := t0.Add(199 * period)
	assert.Empty(t, findingsOf(m.Tick(last.Add(late+10*time.Second)), "cyclic_stopped"))
	assert.Len(t, findingsOf(m.Tick(last.Add(late+5*period+10*time.Second)), "cyclic_stopped"), 1, "the poll stopped")
}

// TestPollStoppedWhileTheClientTalks: the DNP3 master of dnp3_example
// class-polls its outstation every second, then only operates it. A poll
// that stops while its client goes on talking to the device is a change
// of what the client reads, not the device lost from view: no
// cyclic_stopped until the client goes quiet too.
func TestPollStoppedWhileTheClientTalks(t *testing.T) {
	txs := replayed(t, testdata("dnp3", "dnp3_example.pcap"))
	m := learned(txs)
	controls := controlsOf(txs)
	start := txs[len(txs)-1].Time().Add(time.Hour)
	var stopped []finding.Finding
	for i := range 120 { // two minutes of commands, no poll
		at := start.Add(time.Duration(i) * time.Second)
		m.Observe(clone(controls[i%len(controls)], at))
		stopped = append(stopped, findingsOf(m.Tick(at), "cyclic_stopped")...)
	}
	assert.Empty(t, stopped, "the master still operates the outstation")
	var codes []string
	for _, f := range findingsOf(m.Tick(start.Add(10*time.Minute)), "cyclic_stopped") {
		codes = append(codes, f.Message[strings.Index(f.Message, "(dnp3 code"):strings.Index(f.Message, ", every")])
	}
	// its class poll, and the SELECT/OPERATE it learned as cyclic too
	assert.Equal(t, []string{"(dnp3 code 1", "(dnp3 code 3", "(dnp3 code 4"}, codes, "the master went quiet: its polls are reported")
}

// TestCyclicStoppedOrderIsStable: two polls of one code with different
// subcodes share the cyclic_stopped key; when both stop, the findings
// come in the same order on every run (the engine folds the second into
// the first, so the order decides which message the alert keeps).
func TestCyclicStoppedOrderIsStable(t *testing.T) {
	txs := replayed(t, testdata("modbus", "icsnpp_modbus_example.pcap"))
	poll := find(t, txs, "a read", func(tx *protocols.Transaction) bool { return tx.Op == protocols.OpRead })
	t0 := poll.Time()
	var first []string
	for run := 0; run < 20; run++ {
		m := New(Config{Mode: ModeLearn})
		for i := 0; i < 40; i++ {
			for sub, period := range map[int]time.Duration{1: 3 * time.Second, 2: 5 * time.Second} {
				tx := clone(poll, t0.Add(time.Duration(i)*period))
				tx.Subcode, tx.HasSubcode = sub, true
				m.Observe(tx)
			}
		}
		m.SetMode(ModeDetect)
		fs := findingsOf(m.Tick(t0.Add(time.Hour)), "cyclic_stopped")
		require.Len(t, fs, 2, "both polls stopped")
		require.Equal(t, fs[0].Key, fs[1].Key, "one key for the two subcodes")
		msgs := []string{fs[0].Message, fs[1].Message}
		if first == nil {
			first = msgs
			assert.Contains(t, msgs[0], "every 3.0 s", "sorted by message")
		}
		assert.Equal(t, first, msgs, "run %d", run)
	}
}

// TestControlsLearnedForLessThanTenSeconds: dnp3_example's master sends
// its SELECT/OPERATE in groups every ~2 s. Learning that ends 6 s after
// its first command saw no ten seconds of them: what it learned for the
// 10 s window is no measure of them, and the same commands for longer in
// detection are no burst. A flood still is, in the 1 s window.
func TestControlsLearnedForLessThanTenSeconds(t *testing.T) {
	txs := replayed(t, testdata("dnp3", "dnp3_example.pcap"))
	controls := controlsOf(txs)
	first := controls[0].Time()
	m := New(Config{Mode: ModeLearn})
	for _, tx := range txs {
		if tx.Time().Sub(first) < 3*time.Second {
			m.Observe(tx)
		}
	}
	l := m.assets[controls[0].Server.IP].links[linkKey{m.clients.id(controls[0].Client.IP, false), m.strs.id("dnp3", false)}]
	r := l.rates[rateControls]
	require.NotNil(t, r)
	assert.True(t, r.Partial, "learned over %s of commands", controls[len(controls)-1].Time().Sub(first))
	m.SetMode(ModeDetect)
	// the capture's commands again, an hour later: more in 10 s than the
	// cut learning ever had
	shift := time.Hour
	var most uint32
	var bursts []string
	for _, tx := range controls {
		for _, f := range findingsOf(m.Observe(clone(tx, tx.Time().Add(shift))), "write_burst") {
			bursts = append(bursts, f.Message)
		}
		most = max(most, r.long)
	}
	require.Greater(t, most, burstOver(r.MaxLong, 2, 10), "the premise: the 10 s window goes over what was learned for it")
	assert.Empty(t, bursts)

	flood := controls[len(controls)-1].Time().Add(2 * shift)
	var n int
	for i := range 200 {
		n += len(findingsOf(m.Observe(clone(controls[i%len(controls)], flood.Add(time.Duration(i)*5*time.Millisecond))), "write_burst"))
	}
	assert.Equal(t, 1, n, "200 commands within a second")

	// learned for longer than ten seconds, the 10 s window counts as learned
	all := learned(txs)
	assert.False(t, all.assets[controls[0].Server.IP].links[linkKey{all.clients.id(controls[0].Client.IP, false), all.strs.id("dnp3", false)}].rates[rateControls].Partial)
}

// TestLearnedPointsAreEachPoints: learning keys a transaction's typed
// points per target (learn's loop), and must land every written number on
// the model eachPoint and pointKey name, one point at a time: the same
// count, minimum and maximum, on captures with block writes (libnodave),
// command parameters (DNP3 CROB fields) and registers (Modbus).
func TestLearnedPointsAreEachPoints(t *testing.T) {
	// a block write of two targets, one addressed by node id, whose points
	// change field and target back and forth, with a point of no target
	block := func(at time.Time, base float64) *protocols.Transaction {
		tx := &protocols.Transaction{Proto: "s7comm", Unit: "0/2", Op: protocols.OpWrite, Code: 5, CodeName: "write_var",
			Client: protocols.Endpoint{IP: netip.MustParseAddr("10.0.0.1")}, Server: protocols.Endpoint{IP: netip.MustParseAddr("10.0.0.2"), Port: 102},
			RequestTime: at, ResponseTime: at, Outcome: protocols.OutcomeOK,
			Targets: []protocols.Target{{Space: "DB1", Address: 100, Count: 40}, {Space: "node", ID: "ns=2;s=Valve"}}}
		u16 := protocols.UintType(16)
		for i := range 40 {
			tx.Points = append(tx.Points, protocols.Point{Target: 0, Element: uint32(i), Field: protocols.FieldValue, Type: u16, V: base + float64(i%7)})
			if i%10 == 9 {
				tx.Points = append(tx.Points, protocols.Point{Target: 1, Field: "count", Type: u16, V: base},
					protocols.Point{Target: 1, Field: protocols.FieldValue, Type: protocols.TypeBool, V: float64(i % 2)},
					protocols.Point{Target: 7, Type: u16, V: 1})
			}
		}
		tx.Points = append(tx.Points, protocols.Point{Target: 0, Element: 3, Sub: 2, Field: protocols.FieldValue, Type: protocols.TypeBool, V: 1})
		return tx
	}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	synthetic := []*protocols.Transaction{block(t0, 0), block(t0.Add(time.Second), -3), block(t0.Add(2*time.Second), 9)}
	for _, path := range []string{
		"synthetic",
		testdata("s7comm", "s7comm_varservice_libnodavedemo.pcap"),
		testdata("dnp3", "dnp3_select_operate.pcap"),
		testdata("modbus", "icsnpp_modbus_example.pcap"),
	} {
		t.Run(filepath.Base(path), func(t *testing.T) {
			txs := synthetic
			if path != "synthetic" {
				txs = replayed(t, path)
			}
			m := New(Config{Mode: ModeLearn})
			type want struct {
				count    uint32
				min, max float64
			}
			wants := map[*Asset]map[pointKey]*want{}
			points := 0
			for _, tx := range txs {
				m.Observe(tx)
				a := m.lookup(tx.Server.IP)
				if a == nil || !tx.Op.ChangesState() {
					continue
				}
				pu := m.puID(tx.Proto, tx.Unit, false)
				eachPoint(tx, func(p pointRef) {
					k, ok := m.pointKey(pu, p, false)
					require.True(t, ok, "a learned point's names are interned: %+v", p)
					if wants[a] == nil {
						wants[a] = map[pointKey]*want{}
					}
					w := wants[a][k]
					if w == nil {
						w = &want{min: p.v, max: p.v}
						wants[a][k] = w
					}
					w.count++
					w.min, w.max = math.Min(w.min, p.v), math.Max(w.max, p.v)
					points++
				})
			}
			require.Greater(t, points, 3)
			for a, ks := range wants {
				require.Equal(t, len(ks), a.points.len(), "no other point was learned")
				for k, w := range ks {
					vm, ok := a.points.get(k)
					require.True(t, ok, "%+v", k)
					assert.Equal(t, w.count, vm.Count, "%+v", k)
					assert.Equal(t, w.min, vm.Min, "%+v", k)
					assert.Equal(t, w.max, vm.Max, "%+v", k)
				}
			}
		})
	}
}

// lower and higher are math.Min and math.Max but for NaN, which Learn
// keeps out.
func TestLowerHigherAreMinMax(t *testing.T) {
	vals := []float64{math.Copysign(0, -1), 0, 1, -1, 0.5, -0.5, math.SmallestNonzeroFloat64, -math.SmallestNonzeroFloat64,
		math.MaxFloat64, -math.MaxFloat64, math.Inf(1), math.Inf(-1), 65535, -32768}
	for _, a := range vals {
		for _, b := range vals {
			assert.Equal(t, math.Float64bits(math.Min(a, b)), math.Float64bits(lower(a, b)), "lower(%v, %v)", a, b)
			assert.Equal(t, math.Float64bits(math.Max(a, b)), math.Float64bits(higher(a, b)), "higher(%v, %v)", a, b)
		}
	}
}

// again is Learn's result for a repeat of the last value, and declines
// anything else: fed the same sequences, a model learning through
// learnPoint's order (again, else Learn) ends equal to one that only
// learns, through repeats, -0 after +0, a set of distinct values filling
// up, and a value float32 cannot hold.
func TestAgainIsLearn(t *testing.T) {
	negZero := math.Copysign(0, -1)
	seqs := [][]float64{
		{5, 5, 5, 7, 7, 5, 5},
		{0, 0, negZero, negZero, 0},
		{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 12, 12, 3, 3},
		{0.1, 0.1, 2, 2, 0.1},
		{-4, -4, 100, 100, 100, -4},
	}
	for _, seq := range seqs {
		var plain, fast ValueModel
		repeats := 0
		for _, v := range seq {
			plain.Learn(v)
			if fast.again(v) {
				repeats++
			} else {
				fast.Learn(v)
			}
			require.Equal(t, plain, fast, "after %v in %v", v, seq)
			for _, f := range [][2]float64{{plain.Min, fast.Min}, {plain.Max, fast.Max}, {plain.Last, fast.Last}} {
				require.Equal(t, math.Float64bits(f[0]), math.Float64bits(f[1]), "bit for bit (-0 is not +0), after %v in %v", v, seq)
			}
		}
		assert.Positive(t, repeats, "%v has repeats the short path took", seq)
	}
	var m ValueModel
	assert.False(t, m.again(0), "nothing learned yet")
	m.Learn(3)
	assert.False(t, m.again(4))
	assert.Equal(t, uint32(1), m.Count, "a declined value is not counted")
	// a model whose last value is not in its set (as a state written
	// otherwise could hold): Learn adds it, so again must leave it to Learn
	odd := ValueModel{Count: 2, Min: 1, Max: 5, Last: 3, n: 2}
	assert.False(t, odd.again(3))
}
