package main

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"log"
	"net"
	"slices"
	"strings"
	"time"

	gmodbus "github.com/goburrow/modbus"
)

// Attacks that can be injected.
const (
	AttackRogueWrite     = "rogue-write"     // a second client (another source address if given) writes a setpoint
	AttackOutOfRange     = "out-of-range"    // the usual client writes a setpoint far outside its range
	AttackUnseenRegister = "unseen-register" // the usual client writes a register (node, DB word) it never wrote
	AttackCall           = "call"            // OPC UA: the usual client calls the Reset method
	AttackPLCStop        = "plc-stop"        // S7: the usual client stops the CPU (function 0x29)
)

var allAttacks = []string{AttackRogueWrite, AttackOutOfRange, AttackUnseenRegister, AttackCall, AttackPLCStop}

// Protocols the simulator speaks, and the attacks each can inject.
const (
	ProtoModbus = "modbus"
	ProtoOPCUA  = "opcua"
	ProtoS7     = "s7"
)

var allProtocols = []string{ProtoModbus, ProtoOPCUA, ProtoS7}

var protocolAttacks = map[string][]string{
	ProtoModbus: {AttackRogueWrite, AttackOutOfRange, AttackUnseenRegister},
	ProtoOPCUA:  {AttackRogueWrite, AttackOutOfRange, AttackUnseenRegister, AttackCall},
	ProtoS7:     {AttackRogueWrite, AttackOutOfRange, AttackUnseenRegister, AttackPLCStop},
}

// attacksFor keeps the attacks a protocol can inject, in the given order.
func attacksFor(proto string, attacks []string) []string {
	var out []string
	for _, a := range attacks {
		if slices.Contains(protocolAttacks[proto], a) {
			out = append(out, a)
		}
	}
	return out
}

func parseAttacks(s string) ([]string, error) {
	if s == "" {
		return nil, nil
	}
	var out []string
	for a := range strings.SplitSeq(s, ",") {
		a = strings.TrimSpace(a)
		if a == "all" {
			return allAttacks, nil
		}
		if !slices.Contains(allAttacks, a) {
			return nil, fmt.Errorf("unknown attack %q (known: %s, all)", a, strings.Join(allAttacks, ", "))
		}
		out = append(out, a)
	}
	return out, nil
}

func parseProtocols(s string) ([]string, error) {
	var out []string
	for p := range strings.SplitSeq(s, ",") {
		p = strings.TrimSpace(p)
		if p == "all" {
			return allProtocols, nil
		}
		if !slices.Contains(allProtocols, p) {
			return nil, fmt.Errorf("-protocol %q: want %s or all", p, strings.Join(allProtocols, ", "))
		}
		if !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	return out, nil
}

// clientConfig drives the cyclic client and the attacks.
type clientConfig struct {
	Connect     string        // server host:port
	Source      string        // local IP of the usual client ("" = any)
	RogueSource string        // local IP of the rogue client ("" = any)
	Unit        byte          // Modbus unit id
	Period      time.Duration // one poll cycle
	Attacks     []string
	AttackAfter time.Duration // attacks happen once, this long after the start
	Logger      *log.Logger
}

func (cfg clientConfig) logf(format string, args ...any) {
	if cfg.Logger != nil {
		cfg.Logger.Printf(format, args...)
	}
}

// newClient is a goburrow client; with a source address its transport binds
// to it (goburrow's own TCP transport cannot), otherwise goburrow's is used.
func newClient(connect, source string, unit byte) (gmodbus.Client, io.Closer, error) {
	h := gmodbus.NewTCPClientHandler(connect)
	h.SlaveId = unit
	h.Timeout = 3 * time.Second
	if source == "" {
		return gmodbus.NewClient(h), h, nil
	}
	ip := net.ParseIP(source)
	if ip == nil {
		return nil, nil, fmt.Errorf("source %q is not an IP address", source)
	}
	t := &boundTransport{addr: connect, local: &net.TCPAddr{IP: ip}, timeout: h.Timeout}
	return gmodbus.NewClient2(h, t), t, nil
}

// boundTransport is a Modbus/TCP transport dialling from a chosen source
// address, so a "rogue" client can be another host on one machine.
type boundTransport struct {
	addr    string
	local   net.Addr
	timeout time.Duration
	conn    net.Conn
}

func (t *boundTransport) Send(adu []byte) ([]byte, error) {
	if t.conn == nil {
		d := net.Dialer{Timeout: t.timeout, LocalAddr: t.local}
		c, err := d.Dial("tcp", t.addr)
		if err != nil {
			return nil, err
		}
		t.conn = c
	}
	resp, err := t.exchange(adu)
	if err != nil {
		t.Close()
	}
	return resp, err
}

func (t *boundTransport) exchange(adu []byte) ([]byte, error) {
	if err := t.conn.SetDeadline(time.Now().Add(t.timeout)); err != nil {
		return nil, err
	}
	if _, err := t.conn.Write(adu); err != nil {
		return nil, err
	}
	var hdr [7]byte // MBAP: transaction, protocol, length, unit
	if _, err := io.ReadFull(t.conn, hdr[:]); err != nil {
		return nil, err
	}
	n := int(binary.BigEndian.Uint16(hdr[4:6]))
	if n < 2 || n > 254 {
		return nil, fmt.Errorf("response length %d", n)
	}
	resp := make([]byte, 7+n-1)
	copy(resp, hdr[:])
	if _, err := io.ReadFull(t.conn, resp[7:]); err != nil {
		return nil, err
	}
	return resp, nil
}

func (t *boundTransport) Close() error {
	if t.conn == nil {
		return nil
	}
	err := t.conn.Close()
	t.conn = nil
	return err
}

// setpoint of cycle i: a slow saw-tooth inside the normal range.
func setpoint(i int) uint16 { return uint16(spMin + (i*7)%(spMax-spMin)) }

// runClient (Modbus) polls and writes cyclically until ctx ends; the attacks happen
// once, AttackAfter after the start. Errors of single requests are logged
// and the cycle goes on (the server may restart); a failed attack is returned.
func runClient(ctx context.Context, cfg clientConfig) error {
	logf := cfg.logf
	c, closer, err := newClient(cfg.Connect, cfg.Source, cfg.Unit)
	if err != nil {
		return err
	}
	defer closer.Close()
	tick := time.NewTicker(cfg.Period)
	defer tick.Stop()
	attackAt := time.Now().Add(cfg.AttackAfter)
	attacked := len(cfg.Attacks) == 0
	for i := 0; ; i++ {
		// The normal cycle: read the process values and inputs, write the
		// setpoint; every fifth cycle both setpoints with one request.
		if _, err := c.ReadHoldingRegisters(pvBase, pvCount); err != nil {
			logf("client: read holding: %v", err)
		}
		if _, err := c.ReadInputRegisters(0, 4); err != nil {
			logf("client: read input: %v", err)
		}
		sp := setpoint(i)
		if i%5 == 4 {
			_, err = c.WriteMultipleRegisters(setpointReg, 2, []byte{byte(sp >> 8), byte(sp), byte((sp + 1) >> 8), byte(sp + 1)})
		} else {
			_, err = c.WriteSingleRegister(setpointReg, sp)
		}
		if err != nil {
			logf("client: write setpoint: %v", err)
		}
		if !attacked && !time.Now().Before(attackAt) {
			attacked = true
			if err := attack(cfg, c, logf); err != nil {
				return err
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

func attack(cfg clientConfig, c gmodbus.Client, logf func(string, ...any)) error {
	for _, a := range cfg.Attacks {
		var err error
		switch a {
		case AttackRogueWrite:
			logf("attack: %s: a new client from %q writes setpoint %d := %d", a, cfg.RogueSource, setpointReg, spMin+50)
			var rogue gmodbus.Client
			var closer io.Closer
			rogue, closer, err = newClient(cfg.Connect, cfg.RogueSource, cfg.Unit)
			if err == nil {
				_, err = rogue.WriteSingleRegister(setpointReg, spMin+50)
				closer.Close()
			}
		case AttackOutOfRange:
			logf("attack: %s: setpoint %d := %d (normal %d…%d)", a, setpointReg, 9999, spMin, spMax)
			_, err = c.WriteSingleRegister(setpointReg, 9999)
		case AttackUnseenRegister:
			logf("attack: %s: write register %d, never written before", a, unseenReg)
			_, err = c.WriteSingleRegister(unseenReg, 1)
		}
		if err != nil {
			return fmt.Errorf("attack %s: %w", a, err)
		}
	}
	return nil
}
