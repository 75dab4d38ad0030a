package main

import (
	"bytes"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/otwatch/otwatch/alerts"
	"github.com/otwatch/otwatch/ui/series"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The daemon test builds a small plant in network namespaces:
//
//	netns PLC (10.66.0.1, plcsim server)  ─veth─┐
//	netns HMI (10.66.0.2 and rogue 10.66.0.3) ─veth─┼ br0 (ageing_time 0: floods like a SPAN port), netns BR
//	netns ATK (10.66.0.66: nmap, dsniff's arpspoof) ─veth─┤
//	this namespace: monitor veth (no address) ─veth─┘ ← otwatch run captures here
//
// Phase 1 learns the HMI's polling (the PLC and the HMI know each other's
// MAC: no ARP), then otwatch is killed with SIGKILL while the HMI keeps
// polling. Phase 2 restarts it in detect mode and the learned plant keeps
// running normally: the capture picks the HMI's connection up mid-way, the
// HMI reconnects, both hosts ARP for the first time, the HMI broadcasts
// NetBIOS announcements and a name query that the PLC answers by unicast.
// Nothing of that alerts. Phase 3 restarts it again while plcsim injects
// attacks, nmap scans the PLC's ports and sweeps the subnet, and arpspoof
// poisons the HMI's cache for the PLC: the baseline survived, the attacks
// alert, the inventory shows the plant, and the monitor interface never
// transmitted.
func TestDaemonInNamespaces(t *testing.T) {
	if testing.Short() {
		t.Skip("a plant in network namespaces, about a minute: skipped with -short (make test-full runs it)")
	}
	needRoot(t, "ip")
	dir := t.TempDir()
	bin := filepath.Join(dir, "otwatch")
	sim := filepath.Join(dir, "plcsim")
	for out, pkg := range map[string]string{bin: ".", sim: "../plcsim"} {
		// a version as a release build has it: the SIEM must see the same
		if b, err := exec.Command("go", "build", "-ldflags", "-X main.version="+daemonTestVersion, "-o", out, pkg).CombinedOutput(); err != nil {
			t.Fatalf("build %s: %v\n%s", pkg, err, b)
		}
	}
	id := strconv.Itoa(os.Getpid() % 100000)
	plc, hmi, br, mon, atk := "otwP"+id, "otwH"+id, "otwB"+id, "otwd"+id, "otwA"+id
	sh := func(args ...string) {
		t.Helper()
		if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("%s: %v: %s", strings.Join(args, " "), err, out)
		}
	}
	for _, ns := range []string{plc, hmi, br, atk} {
		sh("ip", "netns", "add", ns)
		t.Cleanup(func() { exec.Command("ip", "netns", "del", ns).Run() })
	}
	t.Cleanup(func() { exec.Command("ip", "link", "del", mon).Run() })
	sh("ip", "-n", br, "link", "add", "br0", "type", "bridge", "ageing_time", "0")
	sh("ip", "-n", br, "link", "set", "br0", "up")
	for _, h := range []struct{ ns, dev string }{{plc, "p"}, {hmi, "h"}, {atk, "a"}} {
		sh("ip", "-n", br, "link", "add", h.dev+"0", "type", "veth", "peer", "name", h.dev+"1")
		sh("ip", "-n", br, "link", "set", h.dev+"0", "netns", h.ns)
		sh("ip", "-n", br, "link", "set", h.dev+"1", "master", "br0", "up")
		sh("ip", "-n", h.ns, "link", "set", h.dev+"0", "up")
		sh("ip", "-n", h.ns, "link", "set", "lo", "up")
	}
	sh("ip", "-n", plc, "addr", "add", "10.66.0.1/24", "dev", "p0")
	sh("ip", "-n", hmi, "addr", "add", "10.66.0.2/24", "dev", "h0")
	sh("ip", "-n", hmi, "addr", "add", "10.66.0.3/24", "dev", "h0")
	sh("ip", "-n", atk, "addr", "add", "10.66.0.66/24", "dev", "a0")
	macOf := func(ns, dev string) string {
		out, err := exec.Command("ip", "-n", ns, "-j", "link", "show", dev).Output()
		require.NoError(t, err)
		var links []struct{ Address string }
		require.NoError(t, json.Unmarshal(out, &links))
		require.Len(t, links, 1)
		return links[0].Address
	}
	attackerMAC := macOf(atk, "a0")
	// while the network learns, the PLC and the HMI resolve each other from
	// static entries: their first ARP comes after learning
	sh("ip", "-n", hmi, "neigh", "replace", "10.66.0.1", "lladdr", macOf(plc, "p0"), "nud", "permanent", "dev", "h0")
	sh("ip", "-n", plc, "neigh", "replace", "10.66.0.2", "lladdr", macOf(hmi, "h0"), "nud", "permanent", "dev", "p0")
	sh("ip", "link", "add", mon, "type", "veth", "peer", "name", "m1", "netns", br)
	sh("ip", "-n", br, "link", "set", "m1", "master", "br0", "up")
	sh("ip", "link", "set", mon, "up") // Linux gives it a link-local address: the default config must still start
	if _, err := os.Stat("/proc/sys/net/ipv6"); err == nil {
		var addrs string
		for try := 0; try < 40 && !strings.Contains(addrs, "fe80::"); try++ {
			out, _ := exec.Command("ip", "-6", "address", "show", "dev", mon).Output()
			addrs = string(out)
			time.Sleep(50 * time.Millisecond)
		}
		t.Logf("the monitor port before otwatch starts: %s", strings.TrimSpace(addrs))
	}

	freeAddr := func() string {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		defer ln.Close()
		return ln.Addr().String()
	}
	mgmt, dash := freeAddr(), freeAddr()
	db := filepath.Join(dir, "state.db")
	evidenceDir := filepath.Join(dir, "evidence")
	// a syslog receiver: the SIEM side (real rsyslog and syslog-ng are tested in alerts/syslog)
	siem, err := net.ListenPacket("udp", "127.0.0.1:0")
	require.NoError(t, err)
	defer siem.Close()
	conf := func(mode string) string {
		path := filepath.Join(dir, mode+".conf")
		// capture.prepare is left at its default (on): the monitor port is up
		// with an IPv6 link-local address, as a fresh interface is
		body := fmt.Sprintf("interfaces:\n  - %s\nmanagement:\n  listen: %q\n  dashboard: %q\ndatabase:\n  path: %s\n  checkpoint_interval: 2s\nlearning:\n  mode: %s\n"+
			"syslog:\n  - {name: siem, network: udp, address: %q, format: cef, min_severity: 5}\nevidence:\n  dir: %s\n"+
			// the PLC in a cell the HMI may reach; the rogue address is in no zone
			"zones:\n  - {name: cell, networks: [10.66.0.1/32], level: 1}\n  - {name: scada, networks: [10.66.0.2/32], level: 2}\n"+
			"conduits:\n  - {from: scada, to: cell, protocols: [modbus]}\n",
			mon, mgmt, dash, db, mode, siem.LocalAddr().String(), evidenceDir)
		require.NoError(t, os.WriteFile(path, []byte(body), 0o644))
		return path
	}
	start := func(mode string) (*exec.Cmd, *syncBuffer) {
		logs := &syncBuffer{}
		cmd := exec.Command(bin, "run", "--config", conf(mode))
		cmd.Stdout, cmd.Stderr = logs, logs
		require.NoError(t, cmd.Start())
		t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
		deadline := time.Now().Add(10 * time.Second)
		for time.Now().Before(deadline) {
			if resp, err := http.Get("http://" + mgmt + "/healthz"); err == nil {
				resp.Body.Close()
				return cmd, logs
			}
			time.Sleep(100 * time.Millisecond)
		}
		t.Fatalf("otwatch run did not come up:\n%s", logs.String())
		return nil, nil
	}
	server := exec.Command("ip", "netns", "exec", plc, sim, "-role", "server", "-listen", "10.66.0.1:502")
	require.NoError(t, server.Start())
	t.Cleanup(func() { server.Process.Kill(); server.Wait() })
	time.Sleep(300 * time.Millisecond)
	client := func(extra ...string) {
		args := append([]string{"netns", "exec", hmi, sim, "-role", "client", "-connect", "10.66.0.1:502", "-source", "10.66.0.2",
			"-period", "200ms"}, extra...)
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("plcsim client: %v\n%s", err, out)
		}
	}

	python := func(ns, code string) {
		t.Helper()
		var out []byte
		var err error
		for try := 0; try < 20; try++ { // the servers need a moment to listen
			if out, err = exec.Command("ip", "netns", "exec", ns, "python3", "-c", code).CombinedOutput(); err == nil {
				return
			}
			time.Sleep(200 * time.Millisecond)
		}
		t.Fatalf("python3 in %s: %v\n%s", ns, err, out)
	}

	// Phase 1: learn, then a crash while the HMI polls on.
	daemon, logs := start("learn")
	// what the kernel sent while the port came up, before otwatch prepared
	// it (IPv6 router solicitation, MLD); from here on nothing may leave it
	txBefore := txPackets(t, mon)
	client("-duration", "5s")
	polling := exec.Command("ip", "netns", "exec", hmi, sim, "-role", "client", "-connect", "10.66.0.1:502", "-source", "10.66.0.2",
		"-period", "200ms", "-duration", "9s")
	require.NoError(t, polling.Start())
	t.Cleanup(func() { polling.Process.Kill(); polling.Wait() })
	time.Sleep(3 * time.Second) // at least one checkpoint after the traffic
	metrics := get(t, "http://"+mgmt+"/metrics")
	assert.Contains(t, metrics, `otwatch_transactions_total{proto="modbus",op="read"}`)
	assert.Contains(t, metrics, "\notwatch_udp_duplicates_total 0\n", "a bridge mirrors each frame once")
	assert.Contains(t, metrics, "\notwatch_tcp_gaps_total 0\n")
	assert.Contains(t, metrics, "\notwatch_snaplen_cut_frames_total 0\n", "the live capture records whole frames")
	// the dashboard is up, over HTTPS, and refuses the API without a session
	insecure := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	resp, err := insecure.Get("https://" + dash + "/api/inventory")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	assert.Contains(t, logs.String(), "one-time setup token", "no default password: a setup token instead")
	require.NoError(t, daemon.Process.Signal(syscall.SIGKILL))
	daemon.Wait()
	var out, errb bytes.Buffer
	require.Equal(t, 0, cmdAlerts([]string{"list", "--db", db}, &out, &errb), errb.String())
	learned := strings.TrimSpace(out.String())

	// Phase 2: detect on the same database; the plant runs as it did.
	daemon, logs = start("detect")
	require.NoError(t, polling.Wait(), "the HMI polled across the restart")
	client("-duration", "2s") // the HMI reconnects
	sh("ip", "-n", hmi, "neigh", "del", "10.66.0.1", "dev", "h0")
	sh("ip", "-n", plc, "neigh", "del", "10.66.0.2", "dev", "p0")
	client("-duration", "2s") // both now resolve each other in ARP
	// NetBIOS: host announcements to the subnet's broadcast, and a name
	// query the PLC's host answers by unicast from port 137
	responder := exec.Command("ip", "netns", "exec", plc, "python3", "-c", `import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("0.0.0.0", 137))
for _ in range(2):
    q, peer = s.recvfrom(1500); s.sendto(q[:2] + b"\x85\x00" + q[4:], peer)`)
	require.NoError(t, responder.Start())
	t.Cleanup(func() { responder.Process.Kill(); responder.Wait() })
	time.Sleep(300 * time.Millisecond)
	python(hmi, `import socket, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1); s.bind(("10.66.0.2", 138))
q = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); q.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1); q.bind(("10.66.0.2", 137)); q.settimeout(3)
for i in range(2):
    s.sendto(b"\x11\x02" + bytes(30) + b"host announcement", ("10.66.0.255", 138))
    q.sendto(bytes([0x80, i]) + b"\x01\x10\x00\x01" + bytes(6) + b"\x20" + b"EMEP" * 8 + b"\x00\x00\x20\x00\x01", ("10.66.0.255", 137))
    q.recvfrom(1500)
    time.sleep(0.5)`)
	require.NoError(t, responder.Wait(), "the PLC's host answered both name queries")
	time.Sleep(1500 * time.Millisecond)
	require.NoError(t, daemon.Process.Signal(syscall.SIGTERM))
	require.NoError(t, daemon.Wait(), logs.String())
	out.Reset()
	require.Equal(t, 0, cmdAlerts([]string{"list", "--db", db}, &out, &errb), errb.String())
	assert.Equal(t, learned, strings.TrimSpace(out.String()), "the learned plant running normally raised alerts")
	// the dashboard's time series hold the PLC's traffic of both runs (the
	// first ended by kill -9: what its writer had flushed) in series.db
	trends, err := series.Open(series.Config{Path: filepath.Join(filepath.Dir(db), "dashboard", "series.db"), NoWriter: true})
	require.NoError(t, err)
	plcTx, err := trends.Query(series.Query{Key: series.TrafficKey(series.Traffic{Asset: "10.66.0.1", Metric: series.MetricTransactions})})
	require.NoError(t, err, "the PLC's traffic series")
	assert.Greater(t, len(plcTx.Samples), 2, "the PLC's transactions over time")
	require.NoError(t, trends.Close())

	// Phase 3: detect on the same database; plcsim injects its attacks.
	// Each attack that needs a tool is a subtest: without the tool it is
	// skipped (and listed by make test's summary) with every check of its
	// alerts, never asserted regardless.
	daemon, logs = start("detect")
	client("-duration", "4s", "-attack", "all", "-attack-after", "1s", "-rogue-source", "10.66.0.3")
	// new conversations with the controller: the attacker browses a web
	// server on the PLC, and the PLC calls the attacker (both played by this
	// test binary, see TestHelperProcess)
	web := helper(plc, "serve-http", "10.66.0.1:8080")
	require.NoError(t, web.Start())
	t.Cleanup(func() { web.Process.Kill(); web.Wait() })
	listener := helper(atk, "accept-one", "10.66.0.66:4444")
	require.NoError(t, listener.Start())
	t.Cleanup(func() { listener.Process.Kill(); listener.Wait() })
	runHelper := func(ns string, args ...string) {
		t.Helper()
		var out []byte
		var err error
		for try := 0; try < 20; try++ { // the servers need a moment to listen
			if out, err = helper(ns, args...).CombinedOutput(); err == nil {
				return
			}
			time.Sleep(200 * time.Millisecond)
		}
		t.Fatalf("%v in %s: %v\n%s", args, ns, err, out)
	}
	runHelper(atk, "http-get", "http://10.66.0.1:8080/")
	runHelper(plc, "dial", "10.66.0.66:4444")
	// a rogue DHCP server: dnsmasq on the attacker's box, naming itself the
	// gateway, answers busybox udhcpc in the HMI's namespace (the offer on the
	// wire is what counts; the client need not take it)
	rogueDHCP := attackPart(t, "rogue DHCP server", []string{"dnsmasq", "busybox"}, func(t *testing.T, bins map[string]string) {
		dlog := &syncBuffer{}
		srv := exec.Command("ip", "netns", "exec", atk, bins["dnsmasq"], "--no-daemon", "--port=0", "--interface=a0", "--bind-interfaces",
			"--dhcp-range=10.66.0.100,10.66.0.150,255.255.255.0,1h", "--dhcp-option=3,10.66.0.66", "--dhcp-option=6,10.66.0.66",
			"--dhcp-leasefile="+filepath.Join(dir, "leases"), "--user=root")
		srv.Stdout, srv.Stderr = dlog, dlog
		require.NoError(t, srv.Start())
		var cout []byte
		var cerr error
		for try := 0; try < 4 && !strings.Contains(dlog.String(), "DHCPOFFER"); try++ {
			time.Sleep(time.Second) // dnsmasq takes a moment before it answers
			cout, cerr = exec.Command("ip", "netns", "exec", hmi, bins["busybox"], "udhcpc", "-i", "h0", "-n", "-q", "-f", "-t", "2", "-T", "1", "-s", "/bin/true").CombinedOutput()
		}
		srv.Process.Kill()
		srv.Wait()
		require.Contains(t, dlog.String(), "DHCPOFFER", "dnsmasq answered; udhcpc: %s (%v)\ndnsmasq: %s", cout, cerr, dlog.String())
	})
	// reconnaissance: nmap's SYN scan of the PLC, then its ARP sweep of the subnet
	scanned := attackPart(t, "nmap scans", []string{"nmap"}, func(t *testing.T, bins map[string]string) {
		// the PLC refuses every closed UDP port at once (no ICMP rate limit)
		sh("ip", "netns", "exec", plc, "sh", "-c", "echo 0 > /proc/sys/net/ipv4/icmp_ratelimit")
		for _, run := range []struct {
			ns   string
			args []string
		}{
			{atk, []string{"-n", "-Pn", "-sS", "-p", "1-200", "--max-retries", "0", "10.66.0.1"}},
			{atk, []string{"-n", "-sn", "10.66.0.0/24"}},
			// a UDP scan from the HMI's second (rogue) address
			{hmi, []string{"-n", "-Pn", "-sU", "-p", "100-140", "--max-retries", "0", "-e", "h0", "-S", "10.66.0.3", "10.66.0.1"}},
		} {
			args := run.args
			cmd := exec.Command("ip", append([]string{"netns", "exec", run.ns, bins["nmap"]}, args...)...)
			out, err := cmd.CombinedOutput()
			require.NoError(t, err, "nmap %v: %s", args, out)
			require.Contains(t, string(out), "10.66.0.1", "nmap saw the PLC: %s", out)
		}
	})
	// then a man in the middle: dsniff's arpspoof tells the HMI that the
	// PLC's address is at the attacker's MAC, every 2 s
	spoofed := attackPart(t, "ARP spoofing", []string{"arpspoof"}, func(t *testing.T, bins map[string]string) {
		spoof := exec.Command("ip", "netns", "exec", atk, bins["arpspoof"], "-i", "a0", "-t", "10.66.0.2", "10.66.0.1")
		spoofLog := &syncBuffer{}
		spoof.Stdout, spoof.Stderr = spoofLog, spoofLog
		require.NoError(t, spoof.Start())
		time.Sleep(5 * time.Second)
		spoof.Process.Signal(syscall.SIGINT) // it re-ARPs the right MAC on its way out
		spoof.Wait()
		require.Contains(t, spoofLog.String(), "arp reply 10.66.0.1 is-at ", "arpspoof sent its replies") // (it prints MACs without leading zeros)
	})
	time.Sleep(1500 * time.Millisecond)
	// an operator on the box looks while the daemon holds the state file
	live, err := exec.Command(bin, "alerts", "list", "--db", db).CombinedOutput()
	require.NoError(t, err, "otwatch alerts list while the daemon runs: %s", live)
	assert.Contains(t, string(live), `"kind":"write_from_new_client"`, "the live alerts")
	live, err = exec.Command(bin, "inventory", "export", "--db", db).CombinedOutput()
	require.NoError(t, err, "otwatch inventory export while the daemon runs: %s", live)
	assert.Contains(t, string(live), `"10.66.0.1"`)
	require.NoError(t, daemon.Process.Signal(syscall.SIGTERM))
	require.NoError(t, daemon.Wait(), logs.String())
	assert.Contains(t, logs.String(), "state saved")

	out.Reset()
	require.Equal(t, 0, cmdAlerts([]string{"list", "--db", db}, &out, &errb), errb.String())
	alertsText := out.String()
	assert.Contains(t, alertsText, `"kind":"write_from_new_client"`, "the rogue client's write")
	assert.Contains(t, alertsText, `"ip":"10.66.0.3"`)
	assert.Contains(t, alertsText, `"kind":"value_out_of_range"`)
	assert.Contains(t, alertsText, `"kind":"write_to_unseen_target"`)
	assert.True(t, containsLine(strings.Split(alertsText, "\n"), `"kind":"zone_violation"`, "10.66.0.3 (zone unzoned)", "no conduit allows modbus from unzoned to cell"),
		"the rogue client crossed into the cell:\n%s", alertsText)
	assert.False(t, containsLine(strings.Split(alertsText, "\n"), `"kind":"zone_violation"`, "10.66.0.2 (zone scada)"), "the HMI uses its conduit")
	for _, line := range strings.Split(alertsText, "\n") {
		if i := strings.Index(line, `"message":"`); i > 0 && (strings.Contains(line, `"kind":"port_scan"`) || strings.Contains(line, `"kind":"new_host"`) ||
			strings.Contains(line, `"kind":"new_conversation"`) || strings.Contains(line, `"kind":"controller_outbound"`) ||
			strings.Contains(line, `"kind":"rogue_dhcp"`) ||
			strings.Contains(line, `"kind":"host_sweep"`) || strings.Contains(line, `"kind":"arp_spoofing"`)) {
			t.Log(line[i+11 : i+11+strings.Index(line[i+11:], `"`)])
		}
	}
	assert.True(t, containsLine(strings.Split(alertsText, "\n"), `"kind":"new_conversation"`, "10.66.0.66 opened TCP 10.66.0.66 → 10.66.0.1:8080 on a modbus controller"),
		"the web session to the PLC:\n%s", alertsText)
	assert.True(t, containsLine(strings.Split(alertsText, "\n"), `"kind":"controller_outbound"`, "10.66.0.1 (a modbus controller) opened TCP 10.66.0.1 → 10.66.0.66:4444"),
		"the PLC calling out:\n%s", alertsText)
	if rogueDHCP {
		assert.True(t, containsLine(strings.Split(alertsText, "\n"), `"kind":"rogue_dhcp"`, "DHCP server 10.66.0.66 (MAC ", "with gateway 10.66.0.66"),
			"dnsmasq's offers:\n%s", alertsText)
	}
	assert.True(t, containsLine(strings.Split(alertsText, "\n"), `"kind":"new_host"`, "new device 10.66.0.66 (MAC "),
		"the attacker's box is a new device on the segment:\n%s", alertsText)
	assert.False(t, containsLine(strings.Split(alertsText, "\n"), `"kind":"new_host"`, "new device 10.66.0.1 "), "the PLC was learned")
	if scanned {
		lines := strings.Split(alertsText, "\n")
		assert.True(t, containsLine(lines, `"kind":"port_scan"`, "10.66.0.66 tried ", "TCP ports on 10.66.0.1"), "nmap -sS is alerted:\n%s", alertsText)
		assert.True(t, containsLine(lines, `"kind":"port_scan"`, "10.66.0.3 tried ", "UDP ports on 10.66.0.1"), "nmap -sU is alerted:\n%s", alertsText)
		assert.True(t, containsLine(lines, `"kind":"host_sweep"`, "10.66.0.66 asked ARP for"), "nmap -sn is alerted:\n%s", alertsText)
	}
	if spoofed {
		assert.True(t, containsLine(strings.Split(alertsText, "\n"), `"kind":"arp_spoofing"`, "ARP spoofing: 10.66.0.1 ", "is claimed by "+attackerMAC),
			"arpspoof's poisoning is alerted:\n%s", alertsText)
	}
	for _, line := range strings.Split(strings.TrimSpace(alertsText), "\n") {
		var a struct {
			Kind   string
			Client *struct{ IP string }
		}
		require.NoError(t, json.Unmarshal([]byte(line), &a))
		if a.Client != nil && a.Client.IP == "10.66.0.2" && (a.Kind == "new_link" || a.Kind == "new_function" || a.Kind == "new_asset") {
			t.Errorf("the HMI's polling was learned before the crash, yet: %s", line)
		}
	}

	// the attacker's box: one incident from its first ARP to the poisoning
	out.Reset()
	require.Equal(t, 0, cmdAlerts([]string{"incidents", "--db", db}, &out, &errb), errb.String())
	var attackerIncident bool
	for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		var inc struct {
			Source, Narrative string
			Kinds             []string
			Score             int
		}
		require.NoError(t, json.Unmarshal([]byte(line), &inc))
		if inc.Source == "10.66.0.66" {
			attackerIncident = true
			assert.Contains(t, inc.Kinds, "new_host", "the attacker's incident")
			if spoofed {
				assert.Contains(t, inc.Kinds, "arp_spoofing", "the attacker's incident")
			}
			if scanned {
				assert.Contains(t, inc.Kinds, "port_scan")
				assert.Contains(t, inc.Kinds, "host_sweep")
			}
			t.Logf("the attacker's incident: %v, score %d: %s", inc.Kinds, inc.Score, inc.Narrative)
		}
	}
	assert.True(t, attackerIncident, "no incident filed under the attacker:\n%s", out.String())
	out.Reset()
	require.Equal(t, 0, cmdInventory([]string{"export", "--db", db, "--zones", filepath.Join(dir, "detect.conf")}, &out, &errb), errb.String())
	inv := out.String()
	for _, want := range []string{`"10.66.0.1"`, `"10.66.0.2"`, `"plc"`, `"hmi"`, `"zone": "cell"`, `"zone": "scada"`,
		`"tcp/502"`, `"tcp/8080"`} { // the PLC's services: Modbus, and the web server it was made to run
		assert.Contains(t, inv, want)
	}
	assert.Equal(t, txBefore, txPackets(t, mon), "the monitor interface transmitted")

	// the SIEM received the attack alerts as CEF over syslog
	siem.SetReadDeadline(time.Now().Add(2 * time.Second))
	var received []string
	buf := make([]byte, 8192)
	for {
		n, _, err := siem.ReadFrom(buf)
		if err != nil {
			break
		}
		received = append(received, string(buf[:n]))
	}
	assert.True(t, containsLine(received, "CEF:0|", "write_from_new_client"), "syslog lines: %d", len(received))
	// the CEF version is otwatch version's, and every alert with a destination carries it
	v, err := exec.Command(bin, "version").Output()
	require.NoError(t, err)
	require.Equal(t, "otwatch "+daemonTestVersion+"\n", string(v))
	kindsWithDest := map[string]bool{}
	for _, m := range received {
		cef := m[strings.Index(m, "CEF:"):]
		header := strings.SplitN(cef, "|", 8) // CEF:0|vendor|product|version|kind|name|severity|extension
		require.Len(t, header, 8, m)
		assert.Equal(t, daemonTestVersion, header[3], "the CEF version field: %s", m)
		p, ok := alerts.KindParties(header[4])
		require.True(t, ok, header[4])
		if strings.Contains(header[7], " dst=") || strings.HasPrefix(header[7], "dst=") {
			kindsWithDest[header[4]] = true
		} else if p.Destination != "" && !p.Sometimes {
			t.Errorf("%s has a destination (%s), its CEF has no dst: %s", header[4], p.Destination, m)
		}
	}
	t.Logf("CEF alerts with dst= in this run: %v", kindsWithDest)
	// evidence was cut around the alerts, and its chain of custody holds
	files, _ := filepath.Glob(filepath.Join(evidenceDir, "*.pcapng"))
	assert.NotEmpty(t, files, "evidence files")
	out.Reset()
	assert.Equal(t, 0, cmdEvidence([]string{"verify", evidenceDir}, &out, &errb), out.String())
}

// attackPart runs one attack that needs tools as a subtest: skipped, with
// the reason, when a tool is not installed. It reports whether the attack
// ran, so that the checks of its alerts are skipped with it.
func attackPart(t *testing.T, name string, tools []string, f func(t *testing.T, bins map[string]string)) bool {
	ran := false
	t.Run(name, func(t *testing.T) {
		bins := map[string]string{}
		for _, tool := range tools {
			p, err := exec.LookPath(tool)
			if err != nil {
				t.Skipf("%s not installed: the %s part and its alerts are skipped (.ci/run installs it)", tool, name)
			}
			bins[tool] = p
		}
		f(t, bins)
		ran = !t.Failed()
	})
	return ran
}

// helper runs this test binary in a network namespace as one of the
// plant's hosts (TestHelperProcess): the plant needs no Python.
func helper(ns string, args ...string) *exec.Cmd {
	cmd := exec.Command("ip", "netns", "exec", ns, os.Args[0], "-test.run=^TestHelperProcess$")
	cmd.Env = append(os.Environ(), "OTWATCH_TEST_HELPER="+strings.Join(args, " "))
	return cmd
}

// TestHelperProcess is not a test: it is the host TestDaemonInNamespaces
// asks for in OTWATCH_TEST_HELPER (a web server, a listener, their clients).
func TestHelperProcess(t *testing.T) {
	role := strings.Fields(os.Getenv("OTWATCH_TEST_HELPER"))
	if len(role) != 2 {
		return
	}
	err := func() error {
		switch role[0] {
		case "serve-http":
			return http.ListenAndServe(role[1], http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "plc web page") }))
		case "accept-one":
			l, err := net.Listen("tcp", role[1])
			if err != nil {
				return err
			}
			c, err := l.Accept()
			if err == nil {
				c.Close()
			}
			return err
		case "http-get":
			resp, err := (&http.Client{Timeout: 5 * time.Second}).Get(role[1])
			if err != nil {
				return err
			}
			resp.Body.Close()
			return nil
		case "dial":
			c, err := net.DialTimeout("tcp", role[1], 5*time.Second)
			if err != nil {
				return err
			}
			return c.Close()
		}
		return fmt.Errorf("unknown helper role %q", role[0])
	}()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Exit(0)
}

// daemonTestVersion is the version the daemon test builds otwatch with.
const daemonTestVersion = "1.4.2-7-gabc1234"

func containsLine(lines []string, subs ...string) bool {
	for _, l := range lines {
		all := true
		for _, s := range subs {
			all = all && strings.Contains(l, s)
		}
		if all {
			return true
		}
	}
	return false
}

func get(t *testing.T, url string) string {
	resp, err := http.Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	var b bytes.Buffer
	b.ReadFrom(resp.Body)
	return b.String()
}

func txPackets(t *testing.T, dev string) uint64 {
	b, err := os.ReadFile("/sys/class/net/" + dev + "/statistics/tx_packets")
	require.NoError(t, err)
	v, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
	require.NoError(t, err)
	return v
}

// syncBuffer collects a child's output while the test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
