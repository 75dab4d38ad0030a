//go:build linux

package main

import (
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/otwatch/otwatch/cmd/otwatch/config"
	"github.com/otwatch/otwatch/firmware/update"
	"github.com/otwatch/otwatch/protocols/live"
)

var logger = log.New(os.Stderr, "otwatch-init: ", 0)

func logf(format string, args ...any) { logger.Printf(format, args...) }

// fatal never returns: PID 1 must not exit (the kernel would panic), so it
// says what went wrong, waits for the operator to read it and reboots.
func fatal(format string, args ...any) {
	logf("FATAL: "+format, args...)
	logf("rebooting in 30 s")
	time.Sleep(30 * time.Second)
	unix.Sync()
	unix.Reboot(unix.LINUX_REBOOT_CMD_RESTART)
	select {}
}

func unmount(target string) error { return unix.Unmount(target, 0) }

func doMount(m Mount) error {
	if m.Mkdir {
		if err := os.MkdirAll(m.Target, 0o755); err != nil {
			return err
		}
	}
	if err := unix.Mount(m.Source, m.Target, m.FSType, m.Flags, m.Data); err != nil {
		return fmt.Errorf("mount %s on %s (%s): %w", m.Source, m.Target, m.FSType, err)
	}
	return nil
}

// mounted reports whether target is a mount point (its device differs from
// its parent's).
func mounted(target string) bool {
	var a, b unix.Stat_t
	if unix.Stat(target, &a) != nil || unix.Stat(filepath.Dir(target), &b) != nil {
		return false
	}
	return a.Dev != b.Dev
}

// console points stdin/stdout/stderr at /dev/console.
func console() {
	f, err := os.OpenFile("/dev/console", os.O_RDWR, 0)
	if err != nil {
		return
	}
	for _, fd := range []int{0, 1, 2} {
		unix.Dup2(int(f.Fd()), fd)
	}
	f.Close()
}

func readCmdline() Cmdline {
	b, _ := os.ReadFile("/proc/cmdline")
	return parseCmdline(string(b))
}

// ---- stage 1: initramfs ----

func stage1() {
	start := time.Now()
	for _, m := range earlyMounts() {
		if err := doMount(m); err != nil && !errors.Is(err, unix.EBUSY) {
			fatal("%v", err)
		}
	}
	console()
	cmd := readCmdline()
	logf("stage 1 (initramfs), build %s", buildEpoch)
	loadModules("/lib/modules")
	env := chooseRoot(cmd)
	logf("root mounted read-only (%s)", time.Since(start).Round(time.Millisecond))
	freeInitramfs()
	for _, d := range []string{"/dev", "/proc", "/sys"} {
		if err := unix.Mount(d, "/newroot"+d, "", unix.MS_MOVE, ""); err != nil {
			fatal("moving %s: %v", d, err)
		}
	}
	if err := unix.Chdir("/newroot"); err != nil {
		fatal("%v", err)
	}
	if err := unix.Mount(".", "/", "", unix.MS_MOVE, ""); err != nil {
		fatal("switching root: %v", err)
	}
	if err := unix.Chroot("."); err != nil {
		fatal("chroot: %v", err)
	}
	unix.Chdir("/")
	err := unix.Exec("/sbin/init", []string{"/sbin/init"}, append(os.Environ(), env...))
	fatal("exec /sbin/init: %v", err)
}

// loadModules loads, in order, the modules dir/modules.load lists (the
// build resolved their dependencies). Missing hardware is not an error: a
// driver simply binds to nothing.
func loadModules(dir string) {
	list, err := os.ReadFile(filepath.Join(dir, "modules.load"))
	if err != nil {
		logf("no module list: %v", err)
		return
	}
	n := 0
	for _, rel := range parseModuleList(list) {
		f, err := os.Open(filepath.Join(dir, rel))
		if err != nil {
			logf("module %s: %v", rel, err)
			continue
		}
		err = unix.FinitModule(int(f.Fd()), "", 0)
		f.Close()
		if err != nil && !errors.Is(err, unix.EEXIST) {
			logf("module %s: %v", rel, err)
			continue
		}
		n++
	}
	logf("%d kernel modules loaded", n)
}

func blockUevents() map[string][]byte {
	out := map[string][]byte{}
	ents, _ := os.ReadDir("/sys/class/block")
	for _, e := range ents {
		if b, err := os.ReadFile(filepath.Join("/sys/class/block", e.Name(), "uevent")); err == nil {
			out[e.Name()] = b
		}
	}
	return out
}

// waitPartition waits for the partition named label (devices probe
// asynchronously) and makes sure its device node exists.
func waitPartition(label string, timeout time.Duration) string {
	deadline := time.Now().Add(timeout)
	for {
		if dev := findPartition(blockUevents(), label); dev != "" {
			if _, err := os.Stat(dev); err == nil {
				return dev
			}
		}
		if time.Now().After(deadline) {
			return ""
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// freeInitramfs deletes the initramfs files (kernel modules, this binary)
// before switching root, as switch_root does: they would otherwise hold RAM
// for the appliance's lifetime. It stays on the initramfs device.
func freeInitramfs() {
	var root unix.Stat_t
	if unix.Stat("/", &root) != nil {
		return
	}
	ents, _ := os.ReadDir("/")
	for _, e := range ents {
		p := "/" + e.Name()
		var st unix.Stat_t
		if unix.Lstat(p, &st) != nil || st.Dev != root.Dev {
			continue // a mount point: proc, sys, dev, newroot
		}
		os.RemoveAll(p)
	}
}

// ---- stage 2: the appliance ----

type appliance struct {
	cmd     Cmdline
	cfg     Appliance
	reap    *reaper
	built   time.Time
	dataDev string

	mu       sync.Mutex
	stopping bool
	children map[string]int // name -> pid of supervised processes

	// A/B (ab.go): otwatch's current run and its exits since boot, for
	// the trial; a reboot asked for by the updater or the trial watch.
	upd            *updates
	otwatchStarted time.Time
	otwatchExits   int
	reboot         chan string
	snapshotState  bool   // copy the database before rebooting into a new slot
	dbPath         string // otwatch's state database
}

// requestReboot asks stage 2's main loop for a clean reboot; snapshot
// copies the database first (an update is about to run).
func (a *appliance) requestReboot(why string, snapshot bool) {
	a.mu.Lock()
	a.snapshotState = a.snapshotState || snapshot
	a.mu.Unlock()
	select {
	case a.reboot <- why:
	default:
	}
}

func stage2() {
	start := time.Now()
	for _, m := range earlyMounts() {
		if !mounted(m.Target) {
			if err := doMount(m); err != nil {
				logf("%v", err)
			}
		}
	}
	console()
	epoch, _ := strconv.ParseInt(buildEpoch, 10, 64)
	a := &appliance{cmd: readCmdline(), reap: newReaper(), built: time.Unix(epoch, 0).UTC(), children: map[string]int{},
		reboot: make(chan string, 1)}
	logf("stage 2: otwatch appliance, image built %s", a.built.Format(time.RFC3339))
	// Ctrl-Alt-Del sends SIGINT to PID 1 instead of an immediate reboot.
	unix.Reboot(unix.LINUX_REBOOT_CMD_CAD_OFF)
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, unix.SIGTERM, unix.SIGINT, unix.SIGUSR1, unix.SIGUSR2, unix.SIGPWR)
	for _, m := range runtimeMounts() {
		if err := doMount(m); err != nil {
			logf("%v", err)
		}
	}
	a.setClock()
	a.mountData()
	a.cfg = a.loadAppliance()
	if err := unix.Sethostname([]byte(a.cfg.Hostname)); err != nil {
		logf("hostname: %v", err)
	}
	otwCfg, err := config.Load(otwatchConf)
	if err != nil {
		logf("%v", err) // otwatch itself reports a bad file when it starts
	}
	var monitors []string
	a.dbPath = config.DefaultDatabase
	if otwCfg != nil {
		monitors, a.dbPath = otwCfg.Interfaces, otwCfg.Database.Path
	}
	a.startUpdates(version, epoch, a.dbPath, healthAddr(otwCfg))
	a.network(monitors)
	logf("boot to capture start: %s since stage 2 (kernel uptime %s)", time.Since(start).Round(time.Millisecond), uptime())
	power := make(chan string, 1)
	go watchPowerButton(power)
	go a.supervise("otwatch", a.otwatchArgs(), true)
	if a.cmd.Shell {
		go a.supervise("shell", []string{busybox, "sh"}, false)
	}
	var how string
	select {
	case s := <-sigs:
		how = map[os.Signal]string{unix.SIGINT: "reboot", unix.SIGUSR1: "reboot"}[s]
		if how == "" {
			how = "poweroff"
		}
		logf("%v received: %s", s, how)
	case how = <-power:
		logf("power button: %s", how)
	case why := <-a.reboot:
		how = "reboot"
		logf("%s: reboot", why)
	}
	a.shutdown(how)
}

// setClock sets the system clock from the RTC, or from the build time when
// there is no RTC or it is older than the image (a flat battery).
func (a *appliance) setClock() {
	var rtc time.Time
	var rtcErr error
	if f, err := os.Open("/dev/rtc0"); err == nil {
		t, err := unix.IoctlGetRTCTime(int(f.Fd()))
		f.Close()
		if err == nil {
			rtc = time.Date(int(t.Year)+1900, time.Month(t.Mon+1), int(t.Mday), int(t.Hour), int(t.Min), int(t.Sec), 0, time.UTC)
		}
		rtcErr = err
	} else {
		rtcErr = err
	}
	now, src := clockPlan(rtc, rtcErr, a.built)
	tv := unix.NsecToTimeval(now.UnixNano())
	if err := unix.Settimeofday(&tv); err != nil {
		logf("clock: %v", err)
		return
	}
	logf("clock set from the %s: %s", src, now.Format(time.RFC3339))
}

func writeRTC(t time.Time) {
	f, err := os.OpenFile("/dev/rtc0", os.O_RDWR, 0)
	if err != nil {
		return
	}
	defer f.Close()
	t = t.UTC()
	unix.IoctlSetRTCTime(int(f.Fd()), &unix.RTCTime{Sec: int32(t.Second()), Min: int32(t.Minute()), Hour: int32(t.Hour()),
		Mday: int32(t.Day()), Mon: int32(t.Month()) - 1, Year: int32(t.Year()) - 1900})
}

// mountData mounts the data partition, formatting it when it is empty.
// Without a usable data partition the appliance still monitors, from a
// RAM file system, and says loudly that nothing will be kept.
func (a *appliance) mountData() {
	dev := waitPartition(a.cmd.DataLabel, 10*time.Second)
	fallback := func(why string) {
		logf("WARNING: %s: state, configuration and certificates live in RAM and are lost at power-off", why)
		doMount(Mount{Source: "tmpfs", Target: dataDir, FSType: "tmpfs", Flags: msNosuid | msNodev | msNoexec, Data: "mode=0755,size=64m"})
	}
	if dev == "" {
		fallback("no partition named " + a.cmd.DataLabel)
		return
	}
	head := make([]byte, 64<<10)
	f, err := os.Open(dev)
	if err == nil {
		_, err = io.ReadFull(f, head)
		f.Close()
	}
	if err != nil {
		fallback(fmt.Sprintf("reading %s: %v", dev, err))
		return
	}
	state := classifyData(head)
	logf("data partition %s: %s", dev, state)
	switch state {
	case dataUnknown:
		fallback(dev + " holds something that is not an ext4 file system; not formatting it (erase it with zeroes to have it formatted)")
		return
	case dataEmpty:
		if a.cmd.NoDataFmt {
			fallback("otwatch.noformat given")
			return
		}
		a.growData(dev)
		logf("first boot: formatting %s as ext4", dev)
		if code := a.reap.run(mkfsArgs(dev), nil); code != 0 {
			fallback(fmt.Sprintf("mke2fs exited %d", code))
			return
		}
	}
	if err := doMount(dataMount(dev)); err != nil {
		fallback(err.Error())
		return
	}
	a.dataDev = dev
}

// growData extends the (empty) data partition to the end of its disk: the
// image carries a small one, the eMMC or SD card is larger. The kernel is
// told with BLKPG (the root partition on the same disk is mounted, so the
// whole table cannot be re-read).
func (a *appliance) growData(dev string) {
	name := filepath.Base(dev)
	sysPart, err := filepath.EvalSymlinks("/sys/class/block/" + name)
	if err != nil {
		logf("grow %s: %v", dev, err)
		return
	}
	disk := filepath.Base(filepath.Dir(sysPart))
	sizeText, err := os.ReadFile("/sys/class/block/" + disk + "/size") // 512-byte units
	if err != nil {
		logf("grow %s: %v", dev, err)
		return
	}
	sectors, err := strconv.ParseUint(strings.TrimSpace(string(sizeText)), 10, 64)
	if err != nil {
		logf("grow %s: disk size: %v", dev, err)
		return
	}
	f, err := os.OpenFile("/dev/"+disk, os.O_RDWR, 0)
	if err != nil {
		logf("grow %s: %v", dev, err)
		return
	}
	defer f.Close()
	g, err := growGPT(f, sectors, a.cmd.DataLabel)
	if err != nil {
		logf("grow %s: %v; keeping its size", dev, err)
		return
	}
	if g == nil {
		return
	}
	f.Sync()
	p := unix.BlkpgPartition{Start: int64(g.First) * sector, Length: int64(g.Last-g.First+1) * sector, Pno: int32(g.Index + 1)}
	arg := unix.BlkpgIoctlArg{Op: unix.BLKPG_RESIZE_PARTITION, Datalen: int32(unsafe.Sizeof(p)), Data: (*byte)(unsafe.Pointer(&p))}
	const blkpg = 0x1269 // _IO(0x12, 105)
	if _, _, errno := unix.Syscall(unix.SYS_IOCTL, f.Fd(), blkpg, uintptr(unsafe.Pointer(&arg))); errno != 0 {
		logf("grow %s: the table is grown but the kernel was not told (%v): the new size applies after a reboot", dev, errno)
		return
	}
	logf("first boot: data partition %s grown from %d to %d MiB (the whole disk)", dev,
		(g.OldLast-g.First+1)*sector>>20, (g.Last-g.First+1)*sector>>20)
}

// loadAppliance prepares /data (first boot: copy the default configuration
// files) and reads appliance.conf.
func (a *appliance) loadAppliance() Appliance {
	for _, d := range []string{dataDir + "/etc", dataDir + "/otwatch"} {
		os.MkdirAll(d, 0o750)
	}
	for dst, src := range map[string]string{applianceConf: defaultAppConf, otwatchConf: defaultOtwConf} {
		if _, err := os.Stat(dst); errors.Is(err, os.ErrNotExist) {
			if b, err := os.ReadFile(src); err == nil {
				os.WriteFile(dst, b, 0o640)
				logf("first boot: %s created from %s", dst, src)
			}
		}
	}
	// otwatch runs unprivileged: its state directory and configuration are its own.
	filepath.WalkDir(dataDir+"/otwatch", func(p string, d os.DirEntry, err error) error {
		if err == nil {
			os.Lchown(p, otwatchUID, otwatchUID)
		}
		return nil
	})
	os.Chown(dataDir+"/etc", 0, otwatchUID)
	os.Chown(otwatchConf, 0, otwatchUID)
	b, err := os.ReadFile(applianceConf)
	if err != nil {
		logf("%v: using DHCP on eth0", err)
		return DefaultAppliance()
	}
	cfg, err := ParseAppliance(b)
	if err != nil {
		logf("%v\nusing DHCP on eth0 instead", err)
		return DefaultAppliance()
	}
	return cfg
}

func waitInterfaces(names []string, timeout time.Duration) {
	deadline := time.Now().Add(timeout)
	for _, n := range names {
		for {
			if _, err := net.InterfaceByName(n); err == nil || time.Now().After(deadline) {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
}

// network makes the monitor interfaces silent first (IPv6 off before the
// link comes up, no ARP, no address), then addresses the management side.
func (a *appliance) network(monitors []string) {
	mgmt := a.cfg.MgmtInterface
	waitInterfaces(append([]string{mgmt}, monitors...), 10*time.Second)
	for _, m := range monitors {
		if m == mgmt {
			logf("ERROR: %s is both the management and a monitor interface; leaving it unprepared", m)
			continue
		}
		if err := live.Prepare(m); err != nil {
			logf("monitor %v", err)
			continue
		}
		logf("monitor interface %s: up, promiscuous, no ARP, no IPv6, no address", m)
	}
	a.reap.run([]string{busybox, "ip", "addr", "add", "127.0.0.1/8", "dev", "lo"}, nil)
	a.reap.run([]string{busybox, "ip", "link", "set", "lo", "up"}, nil)
	os.WriteFile("/run/resolv.conf", nil, 0o644)
	switch a.cfg.MgmtMode {
	case "static":
		p := a.cfg.MgmtAddress
		a.reap.run([]string{busybox, "ip", "addr", "add", p.String(), "dev", mgmt}, nil)
		a.reap.run([]string{busybox, "ip", "link", "set", mgmt, "up"}, nil)
		if a.cfg.MgmtGateway.IsValid() {
			a.reap.run([]string{busybox, "ip", "route", "add", "default", "via", a.cfg.MgmtGateway.String(), "dev", mgmt}, nil)
		}
		var resolv strings.Builder
		for _, d := range a.cfg.DNS {
			fmt.Fprintf(&resolv, "nameserver %s\n", d)
		}
		os.WriteFile("/run/resolv.conf", []byte(resolv.String()), 0o644)
		logf("management interface %s: %s (static)", mgmt, p)
	default:
		// udhcpc stays in the foreground to renew the lease; the script sets
		// the address, the default route and /run/resolv.conf.
		go a.supervise("udhcpc", []string{busybox, "udhcpc", "-f", "-i", mgmt, "-s", udhcpcScript, "-x", "hostname:" + a.cfg.Hostname, "-t", "4", "-T", "2", "-A", "10"}, false)
		logf("management interface %s: DHCP", mgmt)
	}
	if len(a.cfg.NTPServers) > 0 {
		go a.ntp(mgmt)
	}
}

// ntp asks the configured servers, through the management interface only
// (SO_BINDTODEVICE), until one answers, then sets the clock and the RTC,
// and again every 6 hours.
func (a *appliance) ntp(iface string) {
	for {
		ok := false
		for _, srv := range a.cfg.NTPServers {
			t, err := sntpQuery(srv, iface)
			if err != nil {
				if a.cmd.Debug {
					logf("ntp %s: %v", srv, err)
				}
				continue
			}
			tv := unix.NsecToTimeval(t.UnixNano())
			if err := unix.Settimeofday(&tv); err == nil {
				writeRTC(t)
				logf("clock set from NTP %s: %s", srv, t.Format(time.RFC3339))
				ok = true
				break
			}
		}
		if ok {
			time.Sleep(6 * time.Hour)
		} else {
			time.Sleep(30 * time.Second)
		}
	}
}

func sntpQuery(server, iface string) (time.Time, error) {
	if _, _, err := net.SplitHostPort(server); err != nil {
		server = net.JoinHostPort(server, "123")
	}
	d := net.Dialer{Timeout: 5 * time.Second, Control: func(network, address string, c syscall.RawConn) error {
		var serr error
		c.Control(func(fd uintptr) { serr = unix.BindToDevice(int(fd), iface) })
		return serr
	}}
	c, err := d.Dial("udp", server)
	if err != nil {
		return time.Time{}, err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	sent := time.Now()
	if _, err := c.Write(sntpRequest()); err != nil {
		return time.Time{}, err
	}
	buf := make([]byte, 128)
	n, err := c.Read(buf)
	if err != nil {
		return time.Time{}, err
	}
	t, err := parseSNTPReply(buf[:n])
	if err != nil {
		return t, err
	}
	return t.Add(time.Since(sent) / 2), nil
}

func (a *appliance) otwatchArgs() []string {
	return []string{otwatchBin, "run", "--config", otwatchConf}
}

// supervise runs argv until shutdown, restarting it with backoff. otwatch
// runs as an unprivileged user with only CAP_NET_RAW and CAP_NET_ADMIN.
func (a *appliance) supervise(name string, argv []string, unprivileged bool) {
	b := Backoff{Min: time.Second, Max: time.Minute, Reset: 5 * time.Minute}
	var attr *syscall.SysProcAttr
	if unprivileged {
		attr = &syscall.SysProcAttr{
			Credential:  &syscall.Credential{Uid: otwatchUID, Gid: otwatchUID, Groups: []uint32{}},
			AmbientCaps: []uintptr{unix.CAP_NET_RAW, unix.CAP_NET_ADMIN},
			Setsid:      true,
		}
	}
	for {
		a.mu.Lock()
		if a.stopping {
			a.mu.Unlock()
			return
		}
		started := time.Now()
		pid, done, err := a.reap.start(argv, attr)
		if err == nil {
			a.children[name] = pid
			if name == "otwatch" {
				a.otwatchStarted = started
			}
		}
		a.mu.Unlock()
		var status string
		if err != nil {
			status = err.Error()
		} else {
			ws := <-done
			status = describe(ws)
		}
		a.mu.Lock()
		delete(a.children, name)
		stopping := a.stopping
		if name == "otwatch" {
			a.otwatchStarted = time.Time{}
			a.otwatchExits++
		}
		a.mu.Unlock()
		if stopping {
			return
		}
		wait := b.Next(time.Since(started))
		logf("%s %s after %s; restart %d in %s", name, status, time.Since(started).Round(time.Millisecond), b.Restarts, wait)
		os.WriteFile("/run/"+name+".restarts", []byte(strconv.Itoa(b.Restarts)+"\n"), 0o644)
		time.Sleep(wait)
	}
}

func describe(ws unix.WaitStatus) string {
	switch {
	case ws.Exited():
		return fmt.Sprintf("exited with status %d", ws.ExitStatus())
	case ws.Signaled():
		return fmt.Sprintf("killed by %v", ws.Signal())
	}
	return fmt.Sprintf("stopped (%#x)", uint32(ws))
}

// shutdown stops otwatch (SIGTERM: it flushes and saves its state; SIGKILL
// after 30 s), then the rest, unmounts the data partition and powers off
// or reboots.
func (a *appliance) shutdown(how string) {
	a.mu.Lock()
	a.stopping = true
	children := map[string]int{}
	for k, v := range a.children {
		children[k] = v
	}
	a.mu.Unlock()
	if pid, ok := children["otwatch"]; ok {
		unix.Kill(pid, unix.SIGTERM)
		if !a.reap.waitGone(pid, 30*time.Second) {
			logf("otwatch did not stop within 30 s: killing it")
			unix.Kill(pid, unix.SIGKILL)
			a.reap.waitGone(pid, 5*time.Second)
		} else {
			logf("otwatch stopped")
		}
	}
	a.mu.Lock()
	snapshot := a.snapshotState
	a.mu.Unlock()
	if snapshot && a.dataDev != "" {
		// the database as otwatch saved it, in case the new version
		// migrates it and is then rolled back (update.CheckState)
		if err := update.SnapshotState(a.dbPath, update.Dir); err != nil {
			logf("copying the state database before the update: %v", err)
		} else {
			logf("state database copied to %s before the update", update.Dir)
		}
	}
	unix.Kill(-1, unix.SIGTERM) // everything else
	time.Sleep(500 * time.Millisecond)
	unix.Kill(-1, unix.SIGKILL)
	unix.Sync()
	if a.dataDev != "" {
		if err := unix.Unmount(dataDir, 0); err != nil {
			logf("unmounting %s: %v; remounting read-only", dataDir, err)
			unix.Mount("", dataDir, "", unix.MS_REMOUNT|unix.MS_RDONLY, "")
		} else {
			logf("%s unmounted cleanly", dataDir)
		}
	}
	unix.Sync()
	cmd := unix.LINUX_REBOOT_CMD_POWER_OFF
	if how == "reboot" {
		cmd = unix.LINUX_REBOOT_CMD_RESTART
	}
	logf("%s", how)
	unix.Reboot(cmd)
	select {}
}

// watchPowerButton reads every input device for a KEY_POWER press (the
// gpio-keys power button of qemu virt and many boards; ACPI power buttons
// appear as input devices too).
func watchPowerButton(out chan<- string) {
	seen := map[string]bool{}
	for {
		ents, _ := os.ReadDir("/dev/input")
		for _, e := range ents {
			p := "/dev/input/" + e.Name()
			if seen[p] || !strings.HasPrefix(e.Name(), "event") {
				continue
			}
			seen[p] = true
			go func() {
				f, err := os.Open(p)
				if err != nil {
					return
				}
				defer f.Close()
				size := inputEventSize()
				buf := make([]byte, size*16)
				for {
					n, err := f.Read(buf)
					if err != nil {
						return
					}
					if powerPressed(buf[:n-n%size], size) {
						select {
						case out <- "poweroff":
						default:
						}
					}
				}
			}()
		}
		time.Sleep(2 * time.Second)
	}
}

func uptime() string {
	b, err := os.ReadFile("/proc/uptime")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return "?"
	}
	return f[0] + "s"
}
