package main

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"
)

// TestFloodCannotBlind: a trusted HMI writes 40,000 registers it never
// wrote (a megabyte of Modbus), then polls on as learned, 380,000 frames
// sent by tcpreplay as fast as it can into a namespace whose veth otwatch
// captures. The capture path must keep up (kernel drops for the frames
// after the flood at most 1%), /metrics must move during the flood, every
// raised alert must reach a real rsyslog or be in the disk queue, SIGTERM
// during a second replay must end the process within 5 s, and the peak RSS
// must stay under 128 MiB.
func TestFloodCannotBlind(t *testing.T) {
	if testing.Short() {
		t.Skip("replays 380,000 frames into a namespace: skipped with -short")
	}
	needRoot(t, "ip", "tcpreplay")
	rsyslogd := needRsyslogd(t)
	dir := t.TempDir()
	bin, gen := filepath.Join(dir, "otwatch"), filepath.Join(dir, "plantgen")
	for out, pkg := range map[string]string{bin: ".", gen: "../plantgen"} {
		if b, err := exec.Command("go", "build", "-o", out, pkg).CombinedOutput(); err != nil {
			t.Fatalf("build %s: %v\n%s", pkg, err, b)
		}
	}
	learnPcap, floodPcap := filepath.Join(dir, "learn.pcap"), filepath.Join(dir, "flood.pcap")
	run := func(name string, args ...string) string {
		t.Helper()
		out, err := exec.Command(name, args...).CombinedOutput()
		require.NoError(t, err, "%s %v: %s", name, args, out)
		return string(out)
	}
	const flood, normal = 40000, 150000
	run(gen, "-flood", "1", "-part", "learn", "-o", learnPcap)
	run(gen, "-flood", strconv.Itoa(flood), "-normal", strconv.Itoa(normal), "-part", "detect", "-o", floodPcap)
	db := filepath.Join(dir, "state.db")
	run(bin, "read", "--quiet", "--mode", "learn", "--db", db, learnPcap)

	// the SIEM: a real rsyslog taking TCP syslog into a file
	siemOut := filepath.Join(dir, "siem.log")
	port := freeTCPPort(t)
	os.Mkdir(filepath.Join(dir, "rsyslog"), 0o700)
	conf := fmt.Sprintf(`global(workDirectory=%q maxMessageSize="64k")
module(load="imtcp")
template(name="raw" type="string" string="%%rawmsg%%\n")
ruleset(name="out") { action(type="omfile" file=%q template="raw") }
input(type="imtcp" address="127.0.0.1" port="%d" ruleset="out")
`, filepath.Join(dir, "rsyslog"), siemOut, port)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "rsyslog.conf"), []byte(conf), 0o600))
	rs := exec.Command(rsyslogd, "-n", "-f", filepath.Join(dir, "rsyslog.conf"), "-i", filepath.Join(dir, "rsyslog.pid"))
	require.NoError(t, rs.Start())
	t.Cleanup(func() { rs.Process.Kill(); rs.Wait() })
	waitTCP(t, fmt.Sprintf("127.0.0.1:%d", port))

	// the plant's SPAN: a veth whose far end sits in a namespace tcpreplay sends from
	id := strconv.Itoa(os.Getpid() % 100000)
	ns, mon := "otwF"+id, "otwf"+id
	run("ip", "netns", "add", ns)
	t.Cleanup(func() { exec.Command("ip", "netns", "del", ns).Run() })
	run("ip", "link", "add", mon, "type", "veth", "peer", "name", "f1", "netns", ns)
	t.Cleanup(func() { exec.Command("ip", "link", "del", mon).Run() })
	run("ip", "-n", ns, "link", "set", "f1", "up")
	mgmt := freeTCPAddr(t)
	cfg := filepath.Join(dir, "otwatch.conf")
	require.NoError(t, os.WriteFile(cfg, []byte(fmt.Sprintf(`interfaces: [%s]
capture:
  prepare: true
management:
  listen: %q
  dashboard: ""
database:
  path: %s
learning:
  mode: detect
syslog:
  - {name: siem, network: tcp, address: "127.0.0.1:%d", format: cef}
evidence:
  dir: %s
`, mon, mgmt, db, port, filepath.Join(dir, "evidence"))), 0o644))
	logs := &syncBuffer{}
	daemon := exec.Command(bin, "run", "--config", cfg)
	daemon.Stdout, daemon.Stderr = logs, logs
	require.NoError(t, daemon.Start())
	t.Cleanup(func() { daemon.Process.Kill(); daemon.Wait() })
	waitHealthy(t, mgmt, logs)

	before := scrape(t, mgmt)
	replay := exec.Command("ip", "netns", "exec", ns, "tcpreplay", "-q", "--topspeed", "-i", "f1", floodPcap)
	replayOut := &syncBuffer{}
	replay.Stdout, replay.Stderr = replayOut, replayOut
	started := time.Now()
	require.NoError(t, replay.Start())
	// /metrics must move while the flood is processed
	var seen []float64
	replayDone := make(chan error, 1)
	go func() { replayDone <- replay.Wait() }()
poll:
	for {
		select {
		case err := <-replayDone:
			require.NoError(t, err, "tcpreplay: %s", replayOut.String())
			break poll
		case <-time.After(100 * time.Millisecond):
			seen = append(seen, scrape(t, mgmt)["otwatch_packets_total"])
		}
	}
	sent := time.Since(started)
	// let the capture drain, then read the counters
	var after map[string]float64
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
		time.Sleep(time.Second)
		a := scrape(t, mgmt)
		if after != nil && a["otwatch_packets_total"] == after["otwatch_packets_total"] {
			break
		}
		after = a
	}
	frames := after["otwatch_packets_total"] - before["otwatch_packets_total"]
	drops := after["otwatch_kernel_drops_total"] - before["otwatch_kernel_drops_total"]
	postFlood := float64(2 * normal)
	moving := 0
	for i := 1; i < len(seen); i++ {
		if seen[i] > seen[i-1] {
			moving++
		}
	}
	rss := peakRSS(t, daemon.Process.Pid)
	t.Logf("replayed %d frames in %v (%.0f frames/s); otwatch saw %.0f, kernel dropped %.0f (%.2f%% of the %0.f frames after the flood); /metrics moved in %d of %d polls; peak RSS %d MiB",
		2*(flood+normal)+2, sent.Round(time.Millisecond), float64(2*(flood+normal))/sent.Seconds(), frames, drops, 100*drops/postFlood, postFlood,
		moving, len(seen), rss>>20)
	assert.LessOrEqual(t, drops, 0.01*postFlood, "kernel drops")
	assert.Greater(t, moving, 0, "/metrics did not move during the flood")
	assert.LessOrEqual(t, rss, int64(128<<20), "peak RSS")
	assert.GreaterOrEqual(t, after["otwatch_alerts_total"], float64(6), "the flood alerted")

	// SIGTERM while a second replay is running: gone within 5 s
	replay2 := exec.Command("ip", "netns", "exec", ns, "tcpreplay", "-q", "--topspeed", "--loop", "5", "-i", "f1", floodPcap)
	require.NoError(t, replay2.Start())
	t.Cleanup(func() { replay2.Process.Kill(); replay2.Wait() })
	time.Sleep(500 * time.Millisecond)
	termAt := time.Now()
	require.NoError(t, daemon.Process.Signal(syscall.SIGTERM))
	exited := make(chan error, 1)
	go func() { exited <- daemon.Wait() }()
	select {
	case <-exited:
	case <-time.After(15 * time.Second):
		t.Fatalf("otwatch still running 15 s after SIGTERM:\n%s", tail(logs.String(), 20))
	}
	took := time.Since(termAt)
	t.Logf("SIGTERM during a replay: exited after %v", took.Round(time.Millisecond))
	assert.LessOrEqual(t, took, 5*time.Second, "shutdown")
	replay2.Process.Kill()

	// raised = delivered + queued: every alert the daemon raised is in
	// rsyslog's file or in the disk queue (a batch on the wire at the
	// deadline may be in both)
	m := regexp.MustCompile(`(\d+) alerts raised, (\d+) passed to the outputs, (\d+) over the alert queue`).FindStringSubmatch(logs.String())
	require.NotNil(t, m, "no shutdown summary in the log:\n%s", tail(logs.String(), 20))
	raised, _ := strconv.Atoi(m[1])
	overflow, _ := strconv.Atoi(m[3])
	time.Sleep(time.Second) // rsyslog writes what it received
	delivered := alertIDs(t, siemOut)
	queued := queuedIDs(t, filepath.Join(dir, "syslog-queue"))
	all := map[string]bool{}
	for id := range delivered {
		all[id] = true
	}
	for id := range queued {
		all[id] = true
	}
	t.Logf("alerts: %d raised, %d delivered to rsyslog, %d left in the disk queue, %d over the alert queue", raised, len(delivered), len(queued), overflow)
	assert.Equal(t, raised-overflow, len(all), "raised = delivered + queued")
	assert.Zero(t, overflow, "the alert queue overflowed")
}

func freeTCPPort(t *testing.T) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func freeTCPAddr(t *testing.T) string { return fmt.Sprintf("127.0.0.1:%d", freeTCPPort(t)) }

func waitTCP(t *testing.T, addr string) {
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return
		}
	}
	t.Fatalf("nothing listens on %s", addr)
}

func waitHealthy(t *testing.T, mgmt string, logs *syncBuffer) {
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if resp, err := http.Get("http://" + mgmt + "/healthz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
	}
	t.Fatalf("otwatch not healthy:\n%s", tail(logs.String(), 20))
}

// scrape reads /metrics into name{labels} -> value, summing labelled series per name.
func scrape(t *testing.T, mgmt string) map[string]float64 {
	resp, err := http.Get("http://" + mgmt + "/metrics")
	require.NoError(t, err)
	defer resp.Body.Close()
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") {
			continue
		}
		name, val, ok := strings.Cut(line, " ")
		if !ok {
			continue
		}
		if i := strings.IndexByte(name, '{'); i >= 0 {
			name = name[:i]
		}
		v, err := strconv.ParseFloat(val, 64)
		if err == nil {
			out[name] += v
		}
	}
	return out
}

func peakRSS(t *testing.T, pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	require.NoError(t, err)
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "VmHWM:") {
			f := strings.Fields(line)
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb << 10
		}
	}
	t.Fatal("no VmHWM")
	return 0
}

var sdID = regexp.MustCompile(` id="([0-9a-zA-Z_-]+)"`)

// alertIDs are the alert ids of the syslog messages in a file.
func alertIDs(t *testing.T, path string) map[string]bool {
	out := map[string]bool{}
	b, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return out
	}
	require.NoError(t, err)
	for _, m := range sdID.FindAllStringSubmatch(string(b), -1) {
		out[m[1]] = true
	}
	return out
}

// queuedIDs are the alert ids left in the syslog disk queues under dir.
func queuedIDs(t *testing.T, dir string) map[string]bool {
	out := map[string]bool{}
	files, _ := filepath.Glob(filepath.Join(dir, "*"))
	for _, f := range files {
		db, err := bolt.Open(f, 0o600, &bolt.Options{ReadOnly: true, Timeout: time.Second})
		if err != nil {
			continue
		}
		db.View(func(tx *bolt.Tx) error {
			return tx.ForEach(func(name []byte, b *bolt.Bucket) error {
				return b.ForEach(func(k, v []byte) error {
					for _, m := range sdID.FindAllStringSubmatch(string(v), -1) {
						out[m[1]] = true
					}
					return nil
				})
			})
		})
		db.Close()
	}
	return out
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
