package syslog

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/otwatch/otwatch/alerts"
)

// Destination is one SIEM receiver with its format and queue.
type Destination struct {
	Name    string // names the queue file; unique per QueueDir
	Network string // "udp", "tcp" or "tls"
	Address string // host:port
	Format  string // "cef" (default), "leef" or "json"
	Framing string // "rfc5424" (default) or "rfc3164"
	// Facility 1..23 (RFC 5424 §6.2.1); 0 selects the default 16 (local0),
	// since facility 0 (kernel) is not for user processes.
	Facility int
	// MinSeverity: alerts below it (1..10) are not sent to this destination.
	MinSeverity int
	// TLS: CAFile verifies the server (system roots when empty); CertFile and
	// KeyFile, when both set, are the client certificate.
	CAFile, CertFile, KeyFile string
	QueueDir                  string // where the bbolt queue lives (required)
	QueueMaxBytes             int64  // queue bound; 0 means 64 MiB

	// Optional.
	ServerName string        // TLS server name; default: the host of Address
	Hostname   string        // HOSTNAME of the header; default os.Hostname()
	SDID       string        // RFC 5424 SD-ID; default "otwatch@32473"
	LFFraming  bool          // TCP/TLS: newline-terminated (RFC 6587 §3.4.2) instead of octet counting
	RetryMin   time.Duration // first reconnect delay; default 200ms
	RetryMax   time.Duration // reconnect delay cap; default 30s
	AckTimeout time.Duration // TCP/TLS: wait for the peer's acknowledgement; default 10s
	BatchSize  int           // messages per write; default 128
}

// Stats are a sender's counters since it was opened (Queued is the queue now).
type Stats struct {
	Queued      int
	QueuedBytes int64
	Delivered   uint64 // written (UDP) or acknowledged by the peer's TCP
	Dropped     uint64 // oldest alerts dropped because the queue was full
	Filtered    uint64 // below MinSeverity
	Reconnects  uint64 // connections opened after the first
	Resent      uint64 // messages sent again after a broken connection (possible duplicates)
	Connected   bool
	LastError   string
}

// DefaultSDID is the SD-ID of otwatch's structured data element. 32473 is
// the example enterprise number of RFC 5612, used until otwatch has its own.
const DefaultSDID = "otwatch@32473"

// Sender delivers one destination's queue in order.
type Sender struct {
	d       Destination
	q       *queue
	tls     *tls.Config
	host    string
	pid     string
	wake    chan struct{}
	stop    chan struct{}
	done    chan struct{}
	drain   atomic.Bool
	closeMu sync.Once
	ctx     context.Context // cancelled when Close gives up: ends a dial or handshake
	cancel  context.CancelFunc

	connMu sync.Mutex
	conn   net.Conn // the syslog connection (TLS or plain)
	raw    net.Conn // its TCP connection, for acknowledgement checks

	delivered, dropped, filtered, reconnects, resent atomic.Uint64
	connected                                        atomic.Bool
	lastErr                                          atomic.Value // string
	everConnected                                    bool
}

// NewSender opens the destination's queue (creating it) and starts delivering.
func NewSender(d Destination) (*Sender, error) {
	switch d.Network {
	case "udp", "tcp", "tls":
	default:
		return nil, fmt.Errorf("syslog destination %q: network %q: want udp, tcp or tls", d.Name, d.Network)
	}
	switch d.Format {
	case "":
		d.Format = "cef"
	case "cef", "leef", "json":
	default:
		return nil, fmt.Errorf("syslog destination %q: format %q: want cef, leef or json", d.Name, d.Format)
	}
	switch d.Framing {
	case "":
		d.Framing = "rfc5424"
	case "rfc5424", "rfc3164":
	default:
		return nil, fmt.Errorf("syslog destination %q: framing %q: want rfc5424 or rfc3164", d.Name, d.Framing)
	}
	if d.Facility == 0 {
		d.Facility = 16
	}
	if d.Facility < 0 || d.Facility > 23 {
		return nil, fmt.Errorf("syslog destination %q: facility %d: want 1..23", d.Name, d.Facility)
	}
	if _, _, err := net.SplitHostPort(d.Address); err != nil {
		return nil, fmt.Errorf("syslog destination %q: address %q: %v", d.Name, d.Address, err)
	}
	if d.QueueDir == "" {
		return nil, fmt.Errorf("syslog destination %q: no queue directory", d.Name)
	}
	if d.QueueMaxBytes <= 0 {
		d.QueueMaxBytes = 64 << 20
	}
	if d.SDID == "" {
		d.SDID = DefaultSDID
	}
	if d.RetryMin <= 0 {
		d.RetryMin = 200 * time.Millisecond
	}
	if d.RetryMax < d.RetryMin {
		d.RetryMax = max(30*time.Second, d.RetryMin)
	}
	if d.AckTimeout <= 0 {
		d.AckTimeout = 10 * time.Second
	}
	if d.BatchSize <= 0 {
		d.BatchSize = 128
	}
	s := &Sender{d: d, pid: strconv.Itoa(os.Getpid()), wake: make(chan struct{}, 1),
		stop: make(chan struct{}), done: make(chan struct{})}
	s.host = d.Hostname
	if s.host == "" {
		s.host, _ = os.Hostname()
	}
	if d.Network == "tls" {
		conf, err := tlsConfig(d)
		if err != nil {
			return nil, fmt.Errorf("syslog destination %q: %w", d.Name, err)
		}
		s.tls = conf
	}
	q, err := openQueue(d.QueueDir, d.Name, d.QueueMaxBytes)
	if err != nil {
		return nil, fmt.Errorf("syslog destination %q: %w", d.Name, err)
	}
	s.q = q
	s.lastErr.Store("")
	s.ctx, s.cancel = context.WithCancel(context.Background())
	go s.run()
	return s, nil
}

func tlsConfig(d Destination) (*tls.Config, error) {
	conf := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: d.ServerName}
	if conf.ServerName == "" {
		conf.ServerName, _, _ = net.SplitHostPort(d.Address)
	}
	if d.CAFile != "" {
		pem, err := os.ReadFile(d.CAFile)
		if err != nil {
			return nil, err
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("%s: no PEM certificate", d.CAFile)
		}
		conf.RootCAs = pool
	}
	if d.CertFile != "" || d.KeyFile != "" {
		cert, err := tls.LoadX509KeyPair(d.CertFile, d.KeyFile)
		if err != nil {
			return nil, err
		}
		conf.Certificates = []tls.Certificate{cert}
	}
	return conf, nil
}

// Send queues the alert durably (synced to disk before it returns). It does
// not touch the network; alerts below MinSeverity are skipped.
func (s *Sender) Send(a *alerts.Alert) error { return s.SendAll([]*alerts.Alert{a}) }

// SendAll queues alerts durably in one transaction (one sync for the
// batch); alerts below MinSeverity are skipped.
func (s *Sender) SendAll(as []*alerts.Alert) error {
	msgs := make([][]byte, 0, len(as))
	for _, a := range as {
		if a == nil {
			continue
		}
		if a.Severity < s.d.MinSeverity {
			s.filtered.Add(1)
			continue
		}
		msgs = append(msgs, []byte(s.Message(a)))
	}
	if len(msgs) == 0 {
		return nil
	}
	n, err := s.q.push(msgs, s.notice)
	if err != nil {
		return fmt.Errorf("syslog destination %q: queue: %w", s.d.Name, err)
	}
	s.dropped.Add(uint64(n))
	select {
	case s.wake <- struct{}{}:
	default:
	}
	return nil
}

// Message renders the alert as this destination's syslog message (without
// the transport framing).
func (s *Sender) Message(a *alerts.Alert) string {
	payload := Payload(s.d.Format, a)
	h := Header{Facility: s.d.Facility, Severity: SyslogSeverity(a.Severity), Time: now(),
		Hostname: s.host, AppName: "otwatch", ProcID: s.pid, MsgID: a.Kind}
	if s.d.Framing == "rfc3164" {
		return Frame3164(h, payload)
	}
	h.Time = h.Time.UTC()
	sd := []SDElement{{ID: s.d.SDID, Params: []Param{
		{"id", a.ID}, {"kind", a.Kind}, {"severity", strconv.Itoa(a.Severity)}}}}
	return Frame5424(h, sd, payload)
}

// OverflowKind is the kind of the notice queued when alerts were dropped.
const OverflowKind = "syslog_queue_overflow"

func (s *Sender) notice(dropped uint64, since time.Time) []byte {
	t := now()
	a := &alerts.Alert{
		ID: fmt.Sprintf("syslog-overflow-%s-%d", safeName(s.d.Name), since.UnixNano()), TS: t,
		Kind: OverflowKind, Severity: 8, BaseSeverity: 8, Frames: []uint64{},
		Key: OverflowKind + "/" + s.d.Name,
		Message: fmt.Sprintf("syslog destination %s unreachable: queue full (%d bytes), %d oldest alerts dropped since %s",
			s.d.Name, s.d.QueueMaxBytes, dropped, since.UTC().Format(time.RFC3339)),
	}
	return []byte(s.Message(a))
}

// Stats returns the counters.
func (s *Sender) Stats() Stats {
	return Stats{
		Queued: int(s.q.count.Load()), QueuedBytes: s.q.bytes.Load(),
		Delivered: s.delivered.Load(), Dropped: s.dropped.Load(), Filtered: s.filtered.Load(),
		Reconnects: s.reconnects.Load(), Resent: s.resent.Load(),
		Connected: s.connected.Load(), LastError: s.lastErr.Load().(string),
	}
}

// ErrUndelivered is returned by Close when alerts stay queued for the next run.
var ErrUndelivered = errors.New("alerts left queued")

// Close delivers what it can until ctx ends, then stops, keeping the rest
// queued on disk for the next NewSender on the same QueueDir (the error then
// wraps ErrUndelivered and says how many).
func (s *Sender) Close(ctx context.Context) error {
	s.drain.Store(true)
	select {
	case s.wake <- struct{}{}:
	default:
	}
	select {
	case <-s.done:
	case <-ctx.Done():
		s.closeMu.Do(func() { close(s.stop); s.cancel() })
		s.dropConn() // unblocks a write in progress
		<-s.done
	}
	s.cancel()
	left := s.q.count.Load()
	err := s.q.close()
	if err == nil && left > 0 {
		err = fmt.Errorf("syslog destination %q: %d %w", s.d.Name, left, ErrUndelivered)
	}
	return err
}

func (s *Sender) stopped() bool {
	select {
	case <-s.stop:
		return true
	default:
		return false
	}
}

// sleep waits d unless the sender is stopped; false means stopped.
func (s *Sender) sleep(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-s.stop:
		return false
	}
}

func (s *Sender) fail(err error) {
	s.lastErr.Store(err.Error())
	s.dropConn()
}

func (s *Sender) run() {
	defer close(s.done)
	defer s.dropConn()
	backoff := s.d.RetryMin
	wait := func() bool {
		// full jitter in [backoff/2, backoff]
		d := backoff/2 + time.Duration(rand.Int64N(int64(backoff/2)+1))
		backoff = min(backoff*2, s.d.RetryMax)
		return s.sleep(d)
	}
	for !s.stopped() {
		items, err := s.q.peek(s.d.BatchSize)
		if err != nil {
			s.lastErr.Store(err.Error())
			if !wait() {
				return
			}
			continue
		}
		if len(items) == 0 {
			if s.drain.Load() {
				return
			}
			select {
			case <-s.wake:
			case <-s.stop:
				return
			case <-time.After(time.Second): // keep an eye on the connection
			}
			continue
		}
		if s.current() == nil {
			if err := s.connect(); err != nil {
				s.fail(err)
				if !wait() {
					return
				}
				continue
			}
		}
		n, err := s.deliver(items)
		if n > 0 {
			if rerr := s.q.remove(items[:n]); rerr != nil {
				s.lastErr.Store(rerr.Error())
			}
			s.delivered.Add(uint64(n))
			backoff = s.d.RetryMin
		}
		if err != nil {
			s.fail(err)
			if !wait() {
				return
			}
		}
	}
}

func (s *Sender) current() net.Conn {
	s.connMu.Lock()
	defer s.connMu.Unlock()
	return s.conn
}

func (s *Sender) dropConn() {
	s.connMu.Lock()
	defer s.connMu.Unlock()
	if s.conn != nil {
		s.conn.Close()
		s.conn, s.raw = nil, nil
	}
	s.connected.Store(false)
}

func (s *Sender) connect() error {
	dialer := net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}
	network := s.d.Network
	if network == "tls" {
		network = "tcp"
	}
	raw, err := dialer.DialContext(s.ctx, network, s.d.Address)
	if err != nil {
		return err
	}
	conn := raw
	if s.tls != nil {
		tc := tls.Client(raw, s.tls)
		ctx, cancel := context.WithTimeout(s.ctx, 10*time.Second)
		err := tc.HandshakeContext(ctx)
		cancel()
		if err != nil {
			raw.Close()
			return fmt.Errorf("tls: %w", err)
		}
		// TLS 1.3 completes the client's handshake before the server has
		// checked the client certificate: wait briefly for a rejection so
		// alerts are not written into a connection the server will drop.
		tc.SetReadDeadline(time.Now().Add(tlsSettle))
		var one [1]byte
		_, err = tc.Read(one[:])
		tc.SetReadDeadline(time.Time{})
		if ne, ok := err.(net.Error); !ok || !ne.Timeout() {
			raw.Close()
			if err == nil {
				err = errors.New("unexpected data from the receiver")
			}
			return fmt.Errorf("tls: receiver refused the session: %w", err)
		}
		conn = tc
	}
	s.connMu.Lock()
	s.conn, s.raw = conn, raw
	s.connMu.Unlock()
	if s.everConnected {
		s.reconnects.Add(1)
	}
	s.everConnected = true
	s.connected.Store(true)
	return nil
}

// tlsSettle is how long a new TLS session is watched for a rejection.
var tlsSettle = 250 * time.Millisecond

var errPeerClosed = errors.New("receiver closed the connection")

// deliver sends items in order and returns how many are delivered: for UDP,
// written; for TCP and TLS, acknowledged by the receiver's TCP.
func (s *Sender) deliver(items []item) (int, error) {
	s.connMu.Lock()
	conn, raw := s.conn, s.raw
	s.connMu.Unlock()
	if conn == nil {
		return 0, errPeerClosed
	}
	if s.d.Network == "udp" {
		for i, it := range items {
			conn.SetWriteDeadline(time.Now().Add(s.d.AckTimeout))
			if _, err := conn.Write(it.msg); err != nil {
				if errors.Is(err, syscall.EMSGSIZE) { // never fits a datagram: drop it, go on
					s.dropped.Add(1)
					s.delivered.Add(^uint64(0)) // consumed, but not delivered: undo the caller's count
					s.lastErr.Store(fmt.Sprintf("message of %d bytes too large for UDP: dropped", len(it.msg)))
					continue
				}
				return i, err
			}
		}
		return len(items), nil
	}
	if !peerAlive(raw) {
		return 0, errPeerClosed
	}
	var buf []byte
	for _, it := range items {
		if s.d.LFFraming {
			buf = append(append(buf, it.msg...), '\n')
		} else {
			buf = append(strconv.AppendInt(buf, int64(len(it.msg)), 10), ' ')
			buf = append(buf, it.msg...)
		}
	}
	deadline := time.Now().Add(s.d.AckTimeout)
	conn.SetWriteDeadline(deadline)
	if _, err := conn.Write(buf); err != nil {
		s.resent.Add(uint64(len(items))) // some may have arrived: they will be sent again
		return 0, err
	}
	for pause := 50 * time.Microsecond; ; pause = min(pause*2, 20*time.Millisecond) {
		done, broken := acked(raw)
		if done {
			return len(items), nil
		}
		if broken || time.Now().After(deadline) || s.stopped() {
			s.resent.Add(uint64(len(items)))
			if broken {
				return 0, errPeerClosed
			}
			return 0, errors.New("receiver did not acknowledge within the timeout")
		}
		time.Sleep(pause)
	}
}
