package pipeline_test

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/otwatch/otwatch/protocols"
	_ "github.com/otwatch/otwatch/protocols/all"
	"github.com/otwatch/otwatch/protocols/capture"
	"github.com/otwatch/otwatch/protocols/corpustest"
	"github.com/otwatch/otwatch/protocols/pipeline"
)

// throughputInputs is the recipe of the per-protocol throughput inputs,
// declared by each protocol's profile (protocols.BenchInput): one corpus capture (Ethernet, many request/response pairs) copied with
// ../shared/tools/ipcopies.py until about 120,000 packets. Each copy has its
// own IPv4 addresses (identical copies would rightly be dropped as
// retransmissions), so an input holds hundreds of flows and hosts, and the
// payload bytes stay exactly the corpus's. tshark decodes the same file with
// -T fields -e field. The same files serve the whole-process comparison in
// the README: set OTWATCH_THROUGHPUT_DIR to keep them.
type throughputInput struct {
	proto, field, capture string
	copies                int
}

func throughputInputs() []throughputInput {
	var out []throughputInput
	for _, p := range protocols.Profiles() {
		if p.Bench != nil {
			out = append(out, throughputInput{p.Name, p.Bench.TsharkField, p.Bench.Capture, p.Bench.Copies})
		}
	}
	return out
}

type benchFile struct {
	path    string
	packets int
	err     error
}

var (
	benchMu    sync.Mutex
	benchFiles = map[string]*benchFile{}
	tsharkPPS  = map[string]float64{}
)

// benchInput builds (once per process and protocol) the protocol's input in
// $OTWATCH_THROUGHPUT_DIR (kept, and reused when already there) or in a
// temporary folder. It skips when the corpus, python3 or ipcopies.py is absent.
func benchInput(b *testing.B, proto, rel string, copies int) *benchFile {
	corpus := corpustest.Dir(b)
	ipcopies := filepath.Join(corpus, "..", "tools", "ipcopies.py")
	if _, err := os.Stat(ipcopies); err != nil {
		b.Skipf("%s not found: skipping", ipcopies)
	}
	python, err := exec.LookPath("python3")
	if err != nil {
		b.Skip("python3 not installed (ipcopies.py builds the inputs): skipping")
	}
	benchMu.Lock()
	defer benchMu.Unlock()
	if f := benchFiles[proto]; f != nil {
		if f.err != nil {
			b.Fatal(f.err)
		}
		return f
	}
	f := &benchFile{}
	benchFiles[proto] = f
	f.path, f.packets, f.err = buildInput(python, ipcopies, filepath.Join(corpus, rel), proto, copies)
	if f.err != nil {
		b.Fatal(f.err)
	}
	b.Logf("%s: %d packets, %s", proto, f.packets, f.path)
	return f
}

func buildInput(python, ipcopies, src, proto string, copies int) (string, int, error) {
	dir := os.Getenv("OTWATCH_THROUGHPUT_DIR")
	if dir == "" {
		var err error
		if dir, err = os.MkdirTemp("", "otwatch-throughput"); err != nil {
			return "", 0, err
		}
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", 0, err
	}
	out := filepath.Join(dir, proto+".pcap")
	if _, err := os.Stat(out); err != nil {
		// ipcopies.py reads classic pcap: a pcapng source is rewritten first,
		// frame for frame, as editcap -F pcap would.
		in := src
		if !isClassicPcap(src) {
			in = filepath.Join(dir, proto+"-source.pcap")
			if err := writePcap(in, src); err != nil {
				return "", 0, err
			}
			defer os.Remove(in)
		}
		cmd := exec.Command(python, ipcopies, in, strconv.Itoa(copies), out+".tmp")
		if msg, err := cmd.CombinedOutput(); err != nil {
			return "", 0, fmt.Errorf("ipcopies.py %s: %v: %s", src, err, msg)
		}
		if err := os.Rename(out+".tmp", out); err != nil {
			return "", 0, err
		}
	}
	n, err := countFrames(out)
	return out, n, err
}

// removeTemporaryInputs deletes the inputs built outside
// $OTWATCH_THROUGHPUT_DIR (about 70 MB) once the benchmarks are done.
func removeTemporaryInputs() {
	benchMu.Lock()
	defer benchMu.Unlock()
	if os.Getenv("OTWATCH_THROUGHPUT_DIR") == "" {
		for _, f := range benchFiles {
			if f.path != "" {
				os.RemoveAll(filepath.Dir(f.path))
			}
		}
	}
	benchFiles = map[string]*benchFile{}
}

func isClassicPcap(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	var magic [4]byte
	if _, err := io.ReadFull(f, magic[:]); err != nil {
		return false
	}
	switch binary.LittleEndian.Uint32(magic[:]) {
	case 0xA1B2C3D4, 0xA1B23C4D, 0xD4C3B2A1, 0x4D3CB2A1:
		return true
	}
	return false
}

// writePcap rewrites an Ethernet capture as a little-endian nanosecond pcap.
func writePcap(path, src string) error {
	r, err := capture.Open(src)
	if err != nil {
		return err
	}
	defer r.Close()
	out, err := os.Create(path)
	if err != nil {
		return err
	}
	defer out.Close()
	w := bufio.NewWriter(out)
	hdr := make([]byte, 24)
	binary.LittleEndian.PutUint32(hdr, 0xA1B23C4D)
	binary.LittleEndian.PutUint16(hdr[4:], 2)
	binary.LittleEndian.PutUint16(hdr[6:], 4)
	binary.LittleEndian.PutUint32(hdr[16:], capture.MaxFrame)
	binary.LittleEndian.PutUint32(hdr[20:], capture.LinkEthernet)
	w.Write(hdr)
	rec := make([]byte, 16)
	for {
		f, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		if f.LinkType != capture.LinkEthernet {
			return fmt.Errorf("%s: link type %d, ipcopies.py takes Ethernet", src, f.LinkType)
		}
		binary.LittleEndian.PutUint32(rec, uint32(f.TimeNano/1e9))
		binary.LittleEndian.PutUint32(rec[4:], uint32(f.TimeNano%1e9))
		binary.LittleEndian.PutUint32(rec[8:], uint32(len(f.Data)))
		binary.LittleEndian.PutUint32(rec[12:], max(f.OrigLen, uint32(len(f.Data))))
		w.Write(rec)
		w.Write(f.Data)
	}
	if err := w.Flush(); err != nil {
		return err
	}
	return out.Close()
}

func countFrames(path string) (int, error) {
	r, err := capture.Open(path)
	if err != nil {
		return 0, err
	}
	defer r.Close()
	n := 0
	for {
		if _, err := r.Next(); err == io.EOF {
			return n, nil
		} else if err != nil {
			return n, err
		}
		n++
	}
}

// BenchmarkPipeline reads, decodes and dissects each protocol's input per
// iteration and reports packets/s, allocations per packet, tshark's
// packets/s on the same file (fields of that protocol) and the ratio; the
// -recycled runs let sessions reuse transactions (RecycleTransactions).
func BenchmarkPipeline(b *testing.B) {
	b.Cleanup(removeTemporaryInputs)
	for _, bp := range throughputInputs() {
		for _, recycle := range []bool{false, true} {
			name := bp.proto
			if recycle {
				name += "-recycled"
			}
			b.Run(name, func(b *testing.B) { benchmarkPipeline(b, bp.proto, bp.field, bp.capture, bp.copies, recycle) })
		}
	}
}

func benchmarkPipeline(b *testing.B, proto, field, rel string, copies int, recycle bool) {
	in := benchInput(b, proto, rel, copies)
	var txs int
	sink := func(*protocols.Transaction) { txs++ }
	run := func() {
		p := pipeline.New(pipeline.Limits{}, sink)
		p.RecycleTransactions = recycle
		r, err := capture.Open(in.path)
		if err != nil {
			b.Fatal(err)
		}
		for {
			f, err := r.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
			p.HandleFrame(f)
		}
		r.Close()
		p.Flush()
	}
	run() // warm the page cache and the runtime
	txs = 0
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		run()
	}
	elapsed := time.Since(start)
	b.StopTimer()
	runtime.ReadMemStats(&after)
	total := float64(in.packets) * float64(b.N)
	ours := total / elapsed.Seconds()
	b.ReportMetric(ours, "packets/s")
	b.ReportMetric(float64(after.Mallocs-before.Mallocs)/total, "allocs/packet")
	b.ReportMetric(float64(txs)/float64(b.N), "transactions")
	if theirs := tsharkRate(proto, field, in); theirs > 0 {
		b.ReportMetric(theirs, "tshark_packets/s")
		b.ReportMetric(ours/theirs, "x_tshark")
	}
}

// tsharkRate times `tshark -T fields -e FIELD` on the same file, once per process and protocol.
func tsharkRate(proto, field string, in *benchFile) float64 {
	benchMu.Lock()
	defer benchMu.Unlock()
	if pps, ok := tsharkPPS[proto]; ok {
		return pps
	}
	tsharkPPS[proto] = 0
	tshark, err := exec.LookPath("tshark")
	if err != nil {
		return 0
	}
	cmd := exec.Command(tshark, "-n", "-r", in.path, "-T", "fields", "-e", field)
	cmd.Stdout = io.Discard
	t0 := time.Now()
	if cmd.Run() == nil {
		tsharkPPS[proto] = float64(in.packets) / time.Since(t0).Seconds()
	}
	return tsharkPPS[proto]
}
