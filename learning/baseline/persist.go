package baseline

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"net/netip"
	"slices"
	"time"

	"github.com/otwatch/otwatch/learning/store"
	"github.com/otwatch/otwatch/protocols"
)

// The model persists record by record (store.Incremental): a checkpoint
// writes the records that changed since the last one, in a compact binary
// form; the baseline document (document.go) stays what people review.
//
// Buckets and records (integers big-endian in keys, varints in values):
//
//	model  "meta"                       netStart, netNew, quiet
//	       "n" kind(1) id(4)            an interned name: c client, s string, f field, u protocol\x00unit
//	hosts  ip                           first seen
//	a<ip>  "m"                          the asset: first seen, last new key, learn until, detecting, protocols
//	       'f' client pu code sub op    a function: count, first, last, period, jitter, target ranges
//	       'p' space pu id address sub bits field   a value model (ids and address as varints)
//	       'l' client proto             a link: count, first, last, learned rates, the classes learned over less than 10 s
//	       'w' pu space                 the ranges written or commanded in a space
//	       'n' pu id                    a node written or called
//
// Learned state changes only while an asset learns, so in detection a
// checkpoint writes nearly nothing. What detection keeps of the present
// (when each function was last seen) is not persisted: after a load, the
// first packet heard restarts the clock of every poll (Model.Heard).

var (
	bucketModel = []byte("model")
	bucketHosts = []byte("hosts")
	keyMeta     = []byte("meta")
	keyAsset    = []byte("m")
)

// maxDirty bounds the records remembered as changed; beyond it the next
// save is a full one (in bounded transactions) rather than a longer list.
const maxDirty = 200000

// persistence is what the model remembers for its next save.
type persistence struct {
	full      bool     // the next save writes everything
	dirty     []*Asset // assets with unsaved changes
	deleted   []netip.Addr
	hosts     []netip.Addr // hosts learned since the last save
	metaDirty bool
	pending   int    // dirty records listed
	saved     [4]int // names saved per table: clients, strs, fields, protoUnits
	loaded    bool   // restored from records: the clock of polls restarts at the first packet heard (Heard)
}

// assetDirt lists an asset's unsaved records.
type assetDirt struct {
	listed  bool // in persistence.dirty
	meta    bool
	funcs   []funcKey
	points  []pointKey
	links   []linkKey
	changed []spaceKey
	ids     []nodeKey
}

func (m *Model) dirtyAsset(a *Asset) {
	if m.ps.full || a.dirt.listed {
		return
	}
	a.dirt.listed = true
	m.ps.dirty = append(m.ps.dirty, a)
}

// Dirty is the number of records the next save writes (-1: all of them).
func (m *Model) Dirty() int {
	if m.ps.full {
		return -1
	}
	return m.ps.pending
}

// noteDirty counts a listed record, switching to a full save when the
// lists would grow too long (while a plant is first learned).
func (m *Model) noteDirty() bool {
	if m.ps.full {
		return false
	}
	m.ps.pending++
	if m.ps.pending > maxDirty {
		m.markFull()
		return false
	}
	return true
}

// markFull forgets the lists: the next save writes everything.
func (m *Model) markFull() {
	m.ps.full = true
	for _, a := range m.ps.dirty {
		a.dirt = assetDirt{}
	}
	m.ps.dirty, m.ps.hosts, m.ps.deleted, m.ps.pending = nil, nil, nil, 0
}

func (m *Model) dirtyMeta(a *Asset) {
	if m.ps.full {
		return
	}
	m.dirtyAsset(a)
	a.dirt.meta = true
}

func (m *Model) dirtyFunc(a *Asset, k funcKey, f *Function) {
	if f.dirty || m.ps.full || !m.noteDirty() {
		return
	}
	f.dirty = true
	m.dirtyAsset(a)
	a.dirt.funcs = append(a.dirt.funcs, k)
}

func (m *Model) dirtyLink(a *Asset, k linkKey, l *Link) {
	if l.dirty || m.ps.full || !m.noteDirty() {
		return
	}
	l.dirty = true
	m.dirtyAsset(a)
	a.dirt.links = append(a.dirt.links, k)
}

// dirtyPoint marks a value model (the caller stores vm back).
func (m *Model) dirtyPoint(a *Asset, k pointKey, vm *ValueModel) {
	if vm.flags&vmDirty != 0 || m.ps.full || !m.noteDirty() {
		return
	}
	vm.flags |= vmDirty
	m.dirtyAsset(a)
	a.dirt.points = append(a.dirt.points, k)
}

func (m *Model) dirtyChanged(a *Asset, k spaceKey) {
	if m.ps.full || !m.noteDirty() {
		return
	}
	m.dirtyAsset(a)
	a.dirt.changed = append(a.dirt.changed, k)
}

func (m *Model) dirtyID(a *Asset, k nodeKey) {
	if m.ps.full || !m.noteDirty() {
		return
	}
	m.dirtyAsset(a)
	a.dirt.ids = append(a.dirt.ids, k)
}

// learnHost records a host of the network (it stays until an import).
func (m *Model) learnHost(ip netip.Addr, at time.Time) {
	if _, ok := m.hosts[ip]; ok || len(m.hosts) >= maxHosts {
		return
	}
	m.hosts[ip] = at
	m.netChanged()
	if !m.ps.full && m.noteDirty() {
		m.ps.hosts = append(m.ps.hosts, ip)
	}
}

// NeedsFull implements store.Incremental.
func (m *Model) NeedsFull() bool { return m.ps.full }

// SaveFailed implements store.Incremental.
func (m *Model) SaveFailed() { m.markFull() }

// SaveChanges implements store.Incremental.
func (m *Model) SaveChanges(w store.Writer, full bool) error {
	var buf, key []byte
	put := func(bucket, k, v []byte) error { return w.Put(bucket, k, v) }
	// the model: meta and the names interned since the last save
	if full || m.ps.metaDirty {
		buf = binary.AppendVarint(appendTime(appendTime(buf[:0], m.netStart), m.netNew), int64(m.quiet))
		if err := put(bucketModel, keyMeta, buf); err != nil {
			return err
		}
	}
	if full {
		m.ps.saved = [4]int{}
	}
	tables := []struct {
		kind byte
		n    int
		name func(i int) []byte
	}{
		{'c', len(m.clients.list), func(i int) []byte { b, _ := m.clients.list[i].MarshalBinary(); return b }},
		{'s', len(m.strs.list), func(i int) []byte { return []byte(m.strs.list[i]) }},
		{'f', len(m.fields.list), func(i int) []byte { return []byte(m.fields.list[i]) }},
		{'u', len(m.puNames), func(i int) []byte { return []byte(m.puNames[i].proto + "\x00" + m.puNames[i].unit) }},
	}
	for t, tb := range tables {
		for i := m.ps.saved[t]; i < tb.n; i++ {
			key = append(append(key[:0], 'n', tb.kind), 0, 0, 0, 0)
			binary.BigEndian.PutUint32(key[2:], uint32(i+1))
			if err := put(bucketModel, key, tb.name(i)); err != nil {
				return err
			}
		}
		m.ps.saved[t] = tb.n
	}
	// hosts
	writeHost := func(ip netip.Addr, at time.Time) error {
		k, _ := ip.MarshalBinary()
		return put(bucketHosts, k, appendTime(buf[:0], at))
	}
	if full {
		for ip, at := range m.hosts {
			if err := writeHost(ip, at); err != nil {
				return err
			}
		}
	} else {
		for _, ip := range m.ps.hosts {
			if at, ok := m.hosts[ip]; ok {
				if err := writeHost(ip, at); err != nil {
					return err
				}
			}
		}
		for _, ip := range m.ps.deleted {
			if err := w.DeleteBucket(assetBucket(ip)); err != nil {
				return err
			}
		}
	}
	// assets
	if full {
		for _, a := range m.assets {
			if err := m.saveAsset(w, a, nil); err != nil {
				return err
			}
			a.dirt = assetDirt{}
		}
	} else {
		for _, a := range m.ps.dirty {
			if m.assets[a.Server] != a {
				continue // relearned since: its successor is listed
			}
			if err := m.saveAsset(w, a, &a.dirt); err != nil {
				return err
			}
			a.dirt = assetDirt{}
		}
	}
	m.ps.full, m.ps.metaDirty, m.ps.pending = false, false, 0
	m.ps.dirty, m.ps.hosts, m.ps.deleted = nil, nil, nil
	return nil
}

func assetBucket(ip netip.Addr) []byte {
	b, _ := ip.MarshalBinary()
	return append([]byte{'a'}, b...)
}

// saveAsset writes an asset's records: all of them, or the dirty ones.
func (m *Model) saveAsset(w store.Writer, a *Asset, d *assetDirt) error {
	bucket := assetBucket(a.Server)
	var key, val []byte
	if d == nil || d.meta {
		val = m.appendAssetMeta(val[:0], a)
		if err := w.Put(bucket, keyAsset, val); err != nil {
			return err
		}
	}
	putFunc := func(k funcKey, f *Function) error {
		f.dirty = false
		key = appendFuncKey(key[:0], k)
		return w.Put(bucket, key, appendFunction(val[:0], f))
	}
	putPoint := func(k pointKey, vm ValueModel) error {
		key = appendPointKey(key[:0], k)
		return w.Put(bucket, key, appendValueModel(val[:0], &vm))
	}
	putLink := func(k linkKey, l *Link) error {
		l.dirty = false
		key = binary.BigEndian.AppendUint32(binary.BigEndian.AppendUint32(append(key[:0], 'l'), k.client), k.proto)
		return w.Put(bucket, key, appendLink(val[:0], l))
	}
	putChanged := func(k spaceKey, rs *RangeSet) error {
		key = binary.BigEndian.AppendUint32(binary.BigEndian.AppendUint32(append(key[:0], 'w'), k.pu), k.space)
		return w.Put(bucket, key, appendRanges(val[:0], *rs))
	}
	putID := func(k nodeKey) error {
		key = binary.BigEndian.AppendUint32(binary.BigEndian.AppendUint32(append(key[:0], 'n'), k.pu), k.id)
		return w.Put(bucket, key, nil)
	}
	if d == nil {
		for k, f := range a.functions {
			if err := putFunc(k, f); err != nil {
				return err
			}
		}
		// in key order: pages are filled whole (store.Writer's full saves)
		pks := make([][]byte, 0, a.points.len())
		a.points.each(func(k pointKey, vm ValueModel) {
			if vm.flags&vmDirty != 0 {
				vm.flags &^= vmDirty
				a.points.set(k, vm)
			}
			pks = append(pks, appendPointKey(nil, k))
		})
		slices.SortFunc(pks, bytes.Compare)
		for _, pkb := range pks {
			kd := dec{b: pkb[1:]}
			vm, _ := a.points.get(kd.pointKey())
			if err := w.Put(bucket, pkb, appendValueModel(val[:0], &vm)); err != nil {
				return err
			}
		}
		for k, l := range a.links {
			if err := putLink(k, l); err != nil {
				return err
			}
		}
		for k, rs := range a.changed {
			if err := putChanged(k, rs); err != nil {
				return err
			}
		}
		for k := range a.changedIDs {
			if err := putID(k); err != nil {
				return err
			}
		}
		return nil
	}
	for _, k := range d.funcs {
		if f := a.functions[k]; f != nil {
			if err := putFunc(k, f); err != nil {
				return err
			}
		}
	}
	for _, k := range d.points {
		if vm, ok := a.points.get(k); ok {
			vm.flags &^= vmDirty
			a.points.set(k, vm)
			if err := putPoint(k, vm); err != nil {
				return err
			}
		}
	}
	for _, k := range d.links {
		if l := a.links[k]; l != nil {
			if err := putLink(k, l); err != nil {
				return err
			}
		}
	}
	for _, k := range d.changed {
		if rs := a.changed[k]; rs != nil {
			if err := putChanged(k, rs); err != nil {
				return err
			}
		}
	}
	for _, k := range d.ids {
		if err := putID(k); err != nil {
			return err
		}
	}
	return nil
}

// ---- encoding

func appendTime(b []byte, t time.Time) []byte {
	if t.IsZero() {
		return binary.AppendVarint(b, 0)
	}
	return binary.AppendVarint(b, t.UnixNano())
}

func appendF64(b []byte, f float64) []byte {
	return binary.LittleEndian.AppendUint64(b, math.Float64bits(f))
}

func (m *Model) appendAssetMeta(b []byte, a *Asset) []byte {
	b = appendTime(b, a.FirstSeen)
	b = appendTime(b, a.LastNewKey)
	b = appendTime(b, a.LearnUntil)
	flags := byte(0)
	if a.Detecting {
		flags = 1
	}
	b = append(b, flags)
	b = binary.AppendUvarint(b, uint64(len(a.protos)))
	for _, p := range a.protos {
		b = binary.AppendUvarint(b, uint64(m.strs.id(p.proto, true)))
		b = binary.AppendUvarint(b, p.n)
	}
	// how many points follow: a load makes room for them at once ('m'
	// sorts before 'p')
	return binary.AppendUvarint(b, uint64(a.points.len()))
}

func appendFuncKey(b []byte, k funcKey) []byte {
	b = append(b, 'f')
	b = binary.BigEndian.AppendUint32(b, k.client)
	b = binary.BigEndian.AppendUint32(b, k.pu)
	b = binary.BigEndian.AppendUint32(b, uint32(k.code))
	b = binary.BigEndian.AppendUint32(b, uint32(k.subcode))
	return append(b, byte(k.op))
}

func appendFunction(b []byte, f *Function) []byte {
	b = binary.AppendUvarint(b, f.Count)
	b = binary.AppendVarint(b, f.First)
	b = binary.AppendVarint(b, f.Last)
	b = appendF64(b, f.Period)
	b = appendF64(b, f.Jitter)
	if f.Ranges == nil {
		b = binary.AppendUvarint(b, 0)
	} else {
		b = binary.AppendUvarint(b, uint64(1+len(f.More)))
		b = binary.AppendUvarint(b, uint64(f.Space))
		b = appendRanges(b, f.Ranges)
		for _, sr := range f.More {
			b = binary.AppendUvarint(b, uint64(sr.Space))
			b = appendRanges(b, sr.Ranges)
		}
	}
	if f.Late { // a trailing flags byte, absent when none is set
		b = append(b, funcLate)
	}
	return b
}

// funcLate flags a function whose last transaction went unanswered.
const funcLate = 1

func appendRanges(b []byte, rs RangeSet) []byte {
	b = binary.AppendUvarint(b, uint64(len(rs)))
	for _, r := range rs {
		b = binary.AppendUvarint(b, r.Lo)
		b = binary.AppendUvarint(b, r.Hi-r.Lo)
	}
	return b
}

// appendPointKey packs a point key: a million of them are most of the
// file, so ids and the address are varints (about 8 bytes in all).
func appendPointKey(b []byte, k pointKey) []byte {
	b = append(b, 'p')
	b = binary.AppendUvarint(b, uint64(k.space))
	b = binary.AppendUvarint(b, uint64(k.pu))
	b = binary.AppendUvarint(b, uint64(k.id))
	b = binary.AppendUvarint(b, k.address)
	return append(b, k.sub, k.bits, k.field)
}

func (d *dec) pointKey() pointKey {
	k := pointKey{space: uint32(d.uvarint()), pu: uint32(d.uvarint()), id: uint32(d.uvarint()), address: d.uvarint()}
	t := d.take(3)
	k.sub, k.bits, k.field = t[0], t[1], t[2]
	return k
}

// appendNum writes a number in a byte or three when it is an integer
// (as most written values are), in nine otherwise.
func appendNum(b []byte, f float64) []byte {
	if f == math.Trunc(f) && math.Abs(f) < 1<<53 {
		i := int64(f)
		return binary.AppendUvarint(b, uint64(i<<1^i>>63)<<1) // zigzag, tag 0
	}
	return appendF64(binary.AppendUvarint(b, 1), f)
}

func (d *dec) num() float64 {
	u := d.uvarint()
	if u&1 == 0 {
		z := u >> 1
		return float64(int64(z>>1) ^ -int64(z&1))
	}
	return d.f64()
}

func appendValueModel(b []byte, vm *ValueModel) []byte {
	b = append(b, byte(vm.Type.Kind), vm.Type.Bits, vm.flags&^(vmDirty|vmLastIn), vm.n)
	b = binary.AppendUvarint(b, uint64(vm.Count))
	b = binary.AppendUvarint(b, uint64(vm.Changes))
	b = appendNum(b, vm.Min)
	b = appendNum(b, vm.Max)
	b = appendNum(b, vm.Last)
	if vm.n > 2 {
		for _, d := range vm.inner[:vm.n-2] {
			b = appendNum(b, float64(d))
		}
	}
	return b
}

func appendLink(b []byte, l *Link) []byte {
	b = binary.AppendUvarint(b, l.Count)
	b = appendTime(b, l.First)
	b = appendTime(b, l.Last)
	mask := byte(0)
	for c, r := range l.rates {
		if r != nil && (r.MaxShort > 0 || r.MaxLong > 0) {
			mask |= 1 << c
		}
	}
	b = append(b, mask)
	partial := byte(0)
	for c, r := range l.rates {
		if mask&(1<<c) != 0 {
			b = binary.AppendUvarint(b, uint64(r.MaxShort))
			b = binary.AppendUvarint(b, uint64(r.MaxLong))
			if r.Partial {
				partial |= 1 << c
			}
		}
	}
	return append(b, partial)
}

// ---- decoding

var errRecord = errors.New("record cut short or malformed")

// dec reads a record; its first error sticks.
type dec struct {
	b   []byte
	err error
}

func (d *dec) uvarint() uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.err, d.b = errRecord, nil
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *dec) varint() int64 {
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.err, d.b = errRecord, nil
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *dec) time() time.Time {
	ns := d.varint()
	if ns == 0 {
		return time.Time{}
	}
	return time.Unix(0, ns).UTC()
}

func (d *dec) take(n int) []byte {
	if n < 0 || n > len(d.b) {
		d.err, d.b = errRecord, nil
		return make([]byte, max(n, 0))
	}
	out := d.b[:n]
	d.b = d.b[n:]
	return out
}

func (d *dec) f64() float64 { return math.Float64frombits(binary.LittleEndian.Uint64(d.take(8))) }

func (d *dec) ranges() RangeSet {
	n := d.uvarint()
	if n > uint64(len(d.b)) {
		d.err = errRecord
		return nil
	}
	rs := make(RangeSet, 0, n)
	for i := uint64(0); i < n && d.err == nil; i++ {
		lo := d.uvarint()
		span := d.uvarint()
		if lo+span < lo {
			d.err = errRecord
		}
		rs = append(rs, Range{lo, lo + span})
	}
	return rs
}

// LoadRecords implements store.Incremental.
func (m *Model) LoadRecords(r store.Reader) error {
	n := New(m.cfg)
	if err := r.ForEach(bucketModel, n.loadModelRecord); err != nil {
		return fmt.Errorf("model: %w", err)
	}
	if err := r.ForEach(bucketHosts, func(k, v []byte) error {
		var ip netip.Addr
		if err := ip.UnmarshalBinary(k); err != nil {
			return fmt.Errorf("host %x: %w", k, err)
		}
		d := dec{b: v}
		n.hosts[ip] = d.time()
		return d.err
	}); err != nil {
		return fmt.Errorf("hosts: %w", err)
	}
	err := r.Buckets(func(name []byte) error {
		if len(name) == 0 || name[0] != 'a' {
			return nil
		}
		var ip netip.Addr
		if err := ip.UnmarshalBinary(name[1:]); err != nil {
			return fmt.Errorf("asset bucket %x: %w", name, err)
		}
		a := newAsset(ip, time.Time{})
		if err := r.ForEach(name, func(k, v []byte) error { return n.loadAssetRecord(a, k, v) }); err != nil {
			return fmt.Errorf("asset %s: %w", ip, err)
		}
		a.points.finish()
		if !a.Detecting && n.cfg.Mode != ModeDetect {
			a.points.thaw() // still learning: points come and go
		}
		n.assets[ip] = a
		n.keys += a.keys
		return nil
	})
	if err != nil {
		return err
	}
	n.ps.saved = [4]int{len(n.clients.list), len(n.strs.list), len(n.fields.list), len(n.puNames)}
	n.ps.loaded, n.ps.full = true, false // what the store holds: only changes are saved
	mode := m.cfg.Mode
	*m = *n
	m.cfg.Mode = mode
	return nil
}

func (m *Model) loadModelRecord(k, v []byte) error {
	if string(k) == string(keyMeta) {
		d := dec{b: v}
		m.netStart, m.netNew = d.time(), d.time()
		m.netChanged()
		if len(d.b) > 0 { // written since 2026-12-05
			m.quiet = time.Duration(d.varint())
		}
		return d.err
	}
	if len(k) != 6 || k[0] != 'n' {
		return fmt.Errorf("unknown record %q", k)
	}
	id := int(binary.BigEndian.Uint32(k[2:]))
	var have int
	switch k[1] {
	case 'c':
		var ip netip.Addr
		if err := ip.UnmarshalBinary(v); err != nil {
			return fmt.Errorf("client %d: %w", id, err)
		}
		have = int(m.clients.id(ip, true))
	case 's':
		have = int(m.strs.id(string(v), true))
	case 'f':
		have = int(m.fields.id(string(v), true))
	case 'u':
		proto, unit, ok := cutNUL(string(v))
		if !ok {
			return fmt.Errorf("protocol/unit %d: %q", id, v)
		}
		have = int(m.puID(proto, unit, true))
	default:
		return fmt.Errorf("unknown name table %q", k[1])
	}
	if have != id {
		return fmt.Errorf("name %c%d: stored out of order or twice (got id %d)", k[1], id, have)
	}
	return nil
}

func cutNUL(s string) (string, string, bool) {
	for i := 0; i < len(s); i++ {
		if s[i] == 0 {
			return s[:i], s[i+1:], true
		}
	}
	return "", "", false
}

func (m *Model) loadAssetRecord(a *Asset, k, v []byte) error {
	if len(k) == 0 {
		return fmt.Errorf("asset record without a key")
	}
	d := dec{b: v}
	be := binary.BigEndian
	switch {
	case string(k) == string(keyAsset):
		a.FirstSeen, a.LastNewKey, a.LearnUntil = d.time(), d.time(), d.time()
		flags := d.take(1)
		a.Detecting = flags[0]&1 != 0
		for i, n := uint64(0), d.uvarint(); i < n && d.err == nil; i++ {
			p := m.strs.name(uint32(d.uvarint()))
			a.setServed(p, d.uvarint())
		}
		if n := d.uvarint(); d.err == nil && a.points.len() == 0 && n <= uint64(m.cfg.MaxKeysPerAsset) {
			a.points.sorted = make([]pointEntry, 0, n)
		}
	case k[0] == 'f' && len(k) == 18:
		fk := funcKey{client: be.Uint32(k[1:]), pu: be.Uint32(k[5:]), code: int32(be.Uint32(k[9:])), subcode: int32(be.Uint32(k[13:])),
			op: protocols.Op(k[17])}
		if !m.knownPU(fk.pu) {
			return fmt.Errorf("function of unknown protocol/unit %d", fk.pu)
		}
		f := &Function{Count: d.uvarint(), First: d.varint(), Last: d.varint(), Period: d.f64(), Jitter: d.f64()}
		f.Seen = f.Last
		for i, n := uint64(0), d.uvarint(); i < n && d.err == nil; i++ {
			space := uint32(d.uvarint())
			rs := d.ranges()
			if i == 0 {
				f.Space, f.Ranges = space, rs
			} else {
				f.More = append(f.More, SpaceRanges{space, rs})
			}
		}
		if d.err == nil && len(d.b) > 0 {
			f.Late = d.take(1)[0]&funcLate != 0
		}
		a.functions[fk] = f
		a.addUnit(fk.pu)
		a.keys++
	case k[0] == 'p':
		kd := dec{b: k[1:]}
		pk := kd.pointKey()
		if kd.err != nil || len(kd.b) != 0 {
			return fmt.Errorf("point key %x: %w", k, errRecord)
		}
		if !m.knownPU(pk.pu) {
			return fmt.Errorf("point of unknown protocol/unit %d", pk.pu)
		}
		h := d.take(4)
		vm := ValueModel{Type: protocols.NumType{Kind: protocols.NumKind(h[0]), Bits: h[1]}, flags: h[2] &^ (vmDirty | vmLastIn), n: h[3]}
		vm.Count, vm.Changes = uint32(d.uvarint()), uint32(d.uvarint())
		vm.Min, vm.Max, vm.Last = d.num(), d.num(), d.num()
		if vm.n > maxEnum {
			return errRecord
		}
		for i := 0; i < int(vm.n)-2; i++ {
			vm.inner[i] = float32(d.num())
		}
		vm.settle()
		a.points.load(pk, vm)
		a.keys++
	case k[0] == 'l' && len(k) == 9:
		lk := linkKey{client: be.Uint32(k[1:]), proto: be.Uint32(k[5:])}
		l := &Link{Count: d.uvarint(), First: d.time(), Last: d.time()}
		mask := d.take(1)[0]
		for c := rateClass(0); c < numRateClasses; c++ {
			if mask&(1<<c) != 0 {
				r := l.rate(c)
				r.MaxShort, r.MaxLong = uint32(d.uvarint()), uint32(d.uvarint())
			}
		}
		if len(d.b) > 0 { // written since 2026-12-05
			partial := d.take(1)[0]
			for c, r := range l.rates {
				if r != nil {
					r.Partial = partial&(1<<c) != 0
				}
			}
		}
		a.links[lk] = l
	case k[0] == 'w' && len(k) == 9:
		sk := spaceKey{be.Uint32(k[1:]), be.Uint32(k[5:])}
		if !m.knownPU(sk.pu) {
			return fmt.Errorf("targets written of unknown protocol/unit %d", sk.pu)
		}
		rs := d.ranges()
		a.changed[sk] = &rs
	case k[0] == 'n' && len(k) == 9:
		nk := nodeKey{be.Uint32(k[1:]), be.Uint32(k[5:])}
		if !m.knownPU(nk.pu) {
			return fmt.Errorf("node written of unknown protocol/unit %d", nk.pu)
		}
		if a.changedIDs == nil {
			a.changedIDs = map[nodeKey]struct{}{}
		}
		a.changedIDs[nk] = struct{}{}
		a.keys++
	default:
		return fmt.Errorf("unknown record %x", k)
	}
	if d.err == nil && len(d.b) != 0 {
		return fmt.Errorf("record %x: %d bytes left over", k, len(d.b))
	}
	if d.err != nil {
		return fmt.Errorf("record %x: %w", k, d.err)
	}
	return nil
}
