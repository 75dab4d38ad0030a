package main

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"strings"
	"testing"
	"unicode/utf16"
)

func TestResolveModules(t *testing.T) {
	mods := map[string]modInfo{
		"ext4":           {path: "kernel/fs/ext4/ext4.ko", depends: []string{"mbcache", "jbd2", "crc16"}},
		"jbd2":           {path: "kernel/fs/jbd2/jbd2.ko"},
		"mbcache":        {path: "kernel/fs/mbcache.ko"},
		"crc16":          {path: "kernel/lib/crc16.ko"},
		"virtio_blk":     {path: "kernel/drivers/block/virtio_blk.ko", depends: []string{"virtio"}},
		"virtio":         {path: "kernel/drivers/virtio/virtio.ko"},
		"am65_cpsw_nuss": {path: "kernel/drivers/net/ethernet/ti/am65-cpsw-nuss.ko", depends: []string{"virtio"}},
	}
	order, missing, err := resolveModules(mods, []string{"virtio_blk", "ext4", "am65-cpsw-nuss", "squashfs", "jbd2"})
	if err != nil {
		t.Fatal(err)
	}
	want := "kernel/drivers/virtio/virtio.ko kernel/drivers/block/virtio_blk.ko kernel/lib/crc16.ko kernel/fs/jbd2/jbd2.ko kernel/fs/mbcache.ko kernel/fs/ext4/ext4.ko kernel/drivers/net/ethernet/ti/am65-cpsw-nuss.ko"
	if got := strings.Join(order, " "); got != want {
		t.Fatalf("order\n got %s\nwant %s", got, want)
	}
	if strings.Join(missing, ",") != "squashfs" {
		t.Fatalf("missing %v", missing)
	}
	cyc := map[string]modInfo{"a": {path: "a.ko", depends: []string{"b"}}, "b": {path: "b.ko", depends: []string{"a"}}}
	if _, _, err := resolveModules(cyc, []string{"a"}); err == nil {
		t.Fatal("cycle not reported")
	}
}

func TestCpioReproducible(t *testing.T) {
	entries := func() []cpioEntry {
		return []cpioEntry{
			{name: "init", mode: cS_IFREG | 0o755, data: []byte("#!")},
			{name: "dev", mode: cS_IFDIR | 0o755},
			{name: "dev/console", mode: cS_IFCHR | 0o600, major: 5, minr: 1},
			{name: "lib", mode: cS_IFDIR | 0o755},
		}
	}
	var a, b bytes.Buffer
	writeCpio(&a, entries(), 1700000000)
	e := entries()
	e[0], e[3] = e[3], e[0] // another walk order
	writeCpio(&b, e, 1700000000)
	if !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Fatal("archive depends on input order")
	}
	out := a.String()
	if a.Len()%4 != 0 || !strings.HasPrefix(out, "070701") || !strings.Contains(out, "TRAILER!!!") {
		t.Fatalf("not a newc archive")
	}
	// header of the first entry (dev): mtime field is the epoch
	if out[6+5*8:6+6*8] != "6553F100" {
		t.Fatalf("mtime field %q", out[6+5*8:6+6*8])
	}
	// dev/console carries rdev 5:1
	i := strings.Index(out, "dev/console")
	hdr := out[i-110 : i]
	if hdr[6+9*8:6+10*8] != "00000005" || hdr[6+10*8:6+11*8] != "00000001" {
		t.Fatalf("console rdev %q", hdr)
	}
}

// readGPT against a hand-made table.
func TestReadGPT(t *testing.T) {
	img := make([]byte, 34*512)
	arr := img[2*512 : 2*512+128*128]
	put := func(i int, name string, first, last uint64) {
		e := arr[i*128:]
		e[0] = 1 // type GUID non-zero
		binary.LittleEndian.PutUint64(e[32:], first)
		binary.LittleEndian.PutUint64(e[40:], last)
		for j, u := range utf16.Encode([]rune(name)) {
			binary.LittleEndian.PutUint16(e[56+2*j:], u)
		}
	}
	put(0, "otwatch-boot", 2048, 4095)
	put(2, "otwatch-data", 8192, 10239)
	h := img[512:]
	copy(h, "EFI PART")
	binary.LittleEndian.PutUint32(h[12:], 92)
	binary.LittleEndian.PutUint64(h[72:], 2)
	binary.LittleEndian.PutUint32(h[80:], 128)
	binary.LittleEndian.PutUint32(h[84:], 128)
	binary.LittleEndian.PutUint32(h[88:], crc32.ChecksumIEEE(arr))
	binary.LittleEndian.PutUint32(h[16:], crc32.ChecksumIEEE(h[:92]))
	parts, err := readGPT(bytes.NewReader(img))
	if err != nil {
		t.Fatal(err)
	}
	if len(parts) != 2 || parts[0].Name != "otwatch-boot" || parts[1].First != 8192 || parts[1].Last != 10239 {
		t.Fatalf("%+v", parts)
	}
	img[2*512+100] ^= 1
	if _, err := readGPT(bytes.NewReader(img)); err == nil {
		t.Fatal("corrupt entry array accepted")
	}
}

func TestBootScript(t *testing.T) {
	img, err := bootScript([]byte("echo hi\n"), "arm64", 1700000000)
	if err != nil {
		t.Fatal(err)
	}
	if binary.BigEndian.Uint32(img) != 0x27051956 || len(img) != 64+8+8 || img[29] != 22 || img[30] != 6 {
		t.Fatalf("header % x", img[:32])
	}
	h := append([]byte(nil), img[:64]...)
	binary.BigEndian.PutUint32(h[4:], 0)
	if crc32.ChecksumIEEE(h) != binary.BigEndian.Uint32(img[4:]) || crc32.ChecksumIEEE(img[64:]) != binary.BigEndian.Uint32(img[24:]) {
		t.Fatal("CRCs")
	}
	if binary.BigEndian.Uint32(img[64:]) != 8 || string(img[72:]) != "echo hi\n" {
		t.Fatalf("data % x", img[64:])
	}
	if _, err := bootScript(nil, "x86", 0); err == nil {
		t.Fatal("bad arch accepted")
	}
}

func TestHybridMBR(t *testing.T) {
	mbr := make([]byte, 512)
	mbr[440], mbr[446+4] = 0x42, 0xEE // a disk signature and sfdisk's protective entry
	if err := hybridMBR(mbr, gptPart{Name: "otwatch-boot", First: 2048, Last: 2048 + 40960 - 1}, 0x0e); err != nil {
		t.Fatal(err)
	}
	le := func(off int) uint32 {
		return uint32(mbr[off]) | uint32(mbr[off+1])<<8 | uint32(mbr[off+2])<<16 | uint32(mbr[off+3])<<24
	}
	// entry 1: the FAT partition, bootable, type 0x0e
	if mbr[446] != 0x80 || mbr[446+4] != 0x0e || le(446+8) != 2048 || le(446+12) != 40960 {
		t.Errorf("entry 1: % x", mbr[446:462])
	}
	// entry 2: 0xEE from LBA 1 up to the FAT partition (what Linux checks: start 1)
	if mbr[462+4] != 0xEE || le(462+8) != 1 || le(462+12) != 2047 {
		t.Errorf("entry 2: % x", mbr[462:478])
	}
	if mbr[478+4] != 0 || mbr[494+4] != 0 || mbr[510] != 0x55 || mbr[511] != 0xAA || mbr[440] != 0x42 {
		t.Error("entries 3, 4, signature or disk id")
	}
	if err := hybridMBR(mbr, gptPart{First: 1, Last: 10}, 0x0e); err == nil {
		t.Error("a partition overlapping the GPT accepted")
	}
}
