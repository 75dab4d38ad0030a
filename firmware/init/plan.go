package main

// The pure half of the init: configuration, mount plans, backoff and the
// small parsers. Everything here is tested without booting.

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"net/netip"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Partition names (GPT PARTLABEL) the image build writes and the init looks
// for: boot (kernel, initramfs, boot script), the persistent data
// partition; the two root slots and their boot control record are named in
// firmware/slots. rootLabel is the single root of images made before the
// A/B layout.
const (
	bootLabel = "otwatch-boot"
	rootLabel = "otwatch-root"
	dataLabel = "otwatch-data"
)

// Paths on the running appliance.
const (
	dataDir        = "/data"
	applianceConf  = dataDir + "/etc/appliance.conf"
	otwatchConf    = dataDir + "/etc/otwatch.conf"
	defaultAppConf = "/etc/otwatch/appliance.conf.default"
	defaultOtwConf = "/etc/otwatch/otwatch.conf.default"
	otwatchBin     = "/usr/bin/otwatch"
	busybox        = "/bin/busybox"
	mke2fs         = "/sbin/mke2fs"
	udhcpcScript   = "/usr/share/otwatch/udhcpc.script"
	otwatchUID     = 1000 // the unprivileged user otwatch runs as
)

// Appliance is /data/etc/appliance.conf: what the init itself needs and
// otwatch's configuration does not hold (the management interface's
// addressing, NTP, host name).
type Appliance struct {
	Hostname      string
	MgmtInterface string
	MgmtMode      string       // "dhcp" or "static"
	MgmtAddress   netip.Prefix // static
	MgmtGateway   netip.Addr   // static, optional
	DNS           []netip.Addr // static, optional
	NTPServers    []string     // host or host:port; queried on the management interface only
}

// DefaultAppliance is used when the file is missing: DHCP on eth0.
func DefaultAppliance() Appliance {
	return Appliance{Hostname: "otwatch", MgmtInterface: "eth0", MgmtMode: "dhcp"}
}

// ParseAppliance reads "key = value" lines; # starts a comment. Unknown
// keys and bad values are errors naming the line, all of them at once.
func ParseAppliance(data []byte) (Appliance, error) {
	a := DefaultAppliance()
	var errs []string
	seen := map[string]int{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	n := 0
	for sc.Scan() {
		n++
		line := sc.Text()
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		key, val, ok := strings.Cut(line, "=")
		key, val = strings.TrimSpace(key), strings.TrimSpace(val)
		fail := func(format string, args ...any) {
			errs = append(errs, fmt.Sprintf("appliance.conf:%d: %s: %s", n, key, fmt.Sprintf(format, args...)))
		}
		if !ok || key == "" {
			errs = append(errs, fmt.Sprintf("appliance.conf:%d: want key = value", n))
			continue
		}
		if prev, dup := seen[key]; dup {
			fail("given twice (first on line %d)", prev)
			continue
		}
		seen[key] = n
		switch key {
		case "hostname":
			if !validHostname(val) {
				fail("not a host name: %q", val)
			}
			a.Hostname = val
		case "mgmt.interface":
			if !validIfName(val) {
				fail("not an interface name: %q", val)
			}
			a.MgmtInterface = val
		case "mgmt.mode":
			if val != "dhcp" && val != "static" {
				fail("want dhcp or static, got %q", val)
			}
			a.MgmtMode = val
		case "mgmt.address":
			p, err := netip.ParsePrefix(val)
			if err != nil || !p.Addr().Is4() && !p.Addr().Is6() {
				fail("want ADDRESS/PREFIX (192.0.2.10/24), got %q", val)
			}
			a.MgmtAddress = p
		case "mgmt.gateway":
			ip, err := netip.ParseAddr(val)
			if err != nil {
				fail("not an IP address: %q", val)
			}
			a.MgmtGateway = ip
		case "dns":
			for _, f := range strings.Fields(strings.ReplaceAll(val, ",", " ")) {
				ip, err := netip.ParseAddr(f)
				if err != nil {
					fail("not an IP address: %q", f)
					continue
				}
				a.DNS = append(a.DNS, ip)
			}
		case "ntp":
			a.NTPServers = strings.Fields(strings.ReplaceAll(val, ",", " "))
		default:
			fail("unknown key (known: hostname, mgmt.interface, mgmt.mode, mgmt.address, mgmt.gateway, dns, ntp)")
		}
	}
	if a.MgmtMode == "static" && !a.MgmtAddress.IsValid() {
		errs = append(errs, "appliance.conf: mgmt.mode static needs mgmt.address")
	}
	if a.MgmtMode == "dhcp" && a.MgmtAddress.IsValid() {
		errs = append(errs, "appliance.conf: mgmt.address is only used with mgmt.mode = static")
	}
	if a.MgmtGateway.IsValid() && a.MgmtAddress.IsValid() && a.MgmtGateway.Is4() != a.MgmtAddress.Addr().Is4() {
		errs = append(errs, "appliance.conf: mgmt.gateway and mgmt.address are of different IP versions")
	}
	if len(errs) > 0 {
		return a, fmt.Errorf("%s", strings.Join(errs, "\n"))
	}
	return a, nil
}

func validIfName(s string) bool {
	if s == "" || len(s) > 15 || s == "." || s == ".." {
		return false
	}
	for _, c := range s {
		if c <= ' ' || c == '/' || c == ':' || c > '~' {
			return false
		}
	}
	return true
}

func validHostname(s string) bool {
	if s == "" || len(s) > 63 || s[0] == '-' || s[len(s)-1] == '-' {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// Mount is one mount(2) call.
type Mount struct {
	Source, Target, FSType string
	Flags                  uintptr
	Data                   string
	Mkdir                  bool // create Target first
}

// Mount flags (the Linux values; kept here so the plan is testable anywhere).
const (
	msRdonly  = 0x1
	msNosuid  = 0x2
	msNodev   = 0x4
	msNoexec  = 0x8
	msNoatime = 0x400
)

// earlyMounts are the kernel file systems, mounted first in both stages.
func earlyMounts() []Mount {
	return []Mount{
		{Source: "proc", Target: "/proc", FSType: "proc", Flags: msNosuid | msNodev | msNoexec, Mkdir: true},
		{Source: "sysfs", Target: "/sys", FSType: "sysfs", Flags: msNosuid | msNodev | msNoexec, Mkdir: true},
		{Source: "devtmpfs", Target: "/dev", FSType: "devtmpfs", Flags: msNosuid, Data: "mode=0755", Mkdir: true},
	}
}

// rootMount mounts the root partition read-only at /newroot.
func rootMount(dev, fstype string) Mount {
	return Mount{Source: dev, Target: "/newroot", FSType: fstype, Flags: msRdonly | msNodev, Mkdir: true}
}

// runtimeMounts are the writable RAM file systems of the running appliance
// (the root stays read-only).
func runtimeMounts() []Mount {
	return []Mount{
		{Source: "tmpfs", Target: "/run", FSType: "tmpfs", Flags: msNosuid | msNodev, Data: "mode=0755,size=16m"},
		{Source: "tmpfs", Target: "/tmp", FSType: "tmpfs", Flags: msNosuid | msNodev, Data: "mode=1777,size=32m"},
	}
}

// dataMount is the persistent partition: ext4, nothing executable on it.
func dataMount(dev string) Mount {
	return Mount{Source: dev, Target: dataDir, FSType: "ext4", Flags: msNosuid | msNodev | msNoexec | msNoatime,
		Data: "errors=remount-ro"}
}

// Data partition states.
type dataState int

const (
	dataEmpty   dataState = iota // all zeroes: format it (first boot)
	dataExt                      // an ext2/3/4 file system: mount it
	dataUnknown                  // something else: never format it on our own
)

func (s dataState) String() string {
	return [...]string{"empty", "ext4", "unknown"}[s]
}

// classifyData looks at the partition's first bytes (at least 2 KiB): the
// ext superblock sits at 1024 with the magic 0xEF53 at offset 56 in it.
// Only an all-zero start counts as empty, so a damaged file system or a
// partition the user put something else on is never reformatted silently.
func classifyData(head []byte) dataState {
	if len(head) >= 1024+58 && binary.LittleEndian.Uint16(head[1024+56:]) == 0xEF53 {
		return dataExt
	}
	for _, b := range head {
		if b != 0 {
			return dataUnknown
		}
	}
	return dataEmpty
}

// mkfsArgs formats the data partition: ext4 with a journal (power cuts),
// no reserved blocks (nothing else writes there), label otwatch-data.
func mkfsArgs(dev string) []string {
	return []string{mke2fs, "-q", "-F", "-t", "ext4", "-L", dataLabel, "-m", "0", "-E", "lazy_itable_init=1,lazy_journal_init=1", dev}
}

// Backoff computes the restart delay of a supervised process: it doubles
// from Min up to Max after each quick failure and starts over once a run
// lasted at least Reset.
type Backoff struct {
	Min, Max, Reset time.Duration
	next            time.Duration
	Restarts        int // total restarts so far
}

// Next returns how long to wait after a run that lasted ran.
func (b *Backoff) Next(ran time.Duration) time.Duration {
	b.Restarts++
	if b.next == 0 || ran >= b.Reset {
		b.next = b.Min
		return b.next
	}
	b.next *= 2
	if b.next > b.Max {
		b.next = b.Max
	}
	return b.next
}

// Cmdline is what the init reads from /proc/cmdline (otwatch.* keys).
type Cmdline struct {
	RootLabel string // otwatch.root=LABEL (GPT partition name): boot it, bypassing the A/B slots
	DataLabel string // otwatch.data=LABEL
	Debug     bool   // otwatch.debug: more log lines
	NoDataFmt bool   // otwatch.noformat: never format the data partition
	Shell     bool   // otwatch.shell: start a busybox shell on the console (development)
}

func parseCmdline(s string) Cmdline {
	c := Cmdline{DataLabel: dataLabel}
	for _, f := range strings.Fields(s) {
		k, v, _ := strings.Cut(f, "=")
		switch k {
		case "otwatch.root":
			c.RootLabel = v
		case "otwatch.data":
			c.DataLabel = v
		case "otwatch.debug":
			c.Debug = true
		case "otwatch.noformat":
			c.NoDataFmt = true
		case "otwatch.shell":
			c.Shell = true
		}
	}
	return c
}

// parseUevent reads /sys/class/block/X/uevent: KEY=VALUE lines.
func parseUevent(data []byte) map[string]string {
	m := map[string]string{}
	for _, l := range strings.Split(string(data), "\n") {
		if k, v, ok := strings.Cut(l, "="); ok {
			m[k] = v
		}
	}
	return m
}

// findPartition picks the device whose PARTNAME is label from uevent texts
// keyed by block device name; with several, the lowest name wins (stable).
func findPartition(uevents map[string][]byte, label string) string {
	var names []string
	for name, data := range uevents {
		u := parseUevent(data)
		if u["DEVTYPE"] == "partition" && u["PARTNAME"] == label {
			names = append(names, name)
		}
	}
	if len(names) == 0 {
		return ""
	}
	sort.Strings(names)
	return "/dev/" + names[0]
}

// parseModuleList reads modules.load: one path per line relative to the
// modules directory, in load order; # comments.
func parseModuleList(data []byte) []string {
	var out []string
	for _, l := range strings.Split(string(data), "\n") {
		l = strings.TrimSpace(l)
		if l != "" && !strings.HasPrefix(l, "#") {
			out = append(out, l)
		}
	}
	return out
}

// Input events (struct input_event): a timeval of two longs, then type
// (u16), code (u16), value (s32).
const (
	evKey    = 1
	keyPower = 116
)

func inputEventSize() int { return 2*(strconv.IntSize/8) + 8 }

// powerPressed reports whether buf (whole events) holds a KEY_POWER press.
func powerPressed(buf []byte, size int) bool {
	for off := 0; off+size <= len(buf); off += size {
		ev := buf[off+size-8 : off+size]
		typ := binary.LittleEndian.Uint16(ev[0:])
		code := binary.LittleEndian.Uint16(ev[2:])
		val := int32(binary.LittleEndian.Uint32(ev[4:]))
		if typ == evKey && code == keyPower && val == 1 {
			return true
		}
	}
	return false
}

// SNTP (RFC 4330): a 48-byte client request, the server's transmit time
// from the reply.
const ntpEpochOffset = 2208988800 // seconds from 1900-01-01 to 1970-01-01

func sntpRequest() []byte {
	b := make([]byte, 48)
	b[0] = 0x23 // LI 0, version 4, mode 3 (client)
	return b
}

func parseSNTPReply(b []byte) (time.Time, error) {
	if len(b) < 48 {
		return time.Time{}, fmt.Errorf("ntp: short reply (%d bytes)", len(b))
	}
	if mode := b[0] & 7; mode != 4 {
		return time.Time{}, fmt.Errorf("ntp: mode %d, want 4 (server)", mode)
	}
	if b[0]>>6 == 3 || b[1] == 0 {
		return time.Time{}, fmt.Errorf("ntp: server not synchronised (kiss-o'-death or LI 3)")
	}
	sec := binary.BigEndian.Uint32(b[40:])
	frac := binary.BigEndian.Uint32(b[44:])
	if sec == 0 {
		return time.Time{}, fmt.Errorf("ntp: zero transmit time")
	}
	// era 0 ends in 2036; times after it wrap: a small value means era 1
	unix := int64(sec) - ntpEpochOffset
	if sec < 0x80000000 {
		unix += 1 << 32
	}
	nsec := int64(frac) * 1e9 >> 32
	return time.Unix(unix, nsec).UTC(), nil
}

// clockPlan picks the time to set at boot: the RTC if it is sane (not
// before the image was built), else the build time, so certificates and
// logs are at least not in 1970.
func clockPlan(rtc time.Time, rtcErr error, built time.Time) (time.Time, string) {
	if rtcErr == nil && !rtc.Before(built) {
		return rtc, "rtc"
	}
	return built, "build time"
}
