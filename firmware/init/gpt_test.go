package main

import (
	"encoding/binary"
	"encoding/json"
	"hash/crc32"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf16"
)

// handGPT writes a minimal GPT (128 entries of 128 bytes) for a disk of
// `sectors` sectors with the given partitions (name, first, last).
func handGPT(t *testing.T, path string, sectors uint64, parts [][3]any) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.Truncate(int64(sectors) * sector); err != nil {
		t.Fatal(err)
	}
	arr := make([]byte, 128*128)
	for i, p := range parts {
		e := arr[i*128:]
		e[0] = 0xAF // non-zero type GUID
		binary.LittleEndian.PutUint64(e[32:], p[1].(uint64))
		binary.LittleEndian.PutUint64(e[40:], p[2].(uint64))
		for j, u := range utf16.Encode([]rune(p[0].(string))) {
			binary.LittleEndian.PutUint16(e[56+2*j:], u)
		}
	}
	hdr := make([]byte, 92)
	copy(hdr, "EFI PART")
	binary.LittleEndian.PutUint32(hdr[8:], 0x10000)
	binary.LittleEndian.PutUint32(hdr[12:], 92)
	binary.LittleEndian.PutUint64(hdr[24:], 1)
	binary.LittleEndian.PutUint64(hdr[32:], sectors-1)
	binary.LittleEndian.PutUint64(hdr[40:], 34)
	binary.LittleEndian.PutUint64(hdr[48:], sectors-34)
	binary.LittleEndian.PutUint64(hdr[72:], 2)
	binary.LittleEndian.PutUint32(hdr[80:], 128)
	binary.LittleEndian.PutUint32(hdr[84:], 128)
	binary.LittleEndian.PutUint32(hdr[88:], crc32.ChecksumIEEE(arr))
	binary.LittleEndian.PutUint32(hdr[16:], crc32.ChecksumIEEE(hdr))
	mbr := make([]byte, 512)
	mbr[446+4] = 0xEE
	binary.LittleEndian.PutUint32(mbr[446+8:], 1)
	binary.LittleEndian.PutUint32(mbr[446+12:], uint32(sectors-1))
	mbr[510], mbr[511] = 0x55, 0xAA
	f.WriteAt(mbr, 0)
	f.WriteAt(hdr, 512)
	f.WriteAt(arr, 1024)
}

func enlarge(t *testing.T, path string, sectors uint64) {
	t.Helper()
	if err := os.Truncate(path, int64(sectors)*sector); err != nil {
		t.Fatal(err)
	}
}

func TestGrowGPT(t *testing.T) {
	img := filepath.Join(t.TempDir(), "disk.img")
	const small = 48 << 11 // 48 MiB image
	handGPT(t, img, small, [][3]any{{"otwatch-boot", uint64(2048), uint64(20*2048 - 1)}, {"otwatch-root", uint64(20 * 2048), uint64(28*2048 - 1)}, {"otwatch-data", uint64(28 * 2048), uint64(47*2048 - 1)}})
	f, err := os.OpenFile(img, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	// written to a disk of its own size: nothing to do
	if g, err := growGPT(f, small, dataLabel); err != nil || g != nil {
		t.Fatalf("same size: %+v %v", g, err)
	}
	// the root is not the last partition: never moved
	enlarge(t, img, 1<<21) // 1 GiB card
	if g, err := growGPT(f, 1<<21, rootLabel); err != nil || g != nil {
		t.Fatalf("root: %+v %v", g, err)
	}
	g, err := growGPT(f, 1<<21, dataLabel)
	if err != nil || g == nil {
		t.Fatalf("grow: %+v %v", g, err)
	}
	if g.Index != 2 || g.First != 28*2048 || g.Last != 1<<21-2048-1 || g.OldLast != 47*2048-1 {
		t.Fatalf("grew to %+v", g)
	}
	// both headers valid and consistent; a second call is a no-op
	if g2, err := growGPT(f, 1<<21, dataLabel); err != nil || g2 != nil {
		t.Fatalf("second grow: %+v %v", g2, err)
	}
	back := make([]byte, 92)
	f.ReadAt(back, (1<<21-1)*sector)
	if string(back[:8]) != "EFI PART" || binary.LittleEndian.Uint64(back[24:]) != 1<<21-1 || binary.LittleEndian.Uint64(back[72:]) != 1<<21-33 ||
		crc32.ChecksumIEEE(zeroCRC(back)) != binary.LittleEndian.Uint32(back[16:]) {
		t.Fatal("backup header wrong")
	}
	// corrupt header CRC: refused, nothing written
	hdr := make([]byte, 1)
	f.ReadAt(hdr, 512+40)
	f.WriteAt([]byte{hdr[0] ^ 1}, 512+40)
	if _, err := growGPT(f, 1<<22, dataLabel); err == nil || !strings.Contains(err.Error(), "CRC") {
		t.Fatalf("corrupt header: %v", err)
	}
}

// With sfdisk installed, a table it wrote is grown and it agrees with the result.
func TestGrowGPTSfdisk(t *testing.T) {
	if _, err := exec.LookPath("sfdisk"); err != nil {
		t.Skip("sfdisk not installed")
	}
	img := filepath.Join(t.TempDir(), "disk.img")
	if err := os.WriteFile(img, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	enlarge(t, img, 48<<11)
	cmd := exec.Command("sfdisk", "-q", "--no-reread", "--no-tell-kernel", img)
	cmd.Stdin = strings.NewReader("label: gpt\nstart=2048, size=40960, name=\"otwatch-boot\"\nsize=16384, name=\"otwatch-root\"\nsize=32768, name=\"otwatch-data\"\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("sfdisk: %v %s", err, out)
	}
	enlarge(t, img, 256<<11)
	f, err := os.OpenFile(img, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	g, err := growGPT(f, 256<<11, dataLabel)
	f.Close()
	if err != nil || g == nil {
		t.Fatalf("grow: %+v %v", g, err)
	}
	out, err := exec.Command("sfdisk", "--verify", img).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "No errors detected") {
		t.Fatalf("sfdisk --verify: %v\n%s", err, out)
	}
	js, err := exec.Command("sfdisk", "-J", img).Output()
	if err != nil {
		t.Fatal(err)
	}
	var pt struct {
		PartitionTable struct {
			LastLBA    uint64 `json:"lastlba"`
			Partitions []struct {
				Start, Size uint64
				Name        string
			}
		} `json:"partitiontable"`
	}
	if err := json.Unmarshal(js, &pt); err != nil {
		t.Fatal(err)
	}
	p := pt.PartitionTable.Partitions
	if len(p) != 3 || p[2].Name != dataLabel || p[2].Start != g.First || p[2].Start+p[2].Size-1 != g.Last || pt.PartitionTable.LastLBA != 256<<11-34 {
		t.Fatalf("sfdisk sees %s", js)
	}
}
