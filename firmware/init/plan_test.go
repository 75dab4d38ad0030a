package main

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/otwatch/otwatch/cmd/otwatch/config"
)

func TestParseAppliance(t *testing.T) {
	tests := []struct {
		name    string
		text    string
		want    Appliance
		wantErr []string
	}{
		{name: "empty file: DHCP on eth0", text: "", want: DefaultAppliance()},
		{name: "static", text: `
# management port
hostname = plant-a-ids
mgmt.interface = end0
mgmt.mode = static
mgmt.address = 192.0.2.10/24   # the box
mgmt.gateway = 192.0.2.1
dns = 192.0.2.53, 192.0.2.54
ntp = ntp1.example.net 192.0.2.1:123
`, want: Appliance{Hostname: "plant-a-ids", MgmtInterface: "end0", MgmtMode: "static",
			MgmtAddress: netip.MustParsePrefix("192.0.2.10/24"), MgmtGateway: netip.MustParseAddr("192.0.2.1"),
			DNS:        []netip.Addr{netip.MustParseAddr("192.0.2.53"), netip.MustParseAddr("192.0.2.54")},
			NTPServers: []string{"ntp1.example.net", "192.0.2.1:123"}}},
		{name: "ipv6 static", text: "mgmt.mode = static\nmgmt.address = 2001:db8::10/64\nmgmt.gateway = 2001:db8::1\n",
			want: Appliance{Hostname: "otwatch", MgmtInterface: "eth0", MgmtMode: "static",
				MgmtAddress: netip.MustParsePrefix("2001:db8::10/64"), MgmtGateway: netip.MustParseAddr("2001:db8::1")}},
		{name: "errors, all at once", text: "mgmt.mode = manual\nmgmt.adress = 1.2.3.4/24\nhostname = bad_name\nnonsense\nmgmt.mode = dhcp\n",
			wantErr: []string{
				`appliance.conf:1: mgmt.mode: want dhcp or static, got "manual"`,
				`appliance.conf:2: mgmt.adress: unknown key`,
				`appliance.conf:3: hostname: not a host name: "bad_name"`,
				`appliance.conf:4: want key = value`,
				`appliance.conf:5: mgmt.mode: given twice (first on line 1)`,
			}},
		{name: "static without address", text: "mgmt.mode = static\n", wantErr: []string{"static needs mgmt.address"}},
		{name: "dhcp with address", text: "mgmt.address = 10.0.0.1/8\n", wantErr: []string{"only used with mgmt.mode = static"}},
		{name: "mixed versions", text: "mgmt.mode = static\nmgmt.address = 10.0.0.2/8\nmgmt.gateway = fe80::1\n", wantErr: []string{"different IP versions"}},
		{name: "bad values", text: "mgmt.interface = eth0/1\ndns = 1.2.3\nmgmt.gateway = x\n",
			wantErr: []string{"not an interface name", `not an IP address: "1.2.3"`, `mgmt.gateway: not an IP address`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseAppliance([]byte(tc.text))
			if len(tc.wantErr) > 0 {
				if err == nil {
					t.Fatalf("no error, got %+v", got)
				}
				for _, w := range tc.wantErr {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error lacks %q:\n%v", w, err)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.Hostname != tc.want.Hostname || got.MgmtInterface != tc.want.MgmtInterface || got.MgmtMode != tc.want.MgmtMode ||
				got.MgmtAddress != tc.want.MgmtAddress || got.MgmtGateway != tc.want.MgmtGateway ||
				strings.Join(got.NTPServers, ",") != strings.Join(tc.want.NTPServers, ",") || len(got.DNS) != len(tc.want.DNS) {
				t.Fatalf("got %+v\nwant %+v", got, tc.want)
			}
			for i := range got.DNS {
				if got.DNS[i] != tc.want.DNS[i] {
					t.Fatalf("dns %v want %v", got.DNS, tc.want.DNS)
				}
			}
		})
	}
}

// The shipped default must parse (the image copies it to /data on first boot).
func TestDefaultApplianceFile(t *testing.T) {
	b, err := os.ReadFile("../rootfs/etc/otwatch/appliance.conf.default")
	if err != nil {
		t.Fatal(err)
	}
	a, err := ParseAppliance(b)
	if err != nil {
		t.Fatal(err)
	}
	if a.MgmtMode != "dhcp" || a.MgmtInterface != "eth0" {
		t.Fatalf("default: %+v", a)
	}
}

// The shipped otwatch configuration must load, name a monitor interface
// other than the management one, and keep its state on /data.
func TestDefaultOtwatchConf(t *testing.T) {
	cfg, err := config.Load("../rootfs/etc/otwatch/otwatch.conf.default")
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Interfaces) == 0 || cfg.Interfaces[0] == DefaultAppliance().MgmtInterface || !cfg.Capture.Prepare {
		t.Fatalf("interfaces %v prepare %v", cfg.Interfaces, cfg.Capture.Prepare)
	}
	for _, p := range []string{cfg.Database.Path, cfg.Evidence.Dir} {
		if !strings.HasPrefix(p, dataDir+"/") {
			t.Errorf("%s is not on the data partition", p)
		}
	}
}

func TestMountPlan(t *testing.T) {
	early := earlyMounts()
	if len(early) != 3 || early[0].Target != "/proc" || early[1].Target != "/sys" || early[2].FSType != "devtmpfs" {
		t.Fatalf("early mounts: %+v", early)
	}
	for _, m := range early {
		if m.Flags&msNosuid == 0 {
			t.Errorf("%s without nosuid", m.Target)
		}
	}
	r := rootMount("/dev/vda2", "squashfs")
	if r.Flags&msRdonly == 0 || r.Target != "/newroot" {
		t.Fatalf("root must be read-only at /newroot: %+v", r)
	}
	d := dataMount("/dev/vda3")
	if d.Flags&msRdonly != 0 || d.Flags&msNoexec == 0 || d.Flags&msNodev == 0 || d.Flags&msNosuid == 0 || d.FSType != "ext4" || d.Target != "/data" {
		t.Fatalf("data must be read-write, noexec, nodev, nosuid ext4 on /data: %+v", d)
	}
	for _, m := range runtimeMounts() {
		if m.FSType != "tmpfs" || !strings.Contains(m.Data, "size=") {
			t.Errorf("runtime mount %s must be a bounded tmpfs", m.Target)
		}
	}
	args := strings.Join(mkfsArgs("/dev/vda3"), " ")
	if !strings.Contains(args, "-t ext4") || !strings.Contains(args, "-L otwatch-data") || !strings.HasSuffix(args, " /dev/vda3") {
		t.Fatalf("mkfs: %s", args)
	}
}

func TestClassifyData(t *testing.T) {
	zero := make([]byte, 64<<10)
	if got := classifyData(zero); got != dataEmpty {
		t.Fatalf("zeroes: %v", got)
	}
	ext := make([]byte, 64<<10)
	binary.LittleEndian.PutUint16(ext[1024+56:], 0xEF53)
	ext[1024] = 1
	if got := classifyData(ext); got != dataExt {
		t.Fatalf("ext superblock: %v", got)
	}
	other := make([]byte, 64<<10)
	other[60000] = 1 // e.g. the remains of another file system
	if got := classifyData(other); got != dataUnknown {
		t.Fatalf("one stray byte must not be formatted over: %v", got)
	}
	fat := make([]byte, 64<<10)
	copy(fat[0x36:], "FAT16   ")
	if got := classifyData(fat); got != dataUnknown {
		t.Fatalf("FAT: %v", got)
	}
}

func TestBackoff(t *testing.T) {
	b := Backoff{Min: time.Second, Max: 60 * time.Second, Reset: 5 * time.Minute}
	var got []time.Duration
	for i := 0; i < 8; i++ {
		got = append(got, b.Next(100*time.Millisecond)) // crashes right away
	}
	want := []time.Duration{1, 2, 4, 8, 16, 32, 60, 60}
	for i := range want {
		if got[i] != want[i]*time.Second {
			t.Fatalf("crash loop delays %v", got)
		}
	}
	if d := b.Next(10 * time.Minute); d != time.Second {
		t.Fatalf("after a long run the delay starts over: %v", d)
	}
	if d := b.Next(time.Second); d != 2*time.Second {
		t.Fatalf("then doubles again: %v", d)
	}
	if b.Restarts != 10 {
		t.Fatalf("restarts %d", b.Restarts)
	}
}

func TestCmdline(t *testing.T) {
	c := parseCmdline("console=ttyAMA0 quiet otwatch.debug otwatch.root=alt-root otwatch.noformat\n")
	if !c.Debug || c.RootLabel != "alt-root" || c.DataLabel != dataLabel || !c.NoDataFmt || c.Shell {
		t.Fatalf("%+v", c)
	}
	if c := parseCmdline(""); c.RootLabel != "" || c.Debug { // "": the A/B slots choose
		t.Fatalf("defaults %+v", c)
	}
}

func TestFindPartition(t *testing.T) {
	ue := map[string][]byte{
		"vda":  []byte("MAJOR=254\nMINOR=0\nDEVNAME=vda\nDEVTYPE=disk\nDISKSEQ=1\n"),
		"vda1": []byte("MAJOR=254\nMINOR=1\nDEVNAME=vda1\nDEVTYPE=partition\nPARTN=1\nPARTNAME=otwatch-boot\n"),
		"vda2": []byte("MAJOR=254\nMINOR=2\nDEVNAME=vda2\nDEVTYPE=partition\nPARTN=2\nPARTNAME=otwatch-root\n"),
		"vda3": []byte("MAJOR=254\nMINOR=3\nDEVNAME=vda3\nDEVTYPE=partition\nPARTN=3\nPARTNAME=otwatch-data\n"),
	}
	if got := findPartition(ue, rootLabel); got != "/dev/vda2" {
		t.Fatalf("root: %q", got)
	}
	if got := findPartition(ue, dataLabel); got != "/dev/vda3" {
		t.Fatalf("data: %q", got)
	}
	// an SD card with an older image next to the eMMC: the lowest name wins, stably
	ue["mmcblk1p2"] = []byte("DEVTYPE=partition\nPARTNAME=otwatch-root\n")
	ue["mmcblk0p2"] = []byte("DEVTYPE=partition\nPARTNAME=otwatch-root\n")
	if got := findPartition(ue, rootLabel); got != "/dev/mmcblk0p2" {
		t.Fatalf("several: %q", got)
	}
	if got := findPartition(ue, "nope"); got != "" {
		t.Fatalf("missing: %q", got)
	}
}

func TestModuleList(t *testing.T) {
	got := parseModuleList([]byte("# resolved by imgtool\nkernel/lib/crc16.ko\n\n kernel/fs/ext4/ext4.ko \n"))
	if strings.Join(got, ",") != "kernel/lib/crc16.ko,kernel/fs/ext4/ext4.ko" {
		t.Fatalf("%q", got)
	}
}

func TestPowerButton(t *testing.T) {
	ev := func(size int, typ, code uint16, val int32) []byte {
		b := make([]byte, size)
		binary.LittleEndian.PutUint16(b[size-8:], typ)
		binary.LittleEndian.PutUint16(b[size-6:], code)
		binary.LittleEndian.PutUint32(b[size-4:], uint32(val))
		return b
	}
	for _, size := range []int{16, 24} { // 32-bit and 64-bit struct input_event
		syn := ev(size, 0, 0, 0)
		if powerPressed(bytes.Join([][]byte{ev(size, evKey, 30, 1), syn}, nil), size) {
			t.Fatal("key A is not the power key")
		}
		if powerPressed(ev(size, evKey, keyPower, 0), size) {
			t.Fatal("a release is not a press")
		}
		if !powerPressed(bytes.Join([][]byte{syn, ev(size, evKey, keyPower, 1), syn}, nil), size) {
			t.Fatalf("power press missed (size %d)", size)
		}
	}
	if s := inputEventSize(); s != 16 && s != 24 {
		t.Fatal(s)
	}
}

func TestSNTP(t *testing.T) {
	req := sntpRequest()
	if len(req) != 48 || req[0] != 0x23 {
		t.Fatalf("request % x", req[:4])
	}
	reply := make([]byte, 48)
	reply[0] = 0x24 // LI 0, v4, server
	reply[1] = 2    // stratum
	want := time.Date(2026, 11, 27, 1, 2, 3, 500000000, time.UTC)
	binary.BigEndian.PutUint32(reply[40:], uint32(want.Unix()+ntpEpochOffset-(1<<32)))
	binary.BigEndian.PutUint32(reply[44:], 1<<31)
	got, err := parseSNTPReply(reply)
	if err != nil || !got.Equal(want) {
		t.Fatalf("got %v %v want %v", got, err, want)
	}
	old := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	binary.BigEndian.PutUint32(reply[40:], uint32(old.Unix()+ntpEpochOffset))
	binary.BigEndian.PutUint32(reply[44:], 0)
	if got, _ := parseSNTPReply(reply); !got.Equal(old) {
		t.Fatalf("era 0: %v", got)
	}
	bad := append([]byte(nil), reply...)
	bad[1] = 0 // stratum 0: kiss-o'-death
	if _, err := parseSNTPReply(bad); err == nil {
		t.Fatal("kiss-o'-death accepted")
	}
	bad = append([]byte(nil), reply...)
	bad[0] = 0x23 // a client packet reflected back
	if _, err := parseSNTPReply(bad); err == nil {
		t.Fatal("mode 3 accepted")
	}
	if _, err := parseSNTPReply(reply[:40]); err == nil {
		t.Fatal("short reply accepted")
	}
}

func TestClockPlan(t *testing.T) {
	built := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	if got, src := clockPlan(built.Add(time.Hour), nil, built); src != "rtc" || !got.Equal(built.Add(time.Hour)) {
		t.Fatal(got, src)
	}
	if got, src := clockPlan(time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC), nil, built); src != "build time" || !got.Equal(built) {
		t.Fatal("flat RTC battery:", got, src)
	}
	if _, src := clockPlan(time.Time{}, errors.New("no rtc"), built); src != "build time" {
		t.Fatal(src)
	}
}
