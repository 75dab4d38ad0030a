package baseline

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/otwatch/otwatch/alerts/finding"
	"github.com/otwatch/otwatch/protocols"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var t0 = time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)

func mtx(client, server string, at time.Duration, op protocols.Op, code int, space string, addr, count uint64, values ...int64) *protocols.Transaction {
	t := &protocols.Transaction{Proto: "modbus", Unit: "1", Op: op, Code: code,
		Client: protocols.Endpoint{IP: netip.MustParseAddr(client)}, Server: protocols.Endpoint{IP: netip.MustParseAddr(server)},
		RequestTime: t0.Add(at), RequestFrame: 1}
	if space != "" {
		t.Targets = []protocols.Target{{Space: space, Address: addr, Count: count}}
	}
	for _, v := range values {
		t.Values = append(t.Values, protocols.IntValue(v))
	}
	return t
}

func kinds(fs []finding.Finding) []string {
	var out []string
	for _, f := range fs {
		out = append(out, f.Kind())
	}
	return out
}

func TestAutoModePerAsset(t *testing.T) {
	m := New(Config{Mode: ModeAuto, LearningPeriod: 10 * time.Minute, StableFor: 2 * time.Minute})
	for i := 0; i < 20; i++ {
		at := time.Duration(i) * time.Minute
		assert.Empty(t, m.Observe(mtx("10.0.0.1", "10.0.0.2", at, protocols.OpRead, 3, "holding_register", 0, 10)))
	}
	assert.False(t, m.Learning(netip.MustParseAddr("10.0.0.2"), t0.Add(20*time.Minute)), "learned for the period and stable")
	// a new PLC appears: announced, and it learns on its own while the old one detects
	fs := m.Observe(mtx("10.0.0.1", "10.0.0.3", 21*time.Minute, protocols.OpRead, 3, "holding_register", 0, 10))
	assert.Equal(t, []string{"new_asset"}, kinds(fs))
	assert.True(t, m.Learning(netip.MustParseAddr("10.0.0.3"), t0.Add(22*time.Minute)))
	assert.Empty(t, m.Observe(mtx("10.0.0.1", "10.0.0.3", 22*time.Minute, protocols.OpWrite, 6, "holding_register", 40, 1, 1)))
	fs = m.Observe(mtx("10.0.0.1", "10.0.0.2", 22*time.Minute, protocols.OpWrite, 6, "holding_register", 40, 1, 1))
	assert.Equal(t, []string{"new_function", "write_to_unseen_target"}, kinds(fs))
	// writing to a register it polls is no silent class: alerted, its severity lowered with the reason
	fs = m.Observe(mtx("10.0.0.1", "10.0.0.2", 23*time.Minute, protocols.OpWrite, 6, "holding_register", 4, 1, 1))
	require.Equal(t, []string{"new_function", "write_to_unseen_target"}, kinds(fs))
	assert.Equal(t, 2, fs[1].Lower)
	assert.Contains(t, fs[1].LowerWhy, "reads these points cyclically")
	// the same write from another host is a new writer
	fs = m.Observe(mtx("10.0.0.7", "10.0.0.2", 23*time.Minute, protocols.OpWrite, 6, "holding_register", 4, 1, 1))
	assert.Equal(t, []string{"new_asset", "write_from_new_client", "write_to_unseen_target"}, kinds(fs))
}

func TestStabilityDelaysDetection(t *testing.T) {
	m := New(Config{Mode: ModeAuto, LearningPeriod: 5 * time.Minute, StableFor: 3 * time.Minute})
	plc := netip.MustParseAddr("10.0.0.2")
	for i := 0; i < 8; i++ {
		// a new register range every minute: never stable
		m.Observe(mtx("10.0.0.1", "10.0.0.2", time.Duration(i)*time.Minute, protocols.OpRead, 3, "holding_register", uint64(i*100), 10))
	}
	assert.True(t, m.Learning(plc, t0.Add(8*time.Minute)), "new keys keep it learning past the period")
	assert.False(t, m.Learning(plc, t0.Add(11*time.Minute)), "three quiet minutes later it detects")
}

func TestOperatorActions(t *testing.T) {
	m := New(Config{Mode: ModeDetect})
	write := mtx("10.0.0.1", "10.0.0.2", time.Minute, protocols.OpWrite, 6, "holding_register", 4, 1, 1)
	assert.NotEmpty(t, m.Observe(write))
	m.Accept(write)
	write.RequestTime = write.RequestTime.Add(time.Minute)
	assert.Empty(t, m.Observe(write), "accepted into the baseline")

	m.SetMode(ModeAuto)
	plc := netip.MustParseAddr("10.0.0.2")
	assert.True(t, m.ExtendLearning(plc, t0.Add(time.Hour)))
	assert.True(t, m.Learning(plc, t0.Add(30*time.Minute)))
	assert.True(t, m.Relearn(plc, t0.Add(2*time.Hour)))
	assert.Equal(t, 0, m.assets[plc].keys, "relearn forgets the keys")
	assert.False(t, m.Relearn(netip.MustParseAddr("10.9.9.9"), t0))
}

func TestExportImportRoundTrip(t *testing.T) {
	m := New(Config{Mode: ModeLearn})
	for i := 0; i < 12; i++ {
		at := time.Duration(i) * 10 * time.Second
		m.Observe(mtx("10.0.0.1", "10.0.0.2", at, protocols.OpRead, 3, "holding_register", 0, 10))
		m.Observe(mtx("10.0.0.1", "10.0.0.2", at, protocols.OpWrite, 16, "holding_register", 20, 2, int64(i), int64(100-i)))
		m.Observe(mtx("10.0.0.5", "10.0.0.2", at, protocols.OpWrite, 5, "coil", 3, 1, int64(i%2)))
	}
	doc := m.Export(t0.Add(time.Hour))
	b, err := json.MarshalIndent(doc, "", "  ")
	require.NoError(t, err)
	back := New(Config{Mode: ModeLearn})
	require.NoError(t, back.UnmarshalState(b))
	b2, err := json.MarshalIndent(back.Export(t0.Add(time.Hour)), "", "  ")
	require.NoError(t, err)
	assert.JSONEq(t, string(b), string(b2), "export → import → export is stable")
	assert.Contains(t, string(b), `"class": "continuous"`)
	assert.Contains(t, string(b), `"class": "enumerated"`)
	// the imported baseline detects like the original
	back.SetMode(ModeDetect)
	fs := back.Observe(mtx("10.0.0.1", "10.0.0.2", 2*time.Hour, protocols.OpWrite, 16, "holding_register", 20, 2, 5000, 3))
	require.Equal(t, []string{"value_out_of_range", "value_out_of_range"}, kinds(fs), "5000 is far above 0..11 at 20; 3 is below 89..100 at 21")
	assert.Equal(t, 0, fs[0].Lower, "an order of magnitude out: full severity")
	assert.Equal(t, 3, fs[1].Lower, "outside, not far: lowered")
}

func TestImportRejectsBadDocuments(t *testing.T) {
	m := New(Config{})
	for _, tc := range []struct{ doc, want string }{
		{`{"version":1,"network":{},"assets":[{"server":"plc1","state":"learning"}]}`, `assets[0] (plc1): server "plc1": not an IP address`},
		{`{"version":1,"network":{},"assets":[{"server":"10.0.0.2","state":"sleeping"}]}`, `state "sleeping"`},
		{`{"version":1,"network":{},"assets":[{"server":"10.0.0.2","state":"learning","functions":[{"client":"10.0.0.1","proto":"modbus","op":"writ"}]}]}`, `functions[0].op "writ": not an operation`},
		{`{"version":1,"network":{},"assets":[{"server":"10.0.0.2","state":"learning","writes":[{"proto":"modbus","space":"coil","ranges":[{"lo":9,"hi":3}]}]}]}`, `writes[0].ranges: range 0: lo 9 above hi 3`},
		{`{"version":1,"network":{},"assets":[],"extra":1}`, `unknown field "extra"`},
		{`{"version":7,"network":{},"assets":[]}`, `version 7`},
		{`{"version":1,`, `unexpected EOF`},
	} {
		err := m.UnmarshalState([]byte(tc.doc))
		require.Error(t, err, tc.doc)
		assert.Contains(t, err.Error(), tc.want)
	}
}

func TestValueClasses(t *testing.T) {
	var constant, enum, counter, setpoint, cont ValueModel
	for i := 0; i < 20; i++ {
		constant.Learn(7)
		enum.Learn(float64(i % 3))
		counter.Learn(float64(i * 2))
		setpoint.Learn(float64(50 + 10*((i/2*7)%10)))
		cont.Learn(float64(100 + (i*37)%50))
	}
	assert.Equal(t, ClassConstant, constant.Class())
	assert.Equal(t, ClassEnumerated, enum.Class())
	assert.Equal(t, ClassCounter, counter.Class())
	assert.Equal(t, ClassSetpoint, setpoint.Class())
	assert.Equal(t, ClassContinuous, cont.Class())
	judge := func(m ValueModel, v float64) Verdict { vd, _ := m.Judge(v, 0.1); return vd }
	assert.Equal(t, Outside, judge(constant, 9), "9 is outside 7 +- max(10% of 7, 1)")
	assert.Equal(t, Fits, judge(constant, 7.5))
	assert.Equal(t, Fits, judge(enum, 2))
	assert.Equal(t, Fits, judge(enum, 1.5), "within the learned range no value alerts: setpoints move between learned values")
	assert.Equal(t, Outside, judge(enum, 4))
	assert.Equal(t, Fits, judge(counter, 10), "a counter written back inside its range")
	assert.Equal(t, Fits, judge(cont, 152), "within the margin")
	assert.Equal(t, Outside, judge(cont, 200))
	assert.Equal(t, Far, judge(cont, 1600), "more than ten times the largest magnitude")
}

func BenchmarkDetect(b *testing.B) {
	m := New(Config{Mode: ModeLearn})
	var txs []*protocols.Transaction
	for plc := 0; plc < 50; plc++ {
		server := fmt.Sprintf("10.1.%d.%d", plc/250, plc%250+1)
		for k := 0; k < 20; k++ {
			at := time.Duration(k) * time.Second
			txs = append(txs, mtx("10.0.0.1", server, at, protocols.OpRead, 3, "holding_register", uint64(k*10), 10))
			txs = append(txs, mtx("10.0.0.1", server, at, protocols.OpWrite, 6, "holding_register", uint64(k), 1, int64(k)))
		}
	}
	for _, tx := range txs {
		m.Observe(tx)
	}
	m.SetMode(ModeDetect)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		tx := txs[i%len(txs)]
		tx.RequestTime = t0.Add(time.Hour + time.Duration(i)*500*time.Millisecond)
		if fs := m.Observe(tx); len(fs) != 0 {
			b.Fatalf("%v", fs)
		}
	}
}

// BenchmarkMemoryPerKey learns 1,000 PLCs × 1,000 keys and reports bytes per key.
func BenchmarkMemoryPerKey(b *testing.B) {
	for i := 0; i < b.N; i++ {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		m := New(Config{Mode: ModeLearn})
		tx := &protocols.Transaction{Proto: "modbus", Unit: "1", Op: protocols.OpRead, Code: 3, RequestFrame: 1, RequestTime: t0,
			Client: protocols.Endpoint{IP: netip.MustParseAddr("10.0.0.1")}, Targets: []protocols.Target{{Space: "holding_register", Count: 1}}}
		for plc := 0; plc < 1000; plc++ {
			tx.Server.IP = netip.AddrFrom4([4]byte{10, 1, byte(plc >> 8), byte(plc)})
			for k := 0; k < 1000; k++ {
				tx.Code = 1 + k%4
				tx.Unit = unitNames[k/4]
				tx.Targets[0].Address = uint64(k)
				m.Observe(tx)
			}
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/float64(m.Keys()), "bytes/key")
		b.ReportMetric(float64(m.Keys()), "keys")
		runtime.KeepAlive(m)
	}
}

var unitNames = func() (s [250]string) {
	for i := range s {
		s[i] = strings.TrimSpace(fmt.Sprint(i))
	}
	return
}()

// TestCaps: a flood of new servers or keys is refused beyond the caps,
// counted, and reported at most once a minute.
func TestCaps(t *testing.T) {
	m := New(Config{Mode: ModeLearn, MaxAssets: 3, MaxKeys: 5})
	var limits []finding.Finding
	for i := 0; i < 400; i++ {
		server := fmt.Sprintf("10.9.%d.%d", i/250, 1+i%250)
		for _, f := range m.Observe(mtx("10.0.0.1", server, time.Duration(i)*time.Second, protocols.OpRead, 3, "holding_register", uint64(i), 1)) {
			if f.Kind() == "limit_reached" {
				limits = append(limits, f)
			}
		}
	}
	assert.Equal(t, 3, m.AssetCount())
	assets, keys := m.Refused()
	assert.Equal(t, uint64(397), assets)
	assert.Equal(t, 3, m.Keys(), "one function each")
	assert.Zero(t, keys)
	require.Len(t, limits, 7, "the first refusal and one a minute after (400 s)")
	assert.Contains(t, limits[0].Message, "at most 3 server assets")
	// keys: the three assets learn more functions than the 5 keys allowed
	for i := 0; i < 10; i++ {
		m.Observe(mtx("10.0.0.1", "10.9.0.1", time.Hour+time.Duration(i)*time.Second, protocols.OpRead, 1+i, "coil", 0, 1))
	}
	_, keys = m.Refused()
	assert.Equal(t, 5, m.Keys())
	assert.Equal(t, uint64(7), keys, "nine new functions (code 3 was learned), two fit")
}

// FuzzValueModel: whatever is learned, the enumeration holds exactly the
// distinct values seen (up to six, from min to max), a learned value is
// never judged out, the document round-trips, and learning as learnPoint
// does (again, else Learn) ends in the same model.
func FuzzValueModel(f *testing.F) {
	f.Add([]byte{0, 1, 0, 1}, uint8(0))
	f.Add([]byte{5, 3, 9, 3, 7, 1, 2}, uint8(1))
	f.Add([]byte{200, 10, 255, 0}, uint8(2))
	f.Fuzz(func(t *testing.T, vals []byte, kind uint8) {
		typ := []protocols.NumType{protocols.TypeReg, protocols.TypeCode, protocols.IntType(16), protocols.FloatType(32)}[kind%4]
		vm, fast := ValueModel{Type: typ}, ValueModel{Type: typ}
		seen := map[float64]bool{}
		for i, b := range vals {
			v := float64(b) - 100
			if kind%4 == 3 {
				v = float64(b)/7 + float64(i)
			}
			vm.Learn(v)
			if !fast.again(v) {
				fast.Learn(v)
			}
			seen[v] = true
		}
		if fast != vm {
			t.Fatalf("again, else Learn: %+v; Learn: %+v", fast, vm)
		}
		if len(vals) == 0 {
			return
		}
		for v := range seen {
			if verdict, why := vm.Judge(v, 0.1); verdict != Fits {
				t.Fatalf("learned %v judged %v (%s)", v, verdict, why)
			}
		}
		if !vm.Many() {
			d := vm.Distinct()
			if len(d) != len(seen) || d[0] != vm.Min || d[len(d)-1] != vm.Max {
				t.Fatalf("distinct %v for %d values seen, min %v max %v", d, len(seen), vm.Min, vm.Max)
			}
		} else if len(seen) <= maxEnum && kind%4 != 3 {
			t.Fatalf("many after %d distinct integers", len(seen))
		}
		back, err := vm.Doc().model(typ)
		if err != nil || back != vm {
			t.Fatalf("document round trip: %v %+v %+v", err, back, vm)
		}
	})
}

// An exported document is a snapshot: the dashboard marshals it after the
// model's lock is released, while the model goes on learning (its target
// ranges grow in place).
func TestExportIsASnapshot(t *testing.T) {
	m := New(Config{Mode: ModeLearn})
	m.Observe(mtx("10.0.0.1", "10.0.0.2", 0, protocols.OpRead, 3, "holding_register", 0, 10))
	m.Observe(mtx("10.0.0.1", "10.0.0.2", 0, protocols.OpRead, 3, "holding_register", 40, 10))
	m.Observe(mtx("10.0.0.1", "10.0.0.2", 0, protocols.OpWrite, 6, "holding_register", 4, 1, 1))
	m.Observe(mtx("10.0.0.1", "10.0.0.2", 0, protocols.OpWrite, 6, "holding_register", 8, 1, 1))
	before, err := json.Marshal(m.Export(t0.Add(time.Minute)))
	require.NoError(t, err)
	doc := m.Export(t0.Add(time.Minute))
	m.Observe(mtx("10.0.0.1", "10.0.0.2", time.Second, protocols.OpRead, 3, "holding_register", 5, 40))
	m.Observe(mtx("10.0.0.1", "10.0.0.2", time.Second, protocols.OpWrite, 6, "holding_register", 5, 1, 1))
	m.Observe(mtx("10.0.0.1", "10.0.0.2", time.Second, protocols.OpWrite, 6, "holding_register", 6, 1, 1))
	for v := range int64(20) {
		m.Observe(mtx("10.0.0.1", "10.0.0.2", time.Second, protocols.OpWrite, 6, "holding_register", 4, 1, -v))
	}
	after, err := json.Marshal(doc)
	require.NoError(t, err)
	assert.JSONEq(t, string(before), string(after), "what the model learned later does not reach the document")
	now, err := json.Marshal(m.Export(t0.Add(time.Minute)))
	require.NoError(t, err)
	assert.NotEqual(t, string(before), string(now), "the model did learn")
}

// A flow's note that both its endpoints are known hosts holds for the
// known-host set it was made in: once an import replaces the set, the
// flow's hosts are new again and alert as such.
func TestFlowNoteOfKnownHosts(t *testing.T) {
	a, b := netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.2")
	m := New(Config{Mode: ModeAuto, LearningPeriod: time.Minute, StableFor: time.Minute})
	memo := &protocols.FlowMemo{}
	m.Observe(mtx("10.0.0.8", "10.0.0.9", 0, protocols.OpRead, 3, "holding_register", 0, 1)) // the network starts learning
	m.LearnFlowHost(a, b, t0.UnixNano(), memo)
	assert.True(t, m.KnownHost(a))
	assert.Zero(t, memo.Known, "one endpoint is not known yet")
	m.LearnFlowHost(b, a, t0.UnixNano(), memo)
	assert.True(t, m.KnownHost(b))
	require.NotZero(t, memo.Known, "both are")
	x := mtx("10.0.0.1", "10.0.0.2", 2*time.Hour, protocols.OpRead, 3, "holding_register", 0, 1)
	x.Memo = memo
	assert.NotContains(t, kinds(m.Observe(x)), "new_asset")

	other := New(Config{Mode: ModeAuto, LearningPeriod: time.Minute, StableFor: time.Minute})
	other.Observe(mtx("10.0.0.8", "10.0.0.9", 0, protocols.OpRead, 3, "holding_register", 0, 1))
	doc, err := json.Marshal(other.Export(t0.Add(time.Hour)))
	require.NoError(t, err)
	require.NoError(t, m.UnmarshalState(doc))
	x = mtx("10.0.0.1", "10.0.0.2", 3*time.Hour, protocols.OpRead, 3, "holding_register", 0, 1)
	x.Memo = memo
	assert.Equal(t, []string{"new_asset", "new_asset"}, kinds(m.Observe(x)), "the note is of the set before the import")
	m.LearnFlowHost(a, b, t0.Add(3*time.Hour).UnixNano(), memo)
	assert.False(t, m.KnownHost(a), "nor does the packet path trust it")
}

// A flow's note that network learning was over while one endpoint was not
// a known host (a host that came after the baseline, talking on) spares its
// later packets the lookups, and holds only for packets no earlier than
// the note and while nothing network learning depends on changes.
func TestFlowNoteOfLearningOver(t *testing.T) {
	a, c, d := netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.3"), netip.MustParseAddr("10.0.0.4")
	m := New(Config{Mode: ModeAuto, LearningPeriod: time.Minute, StableFor: time.Minute})
	m.Observe(mtx("10.0.0.1", "10.0.0.9", 0, protocols.OpRead, 3, "holding_register", 0, 1)) // the network starts learning
	require.True(t, m.KnownHost(a))
	late := t0.Add(time.Hour).UnixNano()

	memo := &protocols.FlowMemo{}
	m.LearnFlowHost(c, a, late, memo)
	assert.False(t, m.KnownHost(c), "learning is over")
	require.NotZero(t, memo.Over, "the flow's note says so")
	m.LearnFlowHost(c, a, t0.Add(time.Second).UnixNano(), memo)
	assert.True(t, m.KnownHost(c), "a packet from before the note, while the network learned, still teaches")

	memo = &protocols.FlowMemo{}
	m.LearnFlowHost(a, d, late, memo)
	require.NotZero(t, memo.Over, "the other endpoint is not known")
	m.SetMode(ModeLearn)
	m.LearnFlowHost(d, a, late+1, memo)
	assert.True(t, m.KnownHost(d), "the mode changed: the note no longer holds")
	m.LearnFlowHost(a, d, late+2, memo)
	assert.NotZero(t, memo.Known, "both endpoints known now")
}

// The transactions' note: once network learning is over and a flow's host
// that is not known was reported new, the flow's later transactions look
// nothing up. A transaction from before the note still teaches, and with
// the set of reported hosts full (each one alerts again) no note is made.
func TestFlowNoteOfReportedHosts(t *testing.T) {
	count := func(fs []finding.Finding) (n int) {
		for _, k := range kinds(fs) {
			if k == "new_asset" {
				n++
			}
		}
		return n
	}
	start := mtx("10.0.0.1", "10.0.0.9", 0, protocols.OpRead, 3, "holding_register", 0, 1) // the network starts learning
	memo := &protocols.FlowMemo{}
	from := func(client string, at time.Duration) *protocols.Transaction {
		x := mtx(client, "10.0.0.9", at, protocols.OpRead, 3, "holding_register", 0, 1)
		x.Memo = memo
		return x
	}
	m := New(Config{Mode: ModeAuto, LearningPeriod: time.Minute, StableFor: time.Minute})
	m.Observe(start)
	assert.Equal(t, 1, count(m.Observe(from("10.0.0.5", time.Hour))))
	require.NotZero(t, memo.Reported, "the flow's note")
	assert.Zero(t, count(m.Observe(from("10.0.0.5", time.Hour+time.Second))), "reported once")
	m.Observe(from("10.0.0.5", time.Second))
	assert.True(t, m.KnownHost(netip.MustParseAddr("10.0.0.5")), "a transaction from before the note, while the network learned, still teaches")

	full := New(Config{Mode: ModeAuto, LearningPeriod: time.Minute, StableFor: time.Minute})
	full.Observe(start)
	full.newHosts = map[netip.Addr]struct{}{}
	for i := range maxHosts {
		full.newHosts[netip.AddrFrom4([4]byte{172, byte(i >> 16), byte(i >> 8), byte(i)})] = struct{}{}
	}
	memo = &protocols.FlowMemo{}
	assert.Equal(t, 1, count(full.Observe(from("10.0.0.6", time.Hour))))
	assert.Zero(t, memo.Reported, "beyond the cap no note")
	assert.Equal(t, 1, count(full.Observe(from("10.0.0.6", time.Hour+time.Second))), "each alerts again")
}

// TestPollsNotJudgedAcrossASilence: two HMIs poll two PLCs every second.
// The monitor then hears nothing at all for three minutes (a SPAN or feed
// outage, a gap between capture files), and the first poll after it is
// the second HMI's: the first HMI's polls, a few milliseconds later, are
// not reported stopped. A silence shorter than the polls' limit blinds
// nothing, and a poll that stops while other traffic is heard still is.
func TestPollsNotJudgedAcrossASilence(t *testing.T) {
	poll := func(client, server string, at time.Duration) *protocols.Transaction {
		return mtx(client, server, at, protocols.OpRead, 3, "holding_register", 0, 10)
	}
	// client 10.0.0.N polls server 10.0.0.N0
	run := func(m *Model, from, to time.Duration, clients ...string) (stopped []string) {
		for at := from; at < to; at += time.Second {
			for i, c := range clients {
				tx := poll(c, c+"0", at+time.Duration(i)*10*time.Millisecond)
				m.Observe(tx)
				for _, f := range findingsOf(m.Tick(tx.Time()), "cyclic_stopped") {
					stopped = append(stopped, f.Message)
				}
			}
		}
		return stopped
	}
	a, b := "10.0.0.1", "10.0.0.2"
	m := New(Config{Mode: ModeLearn})
	run(m, 0, time.Minute, a, b)
	m.SetMode(ModeDetect)
	require.Empty(t, run(m, time.Minute, 2*time.Minute, a, b))
	// nothing heard from 2m to 5m; then b's poll comes 10 ms before a's
	m.Observe(poll(b, b+"0", 5*time.Minute))
	assert.Empty(t, findingsOf(m.Tick(t0.Add(5*time.Minute)), "cyclic_stopped"), "the monitor heard nothing: no poll is known to have stopped")
	assert.Empty(t, run(m, 5*time.Minute+time.Second, 6*time.Minute, a, b))

	// a silence shorter than the polls' limit (10 s): a's poll, gone since
	// before it, is reported as if it had not been
	m.Heard(t0.Add(6*time.Minute + 5*time.Second).UnixNano())
	stopped := run(m, 6*time.Minute+8*time.Second, 7*time.Minute, b)
	require.Len(t, stopped, 1, "a stopped while b was heard")
	assert.Contains(t, stopped[0], "10.0.0.1 stopped polling 10.0.0.10 ")
}

// TestSparseNetworkSilences: a network that learned silences of 40 s (a
// client polling every 3 s that pauses, another polling every 40 s). In
// detection the fast poll stops and only the slow one is heard: its 40 s
// silences are the network's own, so the stop is reported. A five-minute
// silence after that is the monitor's: the polls resuming after it are
// not reported stopped.
func TestSparseNetworkSilences(t *testing.T) {
	poll := func(m *Model, client string, at time.Duration) []finding.Finding {
		tx := mtx(client, client+"0", at, protocols.OpRead, 3, "holding_register", 0, 10)
		m.Observe(tx)
		return findingsOf(m.Tick(tx.Time()), "cyclic_stopped")
	}
	fast, slow := "10.0.0.1", "10.0.0.2"
	m := New(Config{Mode: ModeLearn})
	for at := time.Duration(0); at < 4*time.Minute; at += time.Second {
		if at%(40*time.Second) == 0 {
			poll(m, slow, at)
		}
		if (at < time.Minute || at >= 2*time.Minute) && at%(3*time.Second) == 0 {
			poll(m, fast, at+100*time.Millisecond)
		}
	}
	assert.Equal(t, 40*time.Second, m.quiet.Round(time.Second), "the longest silence while learning")
	m.SetMode(ModeDetect)
	var stopped []finding.Finding
	for at := 4 * time.Minute; at < 8*time.Minute; at += 40 * time.Second {
		stopped = append(stopped, poll(m, slow, at)...)
	}
	require.Len(t, stopped, 1, "the fast poll stopped; the network's own 40 s silences hid nothing")
	assert.Contains(t, stopped[0].Message, "10.0.0.1 stopped polling 10.0.0.10 ")

	// a network learned busy (every 3 s), then nothing heard for five
	// minutes: the monitor's silence
	m2 := New(Config{Mode: ModeLearn})
	for at := time.Duration(0); at < 4*time.Minute; at += time.Second {
		if at%(40*time.Second) == 0 {
			poll(m2, slow, at)
		}
		if at%(3*time.Second) == 0 {
			poll(m2, fast, at+100*time.Millisecond)
		}
	}
	m2.SetMode(ModeDetect)
	stopped = nil
	for _, at := range []time.Duration{9 * time.Minute, 9*time.Minute + 100*time.Millisecond, 9*time.Minute + 3100*time.Millisecond} {
		client := fast
		if at == 9*time.Minute {
			client = slow
		}
		stopped = append(stopped, poll(m2, client, at)...)
	}
	assert.Empty(t, stopped, "five minutes with no packet: no poll is known to have stopped")
}

// TestSlowBurstOverAPartialRate: a client that wrote once while learning
// (no ten seconds of its writes seen) writes five a second for ten
// seconds: under the 1 s threshold, over the 10 s one, which the alert
// says it took as ten times the 1 s peak.
func TestSlowBurstOverAPartialRate(t *testing.T) {
	m := New(Config{Mode: ModeLearn})
	m.Observe(mtx("10.0.0.1", "10.0.0.2", 0, protocols.OpWrite, 6, "holding_register", 5, 1, 7))
	m.SetMode(ModeDetect)
	var msgs []string
	for i := range 50 {
		tx := mtx("10.0.0.1", "10.0.0.2", time.Hour+time.Duration(i)*200*time.Millisecond, protocols.OpWrite, 6, "holding_register", 5, 1, 7)
		for _, f := range findingsOf(m.Observe(tx), "write_burst") {
			msgs = append(msgs, f.Message)
		}
	}
	require.Len(t, msgs, 1)
	assert.Contains(t, msgs[0], "within 10s; at most 1 were learned in any 10s (learning saw less than 10 s of them: ten times their 1 s peak, 10, is the measure)")
}

// A flow's note of its server asset holds for the set of assets it was
// made in and for that server only: after Relearn or an import the flow's
// next transaction learns into the new asset, and a flow whose note names
// another server (a recycled flow) does not take that asset for its own.
func TestFlowNoteOfTheAsset(t *testing.T) {
	plc := netip.MustParseAddr("10.0.0.2")
	m := New(Config{Mode: ModeLearn})
	memo := &protocols.FlowMemo{}
	observe := func(server string, at time.Duration, code int) {
		x := mtx("10.0.0.1", server, at, protocols.OpRead, code, "holding_register", 0, 1)
		x.Memo = memo
		m.Observe(x)
	}
	functions := func(server netip.Addr) int { return len(m.assets[server].functions) }
	observe("10.0.0.2", 0, 3)
	noted := func() *Asset { a, _ := memo.Asset.(*Asset); return a }
	require.Same(t, m.assets[plc], noted(), "the flow notes its asset")

	require.True(t, m.Relearn(plc, t0.Add(time.Minute)))
	observe("10.0.0.2", 2*time.Minute, 4)
	assert.Equal(t, 1, functions(plc), "the relearned asset has only what came after")
	assert.Same(t, m.assets[plc], noted())

	other := New(Config{Mode: ModeLearn})
	other.Observe(mtx("10.0.0.1", "10.0.0.2", 0, protocols.OpRead, 1, "coil", 0, 1))
	doc, err := json.Marshal(other.Export(t0.Add(time.Hour)))
	require.NoError(t, err)
	require.NoError(t, m.UnmarshalState(doc))
	observe("10.0.0.2", 3*time.Minute, 6)
	assert.Equal(t, 2, functions(plc), "the imported asset learns the flow's function")

	observe("10.0.0.3", 4*time.Minute, 16)
	assert.Equal(t, 2, functions(plc), "another server's transaction does not reach this asset")
	assert.Equal(t, 1, functions(netip.MustParseAddr("10.0.0.3")))
}
