//go:build linux

package main

import (
	"context"
	"encoding/binary"
	"io"
	"log"
	"net/netip"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/otwatch/otwatch/alerts"
	"github.com/otwatch/otwatch/learning/baseline"
	"github.com/otwatch/otwatch/protocols"
	_ "github.com/otwatch/otwatch/protocols/all"
	"github.com/otwatch/otwatch/protocols/capture"
	"github.com/otwatch/otwatch/protocols/live"
	"github.com/otwatch/otwatch/protocols/pipeline"
)

// The whole chain on live packets: plcsim's traffic on loopback, captured by
// protocols/live, decoded by the pipeline, learned while the plant runs
// normally, and alerted on when the attacks come (needs root for AF_PACKET).
func TestLiveCaptureLearnsAndAlerts(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root (AF_PACKET on lo)")
	}
	listen := freePort(t)
	serverPort := netip.MustParseAddrPort(listen).Port()
	src, err := live.Open(live.Config{Interfaces: []string{"lo"}, PollTimeout: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	model := baseline.New(baseline.Config{Mode: baseline.ModeLearn})
	var mu sync.Mutex
	kinds := map[string]int{}
	engine := alerts.NewEngine(alerts.Config{}, model, func(a *alerts.Alert) {
		mu.Lock()
		kinds[a.Kind]++
		mu.Unlock()
	})
	const learnFor = 1200 * time.Millisecond
	var ops = map[protocols.Op]int{}
	var first time.Time
	detecting := false
	p := pipeline.New(pipeline.DefaultLimits(), func(tx *protocols.Transaction) {
		if tx.Proto != "modbus" || tx.Server.Port != serverPort {
			return
		}
		ops[tx.Op]++
		if first.IsZero() {
			first = tx.Time()
		}
		if !detecting && tx.Time().Sub(first) > learnFor {
			detecting = true
			model.SetMode(baseline.ModeDetect)
		}
		engine.Observe(tx)
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- src.Run(ctx, func(f capture.Frame) { p.HandleFrame(f) }) }()
	time.Sleep(100 * time.Millisecond)

	o, err := parseFlags([]string{"-listen", listen, "-period", "50ms", "-duration", "2500ms",
		"-attack", "all", "-attack-after", "1800ms", "-rogue-source", "127.0.0.2"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := run(context.Background(), o, log.New(io.Discard, "", 0)); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	p.Flush()
	engine.Flush()
	t.Logf("ops %v, alerts %v, capture %+v", ops, kinds, src.Stats())
	if ops[protocols.OpRead] < 40 || ops[protocols.OpWrite] < 20 {
		t.Errorf("transactions by op %v: want the cyclic reads and writes", ops)
	}
	for _, kind := range []string{"write_from_new_client", "value_out_of_range", "write_to_unseen_target"} {
		if kinds[kind] == 0 {
			t.Errorf("no %s alert (alerts %v)", kind, kinds)
		}
	}
}

// onPorts reports whether an Ethernet/IPv4/TCP frame has one of ports as
// its source or destination port: other tests' loopback traffic is kept
// out of the pipeline, so its stats concern plcsim's flows alone.
func onPorts(data []byte, ports ...uint16) bool {
	if len(data) < 14+20 || data[12] != 0x08 || data[13] != 0x00 {
		return false
	}
	ip := data[14:]
	ihl := int(ip[0]&0x0f) * 4
	if ip[9] != 6 || len(ip) < ihl+4 {
		return false
	}
	src, dst := binary.BigEndian.Uint16(ip[ihl:]), binary.BigEndian.Uint16(ip[ihl+2:])
	return slices.Contains(ports, src) || slices.Contains(ports, dst)
}

// The OPC UA and S7 plants on live packets: plcsim runs with every attack
// while protocols/live captures lo; the pipeline with every dissector must
// decode the cyclic reads and writes and each attack (the rogue write, the
// out-of-range and unseen writes, the Call of Reset, the PLC stop as op
// "stop") without a single anomaly (needs root for AF_PACKET).
func TestLiveOPCUAAndS7Decoded(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root (AF_PACKET on lo)")
	}
	rogueLoopback(t)
	uaListen, s7Listen := freePort(t), freePort(t)
	uaPort, s7Port := netip.MustParseAddrPort(uaListen).Port(), netip.MustParseAddrPort(s7Listen).Port()
	src, err := live.Open(live.Config{Interfaces: []string{"lo"}, PollTimeout: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	var txs []protocols.Transaction
	p := pipeline.New(pipeline.DefaultLimits(), func(tx *protocols.Transaction) { txs = append(txs, *tx) })
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- src.Run(ctx, func(f capture.Frame) {
			if onPorts(f.Data, uaPort, s7Port) {
				p.HandleFrame(f)
			}
		})
	}()
	time.Sleep(100 * time.Millisecond)
	o, err := parseFlags([]string{"-protocol", "opcua,s7", "-opcua-listen", uaListen, "-s7-listen", s7Listen,
		"-period", "100ms", "-duration", "1500ms", "-attack", "all", "-attack-after", "700ms", "-rogue-source", "127.0.0.2"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := run(context.Background(), o, log.New(io.Discard, "", 0)); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	p.Flush()
	t.Logf("transactions %d, anomalies %v, capture %+v", p.Stats.TransactionsTotal(), p.Stats.Anomalies, src.Stats())
	if len(p.Stats.Anomalies) != 0 || p.Stats.Gaps != 0 {
		t.Errorf("anomalies %v, %d TCP gaps", p.Stats.Anomalies, p.Stats.Gaps)
	}
	if p.Stats.IdentifiedFlows["opcua"] != 2 || p.Stats.IdentifiedFlows["s7comm"] != 2 || p.Stats.UnknownFlows != 0 {
		t.Errorf("flows: identified %v, unknown %d (want the HMI's and the rogue's per protocol)", p.Stats.IdentifiedFlows, p.Stats.UnknownFlows)
	}
	// count: the transactions of proto with op that match pred.
	count := func(proto string, op protocols.Op, pred func(*protocols.Transaction) bool) int {
		n := 0
		for i := range txs {
			tx := &txs[i]
			if tx.Proto == proto && tx.Op == op && pred(tx) {
				n++
			}
		}
		return n
	}
	target := func(space, id string, addr uint64) func(*protocols.Transaction) bool {
		return func(tx *protocols.Transaction) bool {
			return len(tx.Targets) == 1 && tx.Targets[0].Space == space && tx.Targets[0].ID == id && tx.Targets[0].Address == addr
		}
	}
	and := func(fs ...func(*protocols.Transaction) bool) func(*protocols.Transaction) bool {
		return func(tx *protocols.Transaction) bool {
			for _, f := range fs {
				if !f(tx) {
					return false
				}
			}
			return true
		}
	}
	from := func(ip string) func(*protocols.Transaction) bool {
		return func(tx *protocols.Transaction) bool { return tx.Client.IP.String() == ip }
	}
	values := func(vs ...protocols.Value) func(*protocols.Transaction) bool {
		return func(tx *protocols.Transaction) bool { return slices.Equal(tx.Values, vs) }
	}
	all := func(*protocols.Transaction) bool { return true }
	for i := range txs {
		if tx := &txs[i]; tx.Outcome != protocols.OutcomeOK || len(tx.Anomalies) != 0 || tx.Encrypted {
			t.Errorf("transaction %s %s outcome %s anomalies %v", tx.Proto, tx.CodeName, tx.Outcome, tx.Anomalies)
		}
	}
	uaSP := target("node", uaNode(uaSetpoint).String(), 0)
	for _, c := range []struct {
		what  string
		proto string
		op    protocols.Op
		pred  func(*protocols.Transaction) bool
		min   int // at least; 0: exactly one
	}{
		{"opcua sessions", "opcua", protocols.OpSession, all, 8},
		{"opcua cyclic reads", "opcua", protocols.OpRead, func(tx *protocols.Transaction) bool { return len(tx.Targets) == 2 }, 10},
		{"opcua cyclic writes", "opcua", protocols.OpWrite, and(uaSP, from("127.0.0.1"), func(tx *protocols.Transaction) bool {
			return len(tx.Values) == 1 && tx.Values[0].Kind == protocols.ValueFloat && tx.Values[0].F >= spMin && tx.Values[0].F <= spMax
		}), 10},
		{"opcua rogue write", "opcua", protocols.OpWrite, and(uaSP, from("127.0.0.2"), values(protocols.FloatValue(spMin+50))), 0},
		{"opcua out-of-range", "opcua", protocols.OpWrite, and(uaSP, values(protocols.FloatValue(9999))), 0},
		{"opcua unseen", "opcua", protocols.OpWrite, and(target("node", uaNode(uaInterlock).String(), 0), values(protocols.BoolValue(true))), 0},
		{"opcua call", "opcua", protocols.OpControl, func(tx *protocols.Transaction) bool {
			return slices.ContainsFunc(tx.Targets, func(tg protocols.Target) bool { return tg.ID == uaNode(uaReset).String() })
		}, 0},
		{"s7 setup", "s7comm", protocols.OpSession, all, 2},
		{"s7 cyclic reads", "s7comm", protocols.OpRead, and(target("db1", "", s7PVOffset), func(tx *protocols.Transaction) bool {
			return tx.Targets[0].Count == s7PVBytes
		}), 10},
		{"s7 cyclic writes", "s7comm", protocols.OpWrite, and(target("db1", "", s7SetpointOff), from("127.0.0.1"), func(tx *protocols.Transaction) bool {
			return len(tx.Values) == 2 || len(tx.Values) == 4
		}), 10},
		{"s7 rogue write", "s7comm", protocols.OpWrite, and(target("db1", "", s7SetpointOff), from("127.0.0.2")), 0},
		{"s7 out-of-range", "s7comm", protocols.OpWrite, and(target("db1", "", s7SetpointOff), values(protocols.IntValue(0x27), protocols.IntValue(0x0f))), 0},
		{"s7 unseen", "s7comm", protocols.OpWrite, target("db1", "", s7UnseenOff), 0},
		{"s7 PLC stop", "s7comm", protocols.OpStop, func(tx *protocols.Transaction) bool {
			return tx.Code == s7FuncStop && tx.ResponseFrame != 0
		}, 0},
	} {
		n := count(c.proto, c.op, c.pred)
		if (c.min == 0 && n != 1) || n < c.min {
			t.Errorf("%s: %d transactions", c.what, n)
		}
	}
}
