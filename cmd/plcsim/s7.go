package main

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"slices"
	"sync"
	"time"
)

// A small S7comm responder: the PLC of the S7 plant. It speaks what an HMI
// or engineering station needs for process data, as an S7-300 does on the
// wire (ISO-on-TCP, RFC 1006):
//
//   - TPKT + COTP class 0: connection request → connection confirm (TSAPs
//     echoed, TPDU size 1024), data TPDUs with EOT reassembly, disconnect;
//   - S7comm job → ack_data: setup communication (PDU size ≤ 480), read var
//     and write var on DB1 and the I, Q and M areas (S7ANY items, per-item
//     return codes), PLC stop (0x29) and PI service (0x28, P_PROGRAM = start)
//     acknowledged with the one-byte parameter a real CPU sends, and the CPU
//     state switched; any other job gets an ack with error 0x8104 (function
//     not implemented). Userdata (SZL, clock...) is not answered.

// The S7 plant's memory map: DB1 holds the process values and setpoints.
const (
	s7Rack, s7Slot = 0, 2 // the CPU the HMI addresses (remote TSAP 0x0102)
	s7DB           = 1    // the one data block
	s7DBSize       = 1024
	s7AreaSize     = 256 // I, Q and M: bytes each
	s7PVOffset     = 0   // DBW0–18: ten INT process values, read cyclically
	s7PVBytes      = 2 * pvCount
	s7SetpointOff  = 100 // DBW100–102: setpoints, written cyclically
	s7UnseenOff    = 300 // DBW300: never written in normal operation
	s7MaxPDU       = 480 // PDU size the responder accepts at most
	s7MaxTPKT      = 4096
	s7MaxTSDU      = 65536
)

// S7 protocol constants (as Wireshark's s7comm dissector names them).
const (
	s7ProtocolID = 0x32
	rosctrJob    = 0x01
	rosctrAck    = 0x02
	rosctrAckDat = 0x03
	rosctrUser   = 0x07

	s7FuncSetup = 0xf0
	s7FuncRead  = 0x04
	s7FuncWrite = 0x05
	s7FuncPI    = 0x28
	s7FuncStop  = 0x29

	s7AreaI  = 0x81
	s7AreaQ  = 0x82
	s7AreaM  = 0x83
	s7AreaDB = 0x84

	cotpCR = 0xe0
	cotpCC = 0xd0
	cotpDR = 0x80
	cotpDT = 0xf0

	// Item return codes.
	s7RCOK         = 0xff
	s7RCOutOfRange = 0x05 // address beyond the area
	s7RCNotSup     = 0x06 // type not supported
	s7RCSize       = 0x07 // data type inconsistent
	s7RCNoObject   = 0x0a // object (DB) does not exist
)

// S7Request is one S7 job (or connection) the responder served.
type S7Request struct {
	Time     time.Time
	Client   string // client IP address
	Unit     string // rack/slot of the CR's called TSAP ("connect" only)
	Function string // connect, setup, read, write, stop, start, other
	Area     string // "DB1", "M", "I", "Q" (first item of read/write)
	Start    int    // byte offset
	Size     int    // bytes
	Data     []byte // written bytes
	Items    int    // items in the job
	RC       byte   // first item's return code
}

// s7PLC is the responder's memory, CPU state and request log.
type s7PLC struct {
	mu      sync.Mutex
	db1     [s7DBSize]byte
	areas   map[byte]*[s7AreaSize]byte
	running bool
	log     ledger[S7Request]
	logger  *log.Logger

	ln    net.Listener
	wg    sync.WaitGroup
	conns map[net.Conn]struct{}
	ref   uint16 // COTP source references handed out
}

func newS7PLC(logger *log.Logger) *s7PLC {
	p := &s7PLC{running: true, logger: logger, conns: map[net.Conn]struct{}{},
		areas: map[byte]*[s7AreaSize]byte{s7AreaI: {}, s7AreaQ: {}, s7AreaM: {}}}
	for i := range pvCount {
		binary.BigEndian.PutUint16(p.db1[s7PVOffset+2*i:], uint16(200+i))
	}
	binary.BigEndian.PutUint16(p.db1[s7SetpointOff:], spMin)
	return p
}

// Requests returns a copy of the log.
func (p *s7PLC) Requests() []S7Request { return p.log.all() }

// Running reports the CPU state (false after a PLC stop).
func (p *s7PLC) Running() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.running
}

func (p *s7PLC) record(r S7Request) {
	if p.logger != nil {
		p.logger.Printf("s7 server: %s %s %s %d+%d %x rc %#02x", r.Client, r.Function, r.Area, r.Start, r.Size, r.Data, r.RC)
	}
	p.log.add(r)
}

// step moves the process values a tenth of the way to the first setpoint
// while the CPU runs (a stopped CPU freezes its outputs).
func (p *s7PLC) step() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.running {
		return
	}
	sp := int(int16(binary.BigEndian.Uint16(p.db1[s7SetpointOff:])))
	for i := range pvCount {
		off := s7PVOffset + 2*i
		v := int(int16(binary.BigEndian.Uint16(p.db1[off:])))
		binary.BigEndian.PutUint16(p.db1[off:], uint16(int16(v+(sp+i-v)/10)))
	}
}

// startS7Server serves the responder on listen (host:port).
func startS7Server(listen string, p *s7PLC) error {
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return fmt.Errorf("s7 server on %s: %w", listen, err)
	}
	p.ln = ln
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			p.mu.Lock()
			p.conns[c] = struct{}{}
			p.mu.Unlock()
			p.wg.Add(1)
			go func() {
				defer p.wg.Done()
				p.serve(c)
				p.mu.Lock()
				delete(p.conns, c)
				p.mu.Unlock()
				c.Close()
			}()
		}
	}()
	return nil
}

// Stop closes the listener and every connection and waits for them.
func (p *s7PLC) Stop() {
	if p.ln != nil {
		p.ln.Close()
	}
	p.mu.Lock()
	for c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
}

// readTPKT reads one TPKT frame (header included) of at most max bytes.
func readTPKT(r io.Reader, max int) ([]byte, error) {
	var hdr [4]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, err
	}
	n := int(binary.BigEndian.Uint16(hdr[2:]))
	if hdr[0] != 3 || hdr[1] != 0 || n < 7 || n > max {
		return nil, fmt.Errorf("bad TPKT header % x", hdr)
	}
	b := make([]byte, n)
	copy(b, hdr[:])
	if _, err := io.ReadFull(r, b[4:]); err != nil {
		return nil, err
	}
	return b, nil
}

// tpktDT wraps an S7 PDU in TPKT and a COTP data TPDU (last unit).
func tpktDT(s7 []byte) []byte {
	b := make([]byte, 7, 7+len(s7))
	b[0], b[1] = 3, 0
	binary.BigEndian.PutUint16(b[2:], uint16(7+len(s7)))
	b[4], b[5], b[6] = 2, cotpDT, 0x80 // LI 2, DT, EOT + TPDU number 0
	return append(b, s7...)
}

// s7PDU builds an S7comm PDU: a 10-byte header (12 for ack and ack_data,
// with the error class and code), the parameter and the data.
func s7PDU(rosctr byte, ref uint16, errClass, errCode byte, param, data []byte) []byte {
	h := 10
	if rosctr == rosctrAck || rosctr == rosctrAckDat {
		h = 12
	}
	b := make([]byte, h, h+len(param)+len(data))
	b[0], b[1] = s7ProtocolID, rosctr
	binary.BigEndian.PutUint16(b[4:], ref)
	binary.BigEndian.PutUint16(b[6:], uint16(len(param)))
	binary.BigEndian.PutUint16(b[8:], uint16(len(data)))
	if h == 12 {
		b[10], b[11] = errClass, errCode
	}
	b = append(b, param...)
	return append(b, data...)
}

// s7Conn is the responder's side of one connection.
type s7Conn struct {
	p       *s7PLC
	c       net.Conn
	client  string
	pduSize int
	tsdu    []byte // DT fragments waiting for EOT
}

func (p *s7PLC) serve(c net.Conn) {
	sc := &s7Conn{p: p, c: c, client: clientIP(c.RemoteAddr().String()), pduSize: s7MaxPDU}
	for {
		if err := c.SetReadDeadline(time.Now().Add(5 * time.Minute)); err != nil {
			return
		}
		f, err := readTPKT(c, s7MaxTPKT)
		if err != nil {
			if p.logger != nil && !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
				p.logger.Printf("s7 server: %s: %v", sc.client, err)
			}
			return
		}
		if !sc.handle(f[4:]) {
			return
		}
	}
}

// handle answers one COTP TPDU; false closes the connection.
func (sc *s7Conn) handle(tpdu []byte) bool {
	li := int(tpdu[0])
	if li < 2 || li+1 > len(tpdu) {
		return false
	}
	switch tpdu[1] & 0xf0 {
	case cotpCR:
		return sc.connect(tpdu[:li+1])
	case cotpDT:
		sc.tsdu = append(sc.tsdu, tpdu[li+1:]...)
		if len(sc.tsdu) > s7MaxTSDU {
			return false
		}
		if tpdu[2]&0x80 == 0 { // more fragments follow
			return true
		}
		pdu := sc.tsdu
		sc.tsdu = nil
		resp := sc.p.job(sc, pdu)
		if resp == nil {
			return true
		}
		_, err := sc.c.Write(tpktDT(resp))
		return err == nil
	default: // DR, ER, anything else: done
		return false
	}
}

// connect answers a connection request with a confirm echoing its TSAPs.
func (sc *s7Conn) connect(cr []byte) bool {
	if len(cr) < 7 {
		return false
	}
	var src, dst []byte
	tpduSize := byte(0x0a) // 1024
	for v := cr[7:]; len(v) >= 2 && len(v) >= 2+int(v[1]); v = v[2+int(v[1]):] {
		switch val := v[2 : 2+int(v[1])]; v[0] {
		case 0xc0:
			if len(val) == 1 && val[0] < tpduSize {
				tpduSize = val[0]
			}
		case 0xc1:
			src = val
		case 0xc2:
			dst = val
		}
	}
	sc.p.mu.Lock()
	sc.p.ref++
	ref := sc.p.ref
	sc.p.mu.Unlock()
	cc := []byte{0, cotpCC, cr[4], cr[5], byte(ref >> 8), byte(ref), 0, 0xc0, 1, tpduSize}
	if src != nil {
		cc = append(cc, 0xc1, byte(len(src)))
		cc = append(cc, src...)
	}
	if dst != nil {
		cc = append(cc, 0xc2, byte(len(dst)))
		cc = append(cc, dst...)
	}
	cc[0] = byte(len(cc) - 1)
	b := []byte{3, 0, 0, 0}
	binary.BigEndian.PutUint16(b[2:], uint16(4+len(cc)))
	unit := ""
	if len(dst) == 2 {
		unit = fmt.Sprintf("%d/%d", dst[1]>>5, dst[1]&0x1f)
	}
	sc.p.record(S7Request{Time: time.Now(), Client: sc.client, Function: "connect", Unit: unit, RC: s7RCOK})
	_, err := sc.c.Write(append(b, cc...))
	return err == nil
}

// job answers one S7comm PDU; nil sends nothing.
func (p *s7PLC) job(sc *s7Conn, b []byte) []byte {
	if len(b) < 10 || b[0] != s7ProtocolID {
		return nil
	}
	rosctr, ref := b[1], binary.BigEndian.Uint16(b[4:])
	r := S7Request{Time: time.Now(), Client: sc.client, Function: "other"}
	if rosctr != rosctrJob {
		p.record(r)
		return nil // userdata and the rest: not served
	}
	pl, dl := int(binary.BigEndian.Uint16(b[6:])), int(binary.BigEndian.Uint16(b[8:]))
	if 10+pl+dl != len(b) || pl < 1 {
		p.record(r)
		return s7PDU(rosctrAck, ref, 0x81, 0x04, nil, nil) // function not implemented or error in telegram
	}
	param, data := b[10:10+pl], b[10+pl:]
	r.RC = s7RCOK
	p.mu.Lock()
	defer p.mu.Unlock()
	switch param[0] {
	case s7FuncSetup:
		if len(param) != 8 {
			break
		}
		size := int(binary.BigEndian.Uint16(param[6:]))
		size = max(min(size, s7MaxPDU), 240)
		sc.pduSize = size
		r.Function, r.Size = "setup", size
		p.record(r)
		ack := slices.Clone(param)
		binary.BigEndian.PutUint16(ack[6:], uint16(size))
		return s7PDU(rosctrAckDat, ref, 0, 0, ack, nil)
	case s7FuncRead:
		items, ok := parseS7Items(param)
		if !ok || len(data) != 0 {
			break
		}
		r.Function, r.Items = "read", len(items)
		var out []byte
		for i, it := range items {
			mem, rc := p.memory(it)
			if i == 0 {
				r.Area, r.Start, r.Size, r.RC = it.areaName(), it.start(), it.bytes(), rc
			}
			if rc != s7RCOK {
				out = append(out, rc, 0, 0, 0)
				continue
			}
			ts, n := it.dataTransport()
			out = append(out, s7RCOK, ts, byte(n>>8), byte(n))
			v := mem[it.start() : it.start()+it.bytes()]
			if it.transport == 0x01 { // BIT
				v = []byte{(v[0] >> (it.address & 7)) & 1}
			}
			out = append(out, v...)
			if len(v)%2 == 1 && i+1 < len(items) {
				out = append(out, 0) // fill byte
			}
		}
		p.record(r)
		if 12+2+len(out) > sc.pduSize {
			return s7PDU(rosctrAckDat, ref, 0x85, 0x00, []byte{s7FuncRead, 0}, nil) // response too large
		}
		return s7PDU(rosctrAckDat, ref, 0, 0, []byte{s7FuncRead, byte(len(items))}, out)
	case s7FuncWrite:
		items, ok := parseS7Items(param)
		if !ok {
			break
		}
		r.Function, r.Items = "write", len(items)
		rcs := make([]byte, len(items))
		d := data
		for i, it := range items {
			rc := byte(s7RCSize)
			var v []byte
			if len(d) >= 4 {
				n := int(binary.BigEndian.Uint16(d[2:]))
				if d[1] == 0x03 || d[1] == 0x04 || d[1] == 0x05 { // length in bits
					n = (n + 7) / 8
				}
				if 4+n <= len(d) {
					v = d[4 : 4+n]
					d = d[4+n:]
					if n%2 == 1 && len(d) > 0 {
						d = d[1:] // fill byte
					}
					rc = p.write(it, v)
				} else {
					d = nil
				}
			}
			rcs[i] = rc
			if i == 0 {
				r.Area, r.Start, r.Size, r.Data, r.RC = it.areaName(), it.start(), it.bytes(), slices.Clone(v), rc
			}
		}
		p.record(r)
		return s7PDU(rosctrAckDat, ref, 0, 0, []byte{s7FuncWrite, byte(len(items))}, rcs)
	case s7FuncStop:
		r.Function = "stop"
		p.running = false
		p.record(r)
		if p.logger != nil {
			p.logger.Printf("s7 server: CPU goes to STOP (requested by %s)", sc.client)
		}
		return s7PDU(rosctrAckDat, ref, 0, 0, []byte{s7FuncStop}, nil)
	case s7FuncPI:
		r.Function = "other"
		if len(param) >= 11 {
			n := int(binary.BigEndian.Uint16(param[8:]))
			if 11+n <= len(param) && 11+n+int(param[10+n]) <= len(param) &&
				string(param[11+n:11+n+int(param[10+n])]) == "P_PROGRAM" {
				r.Function = "start"
				p.running = true
			}
		}
		p.record(r)
		return s7PDU(rosctrAckDat, ref, 0, 0, []byte{s7FuncPI}, nil)
	}
	r.Function = "other"
	r.RC = 0
	p.record(r)
	return s7PDU(rosctrAck, ref, 0x81, 0x04, nil, nil) // function not implemented or error in telegram
}

// s7Item is one S7ANY address of a read/write var job.
type s7Item struct {
	transport byte
	length    int
	db        uint16
	area      byte
	address   int // byte<<3 | bit
}

// parseS7Items reads the item list of a read/write var parameter; only
// S7ANY items (syntax id 0x10) are served.
func parseS7Items(param []byte) ([]s7Item, bool) {
	if len(param) < 2 || int(param[1])*12 != len(param)-2 || param[1] == 0 {
		return nil, false
	}
	items := make([]s7Item, param[1])
	for i := range items {
		s := param[2+12*i : 14+12*i]
		if s[0] != 0x12 || s[1] != 10 || s[2] != 0x10 {
			return nil, false
		}
		items[i] = s7Item{transport: s[3], length: int(binary.BigEndian.Uint16(s[4:])), db: binary.BigEndian.Uint16(s[6:]),
			area: s[8], address: int(s[9])<<16 | int(s[10])<<8 | int(s[11])}
	}
	return items, true
}

func (it s7Item) start() int { return it.address >> 3 }

// size of one element of the item's transport size; 0 if not served.
func (it s7Item) elemSize() int {
	switch it.transport {
	case 0x01, 0x02, 0x03: // BIT, BYTE, CHAR
		return 1
	case 0x04, 0x05, 0x1c, 0x1d: // WORD, INT, COUNTER, TIMER
		return 2
	case 0x06, 0x07, 0x08: // DWORD, DINT, REAL
		return 4
	}
	return 0
}

func (it s7Item) bytes() int {
	if it.transport == 0x01 {
		return 1
	}
	return it.length * it.elemSize()
}

// dataTransport: the data item's transport size and length field for a
// read response (bits for BIT and byte/word/dword, bytes for REAL).
func (it s7Item) dataTransport() (ts byte, n int) {
	switch it.transport {
	case 0x01:
		return 0x03, 1
	case 0x08:
		return 0x07, it.bytes()
	case 0x1c, 0x1d:
		return 0x09, it.bytes()
	}
	return 0x04, 8 * it.bytes()
}

func (it s7Item) areaName() string {
	switch it.area {
	case s7AreaDB:
		return fmt.Sprintf("DB%d", it.db)
	case s7AreaI:
		return "I"
	case s7AreaQ:
		return "Q"
	case s7AreaM:
		return "M"
	}
	return fmt.Sprintf("area %#02x", it.area)
}

// memory returns the area an item addresses, or an item return code.
// The caller holds p.mu.
func (p *s7PLC) memory(it s7Item) ([]byte, byte) {
	var mem []byte
	switch it.area {
	case s7AreaDB:
		if it.db != s7DB {
			return nil, s7RCNoObject
		}
		mem = p.db1[:]
	case s7AreaI, s7AreaQ, s7AreaM:
		mem = p.areas[it.area][:]
	default:
		return nil, s7RCNoObject
	}
	if it.elemSize() == 0 || it.length == 0 {
		return nil, s7RCNotSup
	}
	if it.start()+it.bytes() > len(mem) {
		return nil, s7RCOutOfRange
	}
	return mem, s7RCOK
}

// write stores one data item; the caller holds p.mu.
func (p *s7PLC) write(it s7Item, v []byte) byte {
	mem, rc := p.memory(it)
	if rc != s7RCOK {
		return rc
	}
	if len(v) != it.bytes() {
		return s7RCSize
	}
	if it.transport == 0x01 {
		bit := byte(1) << (it.address & 7)
		if v[0]&1 != 0 {
			mem[it.start()] |= bit
		} else {
			mem[it.start()] &^= bit
		}
		return s7RCOK
	}
	copy(mem[it.start():], v)
	return s7RCOK
}
