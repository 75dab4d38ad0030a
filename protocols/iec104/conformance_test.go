package iec104_test

import (
	"fmt"
	"strconv"
	"testing"

	"github.com/otwatch/otwatch/protocols"
	"github.com/otwatch/otwatch/protocols/corpustest"
	"github.com/otwatch/otwatch/protocols/iec104"
)

// apduSide is one APDU as both tshark and otwatch can describe it: its
// frame, its sender's side, its record code and cause of transmission.
type apduSide struct {
	frame int
	dir   string
	code  int
	cause int // -1: none, or not attributable (tshark lists a frame's causes without their APDUs)
}

func (p apduSide) FrameDir() (int, string) { return p.frame, p.dir }

func (p apduSide) String() string {
	return fmt.Sprintf("frame %d %s code=%d cause=%d", p.frame, p.dir, p.code, p.cause)
}

// tsharkSides reads every APDU tshark dissects, dropping TCP retransmissions.
func tsharkSides(t *testing.T, path string) []apduSide {
	rows := corpustest.FieldsOnce(t, path, nil, "frame.number", "tcp.srcport", "iec60870_104.type", "iec60870_104.utype",
		"iec60870_asdu.typeid", "iec60870_asdu.causetx")
	var out []apduSide
	for _, r := range rows {
		if r[2] == "" {
			continue
		}
		frame, dir := corpustest.Int(r[0]), "request"
		if r[1] == strconv.Itoa(iec104.Port) {
			dir = "response"
		}
		utypes := corpustest.Occurrences(r[3])
		for _, kind := range corpustest.Occurrences(r[2]) {
			switch corpustest.Int(kind) {
			case 1:
				out = append(out, apduSide{frame, dir, iec104.CodeS, -1})
			case 3:
				if len(utypes) > 0 {
					if u := corpustest.Int(utypes[0]); u > 0 {
						out = append(out, apduSide{frame, dir, 0x100 | u<<2 | 3, -1})
					}
					utypes = utypes[1:]
				}
			}
		}
		typeIDs, causes := corpustest.Occurrences(r[4]), corpustest.Occurrences(r[5])
		for i, id := range typeIDs {
			cause := -1
			if len(causes) == len(typeIDs) {
				cause = corpustest.Int(causes[i]) & 0x3F
			}
			out = append(out, apduSide{frame, dir, corpustest.Int(id), cause})
		}
	}
	return out
}

func ourSides(txs []protocols.Transaction, causesKnown map[int]bool) []apduSide {
	var out []apduSide
	for _, tx := range txs {
		if tx.Proto != iec104.Proto {
			continue
		}
		frame, dir := int(tx.RequestFrame), "request"
		if frame == 0 {
			frame, dir = int(tx.ResponseFrame), "response"
		}
		cause := -1
		if tx.HasSubcode && tx.Code < 0x100 && causesKnown[frame] {
			cause = tx.Subcode
		}
		out = append(out, apduSide{frame, dir, tx.Code, cause})
	}
	return out
}

// TestConformanceWithTshark compares every APDU of every IEC 104 corpus
// capture with tshark's dissection: frame, side, type (or S/U function)
// and cause of transmission.
func TestConformanceWithTshark(t *testing.T) {
	corpustest.CompareCorpus(t, iec104.Proto, tsharkSides, func(txs []protocols.Transaction, want []apduSide) []apduSide {
		known := map[int]bool{} // frames whose causes tshark attributes
		for _, w := range want {
			if w.cause >= 0 {
				known[w.frame] = true
			}
		}
		return ourSides(txs, known)
	})
}
