//go:build linux

package syslog

import (
	"net"
	"syscall"

	"golang.org/x/sys/unix"
)

// Linux TCP states (include/net/tcp_states.h).
const (
	tcpEstablished = 1
	tcpCloseWait   = 8
)

// tcpState reports the connection's state and the bytes not yet
// acknowledged by the peer (SIOCOUTQ: unsent plus unacknowledged).
func tcpState(c net.Conn) (state uint8, unacked int, ok bool) {
	sc, isSC := c.(syscall.Conn)
	if !isSC {
		return 0, 0, false
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return 0, 0, false
	}
	cerr := rc.Control(func(fd uintptr) {
		info, err := unix.GetsockoptTCPInfo(int(fd), unix.IPPROTO_TCP, unix.TCP_INFO)
		if err != nil {
			return
		}
		n, err := unix.IoctlGetInt(int(fd), unix.SIOCOUTQ)
		if err != nil {
			return
		}
		state, unacked, ok = info.State, n, true
	})
	if cerr != nil {
		return 0, 0, false
	}
	return state, unacked, ok
}

// peerAlive: the peer has not closed its side (no FIN, no RST seen).
func peerAlive(c net.Conn) bool {
	state, _, ok := tcpState(c)
	return !ok || state == tcpEstablished
}

// acked reports whether every byte written was acknowledged by the peer's
// TCP (done), or the connection failed (broken). Without the socket
// information (other systems) written bytes count as delivered.
func acked(c net.Conn) (done, broken bool) {
	state, unacked, ok := tcpState(c)
	if !ok {
		return true, false
	}
	if state != tcpEstablished && state != tcpCloseWait {
		return false, true
	}
	return unacked == 0, false
}
