package main

import (
	"context"
	"io"
	"log"
	"net"
	"slices"
	"strings"
	"testing"
	"time"
)

func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// rogueLoopback skips unless 127.0.0.2 can be bound: on Linux every
// 127/8 address is loopback, so the rogue client is another host.
func rogueLoopback(t *testing.T) {
	t.Helper()
	probe, err := net.Listen("tcp4", "127.0.0.2:0")
	if err != nil {
		t.Skipf("127.0.0.2 unusable here: %v", err)
	}
	probe.Close()
}

// simulate runs plcsim in-process for 2 s at a 50 ms cycle with every
// attack after 700 ms, the rogue from 127.0.0.2; it returns the PLCs and
// the start time.
func simulate(t *testing.T, args ...string) (*sim, time.Time) {
	t.Helper()
	rogueLoopback(t)
	o, err := parseFlags(append([]string{"-period", "50ms", "-duration", "2s",
		"-attack", "all", "-attack-after", "700ms", "-rogue-source", "127.0.0.2"}, args...), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	s, err := run(context.Background(), o, log.New(io.Discard, "", 0))
	if err != nil {
		t.Fatal(err)
	}
	return s, start
}

// regularCycle checks that most intervals between polls are near 50 ms.
func regularCycle(t *testing.T, polls []time.Time) {
	t.Helper()
	regular := 0
	for i := 1; i < len(polls); i++ {
		if d := polls[i].Sub(polls[i-1]); d > 25*time.Millisecond && d < 150*time.Millisecond {
			regular++
		}
	}
	if regular < (len(polls)-1)*9/10 {
		t.Errorf("only %d of %d poll intervals near 50 ms", regular, len(polls)-1)
	}
}

// attackCheck: each attack seen once, as wanted, after -attack-after.
type attackCheck[R any] struct {
	name string
	got  []R
	want func(R) bool
	when func(R) time.Time
}

func checkAttacks[R any](t *testing.T, start time.Time, checks []attackCheck[R]) {
	t.Helper()
	for _, a := range checks {
		if len(a.got) != 1 || !a.want(a.got[0]) {
			t.Errorf("%s: requests %+v", a.name, a.got)
			continue
		}
		if at := a.when(a.got[0]).Sub(start); at < 700*time.Millisecond {
			t.Errorf("%s at %s, before -attack-after", a.name, at)
		}
	}
}

// The simulator runs in-process on loopback for two seconds; the server
// must have seen the cyclic poll/write pattern and each injected attack once.
func TestCyclicTrafficAndAttacks(t *testing.T) {
	s, start := simulate(t, "-listen", freePort(t))
	if s.OPCUA != nil || s.S7 != nil {
		t.Fatal("-protocol defaults to modbus alone")
	}
	reqs := s.Modbus.Requests()
	var polls []time.Time
	var inputs, singles, multiples int
	var rogue, outOfRange, unseen []Request
	for _, r := range reqs {
		switch {
		case r.Client == "127.0.0.2":
			rogue = append(rogue, r)
		case r.Client != "127.0.0.1" || r.Unit != 1:
			t.Errorf("unexpected request %+v", r)
		case !r.Write && r.Table == "holding" && r.Addr == pvBase && r.Qty == pvCount:
			polls = append(polls, r.Time)
		case !r.Write && r.Table == "input" && r.Addr == 0 && r.Qty == 4:
			inputs++
		case r.Write && r.Addr == setpointReg && slices.Contains(r.Values, 9999):
			outOfRange = append(outOfRange, r)
		case r.Write && r.Addr == unseenReg:
			unseen = append(unseen, r)
		case r.Write && r.Addr == setpointReg && inRange(r.Values):
			if r.Qty == 1 {
				singles++
			} else {
				multiples++
			}
		default:
			t.Errorf("unexpected request %+v", r)
		}
	}
	// The cycle: ~40 polls in 2 s at 50 ms, each with an input read and a setpoint write.
	if len(polls) < 25 || inputs != len(polls) || singles+multiples != len(polls) || multiples != len(polls)/5 {
		t.Errorf("%d polls, %d input reads, %d single + %d multiple setpoint writes", len(polls), inputs, singles, multiples)
	}
	regularCycle(t, polls)
	when := func(r Request) time.Time { return r.Time }
	checkAttacks(t, start, []attackCheck[Request]{
		{AttackRogueWrite, rogue, func(r Request) bool {
			return r.Write && r.Addr == setpointReg && slices.Equal(r.Values, []uint16{spMin + 50})
		}, when},
		{AttackOutOfRange, outOfRange, func(r Request) bool { return r.Qty == 1 }, when},
		{AttackUnseenRegister, unseen, func(r Request) bool { return slices.Equal(r.Values, []uint16{1}) }, when},
	})
}

// OPC UA: the gopcua HMI reads the level and the setpoint and writes the
// setpoint every cycle; a rogue session writes the setpoint, the HMI writes
// 9999 and the interlock, and calls Reset.
func TestOPCUACyclicTrafficAndAttacks(t *testing.T) {
	s, start := simulate(t, "-protocol", "opcua", "-opcua-listen", freePort(t))
	if s.Modbus != nil || s.S7 != nil || s.OPCUA == nil {
		t.Fatalf("PLCs run: %+v", s)
	}
	tank, sp, interlock, reset := uaNode(uaTank).String(), uaNode(uaSetpoint).String(), uaNode(uaInterlock).String(), uaNode(uaReset).String()
	var polls []time.Time
	var writes, sessions int
	var rogue, outOfRange, unseen, calls []UARequest
	for _, r := range s.OPCUA.Requests() {
		switch {
		case r.Status != 0:
			t.Errorf("request failed: %+v", r)
		case r.Service == "read" && slices.Equal(r.Nodes, []string{"i=2255"}):
			sessions++ // gopcua reads the namespace array after activating a session
		case r.Client == "127.0.0.2" && r.Service == "write":
			rogue = append(rogue, r)
		case r.Client != "127.0.0.1":
			t.Errorf("unexpected request %+v", r)
		case r.Service == "read" && slices.Equal(r.Nodes, []string{tank, sp}):
			polls = append(polls, r.Time)
		case r.Service == "write" && slices.Equal(r.Nodes, []string{sp}) && r.Values[0] == 9999.0:
			outOfRange = append(outOfRange, r)
		case r.Service == "write" && slices.Equal(r.Nodes, []string{sp}) && inRangeFloat(r.Values[0]):
			writes++
		case r.Service == "write" && slices.Equal(r.Nodes, []string{interlock}):
			unseen = append(unseen, r)
		case r.Service == "call":
			calls = append(calls, r)
		default:
			t.Errorf("unexpected request %+v", r)
		}
	}
	if len(polls) < 25 || writes != len(polls) || sessions != 2 {
		t.Errorf("%d polls, %d setpoint writes, %d sessions (want 2: the HMI and the rogue)", len(polls), writes, sessions)
	}
	regularCycle(t, polls)
	when := func(r UARequest) time.Time { return r.Time }
	checkAttacks(t, start, []attackCheck[UARequest]{
		{AttackRogueWrite, rogue, func(r UARequest) bool {
			return slices.Equal(r.Nodes, []string{sp}) && slices.Equal(r.Values, []any{float64(spMin + 50)})
		}, when},
		{AttackOutOfRange, outOfRange, func(r UARequest) bool { return len(r.Values) == 1 }, when},
		{AttackUnseenRegister, unseen, func(r UARequest) bool { return slices.Equal(r.Values, []any{true}) }, when},
		{AttackCall, calls, func(r UARequest) bool {
			return slices.Equal(r.Nodes, []string{reset}) && slices.Equal(r.Values, []any{int32(1)})
		}, when},
	})
}

func inRangeFloat(v any) bool {
	f, ok := v.(float64)
	return ok && f >= spMin && f <= spMax
}

// S7: the gos7 HMI connects as rack 0 slot 2, reads DB1.DBB0+20 and writes
// DB1.DBW100 (every fifth cycle DBW100–102) every cycle; a rogue (our
// client, bound to 127.0.0.2) writes the setpoint, the HMI writes 9999 and
// DBW300, and stops the CPU.
func TestS7CyclicTrafficAndAttacks(t *testing.T) {
	s, start := simulate(t, "-protocol", "s7", "-s7-listen", freePort(t))
	if s.Modbus != nil || s.OPCUA != nil || s.S7 == nil {
		t.Fatalf("PLCs run: %+v", s)
	}
	var polls []time.Time
	var singles, multiples int
	var rogue, outOfRange, unseen, stops []S7Request
	connects := map[string]int{}
	for _, r := range s.S7.Requests() {
		w := func(off int, data ...byte) bool {
			return r.Function == "write" && r.Area == "DB1" && r.Start == off && slices.Equal(r.Data, data)
		}
		switch {
		case r.RC != s7RCOK:
			t.Errorf("request failed: %+v", r)
		case r.Function == "connect" && r.Unit == "0/2":
			connects[r.Client]++
		case r.Function == "setup" && r.Size == s7MaxPDU:
			connects[r.Client] += 100
		case r.Client == "127.0.0.2":
			rogue = append(rogue, r)
		case r.Client != "127.0.0.1":
			t.Errorf("unexpected request %+v", r)
		case r.Function == "read" && r.Area == "DB1" && r.Start == s7PVOffset && r.Size == s7PVBytes && r.Items == 1:
			polls = append(polls, r.Time)
		case w(s7SetpointOff, 0x27, 0x0f):
			outOfRange = append(outOfRange, r)
		case w(s7UnseenOff, 0, 1):
			unseen = append(unseen, r)
		case r.Function == "stop":
			stops = append(stops, r)
		case r.Function == "write" && r.Start == s7SetpointOff && r.Size == 2 && inRangeWords(r.Data):
			singles++
		case r.Function == "write" && r.Start == s7SetpointOff && r.Size == 4 && inRangeWords(r.Data):
			multiples++
		default:
			t.Errorf("unexpected request %+v", r)
		}
	}
	if len(polls) < 25 || singles+multiples != len(polls) || multiples != len(polls)/5 {
		t.Errorf("%d polls, %d single + %d double setpoint writes", len(polls), singles, multiples)
	}
	if connects["127.0.0.1"] != 101 || connects["127.0.0.2"] != 101 {
		t.Errorf("connections (CR + 100 × setup) by client: %v", connects)
	}
	regularCycle(t, polls)
	when := func(r S7Request) time.Time { return r.Time }
	checkAttacks(t, start, []attackCheck[S7Request]{
		{AttackRogueWrite, rogue, func(r S7Request) bool {
			return r.Function == "write" && r.Area == "DB1" && r.Start == s7SetpointOff && slices.Equal(r.Data, s7Word(spMin+50))
		}, when},
		{AttackOutOfRange, outOfRange, func(r S7Request) bool { return r.Size == 2 }, when},
		{AttackUnseenRegister, unseen, func(r S7Request) bool { return r.Size == 2 }, when},
		{AttackPLCStop, stops, func(r S7Request) bool { return true }, when},
	})
	if s.S7.Running() {
		t.Error("the CPU still runs after the PLC stop")
	}
}

func inRangeWords(b []byte) bool {
	if len(b) == 0 || len(b)%2 != 0 {
		return false
	}
	for i := 0; i < len(b); i += 2 {
		if v := int(b[i])<<8 | int(b[i+1]); v < spMin || v > spMax {
			return false
		}
	}
	return true
}

func inRange(vs []uint16) bool {
	for _, v := range vs {
		if v < spMin || v > spMax {
			return false
		}
	}
	return len(vs) > 0
}

func TestFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string // error substring, "" for success
	}{
		{nil, ""},
		{[]string{"-role", "server", "-listen", "10.0.0.2:502"}, ""},
		{[]string{"-role", "client", "-connect", "10.0.0.2:502", "-attack", "rogue-write,out-of-range"}, ""},
		{[]string{"-role", "plc"}, "want server, client or all"},
		{[]string{"-attack", "stop"}, `unknown attack "stop"`},
		{[]string{"-protocol", "all", "-attack", "call,plc-stop"}, ""},
		{[]string{"-protocol", "opcua,s7", "-opcua-listen", "10.0.0.2:4840", "-s7-connect", "10.0.0.2:102"}, ""},
		{[]string{"-protocol", "modbus", "-attack", "plc-stop"}, "not for -protocol modbus"},
		{[]string{"-protocol", "opcua", "-attack", "rogue-write,plc-stop"}, "not for -protocol opcua"},
		{[]string{"-protocol", "bacnet"}, `-protocol "bacnet"`},
		{[]string{"-role", "server", "-attack", "all"}, "needs a client"},
		{[]string{"-unit", "300"}, "want 0…255"},
		{[]string{"-period", "0s"}, "positive"},
		{[]string{"extra"}, "unexpected argument"},
	} {
		o, err := parseFlags(tc.args, io.Discard)
		if tc.want == "" {
			if err != nil {
				t.Errorf("%v: %v", tc.args, err)
			}
			if o.connect == "" || o.opcuaConnect == "" || o.s7Connect == "" || len(o.protocols) == 0 {
				t.Errorf("%v: no connect address or protocol: %+v", tc.args, o)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: error %v, want %q", tc.args, err, tc.want)
		}
	}
}
