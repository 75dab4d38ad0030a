//go:build !linux

package syslog

import "net"

func peerAlive(net.Conn) bool { return true }

func acked(net.Conn) (done, broken bool) { return true, false }
