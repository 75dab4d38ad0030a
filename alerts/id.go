package alerts

import (
	"encoding/binary"
	"encoding/hex"
	"hash/fnv"
	"time"
)

// Alerts and incidents are named by FNV-1a (64 bits) over their fields,
// each string followed by a zero byte and each number as 8 bytes, then the
// MurmurHash3 finaliser, so that every bit of the id depends on every
// input bit. An id names a record, it does not seal it (the evidence log's
// SHA-256 does): the same fields give the same id in every run, and the
// fields that make an alert's id include the engine's sequence number, so
// two alerts of one run never share their inputs. It costs a few hundred
// instructions where a SHA-256 of the formatted fields cost 8,000, on a
// path a flood of alerts runs for each one.

// alertID is stable across runs: the same deviation at the same time gets the same id.
func alertID(kind, key string, ts time.Time, n uint64) string {
	var buf [160]byte
	b := append(append(append(append(buf[:0], kind...), 0), key...), 0)
	b = binary.LittleEndian.AppendUint64(b, uint64(ts.UnixNano()))
	return idText("", 8, binary.LittleEndian.AppendUint64(b, n))
}

// incidentID names the incident a source opened at ts.
func incidentID(source string, ts time.Time) string {
	var buf [64]byte
	b := append(append(buf[:0], source...), 0)
	return idText("inc-", 6, binary.LittleEndian.AppendUint64(b, uint64(ts.UnixNano())))
}

// idText is prefix and the first n bytes of the fields' finalised hash, in hex.
func idText(prefix string, n int, fields []byte) string {
	h := fnv.New64a()
	h.Write(fields)
	x := h.Sum64()
	x ^= x >> 33
	x *= 0xff51afd7ed558ccd
	x ^= x >> 33
	x *= 0xc4ceb9fe1a85ec53
	x ^= x >> 33
	var sum [8]byte
	binary.BigEndian.PutUint64(sum[:], x)
	var out [24]byte
	return string(hex.AppendEncode(append(out[:0], prefix...), sum[:n]))
}
