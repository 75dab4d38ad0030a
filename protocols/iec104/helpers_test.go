package iec104

import (
	"testing"

	"github.com/otwatch/otwatch/protocols"
	"github.com/otwatch/otwatch/protocols/testkit"
	"github.com/stretchr/testify/require"
)

type recorder = testkit.Recorder

func newRecorder() *recorder { return testkit.NewRecorder(protocols.TCP, Port) }

func pk(frame uint64) protocols.Packet { return testkit.Packet(frame) }

func hx(t testing.TB, listing string) []byte { return testkit.Hex(t, listing) }

// feeder offers data like the pipeline does: unconsumed bytes come back with the next chunk.
type feeder struct {
	s    *session
	rest [2][]byte
}

func (f *feeder) feed(t *testing.T, dir protocols.Direction, data []byte, frame uint64) {
	t.Helper()
	buf := append(f.rest[dir], data...)
	n, err := f.s.Feed(dir, buf, pk(frame))
	require.NoError(t, err)
	require.LessOrEqual(t, n, len(buf))
	f.rest[dir] = append([]byte(nil), buf[n:]...)
}
