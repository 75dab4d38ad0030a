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

// The simulator runs in-process on loopback for two seconds; the server
// must have seen the cyclic poll/write pattern and each injected attack once.
func TestCyclicTrafficAndAttacks(t *testing.T) {
	// 127.0.0.2 is a loopback address on Linux: the rogue is another host.
	probe, err := net.Listen("tcp4", "127.0.0.2:0")
	if err != nil {
		t.Skipf("127.0.0.2 unusable here: %v", err)
	}
	probe.Close()
	o, err := parseFlags([]string{"-listen", freePort(t), "-period", "50ms", "-duration", "2s",
		"-attack", "all", "-attack-after", "700ms", "-rogue-source", "127.0.0.2"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	p, err := run(context.Background(), o, log.New(io.Discard, "", 0))
	if err != nil {
		t.Fatal(err)
	}
	reqs := p.Requests()
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
	regular := 0
	for i := 1; i < len(polls); i++ {
		if d := polls[i].Sub(polls[i-1]); d > 25*time.Millisecond && d < 150*time.Millisecond {
			regular++
		}
	}
	if regular < (len(polls)-1)*9/10 {
		t.Errorf("only %d of %d poll intervals near 50 ms", regular, len(polls)-1)
	}
	// Each attack exactly once, after -attack-after.
	for _, a := range []struct {
		name string
		got  []Request
		want func(Request) bool
	}{
		{AttackRogueWrite, rogue, func(r Request) bool {
			return r.Write && r.Addr == setpointReg && slices.Equal(r.Values, []uint16{spMin + 50})
		}},
		{AttackOutOfRange, outOfRange, func(r Request) bool { return r.Qty == 1 }},
		{AttackUnseenRegister, unseen, func(r Request) bool { return slices.Equal(r.Values, []uint16{1}) }},
	} {
		if len(a.got) != 1 || !a.want(a.got[0]) {
			t.Errorf("%s: requests %+v", a.name, a.got)
			continue
		}
		if at := a.got[0].Time.Sub(start); at < 700*time.Millisecond {
			t.Errorf("%s at %s, before -attack-after", a.name, at)
		}
	}
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
			if o.connect == "" {
				t.Errorf("%v: no connect address", tc.args)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: error %v, want %q", tc.args, err, tc.want)
		}
	}
}
