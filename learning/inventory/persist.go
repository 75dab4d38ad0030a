package inventory

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/maphash"
	"math"
	"sort"

	"github.com/otwatch/otwatch/learning/store"
	"github.com/otwatch/otwatch/protocols"
)

// The inventory is kept in the state file as records (learning/store's
// Incremental): one per host, per asset and per link, keyed by their index
// (indices only grow), and one for the rest (protocols, MACs, ARP,
// neighbours, statistics). A checkpoint writes the records that changed
// since the last one, not the whole document: live traffic changes the
// counters of the hosts that talk, every second, and at 10,000 PLCs the
// document is 7 MiB.
//
// Hosts, assets and links are compact binary records (varints: a zero
// costs a byte); the rest is the JSON document without them. What changed
// is found at the save: each record is encoded and compared with the hash
// of what was last saved at its index, so no code that changes the
// inventory has to remember to mark what it changed. A field the encoding
// missed would be lost, which TestFingerprintsSeeEveryField guards.

var (
	recHosts  = []byte("hosts")
	recAssets = []byte("assets")
	recLinks  = []byte("links")
	recMeta   = []byte("meta")
	keyMeta   = []byte("meta")
)

// persisted is what the inventory knows of its records on disk.
type persisted struct {
	full                          bool // the next save writes everything
	hostSums, assetSums, linkSums []uint64
	metaSum                       uint64
	scratch                       []byte
}

var sumSeed = maphash.MakeSeed()

// NeedsFull says the next save must write everything (store.Incremental).
func (inv *Inventory) NeedsFull() bool { return inv.ps.full }

// SaveFailed says the last save did not reach the disk (store.Incremental).
func (inv *Inventory) SaveFailed() { inv.ps.full = true }

// SaveChanges writes the records whose fingerprint changed since the last
// save; every record when full (store.Incremental).
func (inv *Inventory) SaveChanges(w store.Writer, full bool) error {
	inv.flushCounted()
	ps := &inv.ps
	if full || ps.full {
		full = true
		ps.hostSums, ps.assetSums, ps.linkSums, ps.metaSum = ps.hostSums[:0], ps.assetSums[:0], ps.linkSums[:0], 0
	}
	var key [4]byte
	// save writes record i unless it hashes as what was last saved there
	save := func(bucket []byte, sums *[]uint64, i int, rec []byte) error {
		sum := ps.sum(rec)
		if i < len(*sums) {
			if (*sums)[i] == sum {
				return nil
			}
			(*sums)[i] = sum
		} else {
			*sums = append(*sums, sum)
		}
		binary.BigEndian.PutUint32(key[:], uint32(i))
		return w.Put(bucket, key[:], rec)
	}
	for i := range inv.hosts {
		if err := save(recHosts, &ps.hostSums, i, appendHostRecord(ps.scratch[:0], &inv.hosts[i])); err != nil {
			return err
		}
	}
	for i, a := range inv.assets {
		if err := save(recAssets, &ps.assetSums, i, appendAssetRecord(ps.scratch[:0], a)); err != nil {
			return err
		}
	}
	for i := range inv.links {
		if err := save(recLinks, &ps.linkSums, i, appendLinkRecord(ps.scratch[:0], &inv.links[i])); err != nil {
			return err
		}
	}
	// The counts never shrink between saves: restore replaces the whole
	// Inventory (its persisted part too), and a loaded snapshot sets full.
	meta, err := json.Marshal(inv.metaState())
	if err != nil {
		return fmt.Errorf("inventory meta: %w", err)
	}
	if sum := maphash.Bytes(sumSeed, meta); full || sum != ps.metaSum {
		if err := w.Put(recMeta, keyMeta, meta); err != nil {
			return err
		}
		ps.metaSum = sum
	}
	ps.full = false
	return nil
}

// metaState is the document without its hosts, assets and links.
func (inv *Inventory) metaState() *state {
	st := &state{Version: stateVersion, Stats: inv.stats, AssetLimitHit: inv.assetLimitHit, LinkLimitHit: inv.linkLimitHit}
	for _, p := range inv.protos {
		st.Protos = append(st.Protos, p.name)
	}
	for mac, mi := range inv.macs {
		st.MACs = append(st.MACs, stateMAC{MAC: mac, macInfo: *mi})
	}
	sort.Slice(st.MACs, func(i, j int) bool { return string(st.MACs[i].MAC[:]) < string(st.MACs[j].MAC[:]) })
	for ip, b := range inv.arp {
		st.ARP = append(st.ARP, stateARP{IP: ip, arpBinding: *b})
	}
	sort.Slice(st.ARP, func(i, j int) bool { return st.ARP[i].IP.Less(st.ARP[j].IP) })
	st.Neighbors = inv.neighborState()
	return st
}

// LoadRecords restores the inventory from its records (store.Incremental).
func (inv *Inventory) LoadRecords(r store.Reader) error {
	var st state
	metaSeen := false
	if err := r.ForEach(recMeta, func(k, v []byte) error {
		metaSeen = true
		return json.Unmarshal(v, &st)
	}); err != nil {
		return fmt.Errorf("inventory state: %w", err)
	}
	if !metaSeen {
		return fmt.Errorf("inventory state: no meta record")
	}
	var err error
	if st.Hosts, err = readAll(r, recHosts, "host", readHostRecord); err != nil {
		return err
	}
	if st.Assets, err = readAll(r, recAssets, "asset", readAssetRecord); err != nil {
		return err
	}
	if st.Links, err = readAll(r, recLinks, "link", readLinkRecord); err != nil {
		return err
	}
	if err := inv.restore(&st); err != nil {
		return err
	}
	// What is on disk now is what a full save would write: note its
	// hashes, writing nothing, so the next save writes only what changes.
	return inv.SaveChanges(discard{}, true)
}

// discard is a store.Writer that writes nothing.
type discard struct{}

func (discard) Put(bucket, key, value []byte) error { return nil }
func (discard) Delete(bucket, key []byte) error     { return nil }
func (discard) DeleteBucket(bucket []byte) error    { return nil }

// sum hashes a record (encoded into the scratch buffer) and keeps the
// buffer for the next one.
func (ps *persisted) sum(rec []byte) uint64 {
	ps.scratch = rec
	return maphash.Bytes(sumSeed, rec)
}

// readAll reads a bucket's records, which must be indices 0, 1, 2, ...
func readAll[T any](r store.Reader, bucket []byte, what string, read func([]byte) (T, error)) ([]T, error) {
	var out []T
	err := r.ForEach(bucket, func(k, v []byte) error {
		if len(k) != 4 || int(binary.BigEndian.Uint32(k)) != len(out) {
			return fmt.Errorf("%s record %x out of order (want %d)", what, k, len(out))
		}
		x, err := read(v)
		if err != nil {
			return err
		}
		out = append(out, x)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("inventory state: %w", err)
	}
	return out, nil
}

// Records: every field a record's JSON document holds, in a fixed layout
// of varints (a zero costs a byte: most of a host's op counters are zero),
// led by a format byte. The bytes are also the record's fingerprint.

const recordFormat = 1

func appendUv(b []byte, v uint64) []byte { return binary.AppendUvarint(b, v) }

func appendV(b []byte, v int64) []byte { return binary.AppendVarint(b, v) }

func appendHostRecord(b []byte, h *host) []byte {
	b = append(b, recordFormat)
	ip, _ := h.IP.MarshalBinary()
	b = append(appendUv(b, uint64(len(ip))), ip...)
	b = append(b, h.MAC[:]...)
	b = protocols.AppendRecBool(b, h.HasMAC)
	b = appendUv(b, uint64(h.VLAN))
	b = appendV(b, int64(h.Asset))
	for _, v := range [...]uint64{h.PktsOut, h.BytesOut, h.PktsIn, h.BytesIn} {
		b = appendUv(b, v)
	}
	for _, v := range [...]int64{h.First, h.Last, h.LastSent} {
		b = appendV(b, v)
	}
	b = appendUv(b, uint64(len(h.Services)))
	for _, s := range h.Services {
		b = appendUv(b, uint64(s))
	}
	if h.Ev == nil {
		return append(b, 0)
	}
	b = append(b, 1)
	e := h.Ev
	b = appendUv(b, uint64(len(e.Protos)))
	for _, u := range e.Protos {
		b = append(b, u.Proto, u.Side)
		b = appendUv(appendUv(appendUv(b, uint64(u.Port)), u.Count), u.FirstFrame)
		b = appendV(appendV(b, u.First), u.Last)
	}
	for i := range e.Ops {
		b = appendUv(appendUv(b, uint64(e.Ops[i])), e.OpFrame[i])
	}
	b = appendUv(appendUv(b, uint64(e.SZL)), e.SZLFrame)
	b = appendUv(b, uint64(len(e.Reads)))
	for _, r := range e.Reads {
		b = appendUv(b, uint64(r))
	}
	b = appendUv(b, e.ReadPoints)
	b = appendUv(b, uint64(len(e.Identity)))
	for _, f := range e.Identity {
		b = protocols.AppendRecString(b, f.Field)
		b = appendUv(b, uint64(len(f.Values)))
		for _, v := range f.Values {
			b = protocols.AppendRecString(protocols.AppendRecString(b, v.Value), v.Message)
			b = append(b, v.Proto)
			b = appendUv(appendUv(b, v.FirstFrame), v.LastFrame)
			b = appendV(appendV(b, v.First), v.Last)
			b = appendUv(b, v.Count)
		}
	}
	return appendUv(b, uint64(e.IdentityDrop))
}

func appendAssetRecord(b []byte, a *asset) []byte {
	b = append(b, recordFormat)
	b = protocols.AppendRecString(b, a.ID)
	b = append(b, a.MAC[:]...)
	b = protocols.AppendRecBool(b, a.HasMAC)
	b = append(b, a.RouterMAC[:]...)
	b = protocols.AppendRecBool(b, a.BehindRouter)
	b = appendUv(b, uint64(len(a.Hosts)))
	for _, h := range a.Hosts {
		b = appendV(b, int64(h))
	}
	return appendV(appendV(b, a.First), a.Last)
}

func appendLinkRecord(b []byte, l *link) []byte {
	b = append(b, recordFormat)
	b = appendV(appendV(b, int64(l.Key.Client)), int64(l.Key.Server))
	b = append(b, l.Key.Proto)
	for _, n := range l.Ops {
		b = appendUv(b, uint64(n))
	}
	return appendUv(appendV(appendV(b, l.First), l.Last), l.FirstFrame)
}

// recordReader reads a record through the shared cursor (its first error
// sticks, reads give zeros after it, counts are bounded by the bytes
// left, so a damaged record cannot make it allocate much), with the
// inventory's fixed-width fields.
type recordReader struct{ protocols.Cursor }

var errRecord = errors.New("damaged record")

func (r *recordReader) u32() uint32 { return uint32(r.Bounded(math.MaxUint32)) }

func (r *recordReader) raw(dst []byte) { copy(dst, r.Take(len(dst))) }

func (r *recordReader) done(what string) error {
	if !r.Failed() && r.Len() != 0 {
		r.Fail()
	}
	if r.Failed() {
		return fmt.Errorf("%s: %w", what, errRecord)
	}
	return nil
}

func readHostRecord(b []byte) (host, error) {
	var h host
	r := &recordReader{protocols.NewCursor(b)}
	if f := r.U8(); f != recordFormat {
		return h, fmt.Errorf("host record: format %d unknown", f)
	}
	if err := h.IP.UnmarshalBinary(r.Bytes()); err != nil {
		r.Fail()
	}
	r.raw(h.MAC[:])
	h.HasMAC = r.Bool()
	h.VLAN = uint16(r.Bounded(math.MaxUint16))
	h.Asset = r.Int32()
	h.PktsOut, h.BytesOut, h.PktsIn, h.BytesIn = r.Uvarint(), r.Uvarint(), r.Uvarint(), r.Uvarint()
	h.First, h.Last, h.LastSent = r.Varint(), r.Varint(), r.Varint()
	if n := r.Count(); n > 0 {
		h.Services = make([]uint32, n)
		for i := range h.Services {
			h.Services[i] = r.u32()
		}
	}
	if r.Bool() {
		e := new(evidence)
		if n := r.Count(); n > 0 {
			e.Protos = make([]protoUse, n)
			for i := range e.Protos {
				u := &e.Protos[i]
				u.Proto, u.Side = r.U8(), r.U8()
				u.Port = uint16(r.Bounded(math.MaxUint16))
				u.Count, u.FirstFrame = r.Uvarint(), r.Uvarint()
				u.First, u.Last = r.Varint(), r.Varint()
			}
		}
		for i := range e.Ops {
			e.Ops[i], e.OpFrame[i] = r.u32(), r.Uvarint()
		}
		e.SZL, e.SZLFrame = r.u32(), r.Uvarint()
		if n := r.Count(); n > 0 {
			e.Reads = make([]uint32, n)
			for i := range e.Reads {
				e.Reads[i] = r.u32()
			}
		}
		e.ReadPoints = r.Uvarint()
		if n := r.Count(); n > 0 {
			e.Identity = make([]identField, n)
			for i := range e.Identity {
				f := &e.Identity[i]
				f.Field = r.Str()
				f.Values = make([]identValue, r.Count())
				for j := range f.Values {
					v := &f.Values[j]
					v.Value, v.Message = r.Str(), r.Str()
					v.Proto = r.U8()
					v.FirstFrame, v.LastFrame = r.Uvarint(), r.Uvarint()
					v.First, v.Last = r.Varint(), r.Varint()
					v.Count = r.Uvarint()
				}
			}
		}
		e.IdentityDrop = r.u32()
		h.Ev = e
	}
	return h, r.done("host record")
}

func readAssetRecord(b []byte) (*asset, error) {
	a := new(asset)
	r := &recordReader{protocols.NewCursor(b)}
	if r.U8() != recordFormat {
		return nil, fmt.Errorf("asset record: format unknown")
	}
	a.ID = r.Str()
	r.raw(a.MAC[:])
	a.HasMAC = r.Bool()
	r.raw(a.RouterMAC[:])
	a.BehindRouter = r.Bool()
	a.Hosts = make([]int32, r.Count())
	for i := range a.Hosts {
		a.Hosts[i] = r.Int32()
	}
	a.First, a.Last = r.Varint(), r.Varint()
	return a, r.done("asset record")
}

func readLinkRecord(b []byte) (link, error) {
	var l link
	r := &recordReader{protocols.NewCursor(b)}
	if r.U8() != recordFormat {
		return l, fmt.Errorf("link record: format unknown")
	}
	l.Key.Client, l.Key.Server = r.Int32(), r.Int32()
	l.Key.Proto = r.U8()
	for i := range l.Ops {
		l.Ops[i] = r.u32()
	}
	l.First, l.Last = r.Varint(), r.Varint()
	l.FirstFrame = r.Uvarint()
	return l, r.done("link record")
}
