// Package slots is the appliance's A/B boot control: which of the two root
// partitions (otwatch-root-a, otwatch-root-b) to boot, how many boots a
// freshly installed slot has left to prove itself, and whether it has.
//
// The record lives in its own small partition (otwatch-slots), in two
// copies 4 KiB apart, each with a sequence number and a CRC-32. A write
// goes to the copy that does not hold the newest record, so a power cut in
// the middle of one leaves the other, previous record intact: Read then
// takes the valid copy with the higher sequence number. This is the scheme
// of U-Boot's redundant environment and of RAUC's barebox-state, chosen
// over ChromeOS's GPT attribute bits because rewriting the partition table
// on every boot would put the whole disk's layout at the mercy of a torn
// write (and a Raspberry Pi's boot ROM reads only the MBR anyway).
//
// The life of a slot:
//
//	install   the inactive slot is first set to priority 0 (never booted),
//	          written and read back, then given priority 2 (above the
//	          running one), Tries and Good=false
//	stage 1   picks the slot of highest priority that is Good or has Tries
//	          left; a slot not yet Good loses one try before it is mounted
//	stage 2   marks the slot Good once otwatch has run healthy for a while;
//	          reboots when it does not, so stage 1 tries again or falls back
//	fallback  a slot with no tries left and not Good is skipped; the
//	          running (older) slot then reports the rollback and sets the
//	          failed slot's priority to 0
//
// Nothing here touches a device: the functions take an io.ReaderAt /
// io.WriterAt, so every case is tested on a byte slice.
package slots

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"strings"
)

// Partition names (GPT PARTLABEL).
const (
	PartLabel = "otwatch-slots"
	RootA     = "otwatch-root-a"
	RootB     = "otwatch-root-b"
)

// Layout of the record partition: two copies, each in its own 4 KiB block.
const (
	CopySize   = 4096
	recordSize = 512 // one sector: 16 header + 2 × 120 slot + CRC
	magic      = "OTWSLOT1"
	maxVersion = 64
)

// DefaultTries is how many boots a new slot gets to be marked good.
const DefaultTries = 3

// Slot is one root partition's state.
type Slot struct {
	Priority uint8  // 0: never boot (empty, or being written)
	Tries    uint8  // boots left while not Good
	Good     bool   // otwatch ran healthy from this slot
	Version  string // otwatch version installed there
	Epoch    int64  // SOURCE_DATE_EPOCH of that build (refuses downgrades)
	Size     int64  // bytes of the squashfs written
	SHA256   [32]byte
}

// Record is the whole boot control state.
type Record struct {
	Seq   uint64
	Slots [2]Slot
}

// Names of the slots, by index.
var Names = [2]string{"a", "b"}

// Label is the partition name of slot i.
func Label(i int) string { return [2]string{RootA, RootB}[i] }

// Index returns the slot index of a name ("a", "b", or a partition label).
func Index(name string) (int, bool) {
	switch name {
	case "a", RootA:
		return 0, true
	case "b", RootB:
		return 1, true
	}
	return -1, false
}

// Marshal encodes one copy of the record (recordSize bytes, CRC last).
func (r *Record) Marshal() ([]byte, error) {
	b := make([]byte, recordSize)
	copy(b, magic)
	binary.LittleEndian.PutUint64(b[8:], r.Seq)
	off := 16
	for _, s := range r.Slots {
		if len(s.Version) > maxVersion || strings.ContainsRune(s.Version, 0) {
			return nil, fmt.Errorf("slots: version %q: at most %d bytes, no NUL", s.Version, maxVersion)
		}
		b[off] = s.Priority
		b[off+1] = s.Tries
		if s.Good {
			b[off+2] = 1
		}
		binary.LittleEndian.PutUint64(b[off+8:], uint64(s.Epoch))
		binary.LittleEndian.PutUint64(b[off+16:], uint64(s.Size))
		copy(b[off+24:], s.SHA256[:])
		copy(b[off+56:off+56+maxVersion], s.Version)
		off += 56 + maxVersion
	}
	binary.LittleEndian.PutUint32(b[recordSize-4:], crc32.ChecksumIEEE(b[:recordSize-4]))
	return b, nil
}

// Unmarshal decodes one copy; a wrong magic or CRC is an error.
func Unmarshal(b []byte) (Record, error) {
	var r Record
	if len(b) < recordSize {
		return r, errors.New("slots: short record")
	}
	if string(b[:8]) != magic {
		return r, errors.New("slots: no record (magic)")
	}
	if crc32.ChecksumIEEE(b[:recordSize-4]) != binary.LittleEndian.Uint32(b[recordSize-4:]) {
		return r, errors.New("slots: record CRC mismatch (torn write?)")
	}
	r.Seq = binary.LittleEndian.Uint64(b[8:])
	off := 16
	for i := range r.Slots {
		s := &r.Slots[i]
		s.Priority, s.Tries, s.Good = b[off], b[off+1], b[off+2] == 1
		s.Epoch = int64(binary.LittleEndian.Uint64(b[off+8:]))
		s.Size = int64(binary.LittleEndian.Uint64(b[off+16:]))
		copy(s.SHA256[:], b[off+24:off+56])
		s.Version = string(bytes.TrimRight(b[off+56:off+56+maxVersion], "\x00"))
		off += 56 + maxVersion
	}
	return r, nil
}

// ErrNoRecord means neither copy holds a valid record (a blank partition,
// or both copies damaged).
var ErrNoRecord = errors.New("slots: no valid boot control record in either copy")

// Read returns the newest valid record of the two copies.
func Read(dev io.ReaderAt) (Record, error) {
	var best Record
	found := false
	buf := make([]byte, recordSize)
	for c := 0; c < 2; c++ {
		if _, err := dev.ReadAt(buf, int64(c)*CopySize); err != nil {
			continue
		}
		r, err := Unmarshal(buf)
		if err != nil {
			continue
		}
		if !found || r.Seq > best.Seq {
			best, found = r, true
		}
	}
	if !found {
		return Record{}, ErrNoRecord
	}
	return best, nil
}

// Syncer is a device that can flush its writes (an *os.File).
type Syncer interface{ Sync() error }

// Write stores r as the next record: Seq becomes prev.Seq+1 and the copy
// written is the one prev did not come from (copy Seq%2), so the previous
// record survives a torn write. r.Seq is updated.
func Write(dev io.WriterAt, r *Record, prev Record) error {
	r.Seq = prev.Seq + 1
	b, err := r.Marshal()
	if err != nil {
		return err
	}
	page := make([]byte, CopySize)
	copy(page, b)
	if _, err := dev.WriteAt(page, int64(r.Seq%2)*CopySize); err != nil {
		return fmt.Errorf("slots: writing record %d: %w", r.Seq, err)
	}
	if s, ok := dev.(Syncer); ok {
		if err := s.Sync(); err != nil {
			return fmt.Errorf("slots: syncing record %d: %w", r.Seq, err)
		}
	}
	return nil
}

// Factory is the record of a freshly flashed image: slot a holds the
// image's root and is good, slot b is empty.
func Factory(version string, epoch, size int64, sum [32]byte) Record {
	return Record{Seq: 1, Slots: [2]Slot{
		{Priority: 1, Good: true, Version: version, Epoch: epoch, Size: size, SHA256: sum},
		{},
	}}
}

// Bootable reports whether stage 1 may boot slot i.
func (r *Record) Bootable(i int) bool {
	s := r.Slots[i]
	return s.Priority > 0 && (s.Good || s.Tries > 0)
}

// Choose picks the slot to boot: the bootable one of highest priority (a
// on a tie). ok is false when neither is bootable.
func (r *Record) Choose() (slot int, ok bool) {
	best := -1
	for i := range r.Slots {
		if !r.Bootable(i) {
			continue
		}
		if best < 0 || r.Slots[i].Priority > r.Slots[best].Priority {
			best = i
		}
	}
	return best, best >= 0
}

// Other is the index of the other slot.
func Other(i int) int { return 1 - i }

// StartBoot is what stage 1 does to the record before mounting the chosen
// slot: a slot on trial (not Good) spends one try. trial says whether it
// was on trial.
func (r *Record) StartBoot(i int) (trial bool) {
	s := &r.Slots[i]
	if s.Good {
		return false
	}
	if s.Tries > 0 {
		s.Tries--
	}
	return true
}

// MarkGood records that slot i proved itself.
func (r *Record) MarkGood(i int) {
	r.Slots[i].Good = true
	r.Slots[i].Tries = 0
}

// BeginInstall makes slot i unbootable before it is overwritten: whatever
// happens while it is written, stage 1 never picks it.
func (r *Record) BeginInstall(i int) {
	r.Slots[i] = Slot{}
}

// FinishInstall makes the freshly written slot i the one to boot next, on
// trial with tries boots, above the running slot, which stays good as the
// fallback.
func (r *Record) FinishInstall(i int, s Slot, tries uint8) {
	s.Priority, s.Tries, s.Good = 2, tries, false
	r.Slots[i] = s
	o := &r.Slots[Other(i)]
	if o.Priority > 0 {
		o.Priority = 1
	}
}

// FailedTrial reports whether slot i was installed and then failed every
// try: a higher priority than the running slot, not Good, no tries left.
func (r *Record) FailedTrial(i, running int) bool {
	s := r.Slots[i]
	return i != running && s.Priority > r.Slots[running].Priority && !s.Good && s.Tries == 0
}

// Retire makes slot i unbootable without erasing what it records (after a
// failed trial, or a slot that would not mount).
func (r *Record) Retire(i int) {
	r.Slots[i].Priority = 0
	r.Slots[i].Tries = 0
}

// String is a one-line summary for logs.
func (r Record) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "record %d:", r.Seq)
	for i, s := range r.Slots {
		state := "empty"
		switch {
		case s.Priority == 0 && s.Version != "":
			state = "retired"
		case s.Priority == 0:
		case s.Good:
			state = "good"
		default:
			state = fmt.Sprintf("trial, %d tries left", s.Tries)
		}
		v := s.Version
		if v == "" {
			v = "-"
		}
		fmt.Fprintf(&b, " %s=%s (priority %d, %s)", Names[i], v, s.Priority, state)
	}
	return b.String()
}
