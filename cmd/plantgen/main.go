// Command plantgen writes synthetic captures for benchmarks and load
// tests, so anyone can rerun the figures in the README:
//
//	plantgen -plant 10000x100 -o plant.pcap   # 10,000 Modbus servers x 100 registers, polled and written
//	plantgen -flood 160000 -o flood.pcap      # a learned HMI, then 160,000 writes to distinct registers
//	plantgen -hosts 100000 -o hosts.pcap      # 100,000 hosts opening plain TCP connections
//
// The packets are real Ethernet/IPv4/TCP with handshakes, consecutive
// sequence numbers and correct checksums; Modbus PDUs are well formed and
// answered. Times advance by -gap per transaction from -start. It is never
// part of the appliance image.
package main

import (
	"bufio"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

type options struct {
	out              string
	plantN, plantM   int
	flood, hosts     int
	learnPolls       int
	normal           int
	part             string
	start            time.Time
	gap              time.Duration
	pollsPerRegister int
}

func parse(args []string, stderr io.Writer) (options, error) {
	var o options
	var plant, start string
	fs := flag.NewFlagSet("plantgen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.out, "o", "", "output pcap file (- for stdout)")
	fs.StringVar(&plant, "plant", "", "NxM: N Modbus servers, M holding registers each, polled in blocks of up to 100 and each written once")
	fs.IntVar(&o.flood, "flood", 0, "N: an HMI polls and writes registers 0..9 of one PLC, then writes N distinct registers 1000.. once each")
	fs.IntVar(&o.learnPolls, "learn", 600, "flood: learned transactions before the flood")
	fs.IntVar(&o.normal, "normal", 0, "flood: learned transactions (polls and writes as before) after the flood")
	fs.StringVar(&o.part, "part", "all", "flood: all, learn (the learned part only) or detect (the flood and what follows, on a connection picked up mid-stream)")
	fs.IntVar(&o.hosts, "hosts", 0, "N: N distinct hosts each open one TCP connection to a web server")
	fs.IntVar(&o.pollsPerRegister, "cycles", 1, "plant: poll cycles")
	fs.StringVar(&start, "start", "2026-01-05T08:00:00Z", "time of the first packet (RFC 3339)")
	fs.DurationVar(&o.gap, "gap", time.Millisecond, "time between transactions")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: plantgen (-plant NxM | -flood N | -hosts N) -o FILE [-start T] [-gap D]")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	var err error
	if o.start, err = time.Parse(time.RFC3339, start); err != nil {
		return o, fmt.Errorf("-start: %v", err)
	}
	if plant != "" {
		n, m, ok := strings.Cut(plant, "x")
		if o.plantN, err = strconv.Atoi(n); !ok || err != nil || o.plantN <= 0 {
			return o, fmt.Errorf("-plant %q: want NxM", plant)
		}
		if o.plantM, err = strconv.Atoi(m); err != nil || o.plantM <= 0 || o.plantM > 65536 {
			return o, fmt.Errorf("-plant %q: want NxM with M at most 65536", plant)
		}
	}
	modes := 0
	for _, on := range []bool{plant != "", o.flood > 0, o.hosts > 0} {
		if on {
			modes++
		}
	}
	switch {
	case modes != 1:
		return o, errors.New("give exactly one of -plant, -flood, -hosts")
	case o.out == "":
		return o, errors.New("-o FILE is required")
	case o.part != "all" && o.part != "learn" && o.part != "detect":
		return o, fmt.Errorf("-part %q: want all, learn or detect", o.part)
	case o.plantN > 1<<20 || o.hosts > 1<<22:
		return o, errors.New("at most 1,048,576 servers and 4,194,304 hosts (addresses 10.0.0.0/8)")
	}
	return o, nil
}

func run(args []string, stdout, stderr io.Writer) int {
	o, err := parse(args, stderr)
	if err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintf(stderr, "plantgen: %v\n", err)
		}
		return 2
	}
	var w io.Writer = stdout
	if o.out != "-" {
		f, err := os.Create(o.out)
		if err != nil {
			fmt.Fprintf(stderr, "plantgen: %v\n", err)
			return 2
		}
		defer f.Close()
		w = f
	}
	g := newGen(w, o.start, o.gap)
	switch {
	case o.plantN > 0:
		g.plant(o.plantN, o.plantM, o.pollsPerRegister)
	case o.flood > 0:
		g.flood(o.learnPolls, o.flood, o.normal, o.part)
	default:
		g.hosts(o.hosts)
	}
	if err := g.close(); err != nil {
		fmt.Fprintf(stderr, "plantgen: %v\n", err)
		return 1
	}
	fmt.Fprintf(stderr, "plantgen: %d packets to %s\n", g.packets, o.out)
	return 0
}

// gen writes a pcap of TCP conversations.
type gen struct {
	w       *bufio.Writer
	now     time.Time
	gap     time.Duration
	packets int
	err     error
	buf     []byte
}

func newGen(w io.Writer, start time.Time, gap time.Duration) *gen {
	g := &gen{w: bufio.NewWriterSize(w, 1<<20), now: start, gap: gap}
	var hdr [24]byte
	binary.LittleEndian.PutUint32(hdr[0:], 0xa1b23c4d) // nanosecond pcap
	binary.LittleEndian.PutUint16(hdr[4:], 2)
	binary.LittleEndian.PutUint16(hdr[6:], 4)
	binary.LittleEndian.PutUint32(hdr[16:], 65535)
	binary.LittleEndian.PutUint32(hdr[20:], 1) // Ethernet
	g.write(hdr[:])
	return g
}

func (g *gen) write(b []byte) {
	if g.err == nil {
		_, g.err = g.w.Write(b)
	}
}

func (g *gen) close() error {
	if err := g.w.Flush(); g.err == nil {
		g.err = err
	}
	return g.err
}

// conn is one TCP connection between two hosts.
type conn struct {
	cip, sip     [4]byte
	cport, sport uint16
	cseq, sseq   uint32
	g            *gen
}

func ip4(n uint32) [4]byte { return [4]byte{byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)} }

func mac(ip [4]byte) [6]byte { return [6]byte{0x02, 0x00, ip[0], ip[1], ip[2], ip[3]} }

// open makes a connection and writes its handshake.
func (g *gen) open(client, server [4]byte, cport, sport uint16) *conn {
	c := &conn{cip: client, sip: server, cport: cport, sport: sport, cseq: 1000, sseq: 5000, g: g}
	c.segment(true, 0x02, nil)
	c.segment(false, 0x12, nil)
	c.segment(true, 0x10, nil)
	return c
}

// exchange sends a request and its answer.
func (c *conn) exchange(req, resp []byte) {
	c.segment(true, 0x18, req)
	c.segment(false, 0x18, resp)
	c.g.now = c.g.now.Add(c.g.gap)
}

func (c *conn) close() {
	c.segment(true, 0x11, nil)
	c.segment(false, 0x11, nil)
	c.segment(true, 0x10, nil)
}

// segment writes one TCP segment in either direction.
func (c *conn) segment(fromClient bool, flags byte, payload []byte) {
	g := c.g
	src, dst, sp, dp, seq, ack := c.cip, c.sip, c.cport, c.sport, &c.cseq, c.sseq
	if !fromClient {
		src, dst, sp, dp, seq, ack = c.sip, c.cip, c.sport, c.cport, &c.sseq, c.cseq
	}
	if flags&0x10 == 0 {
		ack = 0
	}
	n := 14 + 20 + 20 + len(payload)
	b := g.buf[:0]
	if cap(b) < n {
		b = make([]byte, 0, n+64)
	}
	b = b[:n]
	dm, sm := mac(dst), mac(src)
	copy(b[0:], dm[:])
	copy(b[6:], sm[:])
	b[12], b[13] = 0x08, 0x00
	ip := b[14:34]
	ip[0], ip[1] = 0x45, 0
	binary.BigEndian.PutUint16(ip[2:], uint16(20+20+len(payload)))
	binary.BigEndian.PutUint16(ip[4:], uint16(g.packets))
	ip[6], ip[7], ip[8], ip[9] = 0x40, 0, 64, 6
	ip[10], ip[11] = 0, 0
	copy(ip[12:], src[:])
	copy(ip[16:], dst[:])
	binary.BigEndian.PutUint16(ip[10:], checksum(ip, 0))
	tcp := b[34:]
	binary.BigEndian.PutUint16(tcp[0:], sp)
	binary.BigEndian.PutUint16(tcp[2:], dp)
	binary.BigEndian.PutUint32(tcp[4:], *seq)
	binary.BigEndian.PutUint32(tcp[8:], ack)
	tcp[12], tcp[13] = 5<<4, flags
	binary.BigEndian.PutUint16(tcp[14:], 65535)
	tcp[16], tcp[17], tcp[18], tcp[19] = 0, 0, 0, 0
	copy(tcp[20:], payload)
	var pseudo uint32
	pseudo += uint32(src[0])<<8 | uint32(src[1])
	pseudo += uint32(src[2])<<8 | uint32(src[3])
	pseudo += uint32(dst[0])<<8 | uint32(dst[1])
	pseudo += uint32(dst[2])<<8 | uint32(dst[3])
	pseudo += 6 + uint32(len(tcp))
	binary.BigEndian.PutUint16(tcp[16:], checksum(tcp, pseudo))
	adv := uint32(len(payload))
	if flags&0x03 != 0 { // SYN, FIN
		adv++
	}
	*seq += adv
	var rec [16]byte
	binary.LittleEndian.PutUint32(rec[0:], uint32(g.now.Unix()))
	binary.LittleEndian.PutUint32(rec[4:], uint32(g.now.Nanosecond()))
	binary.LittleEndian.PutUint32(rec[8:], uint32(n))
	binary.LittleEndian.PutUint32(rec[12:], uint32(n))
	g.write(rec[:])
	g.write(b)
	g.buf = b
	g.packets++
	g.now = g.now.Add(time.Microsecond)
}

func checksum(b []byte, sum uint32) uint16 {
	for i := 0; i+1 < len(b); i += 2 {
		sum += uint32(b[i])<<8 | uint32(b[i+1])
	}
	if len(b)%2 == 1 {
		sum += uint32(b[len(b)-1]) << 8
	}
	for sum>>16 != 0 {
		sum = sum&0xffff + sum>>16
	}
	return ^uint16(sum)
}

// Modbus PDUs in an MBAP frame.
type modbus struct{ tid uint16 }

func (m *modbus) frame(unit byte, pdu []byte) []byte {
	m.tid++
	b := make([]byte, 7+len(pdu))
	binary.BigEndian.PutUint16(b[0:], m.tid)
	binary.BigEndian.PutUint16(b[4:], uint16(1+len(pdu)))
	b[6] = unit
	copy(b[7:], pdu)
	return b
}

// answerTo keeps the request's transaction id in the response.
func (m *modbus) answerTo(req []byte, pdu []byte) []byte {
	b := m.frame(req[6], pdu)
	copy(b[0:2], req[0:2])
	m.tid--
	return b
}

func readHolding(addr, qty uint16) []byte {
	return []byte{3, byte(addr >> 8), byte(addr), byte(qty >> 8), byte(qty)}
}

func readAnswer(qty uint16) []byte {
	b := make([]byte, 2+2*int(qty))
	b[0], b[1] = 3, byte(2*qty)
	return b
}

func writeSingle(addr, v uint16) []byte {
	return []byte{6, byte(addr >> 8), byte(addr), byte(v >> 8), byte(v)}
}

// plant: n servers 10.(1+i/65536).x.y polled by one HMI 10.0.0.1 over one
// connection each, m registers read in blocks of up to 100, then each
// register written once with its index.
func (g *gen) plant(n, m, cycles int) {
	hmi := ip4(10<<24 | 1)
	var mb modbus
	for i := 0; i < n; i++ {
		server := ip4(uint32(10<<24 | 1<<16 + i))
		c := g.open(hmi, server, uint16(20000+i%40000), 502)
		for cy := 0; cy < cycles; cy++ {
			for a := 0; a < m; a += 100 {
				q := uint16(min(100, m-a))
				req := mb.frame(1, readHolding(uint16(a), q))
				c.exchange(req, mb.answerTo(req, readAnswer(q)))
			}
		}
		for a := 0; a < m; a++ {
			req := mb.frame(1, writeSingle(uint16(a), uint16(a)))
			c.exchange(req, mb.answerTo(req, writeSingle(uint16(a), uint16(a))))
		}
		c.close()
	}
}

// flood: an HMI 10.0.0.1 polls registers 0..9 of a PLC 10.0.0.2 and writes
// them (learn transactions), then writes n distinct registers 1000.. once
// each on the same connection (one trusted client, n deviations), then
// goes on as learned for normal transactions. part learn writes only the
// learned part, part detect only what follows (its connection picked up
// mid-stream, as a monitor started later sees it).
func (g *gen) flood(learn, n, normal int, part string) {
	var mb modbus
	learned := func(c *conn, i int) {
		if i%5 == 4 {
			req := mb.frame(1, writeSingle(uint16(i%10), uint16(100+i%7)))
			c.exchange(req, mb.answerTo(req, req[7:]))
			return
		}
		req := mb.frame(1, readHolding(0, 10))
		c.exchange(req, mb.answerTo(req, readAnswer(10)))
	}
	hmi, plc := ip4(10<<24|1), ip4(10<<24|2)
	var c *conn
	if part != "detect" {
		c = g.open(hmi, plc, 40000, 502)
		for i := 0; i < learn; i++ {
			learned(c, i)
		}
		if part == "learn" {
			c.close()
			return
		}
		g.now = g.now.Add(time.Hour) // learning ends; detection reads what follows
	} else {
		c = &conn{cip: hmi, sip: plc, cport: 40000, sport: 502, cseq: 1000, sseq: 5000, g: g}
	}
	for i := 0; i < n; i++ {
		addr := uint16(1000 + i%64536)
		req := mb.frame(1, writeSingle(addr, uint16(i)))
		c.exchange(req, mb.answerTo(req, req[7:]))
	}
	for i := 0; i < normal; i++ {
		learned(c, i)
	}
	c.close()
}

// hosts: n hosts 10.(64+i/65536).x.y each open a connection to a web
// server 10.0.0.80 and exchange one request.
func (g *gen) hosts(n int) {
	server := ip4(10<<24 | 80)
	for i := 0; i < n; i++ {
		c := g.open(ip4(uint32(10<<24|64<<16+i)), server, 40000, 80)
		c.exchange([]byte("GET / HTTP/1.0\r\n\r\n"), []byte("HTTP/1.0 200 OK\r\n\r\n"))
		c.close()
	}
}
