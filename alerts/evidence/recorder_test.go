package evidence

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket/pcapgo"

	"github.com/otwatch/otwatch/alerts"
	"github.com/otwatch/otwatch/protocols/capture"
	"github.com/otwatch/otwatch/protocols/frame"
)

const corpusCapture = "../../protocols/modbus/testdata/suricata_modbus.pcap"

// replay feeds a capture to the recorder as the pipeline does, calling
// onFrame after each frame (to raise alerts at the right moment).
func replay(t *testing.T, path string, r *Recorder, onFrame func(no uint64)) map[uint64][]byte {
	t.Helper()
	rd, err := capture.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()
	frames := map[uint64][]byte{}
	var d frame.Decoded
	for no := uint64(1); ; no++ {
		f, err := rd.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		frames[no] = append([]byte(nil), f.Data...)
		err = frame.Decode(f.LinkType, f.Data, &d)
		r.Frame(f, no, &d, err == nil)
		if onFrame != nil {
			onFrame(no)
		}
	}
	return frames
}

// modbusAlert is the force-listen-only transaction of suricata_modbus.pcap:
// request frame 8, response frame 9, 10.0.0.57:2578 -> 10.0.0.3:502.
func modbusAlert() *alerts.Alert {
	code := 8
	return &alerts.Alert{ID: "a1b2c3d4e5f60718", TS: time.Date(2004, 8, 26, 12, 1, 34, 211940000, time.UTC),
		Kind: "force_listen_only", Severity: 9, BaseSeverity: 9, Proto: "modbus",
		Client: &alerts.Endpoint{IP: "10.0.0.57", Port: 2578, MAC: "00:20:78:00:62:0d"},
		Server: &alerts.Endpoint{IP: "10.0.0.3", Port: 502, MAC: "00:02:b3:ce:70:51"},
		Unit:   "10", Op: "control", Code: &code, Frames: []uint64{8, 9},
		Message: "Modbus force listen only mode: the device stops answering", Key: "k"}
}

// readPcapng returns the section comment and, per packet, its comment and bytes.
func readPcapng(t *testing.T, path string) (string, []string, [][]byte) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ng, err := pcapgo.NewNgReader(f, pcapgo.DefaultNgReaderOptions)
	if err != nil {
		t.Fatal(err)
	}
	var comments []string
	var data [][]byte
	for {
		d, _, opts, err := ng.ReadPacketDataWithOptions()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		comments = append(comments, strings.Join(opts.Comments, ";"))
		data = append(data, append([]byte(nil), d...))
	}
	return ng.SectionInfo().Comment, comments, data
}

var origFrame = regexp.MustCompile(`original frame (\d+)`)

func frameNumbers(t *testing.T, comments []string) []uint64 {
	var out []uint64
	for _, c := range comments {
		m := origFrame.FindStringSubmatch(c)
		if m == nil {
			t.Fatalf("packet comment %q names no frame", c)
		}
		n, _ := strconv.ParseUint(m[1], 10, 64)
		out = append(out, n)
	}
	return out
}

func evidenceFiles(t *testing.T, dir string) []string {
	t.Helper()
	m, _ := filepath.Glob(filepath.Join(dir, "*.pcapng"))
	slices.Sort(m)
	return m
}

// flowFrames lists the capture's frames on the alert's flow, by tshark if
// present, else by our own decoder.
func flowFrames(t *testing.T) []uint64 {
	rd, err := capture.Open(corpusCapture)
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()
	var out []uint64
	var d frame.Decoded
	for no := uint64(1); ; no++ {
		f, err := rd.Next()
		if err != nil {
			break
		}
		if frame.Decode(f.LinkType, f.Data, &d) == nil && (d.SrcPort == 2578 || d.DstPort == 2578) {
			out = append(out, no)
		}
	}
	return out
}

func TestEvidenceSliceFromCorpusCapture(t *testing.T) {
	if _, err := os.Stat(corpusCapture); err != nil {
		t.Skip("modbus testdata capture absent")
	}
	dir := t.TempDir()
	r, err := NewRecorder(Config{Dir: dir, Before: 3, After: 2})
	if err != nil {
		t.Fatal(err)
	}
	a := modbusAlert()
	orig := replay(t, corpusCapture, r, func(no uint64) {
		if no == 9 { // the engine raises it when the response completes the transaction
			r.Alert(a)
		}
	})
	if err := r.Flush(); err != nil {
		t.Fatal(err)
	}
	files := evidenceFiles(t, dir)
	if len(files) != 1 {
		t.Fatalf("evidence files %v", files)
	}
	// expected: the last 3 packets of the flow up to frame 9, then the next 2
	flow := flowFrames(t)
	var want []uint64
	for _, n := range flow {
		if n <= 9 {
			want = append(want, n)
		}
	}
	want = want[max(0, len(want)-3):]
	for _, n := range flow {
		if n > 9 && len(want) < 5 {
			want = append(want, n)
		}
	}
	if !slices.Contains(want, 8) || !slices.Contains(want, 9) {
		t.Fatalf("test setup: %v", want)
	}
	section, comments, data := readPcapng(t, files[0])
	if got := frameNumbers(t, comments); !slices.Equal(got, want) {
		t.Errorf("evidence frames %v, want %v", got, want)
	}
	for i, n := range frameNumbers(t, comments) {
		if !bytes.Equal(data[i], orig[n]) {
			t.Errorf("frame %d bytes differ from the capture", n)
		}
	}
	if section != Comment(a) || !strings.Contains(section, "id=a1b2c3d4e5f60718 kind=force_listen_only") {
		t.Errorf("section comment %q", section)
	}
	probs, err := Verify(dir)
	if err != nil || len(probs) != 0 {
		t.Fatalf("fresh directory: %v %v", err, probs)
	}

	// tshark, Wireshark's reader, opens it and decodes the Modbus frames
	t.Run("tshark", func(t *testing.T) {
		if _, err := exec.LookPath("tshark"); err != nil {
			t.Skip("tshark not installed: the evidence file is not opened in Wireshark's reader")
		}
		out, err := exec.Command("tshark", "-r", files[0], "-T", "fields", "-e", "frame.comment", "-e", "mbtcp.trans_id").Output()
		if err != nil {
			t.Fatalf("tshark: %v\n%s", err, out)
		}
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		if len(lines) != len(want) {
			t.Fatalf("tshark reads %d packets, want %d:\n%s", len(lines), len(want), out)
		}
		for i, l := range lines {
			if !strings.Contains(l, fmt.Sprintf("original frame %d", want[i])) {
				t.Errorf("tshark packet %d: %q", i+1, l)
			}
		}
		if !strings.Contains(string(out), "(alert frame)") {
			t.Errorf("alert frames not marked:\n%s", out)
		}
		if mb, _ := exec.Command("tshark", "-r", files[0], "-Y", "modbus.func_code == 8").Output(); len(bytes.TrimSpace(mb)) == 0 {
			t.Errorf("tshark finds no Modbus diagnostics in the evidence")
		}
	})
	t.Run("capinfos", func(t *testing.T) {
		if _, err := exec.LookPath("capinfos"); err != nil {
			t.Skip("capinfos not installed: the section comment is not read by Wireshark's tools")
		}
		ci, err := exec.Command("capinfos", "-k", files[0]).CombinedOutput()
		if err != nil || !strings.Contains(string(ci), "otwatch alert id=a1b2c3d4e5f60718 kind=force_listen_only") {
			t.Errorf("capinfos section comment: %v\n%s", err, ci)
		}
	})
}

// Every byte flipped in an evidence file, or in any custody log entry, makes
// Verify fail and name that file or entry.
func TestVerifyDetectsTampering(t *testing.T) {
	dir := makeEvidence(t, 4)
	files := evidenceFiles(t, dir)
	logPath := filepath.Join(dir, LogName)
	logBytes, _ := os.ReadFile(logPath)

	for _, f := range files {
		orig, _ := os.ReadFile(f)
		for _, pos := range []int{0, len(orig) / 3, len(orig) / 2, len(orig) - 1} {
			b := bytes.Clone(orig)
			b[pos] ^= 0x01
			os.WriteFile(f, b, 0o640)
			probs, err := Verify(dir)
			if err != nil || !named(probs, FileAltered, filepath.Base(f), 0) {
				t.Errorf("byte %d of %s flipped: %v %v", pos, filepath.Base(f), err, probs)
			}
		}
		os.WriteFile(f, orig, 0o640)
	}

	lines := bytes.SplitAfter(logBytes, []byte("\n"))
	offset := 0
	for i, line := range lines {
		for pos := 0; pos < len(line); pos++ {
			b := bytes.Clone(logBytes)
			b[offset+pos] ^= 0x01
			os.WriteFile(logPath, b, 0o640)
			probs, err := Verify(dir)
			if err != nil || !namesLine(probs, i+1) {
				t.Fatalf("byte %d of entry line %d flipped (%q -> %q): %v %v", pos, i+1, line[pos], line[pos]^1, err, probs)
			}
		}
		offset += len(line)
	}
	os.WriteFile(logPath, logBytes, 0o640)
	if probs, _ := Verify(dir); len(probs) != 0 {
		t.Fatalf("restored: %v", probs)
	}
}

func named(probs []Problem, kind, file string, line int) bool {
	for _, p := range probs {
		if p.Kind == kind && (file == "" || p.File == file) && (line == 0 || p.Line == line) {
			return true
		}
	}
	return false
}

func namesLine(probs []Problem, line int) bool {
	for _, p := range probs {
		if p.Line == line {
			return true
		}
	}
	return false
}

func TestVerifyDetectsRemovedAndReorderedEntriesAndFiles(t *testing.T) {
	dir := makeEvidence(t, 4)
	logPath := filepath.Join(dir, LogName)
	logBytes, _ := os.ReadFile(logPath)
	lines := strings.SplitAfter(strings.TrimSuffix(string(logBytes), "\n"), "\n")
	if len(lines) < 5 {
		t.Fatalf("%d entries", len(lines))
	}
	check := func(name, content, kind string) {
		t.Helper()
		os.WriteFile(logPath, []byte(content), 0o640)
		defer os.WriteFile(logPath, logBytes, 0o640)
		probs, err := Verify(dir)
		if err != nil || !named(probs, kind, "", 0) {
			t.Errorf("%s: want %s, got %v %v", name, kind, err, probs)
		}
	}
	join := func(ls ...string) string {
		s := strings.Join(ls, "")
		if !strings.HasSuffix(s, "\n") {
			s += "\n"
		}
		return s
	}
	rest := func(from int) []string { return lines[from:] }
	check("middle entry removed", join(append(slices.Clone(lines[:2]), rest(3)...)...), EntryMissing)
	check("first entry removed", join(rest(1)...), EntryMissing)
	check("last entry removed", join(lines[:len(lines)-1]...), LogTruncated)
	swapped := slices.Clone(lines)
	swapped[1], swapped[2] = swapped[2], swapped[1]
	check("two entries swapped", join(swapped...), EntryReordered)
	check("entry duplicated", join(append(slices.Clone(lines[:3]), lines[2:]...)...), EntryReordered)

	files := evidenceFiles(t, dir)
	victim := files[1]
	orig, _ := os.ReadFile(victim)
	os.Remove(victim)
	if probs, _ := Verify(dir); !named(probs, FileRemoved, filepath.Base(victim), 0) {
		t.Errorf("removed file: %v", probs)
	}
	os.WriteFile(victim, orig, 0o640)
	stray := filepath.Join(dir, "planted.pcapng")
	os.WriteFile(stray, orig, 0o640)
	if probs, _ := Verify(dir); !named(probs, FileUnlogged, "planted.pcapng", 0) {
		t.Errorf("unlogged file: %v", probs)
	}
	os.Remove(stray)
	// renaming two evidence files onto each other (files reordered)
	a, b := files[0], files[2]
	ab, _ := os.ReadFile(a)
	bb, _ := os.ReadFile(b)
	os.WriteFile(a, bb, 0o640)
	os.WriteFile(b, ab, 0o640)
	probs, _ := Verify(dir)
	if !named(probs, FileAltered, filepath.Base(a), 0) || !named(probs, FileAltered, filepath.Base(b), 0) {
		t.Errorf("swapped files: %v", probs)
	}
	os.WriteFile(a, ab, 0o640)
	os.WriteFile(b, bb, 0o640)
	head := filepath.Join(dir, HeadName)
	hb, _ := os.ReadFile(head)
	os.Remove(head)
	if probs, _ := Verify(dir); !named(probs, HeadMismatch, "", 0) {
		t.Errorf("head removed: %v", probs)
	}
	os.WriteFile(head, hb, 0o640)
	if probs, _ := Verify(dir); len(probs) != 0 {
		t.Errorf("restored: %v", probs)
	}
}

// makeEvidence writes n evidence files from synthetic packets.
func makeEvidence(t *testing.T, n int) string {
	t.Helper()
	dir := t.TempDir()
	r, err := NewRecorder(Config{Dir: dir, Before: 4, After: 2})
	if err != nil {
		t.Fatal(err)
	}
	no := uint64(0)
	for i := 0; i < n; i++ {
		for j := 0; j < 5; j++ {
			no++
			feed(r, no, i, j%2 == 0)
		}
		r.Alert(synthAlert(i, no))
		for j := 0; j < 2; j++ {
			no++
			feed(r, no, i, false)
		}
	}
	if err := r.Flush(); err != nil {
		t.Fatal(err)
	}
	if got := len(evidenceFiles(t, dir)); got != n {
		t.Fatalf("%d evidence files, want %d", got, n)
	}
	if probs, err := Verify(dir); err != nil || len(probs) != 0 {
		t.Fatalf("fresh: %v %v", err, probs)
	}
	return dir
}

// feed gives the recorder one synthetic TCP frame of flow i.
func feed(r *Recorder, no uint64, flow int, fromClient bool) {
	client := netip.AddrFrom4([4]byte{10, 1, byte(flow >> 8), byte(flow)})
	server := netip.MustParseAddr("10.9.9.9")
	d := frame.Decoded{Src: client, Dst: server, SrcPort: 40000, DstPort: 502, IPProto: frame.ProtoTCP}
	if !fromClient {
		d.Src, d.Dst, d.SrcPort, d.DstPort = server, client, 502, 40000
	}
	data := make([]byte, 60)
	copy(data, fmt.Sprintf("frame %d flow %d", no, flow))
	r.Frame(capture.Frame{Data: data, TimeNano: int64(no) * 1e6, LinkType: capture.LinkEthernet, OrigLen: 60}, no, &d, true)
}

func synthAlert(i int, frameNo uint64) *alerts.Alert {
	return &alerts.Alert{ID: fmt.Sprintf("alert%04d", i), TS: time.Unix(int64(frameNo), 0), Kind: "plc_stop", Severity: 10,
		Client: &alerts.Endpoint{IP: fmt.Sprintf("10.1.%d.%d", i>>8, i&255), Port: 40000},
		Server: &alerts.Endpoint{IP: "10.9.9.9", Port: 502}, Frames: []uint64{frameNo - 1, frameNo}, Message: "stop"}
}

func TestRetentionBoundsDisk(t *testing.T) {
	dir := t.TempDir()
	const maxBytes = 4000
	r, err := NewRecorder(Config{Dir: dir, Before: 4, After: 1, MaxBytes: maxBytes})
	if err != nil {
		t.Fatal(err)
	}
	no := uint64(0)
	for i := 0; i < 40; i++ {
		for j := 0; j < 5; j++ {
			no++
			feed(r, no, i, true)
		}
		r.Alert(synthAlert(i, no))
		no++
		feed(r, no, i, false)
	}
	r.Flush()
	st := r.Stats()
	var disk int64
	for _, f := range evidenceFiles(t, dir) {
		fi, _ := os.Stat(f)
		disk += fi.Size()
	}
	if st.Written != 40 || st.RetentionRemove == 0 || disk > maxBytes || disk != st.DiskBytes {
		t.Fatalf("stats %+v, disk %d", st, disk)
	}
	if probs, err := Verify(dir); err != nil || len(probs) != 0 {
		t.Fatalf("after retention: %v %v", err, probs)
	}
	log, _ := os.ReadFile(filepath.Join(dir, LogName))
	if n := strings.Count(string(log), `"action":"retention"`); uint64(n) != st.RetentionRemove {
		t.Errorf("%d retention entries, %d removals", n, st.RetentionRemove)
	}
	// a restarted recorder continues the chain and the disk accounting
	r2, err := NewRecorder(Config{Dir: dir, Before: 4, After: 1, MaxBytes: maxBytes})
	if err != nil {
		t.Fatal(err)
	}
	if r2.Stats().DiskBytes != disk {
		t.Errorf("restart: disk %d, want %d", r2.Stats().DiskBytes, disk)
	}
	for j := 0; j < 3; j++ {
		no++
		feed(r2, no, 1000, true)
	}
	r2.Alert(synthAlert(1000, no))
	r2.Flush()
	if probs, err := Verify(dir); err != nil || len(probs) != 0 {
		t.Fatalf("after restart: %v %v", err, probs)
	}
	seq, hash := r2.Head()
	if hs, hh, ok := readHead(dir); !ok || hs != seq || hh != hash || seq < 3 {
		t.Errorf("head %d %s, file %d %s", seq, hash, hs, hh)
	}
}

func TestBoundedMemory(t *testing.T) {
	dir := t.TempDir()
	cfg := Config{Dir: dir, Before: 10, After: 1000, PerFlowRing: 20, MaxFlows: 100, MaxMemory: 256 << 10, MaxPending: 8}
	r, err := NewRecorder(cfg)
	if err != nil {
		t.Fatal(err)
	}
	no := uint64(0)
	for i := 0; i < 5000; i++ {
		no++
		feed(r, no, i%3000, i%2 == 0)
		if i%100 == 0 {
			r.Alert(synthAlert(i%3000, no))
		}
		st := r.Stats()
		if st.Flows > cfg.MaxFlows || st.MemoryBytes > cfg.MaxMemory || st.Pending > cfg.MaxPending {
			t.Fatalf("frame %d: %+v", no, st)
		}
	}
	// one flow: its ring holds PerFlowRing packets, no more
	for i := 0; i < 500; i++ {
		no++
		feed(r, no, 7, true)
	}
	r.mu.Lock()
	for _, rg := range r.rings {
		if len(rg.pkts) > cfg.PerFlowRing {
			t.Errorf("ring of %v holds %d", rg.key, len(rg.pkts))
		}
	}
	r.mu.Unlock()
	if err := r.Flush(); err != nil {
		t.Fatal(err)
	}
	if st := r.Stats(); st.Pending != 0 || st.FlowsEvicted == 0 {
		t.Errorf("%+v", st)
	}
	if probs, _ := Verify(dir); len(probs) != 0 {
		t.Errorf("%v", probs)
	}
}

func TestAlertWithoutPacketsIsLogged(t *testing.T) {
	dir := t.TempDir()
	r, _ := NewRecorder(Config{Dir: dir})
	r.Alert(&alerts.Alert{ID: "nothing", Kind: "new_asset", Client: &alerts.Endpoint{IP: "192.0.2.1"}})
	r.Flush()
	log, _ := os.ReadFile(filepath.Join(dir, LogName))
	if !strings.Contains(string(log), `"action":"no_packets","alert":"nothing"`) {
		t.Errorf("%s", log)
	}
	if _, err := NewRecorder(Config{}); err == nil {
		t.Error("no directory accepted")
	}
	if _, err := Verify(filepath.Join(dir, "absent")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("absent dir: %v", err)
	}
}

// An ARP watch alert names ARP frames: they are kept and cut like any flow's.
func TestARPFramesAreEvidence(t *testing.T) {
	dir := t.TempDir()
	r, err := NewRecorder(Config{Dir: dir, Before: 4, After: 0})
	if err != nil {
		t.Fatal(err)
	}
	arp := func(no uint64, senderMAC byte, sender string) []byte {
		b := []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0x0c, 0x29, 0, 0, senderMAC, 0x08, 0x06,
			0, 1, 0x08, 0, 6, 4, 0, 2, 0, 0x0c, 0x29, 0, 0, senderMAC}
		b = append(b, netip.MustParseAddr(sender).AsSlice()...)
		b = append(b, 0, 0, 0, 0, 0, 0, 10, 0, 0, 20)
		var d frame.Decoded
		f := capture.Frame{Data: b, TimeNano: int64(no) * 1e9, LinkType: capture.LinkEthernet, OrigLen: uint32(len(b))}
		if err := frame.Decode(f.LinkType, f.Data, &d); !errors.Is(err, frame.ErrNotIP) || !d.ARP.Valid {
			t.Fatalf("frame %d: %v %+v", no, err, d.ARP)
		}
		r.Frame(f, no, &d, false)
		return b
	}
	arp(1, 1, "10.0.0.10") // the PLC's own claim: not named by the alert
	poisoned := arp(2, 0x66, "10.0.0.10")
	r.Alert(&alerts.Alert{ID: "arp1", Kind: "arp_spoofing", Frames: []uint64{2}, Key: "arp_spoofing|10.0.0.10", Message: "m"})
	if err := r.Flush(); err != nil {
		t.Fatal(err)
	}
	files := evidenceFiles(t, dir)
	if len(files) != 1 {
		t.Fatalf("evidence files %v", files)
	}
	_, _, pkts := readPcapng(t, files[0])
	if len(pkts) != 1 || !bytes.Equal(pkts[0], poisoned) {
		t.Fatalf("the poisoned reply is not the evidence: %d packets", len(pkts))
	}
}

func BenchmarkFrame(b *testing.B) {
	r, err := NewRecorder(Config{Dir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	d := frame.Decoded{Src: netip.MustParseAddr("10.0.0.1"), Dst: netip.MustParseAddr("10.0.0.2"), SrcPort: 40000, DstPort: 502, IPProto: frame.ProtoTCP}
	f := capture.Frame{Data: make([]byte, 80), LinkType: capture.LinkEthernet, OrigLen: 80}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		d.SrcPort = uint16(40000 + i%64)
		r.Frame(f, uint64(i+1), &d, true)
	}
}
