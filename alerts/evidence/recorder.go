// Package evidence keeps the packets behind each alert: a per-flow ring of
// recent frames, a pcapng slice per alert (packets before and after, on the
// alert's flows, with a comment naming the alert), and an append-only,
// hash-chained custody log of every evidence file written or removed.
// Verify checks a directory against its log.
package evidence

import (
	"container/list"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/otwatch/otwatch/alerts"
	"github.com/otwatch/otwatch/protocols/capture"
	"github.com/otwatch/otwatch/protocols/frame"
)

// Config sets the slice sizes, memory and disk bounds.
type Config struct {
	Dir         string // evidence directory (created)
	Before      int    // packets of the alert's flows kept before its last frame; default 50
	After       int    // packets of those flows kept after it; default 50
	MaxBytes    int64  // evidence files on disk; oldest removed beyond it (default 1 GiB)
	PerFlowRing int    // packets remembered per flow; default Before+After (at least 16)

	// Optional bounds and identity.
	MaxFlows   int   // flows with a ring; least recently seen dropped first (default 4096)
	MaxMemory  int64 // bytes held by all rings and pending slices (default 64 MiB)
	MaxPending int   // slices waiting for their After packets (default 256)
	// The writing budget: slices are written by a goroutine of their own,
	// never on the capture path. At most MaxQueue wait to be written and
	// at most MaxPerMinute files are written per minute; alerts beyond
	// either get no file, are counted (Stats.OverBudget) and summed up in
	// one custody entry per minute.
	MaxQueue     int    // default 64
	MaxPerMinute int    // default 120
	Who          string // custody "who"; default "otwatch pid N on HOST"
	// Logf, when set, receives write errors (the recorder never stops the pipeline).
	Logf func(format string, args ...any)
}

func (c *Config) defaults() {
	if c.Before <= 0 {
		c.Before = 50
	}
	if c.After < 0 {
		c.After = 0
	} else if c.After == 0 {
		c.After = 50
	}
	if c.PerFlowRing <= 0 {
		c.PerFlowRing = max(c.Before+c.After, 16)
	}
	if c.MaxBytes <= 0 {
		c.MaxBytes = 1 << 30
	}
	if c.MaxFlows <= 0 {
		c.MaxFlows = 4096
	}
	if c.MaxMemory <= 0 {
		c.MaxMemory = 64 << 20
	}
	if c.MaxPending <= 0 {
		c.MaxPending = 256
	}
	if c.MaxQueue <= 0 {
		c.MaxQueue = 64
	}
	if c.MaxPerMinute <= 0 {
		c.MaxPerMinute = 120
	}
	if c.Who == "" {
		host, _ := os.Hostname()
		c.Who = fmt.Sprintf("otwatch pid %d on %s", os.Getpid(), host)
	}
}

// packetOverhead is counted per kept packet besides its bytes.
const packetOverhead = 64

type packet struct {
	no   uint64
	ts   int64
	link uint32
	orig uint32
	data []byte
}

func (p *packet) cost() int64 { return int64(len(p.data)) + packetOverhead }

// flowKey is a flow regardless of direction: a is the lower endpoint.
type flowKey struct {
	a, b  netip.AddrPort
	proto uint8
}

func makeKey(src, dst netip.Addr, sp, dp uint16, proto uint8) flowKey {
	a, b := netip.AddrPortFrom(src.Unmap(), sp), netip.AddrPortFrom(dst.Unmap(), dp)
	if b.Compare(a) < 0 {
		a, b = b, a
	}
	return flowKey{a, b, proto}
}

type ring struct {
	key   flowKey
	pkts  []packet // circular, len PerFlowRing once full
	start int      // index of the oldest
	bytes int64
	elem  *list.Element
}

func (r *ring) each(fn func(*packet)) {
	for i := 0; i < len(r.pkts); i++ {
		fn(&r.pkts[(r.start+i)%len(r.pkts)])
	}
}

// pending is a slice waiting for its After packets (or, with barrier set,
// a marker the writer closes when everything before it is written).
type pending struct {
	alert   *alerts.Alert
	match   matcher
	pkts    []packet // collected so far, in frame order
	need    int
	bytes   int64
	anchor  uint64
	barrier chan struct{}
}

// matcher selects the alert's flows from its client and server endpoints
// (an absent endpoint or port matches any).
type matcher struct {
	c, s      *endpoint
	ipsOnly   bool // fragments without ports: match the hosts
	hasTarget bool
}

type endpoint struct {
	ip   netip.Addr
	port uint16
}

func parseEndpoint(e *alerts.Endpoint) *endpoint {
	if e == nil {
		return nil
	}
	ip, err := netip.ParseAddr(e.IP)
	if err != nil {
		return nil
	}
	return &endpoint{ip.Unmap(), e.Port}
}

func (e *endpoint) matches(ap netip.AddrPort, ignorePort bool) bool {
	if e == nil {
		return true
	}
	return ap.Addr() == e.ip && (ignorePort || e.port == 0 || ap.Port() == e.port)
}

func (m *matcher) matches(k flowKey) bool {
	if !m.hasTarget {
		return false
	}
	frag := k.a.Port() == 0 && k.b.Port() == 0 // IP fragments after the first
	return m.c.matches(k.a, frag) && m.s.matches(k.b, frag) || m.c.matches(k.b, frag) && m.s.matches(k.a, frag)
}

// Recorder keeps recent packets per flow and writes evidence for alerts.
// Its methods are safe for concurrent use. Collecting packets happens in
// the caller (the capture path: memory only); writing files and the
// custody log happens on the recorder's writer goroutine.
type Recorder struct {
	mu      sync.Mutex // rings and pending slices
	cfg     Config
	rings   map[flowKey]*ring
	lru     *list.List // of *ring, front = most recently seen
	memory  int64
	pending []*pending
	lastNo  uint64
	evicted uint64
	queue   chan *pending
	queued  int // slices handed to the writer and not yet written

	wmu        sync.Mutex // what the writer owns
	custody    *custody
	files      []fileInfo // live evidence files, oldest first
	disk       int64
	written    uint64
	removed    uint64
	firstErr   error
	omu        sync.Mutex        // the over-budget count, taken on the capture path: never held across I/O
	overBudget uint64            // alerts that got no file: queue full or over the rate
	overKinds  map[string]uint64 // of them, by kind, since the last custody summary
	minute     time.Time         // start of the rate budget's minute
	inMinute   int               // files written in it
	stopping   bool              // shutting down: what is still queued is counted, not written
	// published copies of the writer's counters: Stats never waits for a write
	pubDisk, pubFiles, pubWritten, pubRemoved atomic.Int64
}

// publish copies the writer's counters for Stats (wmu held).
func (r *Recorder) publish() {
	r.pubDisk.Store(r.disk)
	r.pubFiles.Store(int64(len(r.files)))
	r.pubWritten.Store(int64(r.written))
	r.pubRemoved.Store(int64(r.removed))
}

type fileInfo struct {
	name, sha string
	size      int64
}

// Stats are the recorder's counters.
type Stats struct {
	Flows, Pending  int
	Queued          int // slices waiting for the writer
	MemoryBytes     int64
	DiskBytes       int64
	Files           int
	Written         uint64 // evidence files written
	RetentionRemove uint64 // evidence files removed by retention
	FlowsEvicted    uint64 // rings dropped to stay within MaxFlows/MaxMemory
	OverBudget      uint64 // alerts that got no file: the writing budget was exceeded
}

// NewRecorder opens (creating) the evidence directory and continues its
// custody log; a first "open" entry records who started recording.
func NewRecorder(cfg Config) (*Recorder, error) {
	cfg.defaults()
	if cfg.Dir == "" {
		return nil, fmt.Errorf("evidence: no directory")
	}
	if err := os.MkdirAll(cfg.Dir, 0o750); err != nil {
		return nil, err
	}
	c, entries, err := openCustody(cfg.Dir, cfg.Who)
	if err != nil {
		return nil, fmt.Errorf("evidence: %w", err)
	}
	r := &Recorder{cfg: cfg, rings: map[flowKey]*ring{}, lru: list.New(), custody: c, queue: make(chan *pending, cfg.MaxQueue),
		overKinds: map[string]uint64{}}
	for _, e := range entries {
		switch e.Action {
		case ActionEvidence:
			r.files = append(r.files, fileInfo{e.File, e.SHA256, e.Size})
			r.disk += e.Size
		case ActionRetention:
			for i, f := range r.files {
				if f.name == e.File {
					r.disk -= f.size
					r.files = append(r.files[:i], r.files[i+1:]...)
					break
				}
			}
		}
	}
	_, err = c.append(Entry{Action: ActionOpen, Detail: fmt.Sprintf("before=%d after=%d max_bytes=%d per_flow_ring=%d",
		cfg.Before, cfg.After, cfg.MaxBytes, cfg.PerFlowRing)})
	if err != nil {
		return nil, fmt.Errorf("evidence: %w", err)
	}
	r.publish()
	go r.writer()
	return r, nil
}

// Frame takes every captured frame in order. Frames that did not decode to
// TCP/UDP are not kept (they belong to no flow).
func (r *Recorder) Frame(f capture.Frame, frameNo uint64, d *frame.Decoded, decodedOK bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.lastNo = frameNo
	var key flowKey
	switch {
	case d != nil && d.ARP.Valid:
		// ARP has its own "flow" per sender and target address (proto 0):
		// the ARP watch's alerts name these frames
		key = makeKey(d.ARP.SenderIP, d.ARP.TargetIP, 0, 0, 0)
	case !decodedOK || d == nil || !d.Src.IsValid():
		return
	default:
		key = makeKey(d.Src, d.Dst, d.SrcPort, d.DstPort, d.IPProto)
	}
	p := packet{no: frameNo, ts: f.TimeNano, link: f.LinkType, orig: f.OrigLen, data: append([]byte(nil), f.Data...)}
	if p.orig < uint32(len(p.data)) {
		p.orig = uint32(len(p.data))
	}
	rg := r.rings[key]
	if rg == nil {
		for len(r.rings) >= r.cfg.MaxFlows {
			r.evictOldest()
		}
		rg = &ring{key: key}
		rg.elem = r.lru.PushFront(rg)
		r.rings[key] = rg
	} else {
		r.lru.MoveToFront(rg.elem)
	}
	if len(rg.pkts) < r.cfg.PerFlowRing {
		rg.pkts = append(rg.pkts, p)
	} else {
		old := &rg.pkts[rg.start]
		rg.bytes -= old.cost()
		r.memory -= old.cost()
		*old = p
		rg.start = (rg.start + 1) % len(rg.pkts)
	}
	rg.bytes += p.cost()
	r.memory += p.cost()
	// pending slices of this flow
	for i := 0; i < len(r.pending); i++ {
		pd := r.pending[i]
		if !pd.match.matches(key) {
			continue
		}
		pd.pkts = append(pd.pkts, p)
		pd.bytes += p.cost()
		r.memory += p.cost()
		pd.need--
		if pd.need <= 0 {
			r.pending = append(r.pending[:i], r.pending[i+1:]...)
			i--
			r.write(pd)
		}
	}
	for r.memory > r.cfg.MaxMemory && (r.lru.Len() > 1 || len(r.pending) > 0) {
		if len(r.pending) > 0 && r.memory-r.ringBytes() > r.cfg.MaxMemory/2 {
			pd := r.pending[0] // pending slices hold too much: write the oldest now
			r.pending = r.pending[1:]
			r.write(pd)
			continue
		}
		if r.lru.Len() <= 1 {
			break
		}
		r.evictOldest()
	}
}

func (r *Recorder) ringBytes() int64 {
	var n int64
	for _, rg := range r.rings {
		n += rg.bytes
	}
	return n
}

func (r *Recorder) evictOldest() {
	el := r.lru.Back()
	if el == nil {
		return
	}
	rg := el.Value.(*ring)
	r.lru.Remove(el)
	delete(r.rings, rg.key)
	r.memory -= rg.bytes
	r.evicted++
}

// Alert schedules the alert's evidence: up to Before packets of its flows up
// to its last frame, its own frames still held, and the After packets that
// follow (written once they have arrived, or at Flush).
func (r *Recorder) Alert(a *alerts.Alert) {
	if a == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	m := matcher{c: parseEndpoint(a.Client), s: parseEndpoint(a.Server)}
	m.hasTarget = m.c != nil || m.s != nil
	anchor := r.lastNo
	want := map[uint64]bool{}
	for _, n := range a.Frames {
		want[n] = true
	}
	if len(a.Frames) > 0 {
		anchor = 0
		for _, n := range a.Frames {
			anchor = max(anchor, n)
		}
	}
	var pkts []packet
	seen := map[uint64]bool{}
	for _, rg := range r.rings {
		if !m.matches(rg.key) {
			continue
		}
		rg.each(func(p *packet) {
			pkts = append(pkts, *p)
			seen[p.no] = true
		})
	}
	// alert frames on flows the endpoints did not name
	for n := range want {
		if seen[n] {
			continue
		}
		for _, rg := range r.rings {
			rg.each(func(p *packet) {
				if p.no == n && !seen[n] {
					pkts = append(pkts, *p)
					seen[n] = true
				}
			})
		}
	}
	sort.Slice(pkts, func(i, j int) bool { return pkts[i].no < pkts[j].no })
	var before, after []packet
	for _, p := range pkts {
		if p.no <= anchor {
			before = append(before, p)
		} else {
			after = append(after, p)
		}
	}
	// keep the last Before packets, and older alert frames as well
	if len(before) > r.cfg.Before {
		cut := len(before) - r.cfg.Before
		var kept []packet
		for _, p := range before[:cut] {
			if want[p.no] {
				kept = append(kept, p)
			}
		}
		before = append(kept, before[cut:]...)
	}
	if len(after) > r.cfg.After {
		after = after[:r.cfg.After]
	}
	pd := &pending{alert: a, match: m, pkts: append(before, after...), need: r.cfg.After - len(after), anchor: anchor}
	if pd.need <= 0 || !m.hasTarget {
		r.write(pd)
		return
	}
	for _, p := range pd.pkts {
		pd.bytes += p.cost()
	}
	r.memory += pd.bytes
	r.pending = append(r.pending, pd)
	for len(r.pending) > r.cfg.MaxPending {
		old := r.pending[0]
		r.pending = r.pending[1:]
		r.write(old)
	}
}

// Flush writes every pending slice with the packets it has, and waits
// until the writer has written everything handed to it.
func (r *Recorder) Flush() error { return r.FlushContext(context.Background()) }

// FlushContext is Flush until ctx ends (a shutdown's deadline): slices not
// written by then are counted as over budget and summed up in the custody
// log, never left unaccounted.
func (r *Recorder) FlushContext(ctx context.Context) error {
	r.mu.Lock()
	pend := r.pending
	r.pending = nil
	for _, pd := range pend {
		r.memory -= pd.bytes
		pd.bytes = 0
	}
	r.queued += len(pend)
	r.mu.Unlock()
	done := make(chan struct{})
	go func() { // handing over may wait for room; the barrier follows every slice
		for _, pd := range pend {
			r.queue <- pd
		}
		r.queue <- &pending{barrier: done}
	}()
	select {
	case <-done:
	case <-ctx.Done():
		r.wmu.Lock()
		r.stopping = true // the writer counts the rest instead of writing it
		r.wmu.Unlock()
		<-done
		r.wmu.Lock()
		r.stopping = false
		r.wmu.Unlock()
	}
	r.wmu.Lock()
	defer r.wmu.Unlock()
	r.summariseOverBudget("at flush")
	err := r.firstErr
	r.firstErr = nil
	return err
}

// Head is the custody log's last entry (sequence number and hash): send it
// off the box (e.g. to the SIEM) to anchor the chain.
func (r *Recorder) Head() (seq uint64, hash string) {
	r.wmu.Lock()
	defer r.wmu.Unlock()
	return r.custody.lastSeq, r.custody.lastHash
}

// Stats returns the counters.
func (r *Recorder) Stats() Stats {
	r.mu.Lock()
	st := Stats{Flows: len(r.rings), Pending: len(r.pending), Queued: r.queued, MemoryBytes: r.memory, FlowsEvicted: r.evicted}
	r.mu.Unlock()
	st.DiskBytes, st.Files = r.pubDisk.Load(), int(r.pubFiles.Load())
	st.Written, st.RetentionRemove = uint64(r.pubWritten.Load()), uint64(r.pubRemoved.Load())
	r.omu.Lock()
	st.OverBudget = r.overBudget
	r.omu.Unlock()
	return st
}

func (r *Recorder) fail(err error) {
	if r.firstErr == nil {
		r.firstErr = err
	}
	if r.cfg.Logf != nil {
		r.cfg.Logf("evidence: %v", err)
	}
}

// fileName is stable and sortable: time of the alert, its id and kind.
func fileName(a *alerts.Alert) string {
	clean := func(s string, n int) string {
		b := []byte(s)
		for i, c := range b {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				b[i] = '_'
			}
		}
		if len(b) > n {
			b = b[:n]
		}
		return string(b)
	}
	ts := a.TS
	if ts.IsZero() {
		ts = time.Now()
	}
	return fmt.Sprintf("%s_%s_%s.pcapng", ts.UTC().Format("20060102T150405.000000000Z"), clean(a.ID, 40), clean(a.Kind, 40))
}

// Comment is the pcapng section comment naming the alert.
func Comment(a *alerts.Alert) string {
	fr := make([]string, len(a.Frames))
	for i, n := range a.Frames {
		fr[i] = strconv.FormatUint(n, 10)
	}
	return fmt.Sprintf("otwatch alert id=%s kind=%s severity=%d frames=%s message=%s",
		a.ID, a.Kind, a.Severity, strings.Join(fr, ","), a.Message)
}

// write hands a finished slice to the writer (the caller holds mu); its
// memory is released. When the writer's queue is full the alert is over
// budget: counted, summed up in the custody log, never waited for.
func (r *Recorder) write(pd *pending) {
	r.memory -= pd.bytes
	pd.bytes = 0
	select {
	case r.queue <- pd:
		r.queued++
	default:
		r.countOverBudget(pd.alert)
	}
}

// writer writes the slices handed to it, within the rate budget.
func (r *Recorder) writer() {
	for pd := range r.queue {
		if pd.barrier != nil {
			close(pd.barrier)
			continue
		}
		r.mu.Lock()
		r.queued--
		r.mu.Unlock()
		r.wmu.Lock()
		now := time.Now()
		if now.Sub(r.minute) >= time.Minute || now.Before(r.minute) {
			r.summariseOverBudget("in the minute before " + now.UTC().Format(time.RFC3339))
			r.minute, r.inMinute = now, 0
		}
		if r.stopping || r.inMinute >= r.cfg.MaxPerMinute {
			r.countOverBudget(pd.alert)
		} else {
			r.inMinute++
			r.writeFile(pd)
			r.publish()
		}
		r.wmu.Unlock()
	}
}

// countOverBudget counts an alert that gets no file.
func (r *Recorder) countOverBudget(a *alerts.Alert) {
	r.omu.Lock()
	defer r.omu.Unlock()
	r.overBudget++
	if len(r.overKinds) < 64 {
		r.overKinds[a.Kind]++
	} else {
		r.overKinds["other"]++
	}
}

// summariseOverBudget writes one custody entry for the alerts that got no
// file since the last one (wmu held).
func (r *Recorder) summariseOverBudget(when string) {
	r.omu.Lock()
	kinds := make([]string, 0, len(r.overKinds))
	var n uint64
	for k, c := range r.overKinds {
		kinds = append(kinds, fmt.Sprintf("%s=%d", k, c))
		n += c
	}
	clear(r.overKinds)
	r.omu.Unlock()
	if n == 0 {
		return
	}
	sort.Strings(kinds)
	if _, err := r.custody.append(Entry{Action: ActionNoEvidence, Detail: fmt.Sprintf(
		"budget: %d alerts got no evidence file %s (at most %d files a minute, %d waiting): %s",
		n, when, r.cfg.MaxPerMinute, r.cfg.MaxQueue, strings.Join(kinds, " "))}); err != nil {
		r.fail(err)
	}
}

// writeFile writes one slice and logs it (wmu held).
func (r *Recorder) writeFile(pd *pending) {
	a := pd.alert
	if len(pd.pkts) == 0 {
		if _, err := r.custody.append(Entry{Action: ActionNoEvidence, Alert: a.ID,
			Detail: "kind=" + a.Kind + ": no packets of the alert's flows held"}); err != nil {
			r.fail(err)
		}
		return
	}
	name := fileName(a)
	for i := 2; ; i++ { // never overwrite evidence
		if _, err := os.Lstat(filepath.Join(r.cfg.Dir, name)); os.IsNotExist(err) {
			break
		}
		name = strings.TrimSuffix(fileName(a), ".pcapng") + "_" + strconv.Itoa(i) + ".pcapng"
	}
	sha, size, err := r.writePcapng(filepath.Join(r.cfg.Dir, name), pd)
	if err != nil {
		r.fail(err)
		return
	}
	want := map[uint64]bool{}
	for _, n := range a.Frames {
		want[n] = true
	}
	for _, p := range pd.pkts {
		delete(want, p.no)
	}
	missing := len(want)
	detail := fmt.Sprintf("kind=%s packets=%d first_frame=%d last_frame=%d alert_frames_not_held=%d",
		a.Kind, len(pd.pkts), pd.pkts[0].no, pd.pkts[len(pd.pkts)-1].no, missing)
	if _, err := r.custody.append(Entry{Action: ActionEvidence, File: name, SHA256: sha, Size: size, Alert: a.ID, Detail: detail}); err != nil {
		r.fail(err)
		return
	}
	r.files = append(r.files, fileInfo{name, sha, size})
	r.disk += size
	r.written++
	r.retain()
}

// retain removes the oldest evidence files beyond MaxBytes (the newest is kept).
func (r *Recorder) retain() {
	for r.disk > r.cfg.MaxBytes && len(r.files) > 1 {
		f := r.files[0]
		if err := os.Remove(filepath.Join(r.cfg.Dir, f.name)); err != nil && !os.IsNotExist(err) {
			r.fail(err)
			return
		}
		r.files = r.files[1:]
		r.disk -= f.size
		r.removed++
		if _, err := r.custody.append(Entry{Action: ActionRetention, File: f.name, SHA256: f.sha, Size: f.size,
			Detail: fmt.Sprintf("disk use %d bytes over max_bytes %d", r.disk+f.size, r.cfg.MaxBytes)}); err != nil {
			r.fail(err)
		}
	}
}

// writePcapng writes the slice to path (through a temporary file, synced)
// and returns its SHA-256 and size.
func (r *Recorder) writePcapng(path string, pd *pending) (string, int64, error) {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o640)
	if err != nil {
		return "", 0, err
	}
	h := sha256.New()
	cw := &countWriter{w: io.MultiWriter(f, h)}
	err = encodePcapng(cw, pd)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return "", 0, err
	}
	return hex.EncodeToString(h.Sum(nil)), cw.n, nil
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

func encodePcapng(w io.Writer, pd *pending) error {
	a := pd.alert
	ng, err := newNgWriter(w, "otwatch", Comment(a))
	if err != nil {
		return err
	}
	ifaces := map[uint32]int{}
	alertFrame := map[uint64]bool{}
	for _, n := range a.Frames {
		alertFrame[n] = true
	}
	for _, p := range pd.pkts {
		idx, ok := ifaces[p.link]
		if !ok {
			if idx, err = ng.addInterface("otwatch", p.link); err != nil {
				return err
			}
			ifaces[p.link] = idx
		}
		c := fmt.Sprintf("otwatch alert %s: original frame %d", a.ID, p.no)
		if alertFrame[p.no] {
			c += " (alert frame)"
		}
		if err := ng.writePacket(idx, p.ts, p.data, p.orig, c); err != nil {
			return err
		}
	}
	return ng.flush()
}
