package iec104

import (
	"testing"

	"github.com/otwatch/otwatch/protocols"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const (
	startDTAct = "68 04 07 00 00 00"
	startDTCon = "68 04 0b 00 00 00"
	// general interrogation act from the master, N(S) 0
	interrogation = "68 0e 00 00 00 00 64 01 06 00 01 00 00 00 00 14"
)

// iFrame is a single-point report from the station with send number ns.
func iFrame(t *testing.T, ns uint16) []byte {
	b := hx(t, "68 0e 00 00 00 00 01 01 03 00 01 00 0a 00 00 01")
	b[2], b[3] = byte(ns<<1), byte(ns>>7)
	return b
}

func TestSessionRecordsEachAPDUWithItsSender(t *testing.T) {
	r := newRecorder()
	f := &feeder{s: newSession(&r.Env)}
	f.feed(t, protocols.ClientToServer, hx(t, startDTAct), 1)
	f.feed(t, protocols.ServerToClient, hx(t, startDTCon), 2)
	f.feed(t, protocols.ClientToServer, hx(t, interrogation), 3)
	require.Len(t, r.Txs, 3)
	assert.Equal(t, uint64(1), r.Txs[0].RequestFrame)
	assert.Zero(t, r.Txs[0].ResponseFrame)
	assert.Equal(t, uint64(2), r.Txs[1].ResponseFrame)
	assert.Zero(t, r.Txs[1].RequestFrame)
	assert.Equal(t, 100, r.Txs[2].Code)
	assert.Equal(t, "1", r.Txs[2].Unit)
	assert.Empty(t, r.Anomalies)
}

func TestSessionWaitsForSplitAPDUs(t *testing.T) {
	r := newRecorder()
	f := &feeder{s: newSession(&r.Env)}
	b := hx(t, interrogation)
	f.feed(t, protocols.ClientToServer, b[:3], 1)
	f.feed(t, protocols.ClientToServer, b[3:9], 2)
	assert.Empty(t, r.Txs)
	f.feed(t, protocols.ClientToServer, b[9:], 3)
	require.Len(t, r.Txs, 1)
	assert.Equal(t, uint64(3), r.Txs[0].RequestFrame, "reported with the frame that completed it")
}

// Bytes before a start octet are skipped and named, as tshark's "ERR
// prefix"; a chunk without any start octet is dropped whole.
func TestSessionSkipsGarbage(t *testing.T) {
	r := newRecorder()
	f := &feeder{s: newSession(&r.Env)}
	f.feed(t, protocols.ClientToServer, hx(t, "07 07 07 07 07 07 07"), 1)
	f.feed(t, protocols.ClientToServer, append(hx(t, "0a 0a 0a"), hx(t, "68 04 43 00 00 00")...), 2)
	require.Len(t, r.Txs, 1)
	assert.Equal(t, CodeTestFRAct, r.Txs[0].Code)
	assert.Equal(t, []string{"iec104.garbage", "iec104.garbage"}, r.Anomalies)
}

func TestSessionDetachesFromEndlessGarbage(t *testing.T) {
	r := newRecorder()
	s := newSession(&r.Env)
	var err error
	for i := 0; i <= protocols.MaxBadHeaders && err == nil; i++ {
		_, err = s.Feed(protocols.ClientToServer, []byte("GET / HTTP/1.1\r\n"), pk(uint64(i)))
	}
	assert.ErrorIs(t, err, errNotIEC104)
}

func TestSessionSequenceNumbers(t *testing.T) {
	r := newRecorder()
	f := &feeder{s: newSession(&r.Env)}
	f.feed(t, protocols.ServerToClient, iFrame(t, 7), 1) // picked up mid-stream: any first number
	f.feed(t, protocols.ServerToClient, iFrame(t, 8), 2)
	f.feed(t, protocols.ServerToClient, iFrame(t, 10), 3) // 9 lost or suppressed
	f.s.Gap(protocols.ServerToClient, 100, pk(4))
	f.f(t, 5)
	require.Len(t, r.Txs, 4)
	assert.Empty(t, r.Txs[0].Anomalies)
	assert.Empty(t, r.Txs[1].Anomalies)
	assert.Equal(t, []string{"iec104.sequence_gap"}, r.Txs[2].Anomalies)
	assert.Empty(t, r.Txs[3].Anomalies, "after a capture gap the numbering starts afresh")
	assert.Equal(t, uint64(10), r.Txs[2].ID)
}

func (f *feeder) f(t *testing.T, frame uint64) {
	f.feed(t, protocols.ServerToClient, iFrame(t, 50), frame)
}

func TestSequenceNumbersWrap(t *testing.T) {
	r := newRecorder()
	f := &feeder{s: newSession(&r.Env)}
	f.feed(t, protocols.ServerToClient, iFrame(t, 0x7FFF), 1)
	f.feed(t, protocols.ServerToClient, iFrame(t, 0), 2)
	require.Len(t, r.Txs, 2)
	assert.Empty(t, r.Txs[1].Anomalies)
}

func TestProbe(t *testing.T) {
	d := Dissector
	for _, c := range []struct {
		name string
		data string
		want protocols.ProbeResult
	}{
		{"STARTDT act", startDTAct, protocols.ProbeYes},
		{"interrogation", interrogation, protocols.ProbeYes},
		{"two APDUs", startDTAct + startDTCon, protocols.ProbeYes},
		{"start of an APDU", "68 0e", protocols.ProbeNeedMore},
		{"picked up mid-APDU", "00 01 00 0a 00 00 01" + startDTAct + startDTCon, protocols.ProbeYes},
		{"U-format with data after it", "68 04 07 00 00 01", protocols.ProbeNo},
		{"picked up mid-APDU, one APDU only", "00 01 00 0a 00 00 01" + startDTAct, protocols.ProbeNo},
		{"TPKT (S7, MMS)", "03 00 00 16 11 e0 00 00 00 01 00 c1 02 01 00 c2 02 01 02 c0 01 0a", protocols.ProbeNo},
		{"an HTTP request", "474554202f20485454502f312e310d0a", protocols.ProbeNo},
		{"unknown type", "68 0e 00 00 00 00 18 01 06 00 01 00 00 00 00 14", protocols.ProbeNo},
	} {
		assert.Equal(t, c.want, d.Probe(protocols.ClientToServer, hx(t, c.data)), c.name)
	}
}
