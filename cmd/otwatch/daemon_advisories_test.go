package main

import (
	"bytes"
	"encoding/json"
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

	"github.com/otwatch/otwatch/ui/uitest"
)

// TestDaemonAdvisories: the appliance with the real CISA feed imported
// (`otwatch advisories import`, all 2,379 advisories and the KEV catalog)
// watches two real Siemens CPUs replayed by tcpreplay into the monitor
// port from a network namespace: an S7-1500 CPU 1511-1 PN with firmware
// V1.0 polled by a WinCC HMI over S7comm-plus (S7-1511_db2_var1_HMI.pcap),
// and an S7-300 CPU 315-2 PN/DP V3.2.7 read, written and stopped by a TIA
// Portal station (snap7.pcap). Zones put both CPUs in a level-1 cell and
// their clients in the level-4 office. Then:
//   - the S7-1500, with a critical match (CVE-2022-38465, CVSS 9.3), raises
//     vulnerable_asset at the default threshold, and it reaches a real
//     rsyslog as CEF with the CVE ids and the evidence frames; the S7-300,
//     whose worst CVE is 7.5 and none known exploited, stays silent;
//   - the dashboard, in headless Chromium, ranks the S7-1500 first and the
//     S7-300 second on "Patch first", with their CVEs, the evidence (the
//     frames that carried order number and firmware, counted from the
//     daemon's start: the captures' frames 7 and 4, as tshark shows them)
//     and the paths from the office; the map draws both paths;
//   - after shutdown `otwatch inventory export` carries the same list.
func TestDaemonAdvisories(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs a namespace, rsyslog and Chromium: skipped with -short")
	}
	needRoot(t, "ip", "tcpreplay")
	rsyslogd := needRsyslogd(t)
	if uitest.FindChromium() == "" {
		t.Skip("needs chromium (apt-get install chromium)")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "otwatch")
	if b, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, b)
	}
	db := filepath.Join(dir, "state.db")

	// the feed: the shared CISA advisories and KEV catalog when present, else the committed excerpt
	feed := []string{"../../../shared/advisories/cisa-csaf-ot", "../../../shared/advisories/cisa-kev"}
	if _, err := os.Stat(feed[0]); err != nil {
		t.Logf("../shared/advisories absent: importing the committed excerpt")
		feed = []string{advisoryData + "csaf", advisoryData + "kev-excerpt.json"}
	}
	out, err := exec.Command(bin, append([]string{"advisories", "import", "--db", db}, feed...)...).CombinedOutput()
	require.NoError(t, err, "%s", out)
	t.Logf("import: %s", strings.TrimSpace(string(out)))

	// rsyslog, the SIEM side: CEF over UDP into a file
	port := func() int {
		c, err := net.ListenPacket("udp", "127.0.0.1:0")
		require.NoError(t, err)
		defer c.Close()
		return c.LocalAddr().(*net.UDPAddr).Port
	}()
	rdir := filepath.Join(dir, "rsyslog")
	require.NoError(t, os.MkdirAll(filepath.Join(rdir, "work"), 0o700))
	received := filepath.Join(rdir, "received.log")
	rconf := filepath.Join(rdir, "rsyslog.conf")
	require.NoError(t, os.WriteFile(rconf, []byte(fmt.Sprintf(`global(workDirectory="%s/work")
module(load="imudp")
template(name="line" type="string" string="%%app-name%% %%msg%%\n")
ruleset(name="siem") { action(type="omfile" file="%s" template="line") }
input(type="imudp" address="127.0.0.1" port="%d" ruleset="siem")
`, rdir, received, port)), 0o600))
	rs := exec.Command(rsyslogd, "-n", "-f", rconf, "-i", filepath.Join(rdir, "pid"))
	rlog := &syncBuffer{}
	rs.Stdout, rs.Stderr = rlog, rlog
	require.NoError(t, rs.Start())
	t.Cleanup(func() { rs.Process.Kill(); rs.Wait() })

	// the monitor port, fed from a namespace that only replays
	id := strconv.Itoa(os.Getpid() % 100000)
	ns, mon := "otwV"+id, "otwv"+id
	sh := func(args ...string) {
		t.Helper()
		if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("%s: %v: %s", strings.Join(args, " "), err, out)
		}
	}
	sh("ip", "netns", "add", ns)
	t.Cleanup(func() { exec.Command("ip", "netns", "del", ns).Run() })
	t.Cleanup(func() { exec.Command("ip", "link", "del", mon).Run() })
	sh("ip", "link", "add", mon, "type", "veth", "peer", "name", "r1", "netns", ns)
	// the replaying end says nothing of its own (no IPv6 neighbour discovery)
	sh("ip", "netns", "exec", ns, "sysctl", "-q", "-w", "net.ipv6.conf.all.disable_ipv6=1")
	sh("ip", "netns", "exec", ns, "sysctl", "-q", "-w", "net.ipv6.conf.r1.disable_ipv6=1")
	sh("ip", "-n", ns, "link", "set", "r1", "up")

	freeAddr := func() string {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		defer ln.Close()
		return ln.Addr().String()
	}
	mgmt, dash := freeAddr(), freeAddr()
	conf := filepath.Join(dir, "otwatch.conf")
	require.NoError(t, os.WriteFile(conf, []byte(fmt.Sprintf(`interfaces: [%s]
capture: {prepare: true}
management: {listen: %q, dashboard: %q}
database: {path: %s, checkpoint_interval: 2s}
learning: {mode: detect}
syslog:
  - {name: siem, network: udp, address: "127.0.0.1:%d", format: cef}
evidence: {dir: %s}
zones:
  - {name: cell, networks: [134.217.61.211/32, 192.168.25.139/32], level: 1}
  - {name: office, networks: [134.217.61.131/32, 192.168.25.147/32], level: 4}
`, mon, mgmt, dash, db, port, filepath.Join(dir, "evidence"))), 0o644))
	logs := &syncBuffer{}
	daemon := exec.Command(bin, "run", "--config", conf)
	daemon.Stdout, daemon.Stderr = logs, logs
	require.NoError(t, daemon.Start())
	t.Cleanup(func() { daemon.Process.Kill(); daemon.Wait() })
	deadline := time.Now().Add(15 * time.Second)
	for {
		if resp, err := http.Get("http://" + mgmt + "/healthz"); err == nil {
			resp.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("otwatch run did not come up:\n%s", logs.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	// frames are numbered from the daemon's start: a capture's frame N is N after what it saw before
	packets := func() int {
		for _, l := range strings.Split(get(t, "http://"+mgmt+"/metrics"), "\n") {
			if v, ok := strings.CutPrefix(l, "otwatch_packets_total "); ok {
				n, _ := strconv.Atoi(v)
				return n
			}
		}
		t.Fatal("no otwatch_packets_total")
		return 0
	}
	// replay sends a capture into the monitor port and returns the frames
	// the daemon had counted before it, and how many more than the
	// capture's it counted by the time the count stopped moving: a frame
	// the port carried besides the replay (once in a loaded CI run, four)
	// moves the capture's frame numbers by as much.
	replay := func(capture string, frames int) (before, extra int) {
		before = packets()
		sh("ip", "netns", "exec", ns, "tcpreplay", "-q", "--intf1=r1", capture)
		for deadline := time.Now().Add(10 * time.Second); packets() < before+frames; time.Sleep(200 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("the daemon counted %d of %s's %d frames", packets()-before, capture, frames)
			}
		}
		for n := packets(); ; n = packets() { // settled: no frame for half a second
			time.Sleep(500 * time.Millisecond)
			if packets() == n {
				return before, n - before - frames
			}
		}
	}
	s1500, extra1500 := replay(advisoryData+"S7-1511_db2_var1_HMI.pcap", 39)
	s300, extra300 := replay(snap7Capture, 64)
	if extra1500+extra300 > 0 {
		t.Logf("the monitor port carried %d and %d frames besides the two replays", extra1500, extra300)
	}
	// frameOf names the capture's frame n as the daemon numbered it: any of
	// the numbers the frames besides the replay may have moved it to
	frameOf := func(format string, first, extra, n int) []string {
		var out []string
		for k := 0; k <= extra; k++ {
			out = append(out, fmt.Sprintf(format, first+n+k))
		}
		return out
	}
	containsOne := func(text string, alts []string, msg ...any) {
		t.Helper()
		for _, a := range alts {
			if strings.Contains(text, a) {
				return
			}
		}
		assert.Fail(t, fmt.Sprintf("%q contains none of %q", text, alts), msg...)
	}

	// the alert reaches rsyslog: checked every 15 s by the daemon
	var lines []string
	deadline = time.Now().Add(45 * time.Second)
	for len(lines) == 0 && time.Now().Before(deadline) {
		b, _ := os.ReadFile(received)
		for _, l := range strings.Split(string(b), "\n") {
			if strings.Contains(l, "|vulnerable_asset|") {
				lines = append(lines, l)
			}
		}
		time.Sleep(250 * time.Millisecond)
	}
	time.Sleep(2 * time.Second) // nothing more should come
	b, _ := os.ReadFile(received)
	lines = nil
	for _, l := range strings.Split(string(b), "\n") {
		if strings.Contains(l, "|vulnerable_asset|") {
			lines = append(lines, l)
		}
	}
	require.Len(t, lines, 1, "one vulnerable_asset in rsyslog's file; daemon log:\n%s\nrsyslog: %s", logs.String(), rlog.String())
	line := lines[0]
	t.Logf("rsyslog received: %s", line)
	containsOne(line, frameOf("cs5Label=frames cs5=%d", s1500, extra1500, 7), "the evidence frame")
	for _, want := range []string{"CEF:0|", "|vulnerable_asset|vulnerable asset|7|", "vulnerable asset 192.168.25.139 (siemens, 6ES7 511-1AK00-0AB0, firmware V1.0)",
		"CVE-2022-38465 (CVSS 9.3, ICSA-22-286-04)", "patch-first rank 1", "reachable from 192.168.25.147 (zone office is at level 4", "flexString2=192.168.25.139"} {
		assert.Contains(t, line, want)
	}
	assert.NotContains(t, line, "CVE-2019-10936", "the S7-300's 7.5s do not alert at the default 9.0")

	// the dashboard, in Chromium: setup, login, Patch first
	tok := regexp.MustCompile(`one-time setup token (\S+)`).FindStringSubmatch(logs.String())
	require.NotNil(t, tok, "setup token in the log")
	br := uitest.Start(t, t.TempDir())
	br.Navigate("https://" + dash + "/")
	br.WaitFor("setup form", `document.getElementById('setup-form')`, 20*time.Second)
	const password = "a long enough test password"
	br.Eval(fmt.Sprintf(`document.getElementById('setup-token').value = %q; document.getElementById('setup-user').value = 'admin';
		document.getElementById('setup-pass').value = %q; document.getElementById('setup-pass2').value = %q;
		document.getElementById('setup-submit').click(); true`, tok[1], password, password))
	br.WaitFor("login form", `document.getElementById('login-form')`, 15*time.Second)
	br.Eval(fmt.Sprintf(`document.getElementById('login-user').value = 'admin'; document.getElementById('login-pass').value = %q;
		document.getElementById('login-submit').click(); true`, password))
	br.WaitFor("overview", `document.querySelector('#page-overview[data-ready]')`, 15*time.Second)
	br.Eval(`location.hash = '#/patch'; true`)
	br.WaitFor("patch page", `document.querySelector('#page-patch[data-ready]')`, 15*time.Second)
	first := `document.querySelector('#patch-table .patch-row[data-rank="1"]')`
	second := `document.querySelector('#patch-table .patch-row[data-rank="2"]')`
	br.WaitFor("two rows", second, 10*time.Second)
	assert.Contains(t, br.EvalString(`document.getElementById('feed-summary').innerText`), "KEV catalog 2025.08.25")
	assert.Equal(t, "mac:00:1b:1b:13:41:73", br.EvalString(first+`.dataset.asset`), "the S7-1500 ranks first")
	assert.Equal(t, "mac:00:0e:8c:d0:f9:cb", br.EvalString(second+`.dataset.asset`), "the S7-300 second")
	for row, wants := range map[string][]string{
		first:  {"192.168.25.139", "6ES7 511-1AK00-0AB0", "firmware V1.0", "CVE-2022-38465 9.3", "192.168.25.147", "s7comm-plus"},
		second: {"134.217.61.211", "6ES7 315-2EH14-0AB0", "firmware V3.2.7", "CVE-2019-10936 7.5", "134.217.61.131", "s7comm"},
	} {
		text := br.EvalString(row + `.innerText`)
		for _, want := range wants {
			assert.Contains(t, text, want)
		}
	}
	for _, x := range []struct {
		row, asset string
		wants      []string
		framed     [][]string // one of each
	}{
		{first, "mac:00:1b:1b:13:41:73", []string{"ICSA-22-286-04", "< V2.9.2", "family",
			"zone office is at level 4", "from zone office into zone cell"}, [][]string{
			frameOf("order_number = 6ES7 511-1AK00-0AB0 (s7comm-plus, create_object, frame %d)", s1500, extra1500, 7),
			frameOf("firmware = V1.0 (s7comm-plus, create_object, frame %d)", s1500, extra1500, 7)}},
		{second, "mac:00:0e:8c:d0:f9:cb", []string{"ICSA-19-283-02", "ICSA-20-070-02", "vers:all/<V3.2.17",
			"zone office is at level 4", "from zone office into zone cell"}, [][]string{
			frameOf("order_number = 6ES7 315-2EH14-0AB0 (s7comm, szl_0x0011, frame %d)", s300, extra300, 4),
			frameOf("firmware = V3.2.7 (s7comm, szl_0x0011, frame %d)", s300, extra300, 4),
			frameOf("module_type_name = CPU 315-2 PN/DP (s7comm, szl_0x001c, frame %d)", s300, extra300, 6)}},
	} {
		br.Eval(x.row + `.click(); true`)
		detail := `document.querySelector('.patch-detail[data-asset="` + x.asset + `"]')`
		br.WaitFor("detail", detail+` && `+detail+`.offsetParent !== null`, 5*time.Second)
		text := br.EvalString(detail + `.innerText`)
		for _, want := range x.wants {
			assert.Contains(t, text, want, x.asset)
		}
		for _, alts := range x.framed {
			containsOne(text, alts, x.asset)
		}
	}
	br.Screenshot("daemon-patch-first")
	// the map draws the path
	br.Eval(`location.hash = '#/map'; true`)
	br.WaitFor("map", `document.querySelector('#page-map[data-ready]')`, 15*time.Second)
	assert.Equal(t, 2, br.EvalInt(`document.querySelectorAll('#map line.edge.attack').length`), "the attack paths on the map")
	assert.Equal(t, 2, br.EvalInt(`document.querySelectorAll('#map circle.node.vuln').length`), "the vulnerable CPUs ringed")
	for _, e := range br.ConsoleErrors() {
		t.Errorf("browser console: %s", e)
	}

	assert.Equal(t, uint64(0), txPackets(t, mon), "the monitor interface transmitted")

	// shutdown, then the export carries the same list
	require.NoError(t, daemon.Process.Signal(syscall.SIGTERM))
	require.NoError(t, daemon.Wait(), logs.String())
	var exp, errb bytes.Buffer
	require.Equal(t, 0, cmdInventory([]string{"export", "--db", db, "--zones", conf}, &exp, &errb), errb.String())
	var doc struct {
		PatchFirst []struct {
			Rank  int
			Asset string
			Paths []struct{ Entry string }
		} `json:"patch_first"`
	}
	require.NoError(t, json.Unmarshal(exp.Bytes(), &doc))
	require.Len(t, doc.PatchFirst, 2)
	assert.Equal(t, "mac:00:1b:1b:13:41:73", doc.PatchFirst[0].Asset)
	assert.Equal(t, "mac:00:0e:8c:d0:f9:cb", doc.PatchFirst[1].Asset)
	require.NotEmpty(t, doc.PatchFirst[1].Paths)
	assert.Equal(t, "mac:00:0c:29:c1:49:92", doc.PatchFirst[1].Paths[0].Entry)
}
