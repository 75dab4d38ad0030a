package syslog

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/otwatch/otwatch/alerts"
)

// Integration tests against real syslog daemons (rsyslog and syslog-ng from
// Debian). Each test writes the daemon's configuration into a temporary
// directory, runs it in the foreground on loopback ports, and reads what it
// wrote to its output file: the header fields it parsed and the message.
// They skip when the daemon is not installed. syslog-ng is found on PATH, at
// $OTWATCH_SYSLOG_NG, or unpacked under /opt/syslog-ng (Debian's rsyslog and
// syslog-ng-core packages conflict, so CI installs rsyslog and unpacks
// syslog-ng-core there with `apt-get download` and `dpkg-deb -x`).

// received is one message as the daemon logged it.
type received struct {
	PRI    string `json:"pri"`
	Host   string `json:"host"`
	App    string `json:"app"`
	ProcID string `json:"procid"`
	MsgID  string `json:"msgid"`
	SD     string `json:"sd"`
	Msg    string `json:"msg"`
	Raw    string `json:"raw"`
	Input  string `json:"input"`
}

type daemon struct {
	name   string
	dir    string
	out    string
	cmd    *exec.Cmd
	argv   []string
	env    []string
	ports  map[string]int // udp, tcp, tls
	pki    *pki
	stderr *bytes.Buffer
	waitCh chan error
}

// rsyslogBinary finds rsyslogd: $OTWATCH_RSYSLOGD, PATH, /usr/sbin, or a
// tree unpacked under /opt/rsyslog; for an unpacked tree it also returns the
// module directory (rsyslogd -M).
func rsyslogBinary() (bin, modDir string) {
	if p := os.Getenv("OTWATCH_RSYSLOGD"); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", ""
		}
		bin = p
	} else if p, err := exec.LookPath("rsyslogd"); err == nil {
		bin = p
	} else if _, err := os.Stat("/usr/sbin/rsyslogd"); err == nil {
		bin = "/usr/sbin/rsyslogd"
	} else if _, err := os.Stat("/opt/rsyslog/usr/sbin/rsyslogd"); err == nil {
		bin = "/opt/rsyslog/usr/sbin/rsyslogd"
	} else {
		return "", ""
	}
	if prefix := filepath.Dir(filepath.Dir(filepath.Dir(bin))); prefix != "/" {
		if m, _ := filepath.Glob(filepath.Join(prefix, "usr/lib/*/rsyslog/imtcp.so")); len(m) > 0 {
			modDir = filepath.Dir(m[0])
		}
	}
	return bin, modDir
}

// rsyslogTLSDriver is the installed TLS network stream driver, if any.
func rsyslogTLSDriver(modDir string) string {
	for _, d := range []string{"ossl", "gtls"} {
		pats := []string{"/usr/lib/*/rsyslog/lmnsd_" + d + ".so", "/usr/lib/rsyslog/lmnsd_" + d + ".so"}
		if modDir != "" {
			pats = []string{filepath.Join(modDir, "lmnsd_"+d+".so")}
		}
		for _, p := range pats {
			if m, _ := filepath.Glob(p); len(m) > 0 {
				return d
			}
		}
	}
	return ""
}

func newRsyslog(t *testing.T) *daemon {
	t.Helper()
	bin, modDir := rsyslogBinary()
	if bin == "" {
		t.Skip("rsyslogd not installed (apt-get install rsyslog rsyslog-openssl)")
	}
	dir := t.TempDir()
	d := &daemon{name: "rsyslog", dir: dir, out: filepath.Join(dir, "out.jsonl"), pki: newPKI(t, dir),
		ports: map[string]int{"udp": freePort(t), "tcp": freePort(t)}}
	os.Mkdir(filepath.Join(dir, "work"), 0o700)
	var tlsInput string
	if drv := rsyslogTLSDriver(modDir); drv != "" {
		d.ports["tls"] = freePort(t)
		tlsInput = fmt.Sprintf(`input(type="imtcp" address="127.0.0.1" port="%d" ruleset="out" name="tls"
  streamDriver.name="%s" streamDriver.mode="1" streamDriver.authMode="x509/certvalid")`, d.ports["tls"], drv)
	}
	conf := fmt.Sprintf(`global(workDirectory="%[1]s/work" maxMessageSize="64k"
  defaultNetstreamDriverCAFile="%[2]s" defaultNetstreamDriverCertFile="%[3]s" defaultNetstreamDriverKeyFile="%[4]s")
module(load="imudp")
module(load="imtcp" maxSessions="50")
template(name="otw" type="list" option.jsonf="on") {
  property(outname="pri" name="pri" format="jsonf")
  property(outname="host" name="hostname" format="jsonf")
  property(outname="app" name="app-name" format="jsonf")
  property(outname="procid" name="procid" format="jsonf")
  property(outname="msgid" name="msgid" format="jsonf")
  property(outname="sd" name="structured-data" format="jsonf")
  property(outname="msg" name="msg" format="jsonf")
  property(outname="raw" name="rawmsg" format="jsonf")
  property(outname="input" name="inputname" format="jsonf")
}
ruleset(name="out") { action(type="omfile" file="%[5]s" template="otw") }
input(type="imudp" address="127.0.0.1" port="%[6]d" ruleset="out" name="udp")
input(type="imtcp" address="127.0.0.1" port="%[7]d" ruleset="out" name="tcp")
%[8]s
`, dir, d.pki.CA, d.pki.ServerCert, d.pki.ServerKey, d.out, d.ports["udp"], d.ports["tcp"], tlsInput)
	cf := filepath.Join(dir, "rsyslog.conf")
	if err := os.WriteFile(cf, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	d.argv = []string{bin, "-n", "-f", cf, "-i", filepath.Join(dir, "rsyslog.pid")}
	if modDir != "" {
		d.argv = append(d.argv, "-M", modDir)
	}
	t.Cleanup(d.stop)
	return d
}

func syslogNGBinary() (bin string, env []string, args []string) {
	if p := os.Getenv("OTWATCH_SYSLOG_NG"); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", nil, nil
		}
		bin = p
	} else if p, err := exec.LookPath("syslog-ng"); err == nil {
		bin = p
	} else if _, err := os.Stat("/opt/syslog-ng/usr/sbin/syslog-ng"); err == nil {
		bin = "/opt/syslog-ng/usr/sbin/syslog-ng"
	} else {
		return "", nil, nil
	}
	// an unpacked (not installed) tree: point at its libraries and modules
	prefix := filepath.Dir(filepath.Dir(filepath.Dir(bin))) // <prefix>/usr/sbin/syslog-ng
	if prefix != "/" {
		lib := filepath.Join(prefix, "usr/lib/syslog-ng")
		if mods, _ := filepath.Glob(filepath.Join(lib, "[0-9]*")); len(mods) > 0 {
			env = append(env, "LD_LIBRARY_PATH="+lib)
			args = append(args, "--module-path="+mods[0])
		}
	}
	return bin, env, args
}

func newSyslogNG(t *testing.T) *daemon {
	t.Helper()
	bin, env, extra := syslogNGBinary()
	if bin == "" {
		t.Skip("syslog-ng not installed (see the comment at the top of daemon_test.go)")
	}
	dir := t.TempDir()
	d := &daemon{name: "syslog-ng", dir: dir, out: filepath.Join(dir, "out.jsonl"), pki: newPKI(t, dir),
		ports: map[string]int{"udp": freePort(t), "tcp": freePort(t), "tls": freePort(t)}, env: env}
	conf := fmt.Sprintf(`@version: 3.38
options { keep-hostname(yes); chain-hostnames(no); use-dns(no); use-fqdn(no); stats-freq(0); log-msg-size(65536); };
source s_udp { syslog(transport("udp") ip("127.0.0.1") port(%[1]d) flags(store-raw-message)); };
source s_tcp { syslog(transport("tcp") ip("127.0.0.1") port(%[2]d) flags(store-raw-message)); };
source s_tls { syslog(transport("tls") ip("127.0.0.1") port(%[3]d) flags(store-raw-message)
  tls(key-file("%[4]s") cert-file("%[5]s") ca-file("%[6]s") peer-verify(required-trusted))); };
destination d_file { file("%[7]s" template("$(format-json --scope none pri=${PRI} host=${HOST} app=${PROGRAM} procid=${PID} msgid=${MSGID} sd=${SDATA} msg=${MESSAGE} raw=${RAWMSG} input=${SOURCE})\n")); };
log { source(s_udp); source(s_tcp); source(s_tls); destination(d_file); };
`, d.ports["udp"], d.ports["tcp"], d.ports["tls"], d.pki.ServerKey, d.pki.ServerCert, d.pki.CA, d.out)
	cf := filepath.Join(dir, "syslog-ng.conf")
	if err := os.WriteFile(cf, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	d.argv = append([]string{bin, "-F", "-e", "--no-caps", "-f", cf, "-R", filepath.Join(dir, "persist"),
		"-p", filepath.Join(dir, "pid"), "-c", filepath.Join(dir, "ctl")}, extra...)
	t.Cleanup(d.stop)
	return d
}

// start runs the daemon and waits until its stream ports accept.
func (d *daemon) start(t *testing.T) {
	t.Helper()
	d.stderr = &bytes.Buffer{}
	d.cmd = exec.Command(d.argv[0], d.argv[1:]...)
	d.cmd.Env = append(os.Environ(), d.env...)
	d.cmd.Stdout, d.cmd.Stderr = d.stderr, d.stderr
	d.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := d.cmd.Start(); err != nil {
		t.Fatalf("%s: %v", d.name, err)
	}
	exited := make(chan error, 1)
	go func(c *exec.Cmd) { exited <- c.Wait() }(d.cmd)
	d.waitCh = exited
	deadline := time.Now().Add(15 * time.Second)
	for _, tr := range []string{"tcp", "tls"} {
		port, ok := d.ports[tr]
		if !ok {
			continue
		}
		for {
			c, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(port), 200*time.Millisecond)
			if err == nil {
				c.Close()
				break
			}
			select {
			case err := <-exited:
				d.cmd = nil
				t.Fatalf("%s exited: %v\n%s", d.name, err, d.stderr.String())
			default:
			}
			if time.Now().After(deadline) {
				d.stop()
				t.Fatalf("%s did not listen on %s within 15s\n%s", d.name, tr, d.stderr.String())
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
}

// stop terminates the daemon (TERM, then KILL after 5 s) and reaps it.
func (d *daemon) stop() {
	if d.cmd == nil || d.cmd.Process == nil {
		return
	}
	syscall.Kill(-d.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-d.waitCh:
	case <-time.After(5 * time.Second):
		syscall.Kill(-d.cmd.Process.Pid, syscall.SIGKILL)
		<-d.waitCh
	}
	d.cmd = nil
}

// lines reads the output file.
func (d *daemon) lines(t *testing.T) []received {
	t.Helper()
	f, err := os.Open(d.out)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []received
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var r received
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			continue // a line being written
		}
		out = append(out, r)
	}
	return out
}

// withPrefix keeps the messages of alerts whose id starts with prefix.
func withPrefix(rs []received, prefix string) []received {
	var out []received
	for _, r := range rs {
		if strings.Contains(r.Msg, prefix) {
			out = append(out, r)
		}
	}
	return out
}

func (d *daemon) destination(t *testing.T, network, format, framing string) Destination {
	dst := Destination{Name: network + "-" + format + "-" + framing, Network: network,
		Address: "127.0.0.1:" + strconv.Itoa(d.ports[network]), Format: format, Framing: framing,
		Facility: 20, QueueDir: t.TempDir(), Hostname: "otwatch-test",
		RetryMin: 50 * time.Millisecond, RetryMax: 500 * time.Millisecond}
	if network == "tls" {
		dst.CAFile, dst.CertFile, dst.KeyFile = d.pki.CA, d.pki.ClientCert, d.pki.ClientKey
	}
	return dst
}

func daemonAlert(prefix string, i int) *alerts.Alert {
	a := testAlert()
	a.ID = fmt.Sprintf("%s-%03d", prefix, i)
	a.Message = fmt.Sprintf("alert %s %d: write = x | y \\ z ^ w", prefix, i)
	a.Severity = 3 + i%8
	return a
}

// checkReceived compares what the daemon parsed with what was sent.
func checkReceived(t *testing.T, d *daemon, r received, a *alerts.Alert, format, framing string) {
	t.Helper()
	wantPRI := strconv.Itoa(20*8 + SyslogSeverity(a.Severity))
	if r.PRI != wantPRI {
		t.Errorf("%s: PRI %s, want %s", a.ID, r.PRI, wantPRI)
	}
	if r.Host != "otwatch-test" || r.App != "otwatch" || r.ProcID != strconv.Itoa(os.Getpid()) {
		t.Errorf("%s: host %q app %q procid %q", a.ID, r.Host, r.App, r.ProcID)
	}
	body := strings.TrimPrefix(r.Msg, " ") // rsyslog keeps the space after "TAG:"
	if framing == "rfc5424" {
		if r.MsgID != a.Kind {
			t.Errorf("%s: MSGID %q", a.ID, r.MsgID)
		}
		wantSD := fmt.Sprintf(`[otwatch@32473 id="%s" kind="%s" severity="%d"]`, a.ID, a.Kind, a.Severity)
		if r.SD != wantSD {
			t.Errorf("%s: SD %q, want %q", a.ID, r.SD, wantSD)
		}
	}
	if want := Payload(format, a); body != want {
		t.Errorf("%s via %s: message altered:\n got  %q\n want %q", a.ID, d.name, body, want)
	}
	switch format {
	case "cef":
		ev, err := parseCEF(body)
		if err != nil {
			t.Fatalf("%s: strict CEF: %v", a.ID, err)
		}
		if ev.Ext["externalId"] != a.ID || ev.Ext["msg"] != a.Message || ev.Header[6] != strconv.Itoa(a.Severity) ||
			ev.Ext["src"] != a.Client.IP || ev.Ext["dpt"] != "502" || ev.Header[4] != a.Kind {
			t.Errorf("%s: CEF fields %v %v", a.ID, ev.Header, ev.Ext)
		}
	case "leef":
		ev, err := parseLEEF(body)
		if err != nil {
			t.Fatalf("%s: strict LEEF: %v", a.ID, err)
		}
		if ev.Attr["alertId"] != a.ID || ev.Attr["sev"] != strconv.Itoa(a.Severity) || ev.EventID != a.Kind ||
			ev.Attr["msg"] != strings.ReplaceAll(a.Message, "^", " ") || ev.Attr["dst"] != a.Server.IP {
			t.Errorf("%s: LEEF fields %v", a.ID, ev.Attr)
		}
	case "json":
		var back alerts.Alert
		if err := json.Unmarshal([]byte(body), &back); err != nil {
			t.Fatalf("%s: JSON: %v", a.ID, err)
		}
		if back.ID != a.ID || back.Message != a.Message || back.Severity != a.Severity || !back.TS.Equal(a.TS) {
			t.Errorf("%s: JSON fields %+v", a.ID, back)
		}
	}
}

func testDaemonFormats(t *testing.T, d *daemon) {
	d.start(t)
	for _, network := range []string{"udp", "tcp", "tls"} {
		if _, ok := d.ports[network]; !ok {
			t.Run(network, func(t *testing.T) {
				t.Skipf("%s has no TLS network stream driver (apt-get install rsyslog-openssl): its TLS input is not tested", d.name)
			})
			continue
		}
		for _, format := range []string{"cef", "leef", "json"} {
			for _, framing := range []string{"rfc5424", "rfc3164"} {
				name := network + "-" + format + "-" + framing
				t.Run(name, func(t *testing.T) {
					s, err := NewSender(d.destination(t, network, format, framing))
					if err != nil {
						t.Fatal(err)
					}
					prefix := d.name + "-" + name
					var sent []*alerts.Alert
					for i := 0; i < 5; i++ {
						a := daemonAlert(prefix, i)
						sent = append(sent, a)
						if err := s.Send(a); err != nil {
							t.Fatal(err)
						}
					}
					ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
					defer cancel()
					if err := s.Close(ctx); err != nil {
						t.Fatal(err)
					}
					var got []received
					waitFor(t, 10*time.Second, "5 messages in "+d.name+"'s output", func() bool {
						got = withPrefix(d.lines(t), prefix+"-")
						return len(got) >= 5
					})
					if len(got) != 5 {
						t.Fatalf("%d messages, want 5", len(got))
					}
					for i, r := range got {
						if network != "udp" || strings.Contains(r.Msg, sent[i].ID) {
							checkReceived(t, d, r, sent[i], format, framing)
						}
					}
				})
			}
		}
	}
}

func TestRsyslogFormatsAndTransports(t *testing.T) { testDaemonFormats(t, newRsyslog(t)) }

func TestSyslogNGFormatsAndTransports(t *testing.T) { testDaemonFormats(t, newSyslogNG(t)) }

// Outage: rsyslog stops, 1,000 alerts are raised, otwatch restarts (the
// sender is closed and reopened on the same queue), then rsyslog starts
// again: all 1,000 arrive, in order, none twice.
func TestRsyslogOutage(t *testing.T) {
	if testing.Short() {
		t.Skip("1,000 alerts through an rsyslog outage: skipped with -short (make test-full runs it)")
	}
	d := newRsyslog(t)
	for _, network := range []string{"tcp", "tls"} {
		t.Run(network, func(t *testing.T) {
			if _, ok := d.ports[network]; !ok {
				t.Skip("no TLS driver for rsyslog")
			}
			d.start(t)
			defer d.stop()
			dst := d.destination(t, network, "cef", "rfc5424")
			s, err := NewSender(dst)
			if err != nil {
				t.Fatal(err)
			}
			prefix := "outage-" + network
			s.Send(daemonAlert("warm"+network, 0))
			waitFor(t, 10*time.Second, "the warm-up alert", func() bool { return len(withPrefix(d.lines(t), "warm"+network+"-")) == 1 })

			d.stop()
			for i := 0; i < 1000; i++ {
				if err := s.Send(daemonAlert(prefix, i)); err != nil {
					t.Fatal(err)
				}
			}
			ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
			err = s.Close(ctx)
			cancel()
			if !errors.Is(err, ErrUndelivered) {
				t.Fatalf("close during the outage: %v (stats %+v)", err, s.Stats())
			}
			s, err = NewSender(dst) // otwatch restarted
			if err != nil {
				t.Fatal(err)
			}
			if q := s.Stats().Queued; q != 1000 {
				t.Fatalf("%d queued after restart, want 1000", q)
			}
			d.start(t)
			var got []received
			waitFor(t, 60*time.Second, "1000 alerts after the outage", func() bool {
				got = withPrefix(d.lines(t), prefix+"-")
				return len(got) >= 1000 && s.Stats().Queued == 0
			})
			ctx, cancel = context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if err := s.Close(ctx); err != nil {
				t.Fatal(err)
			}
			time.Sleep(200 * time.Millisecond)
			got = withPrefix(d.lines(t), prefix+"-")
			if len(got) != 1000 {
				t.Errorf("%d alerts arrived, want 1000", len(got))
			}
			for i, r := range got {
				if want := fmt.Sprintf("externalId=%s-%03d ", prefix, i); !strings.Contains(r.Msg, want) {
					t.Fatalf("alert %d out of order or duplicated: %.120s", i, r.Msg)
				}
			}
			d.stop()
		})
	}
}
