package boottest

// The Raspberry Pi image under qemu's raspi3b machine (a Pi 3 Model B: four
// Cortex-A53, 1 GiB, the SD host, DWC2 USB). qemu does not run the Pi's GPU
// firmware (start.elf reads config.txt and cmdline.txt and loads the
// kernel): the test does that part itself, taking the kernel, initramfs,
// device tree and command line from the image's FAT partition, as the
// firmware would. Both NICs are USB devices on the DWC2 controller, as on
// a real Pi 3 (its own Ethernet is a LAN9514/smsc95xx on USB port 1.1):
// port 1.1 is the board's port (management, eth0), port 1.2 a USB adapter
// (monitor, eth1). qemu emulates them as CDC Ethernet, not smsc95xx: the
// Pi's own USB NIC driver is not exercised.

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// fatFile copies one file out of the image's boot partition (mtools).
func fatFile(t *testing.T, img string, off int64, name, dst string) {
	t.Helper()
	cmd := exec.Command("mcopy", "-n", "-i", fmt.Sprintf("%s@@%d", img, off), "::"+name, dst)
	cmd.Env = append(os.Environ(), "MTOOLS_SKIP_CHECK=1")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("mcopy %s: %v %s", name, err, b)
	}
}

func startRaspi(t *testing.T, img, kernel, initrd, dtb, cmdline string, txSink *net.UDPConn) *vm {
	sinkPort := txSink.LocalAddr().(*net.UDPAddr).Port
	monPort := freePort(t, "udp")
	v := &vm{t: t, console: &syncBuf{}, done: make(chan error, 1),
		http: fmt.Sprintf("127.0.0.1:%d", freePort(t, "tcp")), dash: fmt.Sprintf("127.0.0.1:%d", freePort(t, "tcp")),
		monitor:  filepath.Join(t.TempDir(), "hmp.sock"),
		guestMon: &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: monPort}}
	args := []string{"-n", "10", "qemu-system-aarch64", "-M", "raspi3b", "-kernel", kernel, "-initrd", initrd, "-dtb", dtb,
		"-append", cmdline, "-display", "none", "-serial", "null", "-serial", "stdio", "-no-reboot",
		"-monitor", "unix:" + v.monitor + ",server,nowait",
		"-drive", "file=" + img + ",if=sd,format=raw",
		// USB port 1.1: the board's Ethernet (a Raspberry Pi Foundation MAC), management
		"-netdev", fmt.Sprintf("user,id=mgmt,hostfwd=tcp:%s-:9180,hostfwd=tcp:%s-:8443", v.http, v.dash),
		"-device", "usb-net,netdev=mgmt,mac=b8:27:eb:12:34:56",
		// USB port 1.2: a USB Ethernet adapter, the monitor (SPAN) port
		"-netdev", fmt.Sprintf("socket,id=mon,udp=127.0.0.1:%d,localaddr=127.0.0.1:%d", sinkPort, monPort),
		"-device", "usb-net,netdev=mon,mac=00:e0:4c:68:00:01"}
	v.cmd = exec.Command("nice", args...)
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
			t.Logf("console of raspi3b:\n%s", v.console.String())
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

func TestRaspberryPi(t *testing.T) {
	if os.Getenv("OTWATCH_IMAGE_TEST") != "1" {
		t.Skip("set OTWATCH_IMAGE_TEST=1 to boot the images under qemu (after firmware/build-image.sh)")
	}
	if strings.Contains(" "+env("OTWATCH_IMAGE_ARCHES", "arm64 armv7 rpi")+" ", " rpi ") == false {
		t.Skip("rpi not in OTWATCH_IMAGE_ARCHES")
	}
	dir := env("OTWATCH_IMAGE_DIR", "../../dist")
	src := filepath.Join(dir, "otwatch-rpi-arm64.img")
	if _, err := exec.LookPath("qemu-system-aarch64"); err != nil {
		t.Fatal("qemu-system-aarch64 not installed (Debian: qemu-system-arm)")
	}
	if _, err := exec.LookPath("mcopy"); err != nil {
		t.Fatal("mcopy not installed (Debian: mtools)")
	}
	corpus := env("OTWATCH_CORPUS", "../../../shared/corpus")
	captures := []string{filepath.Join(corpus, "OISF__suricata-verify/tests/modbus/modbus.pcap"),
		filepath.Join(corpus, "cisagov__icsnpp-s7comm/tests/traces/snap7.pcap")}
	for _, c := range captures {
		if _, err := os.Stat(c); err != nil {
			t.Skipf("corpus capture missing: %v", err)
		}
	}
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatalf("%v: run ARCHES=rpi firmware/build-image.sh first", err)
	}
	// the Pi's boot ROM reads the MBR: partition 1 must be the FAT one
	e := b[446:]
	parts := partitions(t, src)
	boot := parts["otwatch-boot"]
	if e[4] != 0x0e || int64(binary.LittleEndian.Uint32(e[8:]))*512 != boot[0] || int64(binary.LittleEndian.Uint32(e[12:]))*512 != boot[1] ||
		b[446+16+4] != 0xEE {
		t.Errorf("hybrid MBR: entry 1 % x, entry 2 % x", b[446:462], b[462:478])
	}
	work := t.TempDir()
	img := filepath.Join(work, "sd.img")
	if err := os.WriteFile(img, b, 0o644); err != nil {
		t.Fatal(err)
	}
	// an SD card's size is a power of two (qemu insists): 256 MiB
	os.Truncate(img, 256<<20)
	files := map[string]string{}
	for _, f := range []string{"config.txt", "cmdline.txt", "vmlinuz", "initrd.img", "bcm2837-rpi-3-b.dtb", "bootcode.bin", "start.elf", "fixup.dat", "start4.elf"} {
		files[f] = filepath.Join(work, f)
		fatFile(t, img, boot[0], f, files[f])
	}
	config, _ := os.ReadFile(files["config.txt"])
	for _, want := range []string{"arm_64bit=1", "kernel=vmlinuz", "initramfs initrd.img", "upstream_kernel=1"} {
		if !strings.Contains(string(config), want) {
			t.Errorf("config.txt lacks %q", want)
		}
	}
	cmdline, _ := os.ReadFile(files["cmdline.txt"])
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

	v := startRaspi(t, img, files["vmlinuz"], files["initrd.img"], files["bcm2837-rpi-3-b.dtb"], strings.TrimSpace(string(cmdline)), sink)
	took := v.waitHealthy(6 * time.Minute)
	t.Logf("raspi3b first boot (kernel, initramfs, device tree and command line from the image's FAT partition): /healthz 200 after %s", took.Round(100*time.Millisecond))
	if mm := regexp.MustCompile(`boot to capture start: (\S+) since stage 2 \(kernel uptime (\S+)\)`).FindStringSubmatch(v.console.String()); mm != nil {
		t.Logf("raspi3b: kernel start to capture start %s (stage 2 took %s)", mm[2], mm[1])
	}
	con := v.console.String()
	for _, want := range []string{"Machine model: Raspberry Pi 3 Model B", "mmcblk0", "first boot: formatting",
		"first boot: data partition /dev/mmcblk0p5 grown", "slot a (", "monitor interface eth1: up, promiscuous, no ARP, no IPv6, no address",
		"management eth0: 10.0.2.15", "cdc_ether"} {
		if !strings.Contains(con, want) {
			t.Errorf("console lacks %q", want)
		}
	}
	tok := tokenRE.FindStringSubmatch(con)
	if tok == nil {
		t.Fatal("no setup token on the console")
	}
	r := v.replay(captures)
	deadline := time.Now().Add(90 * time.Second)
	var packets float64
	for time.Now().Before(deadline) {
		packets, _ = metric(v.get("/metrics"), "otwatch_packets_total")
		if int(packets) >= r.frames {
			break
		}
		time.Sleep(time.Second)
	}
	if int(packets) < r.frames*9/10 {
		t.Errorf("otwatch counted %v packets of %d replayed into the USB NIC", packets, r.frames)
	}
	inv := v.inventory(tok[1])
	missing := 0
	for h := range r.hosts {
		if !strings.Contains(inv, `"`+h+`"`) {
			missing++
		}
	}
	if missing > 0 {
		t.Errorf("%d of %d replayed Modbus/S7 endpoints missing from the inventory", missing, len(r.hosts))
	}
	keys, _ := metric(v.get("/metrics"), "otwatch_baseline_keys")
	t.Logf("raspi3b: replayed %d frames into eth1 (USB), otwatch counted %v, %d ICS endpoints in the inventory, %v baseline keys", r.frames, packets, len(r.hosts), keys)
	// raspi3b has no power button: the power is cut once the next
	// checkpoint (every minute on the appliance) has saved the state
	saved := lastSaved(v)
	for i := 0; i < 90 && lastSaved(v) == saved; i++ {
		time.Sleep(time.Second)
	}
	v.cmd.Process.Kill()
	<-v.done

	v2 := startRaspi(t, img, files["vmlinuz"], files["initrd.img"], files["bcm2837-rpi-3-b.dtb"], strings.TrimSpace(string(cmdline)), sink)
	took = v2.waitHealthy(6 * time.Minute)
	con2 := v2.console.String()
	if !strings.Contains(con2, "data partition /dev/mmcblk0p5: ext4") || !cleanRE.MatchString(con2) {
		t.Errorf("second boot after a power cut: data partition or database not reused cleanly")
	}
	keys2, _ := metric(v2.get("/metrics"), "otwatch_baseline_keys")
	if keys2 != keys || keys == 0 {
		t.Errorf("baseline keys %v before the power cut, %v after", keys, keys2)
	}
	t.Logf("raspi3b second boot after a power cut: healthy after %s, %v baseline keys", took.Round(100*time.Millisecond), keys2)
	v2.cmd.Process.Kill()
	<-v2.done
	if n := transmitted.Load(); n != 0 {
		t.Errorf("the monitor NIC transmitted %d frames", n)
	}
}

// lastSaved is /healthz's time of the last checkpoint.
func lastSaved(v *vm) string {
	var h struct {
		LastSaved string `json:"last_saved"`
	}
	json.Unmarshal([]byte(v.get("/healthz")), &h)
	return h.LastSaved
}
