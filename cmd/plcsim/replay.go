package main

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strconv"
)

// replay sends a capture onto an interface with Debian's tcpreplay (the
// corpus's real plant traffic, e.g. into a veth that reaches otwatch's
// monitor port). mbps 0 replays at the capture's own pace.
func replay(ctx context.Context, iface, capture string, mbps float64, loops int) error {
	bin, err := exec.LookPath("tcpreplay")
	if err != nil {
		return errors.New("-replay needs tcpreplay (apt-get install tcpreplay)")
	}
	args := []string{"--intf1=" + iface, "--loop=" + strconv.Itoa(max(loops, 1))}
	if mbps > 0 {
		args = append(args, "--mbps="+strconv.FormatFloat(mbps, 'f', -1, 64))
	}
	out, err := exec.CommandContext(ctx, bin, append(args, capture)...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("tcpreplay: %v: %s", err, out)
	}
	return nil
}
