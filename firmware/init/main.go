//go:build linux

// Command init is PID 1 of the otwatch appliance (installed as /init in the
// initramfs and /sbin/init in the root file system, one static binary).
//
// Stage 1, in the initramfs: mount proc/sys/dev, load the kernel modules the
// image lists, find the partition named otwatch-root, mount it read-only
// and switch to it. Stage 2, on the real root: RAM file systems, the data
// partition (formatted on first boot when it is all zeroes), host name,
// monitor interfaces silent, management interface addressed, clock, then
// `otwatch run` supervised with backoff until SIGTERM, SIGINT or the power
// button shut the box down cleanly.
//
// Run as `init poweroff` or `init reboot` (not as PID 1) it asks PID 1 to do so.
package main

import (
	"fmt"
	"os"
	"syscall"
)

// buildEpoch is the image's SOURCE_DATE_EPOCH (-ldflags -X main.buildEpoch=N),
// version otwatch's version in that image (-X main.version=V).
var (
	buildEpoch = "0"
	version    = "dev"
)

func main() {
	if os.Getpid() != 1 {
		os.Exit(client(os.Args[1:]))
	}
	if _, err := os.Stat("/otwatch-initramfs"); err == nil {
		stage1()
	} else {
		stage2()
	}
}

func client(args []string) int {
	sig := map[string]syscall.Signal{"poweroff": syscall.SIGTERM, "reboot": syscall.SIGINT}
	if len(args) != 1 || sig[args[0]] == 0 {
		fmt.Fprintln(os.Stderr, "usage: init poweroff|reboot (this program is PID 1 of the otwatch appliance)")
		return 2
	}
	if err := syscall.Kill(1, sig[args[0]]); err != nil {
		fmt.Fprintf(os.Stderr, "init: %v\n", err)
		return 1
	}
	return 0
}
