package modbus_test

import (
	"time"

	"github.com/gopacket/gopacket"
	"github.com/otwatch/otwatch/protocols/capture"
)

func captureInfo(f capture.Frame) gopacket.CaptureInfo {
	return gopacket.CaptureInfo{Timestamp: time.Unix(0, f.TimeNano), CaptureLength: len(f.Data), Length: int(f.OrigLen)}
}
