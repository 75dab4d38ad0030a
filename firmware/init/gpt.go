package main

// First boot on a card or eMMC larger than the image: the data partition
// (the last one) is grown to the end of the disk before it is formatted.

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"strings"
	"unicode/utf16"
)

type readWriterAt interface {
	io.ReaderAt
	io.WriterAt
}

const sector = 512

// gptGrowth is what growGPT did.
type gptGrowth struct {
	Index                int    // entry index of the partition (partition number - 1)
	First, Last, OldLast uint64 // LBAs, inclusive
}

// growGPT extends the partition named label to the end of a disk of
// `sectors` sectors (its end aligned down to 1 MiB) when it is the last
// partition on the disk and at least 1 MiB can be gained. It moves the
// backup GPT to the disk's end and rewrites both headers, both entry arrays
// and the protective MBR's size. grown is nil when there is nothing to do.
// The backup is written first: if power fails in between, the primary
// still describes the old, consistent layout.
func growGPT(d readWriterAt, sectors uint64, label string) (*gptGrowth, error) {
	hdr := make([]byte, sector)
	if _, err := d.ReadAt(hdr, sector); err != nil {
		return nil, fmt.Errorf("gpt: reading header: %w", err)
	}
	if string(hdr[:8]) != "EFI PART" {
		return nil, errors.New("gpt: no GPT header at LBA 1")
	}
	hsize := binary.LittleEndian.Uint32(hdr[12:])
	if hsize < 92 || hsize > sector {
		return nil, fmt.Errorf("gpt: header size %d", hsize)
	}
	if crc32.ChecksumIEEE(zeroCRC(hdr[:hsize])) != binary.LittleEndian.Uint32(hdr[16:]) {
		return nil, errors.New("gpt: header CRC mismatch")
	}
	entLBA := binary.LittleEndian.Uint64(hdr[72:])
	n := binary.LittleEndian.Uint32(hdr[80:])
	esize := binary.LittleEndian.Uint32(hdr[84:])
	if n == 0 || n > 1024 || esize < 128 || esize > 4096 || esize%8 != 0 {
		return nil, errors.New("gpt: implausible entry array")
	}
	arr := make([]byte, int(n)*int(esize))
	if _, err := d.ReadAt(arr, int64(entLBA)*sector); err != nil {
		return nil, fmt.Errorf("gpt: reading entries: %w", err)
	}
	if crc32.ChecksumIEEE(arr) != binary.LittleEndian.Uint32(hdr[88:]) {
		return nil, errors.New("gpt: entry array CRC mismatch")
	}
	entSectors := (uint64(len(arr)) + sector - 1) / sector
	if sectors < 2*entSectors+64 {
		return nil, errors.New("gpt: disk too small")
	}
	backupHdr := sectors - 1
	backupEnt := backupHdr - entSectors
	lastUsable := backupEnt - 1

	idx, maxLast := -1, uint64(0)
	for i := 0; i < int(n); i++ {
		e := arr[i*int(esize):]
		if bytes.Equal(e[:16], make([]byte, 16)) {
			continue
		}
		last := binary.LittleEndian.Uint64(e[40:])
		if last > maxLast {
			maxLast = last
		}
		if gptName(e[56:128]) == label {
			idx = i
		}
	}
	if idx < 0 {
		return nil, fmt.Errorf("gpt: no partition named %s", label)
	}
	e := arr[idx*int(esize):]
	first, oldLast := binary.LittleEndian.Uint64(e[32:]), binary.LittleEndian.Uint64(e[40:])
	if oldLast != maxLast {
		return nil, nil // not the last partition: leave the layout alone
	}
	newLast := (lastUsable+1)/2048*2048 - 1
	if newLast <= oldLast || newLast-oldLast < 2048 {
		return nil, nil // the disk is the image's size (or barely larger)
	}
	binary.LittleEndian.PutUint64(e[40:], newLast)
	arrCRC := crc32.ChecksumIEEE(arr)

	prim := append([]byte(nil), hdr[:hsize]...)
	binary.LittleEndian.PutUint64(prim[32:], backupHdr)  // alternate LBA
	binary.LittleEndian.PutUint64(prim[48:], lastUsable) // last usable LBA
	binary.LittleEndian.PutUint32(prim[88:], arrCRC)
	binary.LittleEndian.PutUint32(prim[16:], crc32.ChecksumIEEE(zeroCRC(prim)))

	back := append([]byte(nil), prim...)
	binary.LittleEndian.PutUint64(back[24:], backupHdr) // my LBA
	binary.LittleEndian.PutUint64(back[32:], 1)         // alternate LBA
	binary.LittleEndian.PutUint64(back[72:], backupEnt) // entries LBA
	binary.LittleEndian.PutUint32(back[16:], crc32.ChecksumIEEE(zeroCRC(back)))

	pad := func(b []byte, n int) []byte { return append(b, make([]byte, n-len(b))...) }
	writes := []struct {
		b   []byte
		lba uint64
	}{
		{pad(append([]byte(nil), arr...), int(entSectors*sector)), backupEnt},
		{pad(back, sector), backupHdr},
		{pad(append([]byte(nil), arr...), int(entSectors*sector)), entLBA},
		{pad(prim, sector), 1},
	}
	for _, w := range writes {
		if _, err := d.WriteAt(w.b, int64(w.lba)*sector); err != nil {
			return nil, fmt.Errorf("gpt: writing LBA %d: %w", w.lba, err)
		}
	}
	// protective MBR: its one 0xEE partition covers the disk (capped at 2^32-1)
	mbr := make([]byte, sector)
	if _, err := d.ReadAt(mbr, 0); err == nil && mbr[510] == 0x55 && mbr[511] == 0xAA && mbr[446+4] == 0xEE {
		size := sectors - 1
		if size > 0xFFFFFFFF {
			size = 0xFFFFFFFF
		}
		binary.LittleEndian.PutUint32(mbr[446+12:], uint32(size))
		if _, err := d.WriteAt(mbr, 0); err != nil {
			return nil, fmt.Errorf("gpt: writing protective MBR: %w", err)
		}
	}
	return &gptGrowth{Index: idx, First: first, Last: newLast, OldLast: oldLast}, nil
}

func zeroCRC(h []byte) []byte {
	c := append([]byte(nil), h...)
	binary.LittleEndian.PutUint32(c[16:], 0)
	return c
}

func gptName(b []byte) string {
	u := make([]uint16, len(b)/2)
	for i := range u {
		u[i] = binary.LittleEndian.Uint16(b[2*i:])
	}
	return strings.TrimRight(string(utf16.Decode(u)), "\x00")
}
