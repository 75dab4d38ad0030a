// Command imgtool holds the steps of firmware/build-image.sh that are
// easier to get reproducible in Go than in shell:
//
//	imgtool modules -moddir DIR -out DIR NAME...   resolve module dependencies, copy the .ko files, write modules.load
//	imgtool cpio -root DIR -out FILE -epoch N      a sorted newc archive (uid 0, fixed times, /dev/console)
//	imgtool manifest -image IMG -key KEY [-tree PREFIX=DIR]... [-version NAME=VALUE]...
//	                                               IMG.manifest (versions, image, GPT partitions, files) and IMG.manifest.sig
//	imgtool bootscr -in SCRIPT -out boot.scr -arch arm64|arm -epoch N
//	                                               a U-Boot script image (what mkimage -T script makes)
//	imgtool slots -out FILE -version V -epoch N -payload ROOT
//	                                               the factory A/B boot control partition (firmware/slots)
//	imgtool bundle -payload ROOT -key KEY -out FILE -epoch N [-tree PREFIX=DIR]... [-version NAME=VALUE]...
//	                                               an update bundle (firmware/bundle)
//	imgtool hybridmbr -image IMG -part NAME        a hybrid MBR showing one GPT partition (FAT) to MBR-only boot ROMs
package main

import (
	"bufio"
	"bytes"
	"debug/elf"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"unicode/utf16"

	"github.com/otwatch/otwatch/firmware/bundle"
	"github.com/otwatch/otwatch/firmware/manifest"
	"github.com/otwatch/otwatch/firmware/slots"
)

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	var err error
	switch os.Args[1] {
	case "modules":
		err = cmdModules(os.Args[2:])
	case "cpio":
		err = cmdCpio(os.Args[2:])
	case "manifest":
		err = cmdManifest(os.Args[2:])
	case "bootscr":
		err = cmdBootscr(os.Args[2:])
	case "slots":
		err = cmdSlots(os.Args[2:])
	case "bundle":
		err = cmdBundle(os.Args[2:])
	case "hybridmbr":
		err = cmdHybridMBR(os.Args[2:])
	default:
		usage()
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "imgtool %s: %v\n", os.Args[1], err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: imgtool modules|cpio|manifest|bootscr|slots|bundle|hybridmbr ... (see the source comment)")
	os.Exit(2)
}

type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(s string) error { *l = append(*l, s); return nil }

// ---- modules ----

func modName(p string) string {
	b := path.Base(p)
	b = strings.TrimSuffix(b, ".ko")
	return strings.ReplaceAll(b, "-", "_")
}

// modInfo is what one module file says about itself in its .modinfo
// section: its name and the modules it depends on.
type modInfo struct {
	path    string // relative to the modules directory
	depends []string
}

// readModInfo reads the .modinfo section of a kernel module (any
// architecture: debian/elf reads foreign ELF files).
func readModInfo(file string) (name string, depends []string, err error) {
	f, err := elf.Open(file)
	if err != nil {
		return "", nil, err
	}
	defer f.Close()
	sec := f.Section(".modinfo")
	if sec == nil {
		return "", nil, fmt.Errorf("%s: no .modinfo section", file)
	}
	data, err := sec.Data()
	if err != nil {
		return "", nil, err
	}
	name = modName(file)
	for _, kv := range bytes.Split(data, []byte{0}) {
		k, v, ok := strings.Cut(string(kv), "=")
		switch {
		case !ok:
		case k == "name":
			name = v
		case k == "depends" && v != "":
			depends = strings.Split(v, ",")
		}
	}
	return name, depends, nil
}

// scanModules indexes every .ko file under dir by module name.
func scanModules(dir string) (map[string]modInfo, error) {
	mods := map[string]modInfo{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".ko") {
			return err
		}
		name, deps, err := readModInfo(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		mods[strings.ReplaceAll(name, "-", "_")] = modInfo{path: filepath.ToSlash(rel), depends: deps}
		return nil
	})
	return mods, err
}

// resolveModules orders the wanted modules and their dependencies so each
// comes after what it needs. Unknown names are returned apart (built into
// the kernel, or absent from this flavour).
func resolveModules(mods map[string]modInfo, want []string) (order, missing []string, err error) {
	state := map[string]int{} // 1 visiting, 2 done
	var visit func(name string) error
	visit = func(name string) error {
		name = strings.ReplaceAll(name, "-", "_")
		m, ok := mods[name]
		if !ok {
			return fmt.Errorf("dependency %s not found", name)
		}
		switch state[name] {
		case 1:
			return fmt.Errorf("dependency cycle at %s", name)
		case 2:
			return nil
		}
		state[name] = 1
		ds := append([]string(nil), m.depends...)
		sort.Strings(ds)
		for _, d := range ds {
			if err := visit(d); err != nil {
				return err
			}
		}
		state[name] = 2
		order = append(order, m.path)
		return nil
	}
	for _, w := range want {
		if _, ok := mods[strings.ReplaceAll(w, "-", "_")]; !ok {
			missing = append(missing, w)
			continue
		}
		if err := visit(w); err != nil {
			return nil, nil, err
		}
	}
	return order, missing, nil
}

func cmdModules(args []string) error {
	fl := flag.NewFlagSet("modules", flag.ContinueOnError)
	moddir := fl.String("moddir", "", "the kernel's /lib/modules/VERSION")
	out := fl.String("out", "", "output directory (gets the .ko files and modules.load)")
	if err := fl.Parse(args); err != nil {
		return err
	}
	mods, err := scanModules(*moddir)
	if err != nil {
		return err
	}
	order, missing, err := resolveModules(mods, fl.Args())
	if err != nil {
		return err
	}
	for _, m := range missing {
		fmt.Fprintf(os.Stderr, "imgtool modules: %s: not a module of this kernel (built in or absent), skipped\n", m)
	}
	var list strings.Builder
	list.WriteString("# load order, resolved from the modules' .modinfo by imgtool\n")
	for _, p := range order {
		src := filepath.Join(*moddir, p)
		dst := filepath.Join(*out, p)
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		b, err := os.ReadFile(src)
		if err != nil {
			return err
		}
		if err := os.WriteFile(dst, b, 0o644); err != nil {
			return err
		}
		list.WriteString(p + "\n")
	}
	fmt.Fprintf(os.Stderr, "imgtool modules: %d modules\n", len(order))
	return os.WriteFile(filepath.Join(*out, "modules.load"), []byte(list.String()), 0o644)
}

// ---- cpio (newc) ----

type cpioEntry struct {
	name        string // without leading /
	mode        uint32 // type and permission bits
	data        []byte
	major, minr uint32 // device numbers (rdev)
}

const (
	cS_IFDIR = 0o040000
	cS_IFREG = 0o100000
	cS_IFLNK = 0o120000
	cS_IFCHR = 0o020000
)

// writeCpio writes entries sorted by name with inode numbers in that order,
// uid/gid 0 and mtime epoch: the same tree always gives the same bytes.
func writeCpio(w io.Writer, entries []cpioEntry, epoch int64) error {
	sort.Slice(entries, func(i, j int) bool { return entries[i].name < entries[j].name })
	bw := bufio.NewWriter(w)
	pad := func(n int) {
		for ; n%4 != 0; n++ {
			bw.WriteByte(0)
		}
	}
	write := func(ino int, e cpioEntry) {
		nlink := 1
		if e.mode&0o170000 == cS_IFDIR {
			nlink = 2
		}
		fmt.Fprintf(bw, "070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X",
			ino, e.mode, 0, 0, nlink, uint32(epoch), len(e.data), 0, 0, e.major, e.minr, len(e.name)+1, 0)
		bw.WriteString(e.name)
		bw.WriteByte(0)
		pad(110 + len(e.name) + 1)
		bw.Write(e.data)
		pad(len(e.data))
	}
	for i, e := range entries {
		write(i+1, e)
	}
	write(0, cpioEntry{name: "TRAILER!!!"})
	return bw.Flush()
}

func cmdCpio(args []string) error {
	fl := flag.NewFlagSet("cpio", flag.ContinueOnError)
	root := fl.String("root", "", "directory to archive")
	out := fl.String("out", "", "output file (uncompressed newc)")
	epoch := fl.Int64("epoch", 0, "mtime of every entry (SOURCE_DATE_EPOCH)")
	if err := fl.Parse(args); err != nil {
		return err
	}
	var entries []cpioEntry
	haveDev := false
	err := filepath.WalkDir(*root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(*root, p)
		if rel == "." {
			return nil
		}
		rel = filepath.ToSlash(rel)
		info, err := d.Info()
		if err != nil {
			return err
		}
		perm := uint32(info.Mode().Perm())
		switch {
		case d.IsDir():
			if rel == "dev" {
				haveDev = true
			}
			entries = append(entries, cpioEntry{name: rel, mode: cS_IFDIR | perm})
		case d.Type()&fs.ModeSymlink != 0:
			t, err := os.Readlink(p)
			if err != nil {
				return err
			}
			entries = append(entries, cpioEntry{name: rel, mode: cS_IFLNK | 0o777, data: []byte(t)})
		case d.Type().IsRegular():
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			entries = append(entries, cpioEntry{name: rel, mode: cS_IFREG | perm, data: b})
		default:
			return fmt.Errorf("%s: unsupported file type", p)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if !haveDev {
		entries = append(entries, cpioEntry{name: "dev", mode: cS_IFDIR | 0o755})
	}
	// the kernel opens /dev/console for PID 1 before devtmpfs is mounted
	entries = append(entries, cpioEntry{name: "dev/console", mode: cS_IFCHR | 0o600, major: 5, minr: 1})
	f, err := os.Create(*out)
	if err != nil {
		return err
	}
	if err := writeCpio(f, entries, *epoch); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// ---- GPT reading (for the manifest's partition records) ----

type gptPart struct {
	Name        string
	First, Last uint64 // LBAs, inclusive
}

// readGPT returns the named partitions of a GPT disk image (512-byte
// sectors), checking the header and entry-array CRCs.
func readGPT(img io.ReaderAt) ([]gptPart, error) {
	hdr := make([]byte, 92)
	if _, err := img.ReadAt(hdr, 512); err != nil {
		return nil, err
	}
	if string(hdr[:8]) != "EFI PART" {
		return nil, errors.New("no GPT header at LBA 1")
	}
	hsize := binary.LittleEndian.Uint32(hdr[12:])
	if hsize != 92 {
		return nil, fmt.Errorf("GPT header size %d", hsize)
	}
	crc := binary.LittleEndian.Uint32(hdr[16:])
	check := append([]byte(nil), hdr...)
	binary.LittleEndian.PutUint32(check[16:], 0)
	if crc32.ChecksumIEEE(check) != crc {
		return nil, errors.New("GPT header CRC mismatch")
	}
	entLBA := binary.LittleEndian.Uint64(hdr[72:])
	n := binary.LittleEndian.Uint32(hdr[80:])
	esize := binary.LittleEndian.Uint32(hdr[84:])
	if n > 1024 || esize < 128 || esize > 4096 {
		return nil, errors.New("implausible GPT entry array")
	}
	arr := make([]byte, int(n)*int(esize))
	if _, err := img.ReadAt(arr, int64(entLBA)*512); err != nil {
		return nil, err
	}
	if crc32.ChecksumIEEE(arr) != binary.LittleEndian.Uint32(hdr[88:]) {
		return nil, errors.New("GPT entry array CRC mismatch")
	}
	var out []gptPart
	for i := 0; i < int(n); i++ {
		e := arr[i*int(esize) : (i+1)*int(esize)]
		if bytes.Equal(e[:16], make([]byte, 16)) {
			continue
		}
		u := make([]uint16, 36)
		for j := range u {
			u[j] = binary.LittleEndian.Uint16(e[56+2*j:])
		}
		name := string(utf16.Decode(u))
		name = strings.TrimRight(name, "\x00")
		out = append(out, gptPart{Name: name, First: binary.LittleEndian.Uint64(e[32:]), Last: binary.LittleEndian.Uint64(e[40:])})
	}
	return out, nil
}

// ---- manifest ----

func cmdManifest(args []string) error {
	fl := flag.NewFlagSet("manifest", flag.ContinueOnError)
	image := fl.String("image", "", "disk image")
	keyPath := fl.String("key", "", "ed25519 private key file (seed, base64)")
	var trees, versions listFlag
	fl.Var(&trees, "tree", "PREFIX=DIR: list every file of DIR as PREFIX/path (repeatable)")
	fl.Var(&versions, "version", "NAME=VALUE (repeatable)")
	if err := fl.Parse(args); err != nil {
		return err
	}
	keyText, err := os.ReadFile(*keyPath)
	if err != nil {
		return err
	}
	priv, err := manifest.ParsePrivateKey(keyText)
	if err != nil {
		return err
	}
	m := &manifest.Manifest{}
	for _, v := range versions {
		k, val, ok := strings.Cut(v, "=")
		if !ok {
			return fmt.Errorf("-version %q: want NAME=VALUE", v)
		}
		m.Versions = append(m.Versions, manifest.Version{Name: k, Value: val})
	}
	for _, t := range trees {
		prefix, dir, ok := strings.Cut(t, "=")
		if !ok {
			return fmt.Errorf("-tree %q: want PREFIX=DIR", t)
		}
		files, err := manifest.HashTree(dir, prefix)
		if err != nil {
			return err
		}
		m.Files = append(m.Files, files...)
	}
	name := filepath.Base(*image)
	sum, size, err := manifest.HashFile(*image, 0, -1)
	if err != nil {
		return err
	}
	m.Images = []manifest.Region{{Name: name, Size: size, SHA256: sum}}
	f, err := os.Open(*image)
	if err != nil {
		return err
	}
	parts, err := readGPT(f)
	f.Close()
	if err != nil {
		return err
	}
	for _, p := range parts {
		off, sz := int64(p.First)*512, int64(p.Last-p.First+1)*512
		s, _, err := manifest.HashFile(*image, off, sz)
		if err != nil {
			return err
		}
		m.Partitions = append(m.Partitions, manifest.Region{Name: name + ":" + p.Name, Offset: off, Size: sz, SHA256: s})
	}
	text, err := m.Marshal()
	if err != nil {
		return err
	}
	if err := os.WriteFile(*image+".manifest", text, 0o644); err != nil {
		return err
	}
	return os.WriteFile(*image+".manifest.sig", manifest.Sign(priv, text), 0o644)
}

// ---- U-Boot script image ----

// bootScript wraps a U-Boot script in a legacy image header (type script,
// no compression): a 64-byte big-endian header with CRCs, then the
// multi-file length table (script length, 0) and the script.
func bootScript(script []byte, arch string, epoch int64) ([]byte, error) {
	archCode := map[string]byte{"arm": 2, "arm64": 22}[arch]
	if archCode == 0 {
		return nil, fmt.Errorf("arch %q: want arm or arm64", arch)
	}
	data := make([]byte, 8, 8+len(script))
	binary.BigEndian.PutUint32(data[0:], uint32(len(script)))
	data = append(data, script...)
	h := make([]byte, 64)
	binary.BigEndian.PutUint32(h[0:], 0x27051956) // magic
	binary.BigEndian.PutUint32(h[8:], uint32(epoch))
	binary.BigEndian.PutUint32(h[12:], uint32(len(data)))
	binary.BigEndian.PutUint32(h[24:], crc32.ChecksumIEEE(data))
	h[28], h[29], h[30], h[31] = 5, archCode, 6, 0 // Linux, arch, script, no compression
	copy(h[32:], "otwatch boot script")
	binary.BigEndian.PutUint32(h[4:], crc32.ChecksumIEEE(h))
	return append(h, data...), nil
}

func cmdBootscr(args []string) error {
	fl := flag.NewFlagSet("bootscr", flag.ContinueOnError)
	in := fl.String("in", "", "script text")
	out := fl.String("out", "", "boot.scr to write")
	arch := fl.String("arch", "", "arm or arm64")
	epoch := fl.Int64("epoch", 0, "header time (SOURCE_DATE_EPOCH)")
	if err := fl.Parse(args); err != nil {
		return err
	}
	script, err := os.ReadFile(*in)
	if err != nil {
		return err
	}
	img, err := bootScript(script, *arch, *epoch)
	if err != nil {
		return err
	}
	return os.WriteFile(*out, img, 0o644)
}

// ---- A/B: the factory record, bundles ----

func cmdSlots(args []string) error {
	fl := flag.NewFlagSet("slots", flag.ContinueOnError)
	out := fl.String("out", "", "partition content to write (1 MiB)")
	version := fl.String("version", "", "otwatch version in slot a")
	epoch := fl.Int64("epoch", 0, "SOURCE_DATE_EPOCH of that build")
	payload := fl.String("payload", "", "the root file system in slot a")
	if err := fl.Parse(args); err != nil {
		return err
	}
	sum, size, err := manifest.HashFile(*payload, 0, -1)
	if err != nil {
		return err
	}
	rec := slots.Factory(*version, *epoch, size, sum)
	buf := &memDisk{b: make([]byte, 1<<20)}
	if err := slots.Write(buf, &rec, slots.Record{Seq: rec.Seq - 1}); err != nil {
		return err
	}
	return os.WriteFile(*out, buf.b, 0o644)
}

type memDisk struct{ b []byte }

func (m *memDisk) WriteAt(p []byte, off int64) (int, error) { return copy(m.b[off:], p), nil }

func cmdBundle(args []string) error {
	fl := flag.NewFlagSet("bundle", flag.ContinueOnError)
	payload := fl.String("payload", "", "root file system (squashfs)")
	keyPath := fl.String("key", "", "ed25519 private key file")
	out := fl.String("out", "", "bundle to write")
	epoch := fl.Int64("epoch", 0, "member times (SOURCE_DATE_EPOCH)")
	var trees, versions listFlag
	fl.Var(&trees, "tree", "PREFIX=DIR: list every file of DIR (repeatable)")
	fl.Var(&versions, "version", "NAME=VALUE (repeatable; otwatch, arch and source-date-epoch are required)")
	if err := fl.Parse(args); err != nil {
		return err
	}
	keyText, err := os.ReadFile(*keyPath)
	if err != nil {
		return err
	}
	priv, err := manifest.ParsePrivateKey(keyText)
	if err != nil {
		return err
	}
	var vs []manifest.Version
	for _, v := range versions {
		k, val, ok := strings.Cut(v, "=")
		if !ok {
			return fmt.Errorf("-version %q: want NAME=VALUE", v)
		}
		vs = append(vs, manifest.Version{Name: k, Value: val})
	}
	tm := map[string]string{}
	for _, t := range trees {
		prefix, dir, ok := strings.Cut(t, "=")
		if !ok {
			return fmt.Errorf("-tree %q: want PREFIX=DIR", t)
		}
		tm[prefix] = dir
	}
	tmp := *out + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	err = bundle.Create(f, *payload, vs, tm, priv, *epoch)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	return os.Rename(tmp, *out)
}

// ---- hybrid MBR ----

// hybridMBR rewrites the partition entries of the MBR in sector 0: entry 1
// is the GPT partition p with MBR type typ (a FAT type: the Raspberry Pi's
// boot ROM and firmware read only the MBR and boot from the first FAT
// partition), entry 2 the 0xEE protective partition over the GPT itself
// (LBA 1 up to p). Linux and U-Boot see the 0xEE entry and read the GPT.
func hybridMBR(mbr []byte, p gptPart, typ byte) error {
	if len(mbr) < 512 {
		return errors.New("short MBR")
	}
	if p.First < 2 || p.Last > 0xFFFFFFFF {
		return fmt.Errorf("partition %s at LBA %d..%d does not fit an MBR entry", p.Name, p.First, p.Last)
	}
	for i := 446; i < 510; i++ {
		mbr[i] = 0
	}
	entry := func(i int, boot, typ byte, first, count uint64) {
		e := mbr[446+16*i:]
		e[0] = boot
		copy(e[1:4], []byte{0xFE, 0xFF, 0xFF}) // CHS: beyond 8 GiB, use the LBA fields
		e[4] = typ
		copy(e[5:8], []byte{0xFE, 0xFF, 0xFF})
		binary.LittleEndian.PutUint32(e[8:], uint32(first))
		binary.LittleEndian.PutUint32(e[12:], uint32(count))
	}
	entry(0, 0x80, typ, p.First, p.Last-p.First+1)
	entry(1, 0, 0xEE, 1, p.First-1)
	mbr[510], mbr[511] = 0x55, 0xAA
	return nil
}

func cmdHybridMBR(args []string) error {
	fl := flag.NewFlagSet("hybridmbr", flag.ContinueOnError)
	image := fl.String("image", "", "GPT disk image")
	part := fl.String("part", "", "the GPT partition (name) to show in the MBR")
	typ := fl.Uint("type", 0x0e, "its MBR type (0x0e: FAT16 LBA; 0x0c: FAT32 LBA)")
	if err := fl.Parse(args); err != nil {
		return err
	}
	f, err := os.OpenFile(*image, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	parts, err := readGPT(f)
	if err != nil {
		return err
	}
	for _, p := range parts {
		if p.Name != *part {
			continue
		}
		mbr := make([]byte, 512)
		if _, err := f.ReadAt(mbr, 0); err != nil {
			return err
		}
		if err := hybridMBR(mbr, p, byte(*typ)); err != nil {
			return err
		}
		if _, err := f.WriteAt(mbr, 0); err != nil {
			return err
		}
		return f.Close()
	}
	return fmt.Errorf("%s: no GPT partition named %s", *image, *part)
}
