package fake

import (
	"encoding/binary"
	"fmt"
	"sort"

	"github.com/otwatch/otwatch/protocols/capture"
	"github.com/otwatch/otwatch/ui"
)

// maxKeptFrames bounds the frames the fake keeps for evidence.
const maxKeptFrames = 200000

// keep stores a copy of a replayed frame under its pipeline frame number.
func (b *Backend) keep(f capture.Frame) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.frames) >= maxKeptFrames {
		return
	}
	f.Data = append([]byte(nil), f.Data...)
	b.frames = append(b.frames, f)
}

// Evidence implements ui.EvidenceSource: a pcap of the frames the alert
// names (the triggering request and response and folded repeats).
func (b *Backend) Evidence(alertID string) ([]byte, error) {
	r, ok := b.store.Get(alertID)
	if !ok {
		return nil, fmt.Errorf("alert %s: %w", alertID, ui.ErrNotFound)
	}
	nums := append([]uint64(nil), r.Alert.Frames...)
	sort.Slice(nums, func(i, j int) bool { return nums[i] < nums[j] })
	b.mu.Lock()
	defer b.mu.Unlock()
	var frames []capture.Frame
	for i, n := range nums {
		if (i > 0 && n == nums[i-1]) || n == 0 || n > uint64(len(b.frames)) {
			continue
		}
		frames = append(frames, b.frames[n-1])
	}
	if len(frames) == 0 {
		return nil, fmt.Errorf("alert %s: no captured frames kept: %w", alertID, ui.ErrNotFound)
	}
	return writePcap(frames), nil
}

// writePcap writes classic little-endian pcap with nanosecond
// timestamps, in the link type of the first frame (frames of another
// link type are left out).
func writePcap(frames []capture.Frame) []byte {
	link := frames[0].LinkType
	out := binary.LittleEndian.AppendUint32(nil, 0xa1b23c4d) // nanosecond magic
	out = binary.LittleEndian.AppendUint16(out, 2)
	out = binary.LittleEndian.AppendUint16(out, 4)
	out = binary.LittleEndian.AppendUint32(out, 0) // thiszone
	out = binary.LittleEndian.AppendUint32(out, 0) // sigfigs
	out = binary.LittleEndian.AppendUint32(out, 262144)
	out = binary.LittleEndian.AppendUint32(out, link)
	for _, f := range frames {
		if f.LinkType != link {
			continue
		}
		orig := f.OrigLen
		if orig < uint32(len(f.Data)) {
			orig = uint32(len(f.Data))
		}
		out = binary.LittleEndian.AppendUint32(out, uint32(f.TimeNano/1e9))
		out = binary.LittleEndian.AppendUint32(out, uint32(f.TimeNano%1e9))
		out = binary.LittleEndian.AppendUint32(out, uint32(len(f.Data)))
		out = binary.LittleEndian.AppendUint32(out, orig)
		out = append(out, f.Data...)
	}
	return out
}
