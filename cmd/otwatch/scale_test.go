package main

import (
	"bufio"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/otwatch/otwatch/learning/baseline"
	"github.com/otwatch/otwatch/learning/inventory"
	"github.com/otwatch/otwatch/learning/store"
	"github.com/otwatch/otwatch/protocols"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestScale measures the learned state of a synthetic plant of 10,000
// Modbus servers x 100 registers (1.02 million baseline keys), the way
// `make bench-scale` reports it (OTWATCH_SCALE=1; minutes of work):
//   - otwatch read --mode learn --db: time and peak RSS;
//   - restart: opening the file and loading the state, to capturing;
//   - a checkpoint with 1% of the keys changed: time and bytes written,
//     against the file's size, over thirty such checkpoints;
//   - the folding of the journals in that the daemon does between
//     checkpoints: each step's time and bytes, and their sum;
//   - the file's size after ten such checkpoints against after the first,
//     and after thirty;
//   - kill -9 during checkpoints and fold steps, 20 times: the file opens
//     every time and keeps every checkpoint the process reported done;
//   - the learn run again under qemu-user as armv7, when qemu-arm-static
//     is installed.
//
// Peak RSS is measured with the soft memory limit otwatch takes on a
// 1 GiB box (a fifth: GOMEMLIMIT=205MiB) and without one.
func TestScale(t *testing.T) {
	if os.Getenv("OTWATCH_SCALE") == "" {
		t.Skip("set OTWATCH_SCALE=1 (make bench-scale): builds a 1M-key state, minutes")
	}
	dir := t.TempDir()
	quick := os.Getenv("OTWATCH_SCALE") == "checkpoint" // stop after the checkpoints
	bin, gen := filepath.Join(dir, "otwatch"), filepath.Join(dir, "plantgen")
	for out, pkg := range map[string]string{bin: ".", gen: "../plantgen"} {
		if b, err := exec.Command("go", "build", "-o", out, pkg).CombinedOutput(); err != nil {
			t.Fatalf("build %s: %v\n%s", pkg, err, b)
		}
	}
	plant := filepath.Join(dir, "plant.pcap")
	if b, err := exec.Command(gen, "-plant", "10000x100", "-o", plant).CombinedOutput(); err != nil {
		t.Fatalf("plantgen: %v\n%s", err, b)
	}
	db := filepath.Join(dir, "state.db")
	timed := func(env []string, args ...string) (time.Duration, int64) {
		t.Helper()
		cmd := exec.Command(bin, args...)
		cmd.Env = append(os.Environ(), env...)
		start := time.Now()
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "%s", out)
		return time.Since(start), cmd.ProcessState.SysUsage().(*syscall.Rusage).Maxrss << 10
	}
	limits := []string{"GOMEMLIMIT=205MiB", "GOMEMLIMIT=off"}
	if quick {
		limits = limits[:1]
	}
	for _, limit := range limits {
		os.Remove(db)
		took, rss := timed([]string{limit}, "read", "--quiet", "--mode", "learn", "--db", db, plant)
		t.Logf("read --mode learn --db, 1.02M keys, %s: %v, peak RSS %d MiB", limit, took.Round(10*time.Millisecond), rss>>20)
		if limit != "GOMEMLIMIT=off" {
			target(t, "peak RSS ≤ 256 MiB", rss <= 256<<20)
		}
	}
	st, err := os.Stat(db)
	require.NoError(t, err)
	t.Logf("state file after the learn run: %.1f MiB", float64(st.Size())/(1<<20))

	// restart to capturing: open and load every component
	start := time.Now()
	// OTWATCH_SCALE_FLOOD: the checkpoints follow a flood instead, in
	// detect mode: every PLC written once a round, out of its learned
	// values (10,000 alerts a round)
	flood := os.Getenv("OTWATCH_SCALE_FLOOD") != ""
	mode := baseline.ModeLearn
	if flood {
		mode = baseline.ModeDetect
	}
	mon, s := loadMonitor(t, db, mode)
	restart := time.Since(start)
	t.Logf("restart: open and load %d keys in %v", mon.model.Keys(), restart.Round(time.Millisecond))
	target(t, "restart to capturing ≤ 2 s", restart <= 2*time.Second)

	// checkpoints with 1% of the keys changed
	first := fileSize(t, db)
	servers := mon.model.AssetCount()
	rng := rand.New(rand.NewPCG(1, 2))
	var worst, worstStep time.Duration
	var written, writtenStep, folded, tenth int64
	var share, shareStep float64 // the most written against the file's size then
	dirty, steps := 0, 0
	foldsOf := map[string]int{}    // folds begun, per component
	foldHeap := map[string]int64{} // live heap a fold under way holds, per component
	foldStep, heapAtStart := 0, uint64(0)
	for i := 0; i < 30; i++ {
		if flood {
			writeEvery(mon, servers, i)
		} else {
			dirtyPercent(mon, servers, rng, i)
		}
		dirty = max(dirty, mon.model.Dirty())
		w0 := writtenBytes(t)
		start := time.Now()
		require.NoError(t, s.Checkpoint(mon.components()))
		took := time.Since(start)
		w := writtenBytes(t) - w0
		worst, written, share = max(worst, took), max(written, w), max(share, float64(w)/float64(fileSize(t, db)))
		// what the daemon's fold goroutine does before the next checkpoint
		for {
			w0, start, before := writtenBytes(t), time.Now(), s.FoldUnderWay()
			did, err := s.FoldStep()
			require.NoError(t, err)
			if !did {
				break
			}
			w, took := writtenBytes(t)-w0, time.Since(start)
			steps, worstStep, writtenStep, folded = steps+1, max(worstStep, took), max(writtenStep, w), folded+w
			shareStep = max(shareStep, float64(w)/float64(fileSize(t, db)))
			now := s.FoldUnderWay()
			if now != "" && now != before {
				foldsOf[now]++
				foldStep, heapAtStart = 0, liveHeap()
			}
			if foldStep++; now != "" && foldStep == 2 { // the first batch read the journal it folds
				foldHeap[now] = max(foldHeap[now], int64(liveHeap())-int64(heapAtStart))
			}
		}
		switch i {
		case 0:
			first = fileSize(t, db)
		case 9:
			tenth = fileSize(t, db)
		}
	}
	last := fileSize(t, db)
	what := fmt.Sprintf("with 1%% of the keys changed (%d records dirty)", dirty)
	if flood {
		what = "after a round of the flood (every PLC written once, out of its learned values)"
	}
	t.Logf("checkpoint %s, thirty of them: at most %v and %d KiB written, at most %.1f%% of the file as it then was",
		what, worst.Round(time.Millisecond), written>>10, 100*share)
	t.Logf("folding the journals in between those checkpoints: %v folds, %d steps, each at most %v and %d KiB written, at most %.1f%% of the file; %d KiB in all",
		foldsOf, steps, worstStep.Round(time.Millisecond), writtenStep>>10, 100*shareStep, folded>>10)
	for name, h := range foldHeap {
		t.Logf("live heap a fold of %s's journal holds (after its first batch, against before it began): %+.1f MiB", name, float64(h)/(1<<20))
	}
	t.Logf("file %.1f MiB after the first checkpoint, %.1f MiB after ten (%.2fx), %.1f MiB after thirty (%.2fx)",
		float64(first)/(1<<20), float64(tenth)/(1<<20), float64(tenth)/float64(first), float64(last)/(1<<20), float64(last)/float64(first))
	target(t, "checkpoint ≤ 100 ms", worst <= 100*time.Millisecond)
	target(t, "a checkpoint writes ≤ 5% of the file", share <= 0.05)
	target(t, "file ≤ 1.25× the first checkpoint's after ten", float64(tenth) <= 1.25*float64(first))
	for name, c := range mon.components() {
		if _, ok := c.(store.Incremental); ok {
			continue
		}
		start := time.Now()
		b, err := c.MarshalState()
		require.NoError(t, err)
		t.Logf("component %s: %d KiB snapshot in %v", name, len(b)>>10, time.Since(start).Round(time.Millisecond))
	}
	require.NoError(t, s.Close())
	// restart again, with the journals the checkpoints left
	start = time.Now()
	_, s = loadMonitor(t, db, baseline.ModeLearn)
	t.Logf("restart after the thirty checkpoints, their journals laid over the records: %v", time.Since(start).Round(time.Millisecond))
	require.NoError(t, s.Close())
	if quick {
		return
	}

	// kill -9 during checkpoints
	survived, midFold := 0, 0
	for round := 0; round < 20; round++ {
		child := exec.Command(os.Args[0], "-test.run", "^TestScaleCheckpointLoop$")
		child.Env = append(os.Environ(), "OTWATCH_SCALE_CHILD="+db, "OTWATCH_SCALE_ROUND="+strconv.Itoa(round))
		out, err := child.StdoutPipe()
		require.NoError(t, err)
		require.NoError(t, child.Start())
		saved := -1
		sc := bufio.NewScanner(out)
		deadline := time.Now().Add(time.Duration(1500+rng.IntN(4000)) * time.Millisecond)
		killed := make(chan struct{})
		go func() {
			time.Sleep(time.Until(deadline))
			child.Process.Signal(syscall.SIGKILL)
			close(killed)
		}()
		for sc.Scan() {
			if n, ok := strings.CutPrefix(sc.Text(), "saved "); ok {
				saved, _ = strconv.Atoi(n)
			}
		}
		<-killed
		child.Wait()
		m, s2 := loadMonitor(t, db, baseline.ModeLearn)
		if s2.FoldUnderWay() != "" {
			midFold++
		}
		got := markerValue(m)
		require.NoError(t, s2.Close())
		if saved >= 0 {
			assert.GreaterOrEqual(t, got, 1000*round+saved, "round %d: a reported checkpoint was lost", round)
		}
		assert.LessOrEqual(t, got, 1000*round+saved+1, "round %d: more than one checkpoint past the last reported", round)
		survived++
	}
	t.Logf("kill -9 during checkpoints and fold steps: the file opened %d times of 20 (%d of them with a fold under way) and kept every checkpoint reported done",
		survived, midFold)

	// armv7 under qemu-user: the same learn run in a 32-bit address space
	if qemu, err := exec.LookPath("qemu-arm-static"); err == nil {
		arm := filepath.Join(dir, "otwatch-armv7")
		build := exec.Command("go", "build", "-o", arm, ".")
		build.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=arm", "GOARM=7")
		if b, err := build.CombinedOutput(); err != nil {
			t.Fatalf("armv7 build: %v\n%s", err, b)
		}
		armDB := filepath.Join(dir, "arm.db")
		cmd := exec.Command(qemu, arm, "read", "--quiet", "--mode", "learn", "--db", armDB, plant)
		cmd.Env = append(os.Environ(), "GOMEMLIMIT=205MiB")
		start := time.Now()
		b, err := cmd.CombinedOutput()
		require.NoError(t, err, "armv7 under qemu: %s", b)
		took := time.Since(start)
		cmd = exec.Command(qemu, arm, "read", "--mode", "detect", "--db", armDB, plant)
		b, err = cmd.CombinedOutput()
		require.NoError(t, err, "armv7 under qemu, detect: %s", b)
		assert.Contains(t, string(b), "10000 assets, 1020000 keys")
		t.Logf("armv7 under qemu-user: learn run %v; the detect run reloaded 1.02M keys", took.Round(time.Second))
	} else {
		t.Log("qemu-arm-static not installed: the armv7 run is skipped")
	}
}

// TestScaleCheckpointLoop is TestScale's child: it changes 1% of the keys
// and checkpoints, over and over, printing each checkpoint done, until it
// is killed; beside it a goroutine folds the journals in, as the daemon's
// does. A marker register counts the checkpoints.
func TestScaleCheckpointLoop(t *testing.T) {
	db := os.Getenv("OTWATCH_SCALE_CHILD")
	if db == "" {
		t.Skip("run by TestScale")
	}
	round, _ := strconv.Atoi(os.Getenv("OTWATCH_SCALE_ROUND"))
	mon, s := loadMonitor(t, db, baseline.ModeLearn)
	rng := rand.New(rand.NewPCG(uint64(round), 7))
	servers := mon.model.AssetCount()
	go func() {
		for {
			if did, err := s.FoldStep(); err != nil {
				panic(err)
			} else if !did {
				time.Sleep(10 * time.Millisecond)
			}
		}
	}()
	for i := 0; ; i++ {
		dirtyPercent(mon, servers, rng, i)
		mon.observe(markerTx(1000*round + i))
		if err := s.Checkpoint(mon.components()); err != nil {
			t.Fatal(err)
		}
		fmt.Printf("saved %d\n", i)
	}
}

func loadMonitor(t *testing.T, db string, mode baseline.Mode) (*monitor, *store.Store) {
	t.Helper()
	s, err := store.Open(db)
	require.NoError(t, err)
	mon := newMonitor(baseline.Config{Mode: mode}, inventory.Limits{MaxAssets: 20000}, nil)
	require.NoError(t, s.Load(mon.components()))
	mon.model.SetMode(mode)
	return mon, s
}

var scaleT0 = time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)

// target reports a speed or memory target of the benchmark: met or not,
// never a failure (timings are the machine's; bench-scale reports them).
func target(t *testing.T, what string, met bool) {
	t.Helper()
	if met {
		t.Logf("target met: %s", what)
	} else {
		t.Logf("TARGET MISSED: %s", what)
	}
}

// dirtyPercent changes 1% of the keys: each write changes three (its
// register's value model, the client's function and link on that server),
// so a third of 1% of the plant's registers are written. The writes go
// through the whole monitor, as a plant's traffic does: the inventory
// counts them too.
func dirtyPercent(mon *monitor, servers int, rng *rand.Rand, round int) {
	n := mon.model.Keys() / 100 / 3
	for j := 0; j < n; j++ {
		mon.observe(scaleWrite(rng.IntN(servers), rng.IntN(100), round))
	}
}

// scaleWrite is the plant's client writing round to register reg of server i.
func scaleWrite(i, reg, round int) *protocols.Transaction {
	tx := &protocols.Transaction{Proto: "modbus", Unit: "1", Op: protocols.OpWrite, Code: 6, CodeName: "write_single_register",
		Client:  protocols.Endpoint{IP: netip.AddrFrom4([4]byte{10, 0, 0, 1}), Port: 20000 + uint16(i%40000), LinkAddress: -1},
		Server:  protocols.Endpoint{IP: netip.AddrFrom4([4]byte{10, byte(1 + i>>16), byte(i >> 8), byte(i)}), Port: 502, LinkAddress: -1},
		Targets: []protocols.Target{{Space: "holding_register", Address: uint64(reg), Count: 1}},
		Values:  []protocols.Value{protocols.IntValue(int64(round))}, RequestFrame: 1, ResponseFrame: 2,
		RequestTime: scaleT0.Add(time.Duration(round) * time.Minute), ResponseTime: scaleT0.Add(time.Duration(round) * time.Minute)}
	tx.AddPoint(0, 0, protocols.FieldValue, protocols.TypeReg, float64(round+reg))
	return tx
}

// writeEvery writes round to one register of every server.
func writeEvery(mon *monitor, servers, round int) {
	for i := 0; i < servers; i++ {
		mon.observe(scaleWrite(i, i%100, round))
	}
}

// markerTx writes n to the marker register of server 10.1.0.0.
func markerTx(n int) *protocols.Transaction {
	tx := &protocols.Transaction{Proto: "modbus", Unit: "1", Op: protocols.OpWrite, Code: 6, RequestFrame: 1,
		Client:  protocols.Endpoint{IP: netip.AddrFrom4([4]byte{10, 0, 0, 1}), LinkAddress: -1},
		Server:  protocols.Endpoint{IP: netip.AddrFrom4([4]byte{10, 1, 0, 0}), Port: 502, LinkAddress: -1},
		Targets: []protocols.Target{{Space: "marker", Address: 0, Count: 1}}, RequestTime: scaleT0}
	tx.AddPoint(0, 0, protocols.FieldValue, protocols.UintType(32), float64(n))
	return tx
}

// markerValue is the largest marker written (-1 when none).
func markerValue(mon *monitor) int {
	doc := mon.model.Export(scaleT0)
	for _, a := range doc.Assets {
		for _, p := range a.Points {
			if p.Space == "marker" {
				return int(p.Model.Max)
			}
		}
	}
	return -1
}

func fileSize(t *testing.T, path string) int64 {
	st, err := os.Stat(path)
	require.NoError(t, err)
	return st.Size()
}

// liveHeap is the heap in use after a collection.
func liveHeap() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// writtenBytes is what this process wrote so far (/proc/self/io wchar).
func writtenBytes(t *testing.T) int64 {
	if runtime.GOOS != "linux" {
		return 0
	}
	b, err := os.ReadFile("/proc/self/io")
	require.NoError(t, err)
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "wchar: "); ok {
			n, _ := strconv.ParseInt(v, 10, 64)
			return n
		}
	}
	return 0
}
