package syslog

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

var sdID = regexp.MustCompile(`\[otwatch@32473 id="([^"]+)"`)

func idOf(m string) string {
	if s := sdID.FindStringSubmatch(m); s != nil {
		return s[1]
	}
	return ""
}

func newTestSender(t *testing.T, d Destination) *Sender {
	t.Helper()
	if d.Name == "" {
		d.Name = "siem"
	}
	if d.QueueDir == "" {
		d.QueueDir = t.TempDir()
	}
	if d.RetryMin == 0 {
		d.RetryMin, d.RetryMax = 20*time.Millisecond, 200*time.Millisecond
	}
	s, err := NewSender(d)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func closeSender(t *testing.T, s *Sender, d time.Duration) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	return s.Close(ctx)
}

// checkSequence: got holds exactly ids alert-00000..n-1, in order, once each.
func checkSequence(t *testing.T, got []string, from, n int) {
	t.Helper()
	if len(got) != n {
		t.Errorf("received %d messages, want %d", len(got), n)
	}
	for i, m := range got {
		if want := fmt.Sprintf("alert-%05d", from+i); idOf(m) != want {
			t.Fatalf("message %d is %q, want %s (out of order or duplicated)", i, idOf(m), want)
		}
	}
}

func TestSenderTCPInOrder(t *testing.T) {
	addr := "127.0.0.1:" + strconv.Itoa(freePort(t))
	r := startReceiver(t, "tcp", addr, nil)
	s := newTestSender(t, Destination{Network: "tcp", Address: addr, BatchSize: 16})
	for i := 0; i < 300; i++ {
		if err := s.Send(numbered(i)); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, 10*time.Second, "300 messages", func() bool { return len(r.got()) >= 300 })
	if err := closeSender(t, s, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	checkSequence(t, r.got(), 0, 300)
	if st := s.Stats(); st.Delivered != 300 || st.Queued != 0 || st.Dropped != 0 {
		t.Errorf("stats %+v", st)
	}
}

func TestSenderUDP(t *testing.T) {
	addr := "127.0.0.1:" + strconv.Itoa(freePort(t))
	r := startReceiver(t, "udp", addr, nil)
	s := newTestSender(t, Destination{Network: "udp", Address: addr, Format: "json", Framing: "rfc3164"})
	for i := 0; i < 20; i++ {
		s.Send(numbered(i))
	}
	waitFor(t, 5*time.Second, "20 datagrams", func() bool { return len(r.got()) >= 20 })
	closeSender(t, s, time.Second)
	for i, m := range r.got() {
		if !strings.Contains(m, fmt.Sprintf(`"id":"alert-%05d"`, i)) || !strings.Contains(m, " otwatch[") {
			t.Fatalf("datagram %d: %s", i, m)
		}
	}
}

func TestSenderTLSClientCertificate(t *testing.T) {
	dir := t.TempDir()
	p := newPKI(t, dir)
	addr := "127.0.0.1:" + strconv.Itoa(freePort(t))
	r := startReceiver(t, "tls", addr, &tls.Config{Certificates: []tls.Certificate{p.server},
		ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: p.pool})
	s := newTestSender(t, Destination{Network: "tls", Address: addr, CAFile: p.CA, CertFile: p.ClientCert, KeyFile: p.ClientKey, Format: "leef"})
	for i := 0; i < 50; i++ {
		s.Send(numbered(i))
	}
	waitFor(t, 10*time.Second, "50 messages over TLS", func() bool { return len(r.got()) >= 50 })
	closeSender(t, s, 5*time.Second)
	checkSequence(t, r.got(), 0, 50)

	// Without the client certificate the server refuses; the alerts stay queued.
	qdir := t.TempDir()
	s2 := newTestSender(t, Destination{Name: "nocert", Network: "tls", Address: addr, CAFile: p.CA, QueueDir: qdir})
	s2.Send(numbered(99))
	time.Sleep(300 * time.Millisecond)
	err := closeSender(t, s2, 100*time.Millisecond)
	if !errors.Is(err, ErrUndelivered) {
		t.Errorf("close without client cert: %v", err)
	}
	// A server whose certificate the CA did not sign is refused.
	other := newPKI(t, t.TempDir())
	s3 := newTestSender(t, Destination{Name: "wrongca", Network: "tls", Address: addr, CAFile: other.CA, CertFile: p.ClientCert, KeyFile: p.ClientKey})
	s3.Send(numbered(98))
	waitFor(t, 5*time.Second, "a certificate error", func() bool { return strings.Contains(s3.Stats().LastError, "certificate") })
	closeSender(t, s3, 50*time.Millisecond)
	if n := len(r.got()); n != 50 {
		t.Errorf("receiver got %d messages, want 50", n)
	}
}

// The receiver is down, otwatch restarts with alerts queued, then the
// receiver comes up: everything arrives once, in order.
func TestSenderOutageAndRestart(t *testing.T) {
	addr := "127.0.0.1:" + strconv.Itoa(freePort(t))
	qdir := t.TempDir()
	d := Destination{Network: "tcp", Address: addr, QueueDir: qdir}
	s := newTestSender(t, d)
	start := time.Now()
	for i := 0; i < 500; i++ {
		if err := s.Send(numbered(i)); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("500 durable sends in %v", time.Since(start))
	if st := s.Stats(); st.Queued != 500 {
		t.Fatalf("queued %d", st.Queued)
	}
	if err := closeSender(t, s, 100*time.Millisecond); !errors.Is(err, ErrUndelivered) || !strings.Contains(err.Error(), "500") {
		t.Fatalf("close: %v", err)
	}
	s = newTestSender(t, d)
	if st := s.Stats(); st.Queued != 500 {
		t.Fatalf("after reopen queued %d", st.Queued)
	}
	r := startReceiver(t, "tcp", addr, nil)
	waitFor(t, 15*time.Second, "500 messages", func() bool { return len(r.got()) >= 500 })
	if err := closeSender(t, s, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	checkSequence(t, r.got(), 0, 500)
}

// A receiver that goes away between alerts is noticed before writing (its
// FIN), so nothing written into the dead connection is lost.
func TestSenderReceiverRestartsBetweenAlerts(t *testing.T) {
	addr := "127.0.0.1:" + strconv.Itoa(freePort(t))
	r1 := startReceiver(t, "tcp", addr, nil)
	s := newTestSender(t, Destination{Network: "tcp", Address: addr})
	for i := 0; i < 10; i++ {
		s.Send(numbered(i))
	}
	waitFor(t, 5*time.Second, "first 10", func() bool { return len(r1.got()) >= 10 })
	r1.stop()
	r1.wg.Wait()
	for i := 10; i < 30; i++ {
		s.Send(numbered(i))
	}
	time.Sleep(200 * time.Millisecond)
	r2 := startReceiver(t, "tcp", addr, nil)
	waitFor(t, 10*time.Second, "the other 20", func() bool { return len(r2.got()) >= 20 })
	closeSender(t, s, 2*time.Second)
	checkSequence(t, append(r1.got(), r2.got()...), 0, 30)
	if st := s.Stats(); st.Reconnects < 1 {
		t.Errorf("stats %+v", st)
	}
}

func TestQueueOverflowDropsOldestWithNotice(t *testing.T) {
	addr := "127.0.0.1:" + strconv.Itoa(freePort(t))
	qdir := t.TempDir()
	one := len(newTestSenderMessage(t))
	d := Destination{Network: "tcp", Address: addr, QueueDir: qdir, QueueMaxBytes: int64(20 * (one + entryOverhead + 40))}
	s := newTestSender(t, d)
	for i := 0; i < 100; i++ {
		if err := s.Send(numbered(i)); err != nil {
			t.Fatal(err)
		}
	}
	st := s.Stats()
	if st.Dropped == 0 || st.QueuedBytes > d.QueueMaxBytes {
		t.Fatalf("stats %+v (max %d)", st, d.QueueMaxBytes)
	}
	r := startReceiver(t, "tcp", addr, nil)
	want := 100 - int(st.Dropped) + 1
	waitFor(t, 10*time.Second, "the kept alerts and the notice", func() bool { return len(r.got()) >= want })
	closeSender(t, s, 2*time.Second)
	got := r.got()
	if len(got) != want {
		t.Fatalf("got %d, want %d", len(got), want)
	}
	var notice string
	var ids []string
	for _, m := range got {
		if strings.Contains(m, OverflowKind) {
			notice = m
			continue
		}
		ids = append(ids, idOf(m))
	}
	if notice == "" || !strings.Contains(notice, fmt.Sprintf("%d oldest alerts dropped", st.Dropped)) {
		t.Fatalf("notice %q", notice)
	}
	// the newest alerts are kept, in order
	for i, id := range ids {
		if want := fmt.Sprintf("alert-%05d", int(st.Dropped)+i); id != want {
			t.Fatalf("kept alert %d is %s, want %s", i, id, want)
		}
	}
	if _, err := parseCEF(strings.SplitN(notice, "] ", 2)[1]); err != nil {
		t.Errorf("notice is not CEF: %v", err)
	}
}

func newTestSenderMessage(t *testing.T) string {
	s := &Sender{d: Destination{Format: "cef", Framing: "rfc5424", Facility: 16, SDID: DefaultSDID}, host: "h", pid: "1"}
	return s.Message(numbered(0))
}

func TestMinSeverityAndValidation(t *testing.T) {
	addr := "127.0.0.1:" + strconv.Itoa(freePort(t))
	s := newTestSender(t, Destination{Network: "tcp", Address: addr, MinSeverity: 9})
	s.Send(numbered(1)) // severity 8
	if st := s.Stats(); st.Queued != 0 || st.Filtered != 1 {
		t.Errorf("stats %+v", st)
	}
	closeSender(t, s, 10*time.Millisecond)
	for _, d := range []Destination{
		{Network: "sctp", Address: addr, QueueDir: "x"},
		{Network: "tcp", Address: addr, QueueDir: "x", Format: "xml"},
		{Network: "tcp", Address: addr, QueueDir: "x", Framing: "rfc9999"},
		{Network: "tcp", Address: "nohostport", QueueDir: "x"},
		{Network: "tcp", Address: addr},
		{Network: "tcp", Address: addr, QueueDir: "x", Facility: 24},
		{Network: "tls", Address: addr, QueueDir: "x", CAFile: "/nonexistent"},
	} {
		if _, err := NewSender(d); err == nil {
			t.Errorf("%+v accepted", d)
		}
	}
}

// Send never waits for the network: with nothing listening it still returns at once.
func TestSendDoesNotBlock(t *testing.T) {
	s := newTestSender(t, Destination{Network: "tcp", Address: "127.0.0.1:" + strconv.Itoa(freePort(t))})
	start := time.Now()
	for i := 0; i < 20; i++ {
		s.Send(numbered(i))
	}
	if el := time.Since(start); el > 2*time.Second {
		t.Errorf("20 sends took %v", el)
	}
	closeSender(t, s, 10*time.Millisecond)
}

// A second otwatch on the same queue is refused rather than corrupting it.
func TestQueueLocked(t *testing.T) {
	dir := t.TempDir()
	d := Destination{Name: "siem", Network: "tcp", Address: "127.0.0.1:1", QueueDir: dir}
	s := newTestSender(t, d)
	defer closeSender(t, s, 10*time.Millisecond)
	if _, err := NewSender(d); err == nil {
		t.Fatal("second sender on the same queue accepted")
	}
	if _, err := os.Stat(filepath.Join(dir, "syslog-siem.queue")); err != nil {
		t.Fatal(err)
	}
}
