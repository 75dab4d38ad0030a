// Package live captures frames from network interfaces with AF_PACKET
// TPACKET_V3 rings (our own, ring.go), receive-only and
// promiscuous, and hands them to one handler goroutine as capture.Frame
// values — the same frames the pcap reader yields, so the same pipeline runs
// on live traffic.
//
// Every socket this package opens is a packet socket that receives: nothing
// here calls write, send, sendto, sendmsg or sets up a transmit ring (see
// README.md, "Why it cannot transmit", and TestNoSendCalls).
package live

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/otwatch/otwatch/protocols/capture"
)

// Config selects the interfaces and sizes the rings. Zero values take the defaults.
type Config struct {
	Interfaces []string
	// Fanout opens one socket per core (GOMAXPROCS, at most 8) on each
	// interface, joined in a PACKET_FANOUT_HASH group with IP defragmentation,
	// so every frame of a flow lands on the same socket and keeps its order.
	Fanout bool
	// SnapLen caps the bytes kept of each frame (default 65535).
	SnapLen int
	// BlockSize (bytes, a multiple of the page size, default 1 MiB) and
	// NumBlocks (default 16) size each socket's ring: 16 MiB per socket.
	BlockSize, NumBlocks int
	// PollTimeout is how long a reader waits for a block before it hands on
	// the frames it holds and checks the interface (default 100 ms). It bounds
	// the delay of a frame on a quiet link, with the 32 ms block timeout.
	PollTimeout time.Duration
	// KeepOutgoing keeps frames this host transmits (PACKET_OUTGOING). By
	// default they are dropped in the kernel by a socket filter: a monitor
	// port carries only other hosts' traffic, and on loopback every frame
	// would otherwise be seen twice.
	KeepOutgoing bool
}

// Defaults.
const (
	DefaultSnapLen     = 65535
	DefaultBlockSize   = 1 << 20
	DefaultNumBlocks   = 16
	DefaultPollTimeout = 100 * time.Millisecond
	blockTimeout       = 32 * time.Millisecond
	maxFanout          = 8
)

func (c Config) withDefaults() (Config, error) {
	if len(c.Interfaces) == 0 {
		return c, errors.New("live: no interface given")
	}
	seen := map[string]bool{}
	for _, name := range c.Interfaces {
		if err := checkName(name); err != nil {
			return c, err
		}
		if seen[name] {
			return c, fmt.Errorf("live: interface %q given twice", name)
		}
		seen[name] = true
	}
	if c.SnapLen <= 0 {
		c.SnapLen = DefaultSnapLen
	}
	if c.SnapLen > capture.MaxFrame {
		return c, fmt.Errorf("live: snap length %d above %d", c.SnapLen, capture.MaxFrame)
	}
	if c.BlockSize <= 0 {
		c.BlockSize = DefaultBlockSize
	}
	if c.NumBlocks <= 0 {
		c.NumBlocks = DefaultNumBlocks
	}
	if c.PollTimeout <= 0 {
		c.PollTimeout = DefaultPollTimeout
	}
	page := os.Getpagesize()
	switch {
	case c.BlockSize%page != 0:
		return c, fmt.Errorf("live: block size %d is not a multiple of the page size %d", c.BlockSize, page)
	case c.BlockSize < c.SnapLen+4096:
		return c, fmt.Errorf("live: block size %d cannot hold a %d-byte frame and its header", c.BlockSize, c.SnapLen)
	}
	return c, nil
}

// checkName refuses names that are not interface names (they are used in
// /proc and /sys paths).
func checkName(name string) error {
	if name == "" || len(name) >= 16 || name == "." || name == ".." || strings.ContainsAny(name, "/ \t\n:") {
		return fmt.Errorf("live: %q is not an interface name", name)
	}
	return nil
}

// InterfaceStats are the counters of one interface, summed over its sockets
// and over every time it was reopened.
type InterfaceStats struct {
	Name string
	// Up: every socket of the interface is open on a running interface.
	Up bool
	// Packets and Bytes handed to the handler (after the outgoing filter).
	Packets, Bytes uint64
	// LastFrame is the kernel timestamp of the last frame read (zero before
	// the first): a stalled capture shows as a LastFrame that stops moving.
	LastFrame time.Time
	// Kernel counters (PACKET_STATISTICS): frames that passed the socket
	// filter, frames dropped because the ring was full, and ring freezes.
	KernelPackets, KernelDrops, KernelFreezes uint64
	// Restarts counts reopenings after the interface went down, vanished or
	// failed.
	Restarts uint64
	// LastError is the last reason the interface was lost, "" if never.
	LastError string
	// Changed is when Up last changed.
	Changed time.Time
}
