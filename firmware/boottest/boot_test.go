// Package boottest boots the built appliance images under qemu (the `virt`
// machine, two NICs) and checks what the issue asks: the management NIC
// serves /healthz and the API, the monitor NIC receives replayed corpus
// Modbus and S7 traffic that shows up in the inventory and transmits
// nothing, and the database survives a clean power-off and boot.
//
// It runs only with OTWATCH_IMAGE_TEST=1, after firmware/build-image.sh,
// and skips when qemu or the images are missing:
//
//	OTWATCH_IMAGE_TEST=1 go test -v -timeout 20m ./firmware/boottest/
//
// OTWATCH_IMAGE_DIR (default ../../dist) and OTWATCH_CORPUS (default
// ../../../shared/corpus) move the inputs; OTWATCH_IMAGE_ARCHES picks
// "arm64 armv7" (the default) or one of them.
package boottest

import (
	"bytes"
	"crypto/tls"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/otwatch/otwatch/protocols/capture"
)

type machine struct {
	arch, qemu string
	args       []string
	uboot      string // Debian u-boot-qemu's build for this machine
}

// acpi=off: with firmware (-bios) and ACPI, qemu's virt gives the power
// button to ACPI, which U-Boot does not pass on; without it, gpio-keys.
var machines = map[string]machine{
	"arm64": {"arm64", "qemu-system-aarch64", []string{"-M", "virt,acpi=off", "-cpu", "cortex-a53"}, "/usr/lib/u-boot/qemu_arm64/u-boot.bin"},
	"armv7": {"armv7", "qemu-system-arm", []string{"-M", "virt,highmem=off", "-cpu", "cortex-a15"}, "/usr/lib/u-boot/qemu_arm/u-boot.bin"}, // highmem=off: the armmp kernel is not LPAE, the high PCIe ECAM window is out of its reach
}

func env(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

func TestBoot(t *testing.T) {
	if os.Getenv("OTWATCH_IMAGE_TEST") != "1" {
		t.Skip("set OTWATCH_IMAGE_TEST=1 to boot the images under qemu (after firmware/build-image.sh)")
	}
	for _, arch := range strings.Fields(env("OTWATCH_IMAGE_ARCHES", "arm64 armv7")) {
		if arch == "rpi" {
			continue // TestRaspberryPi
		}
		m, ok := machines[arch]
		if !ok {
			t.Fatalf("unknown arch %s", arch)
		}
		t.Run(arch, func(t *testing.T) { bootTest(t, m) })
	}
}

// vm is one qemu run.
type vm struct {
	t        *testing.T
	cmd      *exec.Cmd
	console  *syncBuf
	http     string // 127.0.0.1:port forwarded to the guest's 9180
	dash     string // 127.0.0.1:port forwarded to the guest's 8443
	monitor  string // HMP unix socket
	inject   *net.UDPConn
	guestMon *net.UDPAddr // qemu's end of the monitor NIC
	done     chan error
	sess     *session // the dashboard, logged in (update_test.go)
}

type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// bootViaUboot: U-Boot from the image's boot partition when Debian's
// u-boot-qemu is installed (unless OTWATCH_BOOT=kernel), else qemu -kernel
// with the kernel and initramfs build-image.sh leaves beside the image.
func bootViaUboot(m machine) bool {
	if os.Getenv("OTWATCH_BOOT") == "kernel" {
		return false
	}
	_, err := os.Stat(m.uboot)
	return err == nil
}

func freePort(t *testing.T, network string) int {
	t.Helper()
	if network == "udp" {
		c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		return c.LocalAddr().(*net.UDPAddr).Port
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// start boots the image. The monitor NIC is a qemu UDP socket netdev:
// every frame the guest transmits on it arrives as a datagram on txSink,
// which the test counts; frames sent to guestMon are received by the guest.
func start(t *testing.T, m machine, dir, img string, txSink *net.UDPConn) *vm {
	return startVM(t, m, dir, img, txSink, false)
}

// startVM boots the image; with reboots, a reboot of the guest restarts it
// in the same qemu (the A/B tests), else qemu exits.
func startVM(t *testing.T, m machine, dir, img string, txSink *net.UDPConn, reboots bool) *vm {
	sinkPort := txSink.LocalAddr().(*net.UDPAddr).Port
	monPort := freePort(t, "udp")
	v := &vm{t: t, console: &syncBuf{}, done: make(chan error, 1),
		http: fmt.Sprintf("127.0.0.1:%d", freePort(t, "tcp")), dash: fmt.Sprintf("127.0.0.1:%d", freePort(t, "tcp")),
		monitor:  filepath.Join(t.TempDir(), "hmp.sock"),
		guestMon: &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: monPort}}
	args := append(append([]string{}, m.args...),
		"-smp", "2", "-m", "512", "-display", "none", "-serial", "stdio",
		"-monitor", "unix:"+v.monitor+",server,nowait",
		"-drive", "file="+img+",format=raw,if=virtio",
		"-netdev", fmt.Sprintf("user,id=mgmt,hostfwd=tcp:%s-:9180,hostfwd=tcp:%s-:8443", v.http, v.dash),
		// romfile=: no PXE option ROM (U-Boot and Linux drive virtio-net
		// themselves); without it qemu needs ipxe-qemu, which Debian's
		// qemu-system-arm only recommends and .ci/run does not install
		"-device", "virtio-net-pci,netdev=mgmt,romfile=",
		"-netdev", fmt.Sprintf("socket,id=mon,udp=127.0.0.1:%d,localaddr=127.0.0.1:%d", sinkPort, monPort),
		"-device", "virtio-net-pci,netdev=mon,romfile=")
	if !reboots {
		args = append(args, "-no-reboot")
	}
	if bootViaUboot(m) {
		// the board's path: U-Boot's distro boot finds boot.scr or
		// extlinux.conf on the image's boot partition
		args = append(args, "-bios", m.uboot)
	} else {
		args = append(args, "-kernel", filepath.Join(dir, "otwatch-"+m.arch+".vmlinuz"),
			"-initrd", filepath.Join(dir, "otwatch-"+m.arch+".initrd"), "-append", "console=ttyAMA0")
	}
	// nice: the machine's cores are shared; nice execs qemu (one pid)
	if nice, err := exec.LookPath("nice"); err == nil {
		v.cmd = exec.Command(nice, append([]string{"-n", "10", m.qemu}, args...)...)
	} else {
		v.cmd = exec.Command(m.qemu, args...)
	}
	v.cmd.Stdout, v.cmd.Stderr = v.console, v.console
	if err := v.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { v.done <- v.cmd.Wait() }()
	t.Cleanup(func() {
		if v.cmd.ProcessState == nil {
			v.cmd.Process.Kill()
			<-v.done
		}
		if t.Failed() || os.Getenv("OTWATCH_BOOT_CONSOLE") == "1" {
			t.Logf("console of %s:\n%s", m.arch, v.console.String())
		}
	})
	c, err := net.DialUDP("udp", nil, v.guestMon)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	v.inject = c
	return v
}

// waitHealthy polls /healthz until it answers 200.
func (v *vm) waitHealthy(timeout time.Duration) time.Duration {
	begin := time.Now()
	client := http.Client{Timeout: 2 * time.Second}
	for time.Since(begin) < timeout {
		select {
		case err := <-v.done:
			v.done <- err
			v.t.Fatalf("qemu exited during boot: %v", err)
		default:
		}
		resp, err := client.Get("http://" + v.http + "/healthz")
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return time.Since(begin)
			}
			_ = body
		}
		time.Sleep(500 * time.Millisecond)
	}
	v.t.Fatalf("no healthy /healthz within %s", timeout)
	return 0
}

func (v *vm) get(path string) string {
	resp, err := http.Get("http://" + v.http + path)
	if err != nil {
		v.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// metric reads one un-labelled or labelled sample from /metrics.
func metric(text, name string) (float64, bool) {
	for _, l := range strings.Split(text, "\n") {
		if strings.HasPrefix(l, name+" ") {
			var f float64
			fmt.Sscanf(strings.TrimPrefix(l, name+" "), "%g", &f)
			return f, true
		}
	}
	return 0, false
}

// powerOff presses the virtual power button (gpio-keys on virt) and waits
// for the guest to shut down and qemu to exit.
func (v *vm) powerOff(timeout time.Duration) time.Duration {
	c, err := net.Dial("unix", v.monitor)
	if err != nil {
		v.t.Fatal(err)
	}
	defer c.Close()
	begin := time.Now()
	fmt.Fprintf(c, "system_powerdown\n")
	select {
	case <-v.done:
		return time.Since(begin)
	case <-time.After(timeout):
		v.t.Fatalf("no power-off within %s of the power button", timeout)
	}
	return 0
}

type replayed struct {
	frames int
	hosts  map[string]bool // IPv4 addresses of Modbus (502) and S7 (102) endpoints
}

// replay sends every Ethernet frame of the captures into the monitor NIC.
func (v *vm) replay(files []string) replayed {
	r := replayed{hosts: map[string]bool{}}
	for _, f := range files {
		rd, err := capture.Open(f)
		if err != nil {
			v.t.Fatal(err)
		}
		for {
			fr, err := rd.Next()
			if err != nil {
				break
			}
			if fr.LinkType != 1 {
				continue
			}
			if _, err := v.inject.Write(fr.Data); err != nil {
				v.t.Fatal(err)
			}
			r.frames++
			if ip, ok := ics(fr.Data); ok {
				r.hosts[ip] = true
			}
			if r.frames%20 == 0 {
				time.Sleep(5 * time.Millisecond)
			}
		}
		rd.Close()
	}
	return r
}

// ics returns the server address of a Modbus/TCP or S7 (ISO-TSAP) frame.
func ics(b []byte) (string, bool) {
	if len(b) < 14+20+4 || binary.BigEndian.Uint16(b[12:]) != 0x0800 || b[14+9] != 6 {
		return "", false
	}
	ihl := int(b[14]&0xf) * 4
	if len(b) < 14+ihl+4 {
		return "", false
	}
	sport, dport := binary.BigEndian.Uint16(b[14+ihl:]), binary.BigEndian.Uint16(b[14+ihl+2:])
	switch {
	case dport == 502 || dport == 102:
		return net.IP(b[14+16 : 14+20]).String(), true
	case sport == 502 || sport == 102:
		return net.IP(b[14+12 : 14+16]).String(), true
	}
	return "", false
}

var tokenRE = regexp.MustCompile(`one-time setup token ([A-Za-z0-9_-]+)`)

// inventory logs into the dashboard API (creating the admin with the
// one-time setup token printed on the console the first time) and returns
// /api/inventory.
func (v *vm) inventory(setupToken string) string {
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Timeout: 60 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}} // the appliance's self-signed certificate
	base := "https://" + v.dash
	getJSON := func(method, path, csrf string, body any) (int, map[string]any, string) {
		var rd io.Reader
		if body != nil {
			b, _ := json.Marshal(body)
			rd = bytes.NewReader(b)
		}
		req, _ := http.NewRequest(method, base+path, rd)
		req.Header.Set("Content-Type", "application/json")
		if csrf != "" {
			req.Header.Set("X-CSRF-Token", csrf)
		}
		resp, err := c.Do(req)
		if err != nil {
			v.t.Fatalf("%s %s: %v", method, path, err)
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		var m map[string]any
		json.Unmarshal(raw, &m)
		return resp.StatusCode, m, string(raw)
	}
	const user, pass = "admin", "boot-test-password-1"
	// the dashboard comes up a moment after /healthz
	for i := 0; ; i++ {
		resp, err := c.Get(base + "/api/login")
		if err == nil {
			resp.Body.Close()
			break
		}
		if i == 60 {
			v.t.Fatalf("dashboard not answering: %v", err)
		}
		time.Sleep(time.Second)
	}
	if setupToken != "" {
		_, m, _ := getJSON("GET", "/api/setup", "", nil)
		csrf, _ := m["csrf"].(string)
		if code, _, raw := getJSON("POST", "/api/setup", csrf, map[string]string{"token": setupToken, "user": user, "password": pass}); code != 201 {
			v.t.Fatalf("setup: %d %s", code, raw)
		}
	}
	_, m, _ := getJSON("GET", "/api/login", "", nil)
	csrf, _ := m["csrf"].(string)
	if code, _, raw := getJSON("POST", "/api/login", csrf, map[string]string{"user": user, "password": pass}); code != 200 {
		v.t.Fatalf("login: %d %s", code, raw)
	}
	code, _, raw := getJSON("GET", "/api/inventory", "", nil)
	if code != 200 {
		v.t.Fatalf("inventory: %d %s", code, raw)
	}
	return raw
}

func bootTest(t *testing.T, m machine) {
	dir := env("OTWATCH_IMAGE_DIR", "../../dist")
	corpus := env("OTWATCH_CORPUS", "../../../shared/corpus")
	src := filepath.Join(dir, "otwatch-"+m.arch+".img")
	// Asked for explicitly (OTWATCH_IMAGE_TEST=1, as CI does): a missing
	// emulator or image is a failure, not a skip that would pass unseen.
	if _, err := exec.LookPath(m.qemu); err != nil {
		t.Fatalf("%s not installed (Debian: qemu-system-arm)", m.qemu)
	}
	if _, err := os.Stat(src); err != nil {
		t.Fatalf("%s missing: run firmware/build-image.sh (make image) first", src)
	}
	captures := []string{
		filepath.Join(corpus, "OISF__suricata-verify/tests/modbus/modbus.pcap"),
		filepath.Join(corpus, "cisagov__icsnpp-s7comm/tests/traces/snap7.pcap"),
	}
	for _, c := range captures {
		if _, err := os.Stat(c); err != nil {
			t.Skipf("corpus capture missing: %v", err)
		}
	}
	// a fresh copy: the first boot formats the data partition
	img := filepath.Join(t.TempDir(), filepath.Base(src))
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(img, b, 0o644); err != nil {
		t.Fatal(err)
	}
	// written to a "card" 128 MiB larger than the image: the first boot grows the data partition
	if err := os.Truncate(img, int64(len(b))+128<<20); err != nil {
		t.Fatal(err)
	}
	sink, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer sink.Close()
	var transmitted atomic.Int64
	go func() {
		buf := make([]byte, 65536)
		for {
			if _, _, err := sink.ReadFromUDP(buf); err != nil {
				return
			}
			transmitted.Add(1)
		}
	}()

	// ---- first boot ----
	v := start(t, m, dir, img, sink)
	boot := v.waitHealthy(4 * time.Minute)
	how := "qemu -kernel"
	if bootViaUboot(m) {
		how = "U-Boot from the image"
	}
	t.Logf("%s first boot (%s): /healthz 200 after %s (qemu start to healthy, TCG on this machine)", m.arch, how, boot.Round(100*time.Millisecond))
	if mm := regexp.MustCompile(`boot to capture start: (\S+) since stage 2 \(kernel uptime (\S+)\)`).FindStringSubmatch(v.console.String()); mm != nil {
		t.Logf("%s: kernel start to capture start %s (stage 2 took %s)", m.arch, mm[2], mm[1])
	}
	con := v.console.String()
	for _, want := range []string{"first boot: formatting", "first boot: data partition /dev/vda5 grown from 16 to 144 MiB", "monitor interface eth1: up, promiscuous, no ARP, no IPv6, no address", "management eth0: 10.0.2.15"} {
		if !strings.Contains(con, want) {
			t.Errorf("console lacks %q", want)
		}
	}
	tok := tokenRE.FindStringSubmatch(con)
	if tok == nil {
		t.Fatal("no setup token on the console")
	}
	r := v.replay(captures)
	deadline := time.Now().Add(60 * time.Second)
	var packets float64
	for time.Now().Before(deadline) {
		packets, _ = metric(v.get("/metrics"), "otwatch_packets_total")
		if int(packets) >= r.frames {
			break
		}
		time.Sleep(time.Second)
	}
	if int(packets) < r.frames*9/10 {
		t.Errorf("otwatch counted %v packets of %d replayed", packets, r.frames)
	}
	met := v.get("/metrics")
	for _, p := range []string{`proto="modbus"`, `proto="s7comm"`} {
		if !strings.Contains(met, "otwatch_transactions_total{"+p) {
			t.Errorf("no %s transactions in /metrics", p)
		}
	}
	inv := v.inventory(tok[1])
	missing := 0
	for h := range r.hosts {
		if !strings.Contains(inv, `"`+h+`"`) {
			missing++
			t.Logf("inventory lacks %s", h)
		}
	}
	if missing > 0 {
		t.Errorf("%d of %d replayed Modbus/S7 endpoints missing from the inventory", missing, len(r.hosts))
	}
	keys, _ := metric(met, "otwatch_baseline_keys")
	t.Logf("%s: replayed %d frames, %d ICS endpoints; otwatch counted %v packets, %v baseline keys; inventory %d bytes",
		m.arch, r.frames, len(r.hosts), packets, keys, len(inv))
	down := v.powerOff(90 * time.Second)
	con = v.console.String()
	for _, want := range []string{"power button: poweroff", "otwatch stopped", "/data unmounted cleanly"} {
		if !strings.Contains(con, want) {
			t.Errorf("shutdown: console lacks %q", want)
		}
	}
	t.Logf("%s: power button to qemu exit %s", m.arch, down.Round(100*time.Millisecond))

	// ---- second boot: the database survived ----
	v2 := start(t, m, dir, img, sink)
	boot2 := v2.waitHealthy(4 * time.Minute)
	t.Logf("%s second boot: healthy after %s", m.arch, boot2.Round(100*time.Millisecond))
	con2 := v2.console.String()
	if strings.Contains(con2, "formatting") || !strings.Contains(con2, "data partition /dev/vda5: ext4") {
		t.Errorf("second boot did not reuse the data partition")
	}
	if tokenRE.MatchString(con2) {
		t.Errorf("setup token printed again although the admin exists")
	}
	keys2, _ := metric(v2.get("/metrics"), "otwatch_baseline_keys")
	if keys2 != keys || keys == 0 {
		t.Errorf("baseline keys %v before the reboot, %v after", keys, keys2)
	}
	inv2 := v2.inventory("")
	for h := range r.hosts {
		if !strings.Contains(inv2, `"`+h+`"`) {
			t.Errorf("after reboot the inventory lacks %s", h)
		}
	}
	v2.powerOff(90 * time.Second)
	// nothing ever left through the monitor NIC, across both boots
	time.Sleep(200 * time.Millisecond)
	if n := transmitted.Load(); n != 0 {
		t.Errorf("the monitor NIC transmitted %d frames", n)
	} else {
		t.Logf("%s: the monitor NIC transmitted 0 frames over both boots", m.arch)
	}
}
