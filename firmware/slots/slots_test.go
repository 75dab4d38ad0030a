package slots

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"strings"
	"testing"
)

// disk is a record partition in memory; torn, when > 0, makes the next
// write stop after that many bytes (a power cut in the middle of it).
type disk struct {
	b     []byte
	torn  int
	syncs int
}

func newDisk() *disk { return &disk{b: make([]byte, 2*CopySize)} }

func (d *disk) ReadAt(p []byte, off int64) (int, error) { return copy(p, d.b[off:]), nil }
func (d *disk) WriteAt(p []byte, off int64) (int, error) {
	if d.torn > 0 {
		n := copy(d.b[off:], p[:d.torn])
		d.torn = 0
		return n, nil
	}
	return copy(d.b[off:], p), nil
}
func (d *disk) Sync() error { d.syncs++; return nil }

func TestRoundTrip(t *testing.T) {
	r := Factory("v1.2.3-4-gabcdef", 1795739136, 7340032, sha256.Sum256([]byte("root")))
	r.Slots[1] = Slot{Priority: 2, Tries: 3, Version: strings.Repeat("x", 64), Epoch: -1, Size: 1 << 40}
	b, err := r.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	got, err := Unmarshal(b)
	if err != nil || got != r {
		t.Fatalf("round trip: %+v, %v", got, err)
	}
	// every single flipped bit is caught
	for i := 0; i < len(b)*8; i += 7 {
		c := append([]byte(nil), b...)
		c[i/8] ^= 1 << (i % 8)
		if _, err := Unmarshal(c); err == nil {
			t.Fatalf("bit %d flipped: accepted", i)
		}
	}
	r.Slots[0].Version = strings.Repeat("y", 65)
	if _, err := r.Marshal(); err == nil {
		t.Error("65-byte version accepted")
	}
}

func TestReadNewestAndTornWrites(t *testing.T) {
	d := newDisk()
	if _, err := Read(d); !errors.Is(err, ErrNoRecord) {
		t.Fatalf("blank partition: %v", err)
	}
	r := Factory("v1", 1, 10, [32]byte{1})
	if err := Write(d, &r, Record{}); err != nil {
		t.Fatal(err)
	}
	if r.Seq != 1 || d.syncs != 1 {
		t.Fatalf("seq %d syncs %d", r.Seq, d.syncs)
	}
	prev := r
	for i := 0; i < 5; i++ {
		next := prev
		next.Slots[1].Version = "v" + strings.Repeat("2", i+1)
		if err := Write(d, &next, prev); err != nil {
			t.Fatal(err)
		}
		got, err := Read(d)
		if err != nil || got != next {
			t.Fatalf("write %d: read %+v, %v", i, got, err)
		}
		prev = next
	}
	// a write torn anywhere in the record leaves the previous record
	for _, cut := range []int{1, 8, 16, 100, recordSize - 1} {
		next := prev
		next.Slots[0].Good = false
		d.torn = cut
		Write(d, &next, prev)
		got, err := Read(d)
		if err != nil || got != prev {
			t.Fatalf("torn after %d bytes: read %v (%v), want %v", cut, got, err, prev)
		}
	}
	// both copies destroyed: no record, never a guess
	for i := range d.b {
		d.b[i] = 0xff
	}
	if _, err := Read(d); !errors.Is(err, ErrNoRecord) {
		t.Fatalf("garbage: %v", err)
	}
}

// TestLifecycle walks the states of an update: install, trial boots, good;
// a second update that fails every try and falls back.
func TestLifecycle(t *testing.T) {
	r := Factory("v1", 100, 10, [32]byte{1})
	if s, ok := r.Choose(); !ok || s != 0 {
		t.Fatalf("factory: %d %v", s, ok)
	}
	if r.StartBoot(0) {
		t.Fatal("a good slot is not on trial")
	}
	// install v2 into b
	r.BeginInstall(1)
	if s, _ := r.Choose(); s != 0 {
		t.Fatal("a slot being written was chosen")
	}
	r.FinishInstall(1, Slot{Version: "v2", Epoch: 200}, DefaultTries)
	s, ok := r.Choose()
	if !ok || s != 1 {
		t.Fatalf("after install: chose %d", s)
	}
	if !r.StartBoot(1) || r.Slots[1].Tries != DefaultTries-1 {
		t.Fatalf("trial boot: %+v", r.Slots[1])
	}
	r.MarkGood(1)
	if r.Slots[1].Priority <= r.Slots[0].Priority || !r.Slots[1].Good || !r.Slots[0].Good {
		t.Fatalf("after good: %s", r)
	}
	// v3 into a (the inactive slot), which fails every try
	r.BeginInstall(0)
	r.FinishInstall(0, Slot{Version: "v3", Epoch: 300}, DefaultTries)
	for try := 0; try < DefaultTries; try++ {
		s, _ := r.Choose()
		if s != 0 {
			t.Fatalf("try %d: chose %d", try, s)
		}
		r.StartBoot(0) // ... and stage 2 never marks it good
	}
	s, ok = r.Choose()
	if !ok || s != 1 || r.Slots[s].Version != "v2" {
		t.Fatalf("after %d failed tries: chose %d (%s)", DefaultTries, s, r)
	}
	if !r.FailedTrial(0, 1) {
		t.Fatal("the failed trial is not recognised")
	}
	r.Retire(0)
	if r.FailedTrial(0, 1) || r.Bootable(0) {
		t.Fatal("retired slot still counts")
	}
	if !strings.Contains(r.String(), "a=v3 (priority 0, retired)") || !strings.Contains(r.String(), "b=v2 (priority 1, good)") {
		t.Errorf("summary: %s", r)
	}
	// neither bootable: Choose says so rather than guessing
	r.Retire(1)
	if _, ok := r.Choose(); ok {
		t.Error("chose a slot when none is bootable")
	}
}

func TestIndex(t *testing.T) {
	for name, want := range map[string]int{"a": 0, "b": 1, RootA: 0, RootB: 1, "c": -1} {
		if got, _ := Index(name); got != want {
			t.Errorf("%s: %d", name, got)
		}
	}
	if Label(1) != RootB || !bytes.Equal([]byte(Names[0]), []byte("a")) {
		t.Error("labels")
	}
}
