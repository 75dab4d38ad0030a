package iec104

import (
	"bytes"
	"errors"

	"github.com/otwatch/otwatch/protocols"
)

var errNotIEC104 = errors.New("iec104: stream no longer carries APDUs")

// session follows one IEC 60870-5-104 connection. Every APDU is its own
// record, its side being its sender: the controlling station (the
// client, towards port 2404) sends requests, the controlled station
// responses, reports included. The protocol pairs nothing itself — a
// confirmation repeats its command's type — so there is no pending table.
type session struct {
	env *protocols.Env
	// garbage counts chunks of bytes without a start octet in a row: too
	// many mean the stream is not IEC 60870-5-104 any more.
	garbage protocols.BadHeaders
	// nextSend is the N(S) expected next from each side; have says it is known.
	nextSend [2]uint16
	have     [2]bool
	units    unitCache
}

func newSession(env *protocols.Env) *session {
	s := new(session)
	s.Reuse(env)
	return s
}

// Reuse starts the session again on another flow (protocols.Reuser).
func (s *session) Reuse(env *protocols.Env) { *s = session{env: env} }

// Feed frames APDUs as the standard does: each starts with 0x68 and its
// length octet. Bytes before a start octet are skipped as garbage (a
// capture that starts mid-APDU, noise, injected bytes); at least six
// bytes are waited for before framing, so one APCI fits.
func (s *session) Feed(dir protocols.Direction, data []byte, pkt protocols.Packet) (int, error) {
	off := 0
	for {
		rest := data[off:]
		if len(rest) < apciLen {
			return off, nil
		}
		i := bytes.IndexByte(rest[:len(rest)-1], startOctet)
		if i < 0 {
			s.env.Anomaly("iec104.garbage", pkt)
			if s.garbage.Bad() {
				return len(data), errNotIEC104
			}
			return len(data), nil
		}
		n := i + 2 + int(rest[i+1])
		if len(rest) < n {
			if i > 0 { // drop the garbage now; wait for the rest of the APDU
				s.env.Anomaly("iec104.garbage", pkt)
				off += i
			}
			return off, nil
		}
		if i > 0 {
			s.env.Anomaly("iec104.garbage", pkt)
			if s.garbage.Bad() {
				return len(data), errNotIEC104
			}
		} else {
			s.garbage.Good()
		}
		s.apdu(dir, rest[i:n], pkt)
		off += n
	}
}

func (s *session) apdu(dir protocols.Direction, apdu []byte, pkt protocols.Packet) {
	t := s.newTransaction()
	controlling := dir == protocols.ClientToServer
	a, ok := decodeAPDU(apdu, t, controlling, &s.units)
	if !ok {
		if len(apdu) >= 2 && int(apdu[1]) < minAPDULen {
			s.env.Anomaly("iec104.invalid_length", pkt)
		} else if a.Format == FormatU {
			s.env.Anomaly("iec104.u_format_functions", pkt)
		} else {
			s.env.Anomaly("iec104.short_asdu", pkt)
		}
		s.env.Pool.Put(t)
		return
	}
	if a.Format == FormatI {
		if s.have[dir] && a.SendSeq != s.nextSend[dir] {
			t.AddAnomaly("iec104.sequence_gap")
		}
		s.nextSend[dir], s.have[dir] = (a.SendSeq+1)&0x7FFF, true
		t.ID, t.HasID = uint64(a.SendSeq), true
	}
	if controlling {
		t.RequestFrame, t.RequestTime = pkt.Frame, pkt.Time
	} else {
		t.ResponseFrame, t.ResponseTime = pkt.Frame, pkt.Time
	}
	s.env.Emit(t)
}

// transaction is a record with room for its targets and values in the
// same allocation: one allocation per APDU.
type transaction struct {
	t       protocols.Transaction
	targets [2]protocols.Target
	values  [4]protocols.Value
	attrs   [3]protocols.Attr
}

func (s *session) newTransaction() *protocols.Transaction {
	if t := s.env.Pool.Get(); t != nil {
		return t
	}
	a := new(transaction)
	a.t.Targets, a.t.ReadValues, a.t.Attrs = a.targets[:0], a.values[:0], a.attrs[:0]
	return &a.t
}

// Gap: bytes of dir were lost; the next I-format APDU's number is not
// checked against the ones before, and framing searches the next start.
func (s *session) Gap(dir protocols.Direction, n int, pkt protocols.Packet) {
	s.have[dir] = false
}

// Close: nothing waits for an answer.
func (s *session) Close(pkt protocols.Packet) {}
