package pipeline_test

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/otwatch/otwatch/protocols"
	_ "github.com/otwatch/otwatch/protocols/all"
	"github.com/otwatch/otwatch/protocols/capture"
	"github.com/otwatch/otwatch/protocols/corpustest"
	"github.com/otwatch/otwatch/protocols/pipeline"
)

// benchProtocols: per protocol, the tshark field that makes tshark dissect
// it and how many packets the input has. Inputs are the protocol's corpus
// captures (Ethernet), copied with distinct addresses — identical copies
// would rightly be dropped as retransmissions — and interleaved in time.
var benchProtocols = []struct {
	proto, field string
	packets      int
}{
	{"modbus", "modbus.func_code", 1_000_000},
	{"dnp3", "dnp3.al.func", 300_000},
	{"s7comm", "s7comm.param.func", 300_000},
	{"opcua", "opcua.servicenodeid.numeric", 300_000},
}

type benchFile struct {
	path     string
	packets  int
	decodeAs []string
	err      error
}

var (
	benchMu    sync.Mutex
	benchFiles = map[string]*benchFile{}
	tsharkPPS  = map[string]float64{}
)

// benchInput builds (once per process and protocol) the merged capture.
func benchInput(b *testing.B, proto string, packets int) *benchFile {
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
	var sources []string
	for _, c := range corpustest.Captures(b, proto) {
		if c.Row["link_type"] != "ether" || (c.Row["duplicate_of"] != "" && c.Row["duplicate_of"] != "-") {
			continue
		}
		sources = append(sources, c.Path)
		for _, m := range regexp.MustCompile(`-d\s+(\w+\.port==\d+,\w+)`).FindAllStringSubmatch(c.Notes, -1) {
			if !slices.Contains(f.decodeAs, m[1]) {
				f.decodeAs = append(f.decodeAs, "-d", m[1])
			}
		}
	}
	dir, err := os.MkdirTemp("", "otwatch-bench")
	if err != nil {
		f.err = err
		b.Fatal(err)
	}
	f.path = filepath.Join(dir, proto+".pcap")
	f.packets, f.err = writeMerged(f.path, sources, packets)
	if f.err != nil {
		b.Fatal(f.err)
	}
	return f
}

type srcFrame struct {
	data []byte
	ts   int64
}

// writeMerged writes copies of the sources' Ethernet/IPv4 frames until at
// least n packets, copy k having its IPv4 addresses' second octet set to k.
func writeMerged(path string, sources []string, n int) (int, error) {
	var frames []srcFrame
	for _, src := range sources {
		r, err := capture.Open(src)
		if err != nil {
			return 0, err
		}
		for {
			f, err := r.Next()
			if err != nil {
				break
			}
			if f.LinkType == capture.LinkEthernet {
				frames = append(frames, srcFrame{append([]byte(nil), f.Data...), f.TimeNano})
			}
		}
		r.Close()
	}
	if len(frames) == 0 {
		return 0, fmt.Errorf("no frames in %v", sources)
	}
	copies := (n + len(frames) - 1) / len(frames)
	out, err := os.Create(path)
	if err != nil {
		return 0, err
	}
	defer out.Close()
	w := bufio.NewWriterSize(out, 1<<20)
	hdr := make([]byte, 24)
	binary.LittleEndian.PutUint32(hdr, 0xA1B23C4D)
	binary.LittleEndian.PutUint16(hdr[4:], 2)
	binary.LittleEndian.PutUint16(hdr[6:], 4)
	binary.LittleEndian.PutUint32(hdr[16:], 262144)
	binary.LittleEndian.PutUint32(hdr[20:], capture.LinkEthernet)
	w.Write(hdr)
	written := 0
	buf := make([]byte, 0, 2048)
	base := frames[0].ts
	for i, f := range frames {
		for k := 0; k < copies; k++ {
			buf = append(buf[:0], f.data...)
			rewriteIPv4(buf, byte(k+1))
			rec := make([]byte, 16)
			ts := base + int64(i)*10_000 + int64(k) // merged by time: copy k right after copy k-1
			binary.LittleEndian.PutUint32(rec, uint32(ts/1e9))
			binary.LittleEndian.PutUint32(rec[4:], uint32(ts%1e9))
			binary.LittleEndian.PutUint32(rec[8:], uint32(len(buf)))
			binary.LittleEndian.PutUint32(rec[12:], uint32(len(buf)))
			w.Write(rec)
			w.Write(buf)
			written++
		}
	}
	return written, w.Flush()
}

// rewriteIPv4 sets the second octet of both addresses and fixes the header checksum.
func rewriteIPv4(f []byte, octet byte) {
	off := 14
	for off+4 <= len(f) && (f[off-2] == 0x81 && f[off-1] == 0x00) {
		off += 4
	}
	if len(f) < off+20 || f[off-2] != 0x08 || f[off-1] != 0x00 || f[off]>>4 != 4 {
		return
	}
	ip := f[off:]
	ip[13], ip[17] = octet, octet
	ihl := int(ip[0]&0x0f) * 4
	if ihl < 20 || ihl > len(ip) {
		return
	}
	ip[10], ip[11] = 0, 0
	var sum uint32
	for i := 0; i < ihl; i += 2 {
		sum += uint32(ip[i])<<8 | uint32(ip[i+1])
	}
	for sum > 0xffff {
		sum = sum&0xffff + sum>>16
	}
	binary.BigEndian.PutUint16(ip[10:], ^uint16(sum))
}

// BenchmarkPipeline reads, decodes and dissects each protocol's input per
// iteration and reports packets/s, allocations per packet, tshark's
// packets/s on the same file (fields of that protocol) and the ratio.
func BenchmarkPipeline(b *testing.B) {
	for _, bp := range benchProtocols {
		b.Run(bp.proto, func(b *testing.B) {
			in := benchInput(b, bp.proto, bp.packets)
			var txs int
			sink := func(*protocols.Transaction) { txs++ }
			run := func() {
				p := pipeline.New(pipeline.Limits{}, sink)
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
			if theirs := tsharkRate(bp.proto, bp.field, in); theirs > 0 {
				b.ReportMetric(theirs, "tshark_packets/s")
				b.ReportMetric(ours/theirs, "x_tshark")
			}
		})
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
	args := append([]string{"-n", "-r", in.path}, in.decodeAs...)
	cmd := exec.Command(tshark, append(args, "-T", "fields", "-e", field)...)
	cmd.Stdout = io.Discard
	t0 := time.Now()
	if cmd.Run() == nil {
		tsharkPPS[proto] = float64(in.packets) / time.Since(t0).Seconds()
	}
	return tsharkPPS[proto]
}
