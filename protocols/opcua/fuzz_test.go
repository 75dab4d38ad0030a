package opcua

import (
	"runtime"
	"testing"

	"github.com/otwatch/otwatch/protocols"
	"github.com/otwatch/otwatch/protocols/testkit"
)

// FuzzDecodeService: decoding any bytes as a UACP message, a request or a
// response never panics, keeps within the target and value caps, and
// allocates memory in proportion to the input, whatever counts and lengths
// the bytes claim.
func FuzzDecodeService(f *testing.F) {
	for _, c := range requestCases {
		f.Add(hx(f, c.hex))
	}
	for _, c := range responseCases {
		f.Add(hx(f, c.hex))
	}
	f.Add(helloMsg)
	f.Fuzz(func(t *testing.T, b []byte) {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		var req, resp, orphan protocols.Transaction
		DecodeRequest(b, &req)
		resp.RequestFrame = 1
		setService(&resp, ReadRequest)
		resp.Targets = []protocols.Target{{Space: "node", ID: "i=2264"}}
		DecodeResponse(b, &resp)
		DecodeResponse(b, &orphan)
		if h, ok := ParseHeader(b); ok && h.Valid() && int(h.Size) <= len(b) {
			if h.Secured() {
				ParseSecureHeader(h, b[:h.Size])
			} else {
				DecodeTransport(h.Type, b[HeaderLen:h.Size])
			}
		}
		Dissector.Probe(protocols.ClientToServer, b)
		runtime.ReadMemStats(&after)
		if grew := after.TotalAlloc - before.TotalAlloc; grew > uint64(32*len(b)+64<<10) {
			t.Fatalf("decoding %d bytes allocated %d bytes", len(b), grew)
		}
		for _, tx := range []*protocols.Transaction{&req, &resp, &orphan} {
			if len(tx.Values) > protocols.MaxValues || len(tx.Targets) > MaxTargets+1 {
				t.Fatalf("%d values, %d targets", len(tx.Values), len(tx.Targets))
			}
			_ = tx.AppendJSON(nil)
		}
	})
}

// FuzzSession feeds a session chunks with direction tags, as the pipeline
// would: each step is [direction bit | gap bit | 6 bits unused][length
// byte][bytes]. Invariants: no panic, consumed within bounds, every
// bookkeeping list within its cap.
func FuzzSession(f *testing.F) {
	read := chunk("MSG", 'F', 3, token(1), 20, 40, hx(f, requestCases[0].hex))
	resp := chunk("MSG", 'F', 3, token(1), 20, 40, hx(f, responseCases[1].hex))
	write := hx(f, requestCases[1].hex)
	first := chunk("MSG", 'C', 3, token(1), 21, 41, write[:40])
	last := chunk("MSG", 'F', 3, token(1), 22, 41, write[40:])
	step := func(dir byte, b []byte) []byte {
		var out []byte
		for len(b) > 0 {
			n := min(len(b), 255)
			out = append(out, dir, byte(n))
			out = append(out, b[:n]...)
			b = b[n:]
		}
		return out
	}
	f.Add(append(append(step(0, helloMsg), step(0x80, ackMsg)...), append(step(0, read), step(0x80, resp)...)...))
	f.Add(append(step(0, first), step(0, last)...))
	f.Add(append(append(step(0, read[5:]), 0x40, 9), step(0, read)...))
	f.Fuzz(func(t *testing.T, script []byte) {
		s, _ := newTestSession()
		frame, detached := testkit.ReplayScript(t, s, script, pkt, func() {
			if s.pending.Len() > MaxOutstanding || s.encrypted.Len() > MaxOutstanding || len(s.partials) > MaxPartials ||
				len(s.channels) > maxChannels || len(s.sessions) > maxSessions {
				t.Fatalf("caps: %d pending, %d encrypted, %d partials, %d channels, %d sessions",
					s.pending.Len(), s.encrypted.Len(), len(s.partials), len(s.channels), len(s.sessions))
			}
			for _, p := range s.partials {
				if len(p.body) > MaxMessageSize || p.chunks > MaxChunks {
					t.Fatalf("partial of %d bytes, %d chunks", len(p.body), p.chunks)
				}
			}
		})
		if detached {
			return
		}
		s.Close(pkt(frame + 1))
		if s.pending.Len() != 0 || s.encrypted.Len() != 0 {
			t.Fatal("requests left after close")
		}
	})
}
