package iec104

import (
	"testing"

	"github.com/otwatch/otwatch/protocols"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// apduCase is one APDU and the record decodeAPDU makes of it.
type apduCase struct {
	name        string
	controlling bool   // sent by the controlling station (the client)
	apdu        string // hex, one comment per field
	code        int    // type identification; S- and U-format: their record code (CodeS...)
	subcode     int    // cause of transmission; -1: none
	op          protocols.Op
	outcome     protocols.Outcome
	unit        string // the common address
	targets     []protocols.Target
	values      []protocols.Value // written by a command
	reads       []protocols.Value // reported by the station
	anomalies   []string
	attrs       map[string]string // checked by key; others may be present
}

// APDUs built from IEC 60870-5-104 §5 (APCI) and IEC 60870-5-101 §7 (ASDU),
// one comment per field.
func TestDecodeAPDU(t *testing.T) {
	for _, c := range []apduCase{
		{name: "STARTDT act", controlling: true, apdu: `68 04 | start, length 4
			07 00 00 00 // U-format: STARTDT act`, code: CodeStartDTAct, subcode: -1, op: protocols.OpSession},
		{name: "TESTFR con", apdu: `68 04 83 00 00 00 // U-format: TESTFR con`, code: CodeTestFRCon, subcode: -1, op: protocols.OpSession},
		{name: "S-format", apdu: `68 04 | start, length
			01 00 0a 00 // S-format, N(R) = 5`, code: CodeS, subcode: -1, op: protocols.OpSession},
		{name: "U-format with two functions", controlling: true, apdu: `68 04 17 00 00 00 // STARTDT act + STOPDT act`,
			code: 0x117, subcode: -1, op: protocols.OpSession, anomalies: []string{"iec104.u_format_functions"}},
		{name: "S-format of length 5", apdu: `68 05 01 00 0a 00 ff`, code: CodeS, subcode: -1, op: protocols.OpSession,
			anomalies: []string{"iec104.control_frame_length"}},
		{name: "single command, select", controlling: true, apdu: `68 0e | start, length 14
			02 00 04 00 | I-format: N(S) 1, N(R) 2
			2d 01 06 01 | C_SC_NA_1, 1 object, cause act, originator 1
			0d 91       | common address 37133
			1a 27 00    | IOA 10010
			81          // SCO: select, on`,
			code: 45, subcode: 6, op: protocols.OpControl, unit: "37133",
			targets: []protocols.Target{{Space: "ioa", Address: 10010, Count: 1}}, values: []protocols.Value{protocols.BoolValue(true)},
			attrs: map[string]string{"type": "C_SC_NA_1", "originator": "1", "command_phase": "select"}},
		{name: "double command, execute off", controlling: true, apdu: `68 0e 02 00 04 00
			2e 01 06 00 | C_DC_NA_1, act
			01 00       | common address 1
			98 3a 00    | IOA 15000
			01          // DCO: execute, off`,
			code: 46, subcode: 6, op: protocols.OpControl, unit: "1",
			targets: []protocols.Target{{Space: "ioa", Address: 15000, Count: 1}}, values: []protocols.Value{protocols.IntValue(1)},
			attrs: map[string]string{"command_phase": "execute"}},
		{name: "float set point", controlling: true, apdu: `68 12 00 00 00 00
			32 01 06 00 | C_SE_NC_1, act
			01 00       | common address 1
			10 00 00    | IOA 16
			00 00 48 42 | 50.0
			00          // QOS: execute`,
			code: 50, subcode: 6, op: protocols.OpWrite, unit: "1",
			targets: []protocols.Target{{Space: "ioa", Address: 16, Count: 1}}, values: []protocols.Value{protocols.FloatValue(50)}},
		{name: "scaled measurements, sequence of three, spontaneous", apdu: `68 16 | length 22
			06 00 02 00 | I-format
			0b 83 03 00 | M_ME_NB_1, SQ=1 with 3 elements, spont
			01 00       | common address 1
			64 00 00    | IOA 100 (then 101, 102)
			e8 03 00    | 1000, QDS 0
			18 fc 00    | -1000
			00 00 80    // 0, invalid`,
			code: 11, subcode: 3, op: protocols.OpRead, outcome: protocols.OutcomeUnsolicited, unit: "1",
			targets: []protocols.Target{{Space: "ioa", Address: 100, Count: 3}},
			reads:   []protocols.Value{protocols.IntValue(1000), protocols.IntValue(-1000), protocols.IntValue(0)}},
		{name: "single points of consecutive addresses become one range", apdu: `68 12 06 00 02 00
			01 02 14 00 | M_SP_NA_1, 2 objects, inrogen
			0d 91       | 37133
			1a 27 00 01 | IOA 10010 on
			1b 27 00 00 // IOA 10011 off`,
			code: 1, subcode: 20, op: protocols.OpRead, unit: "37133",
			targets: []protocols.Target{{Space: "ioa", Address: 10010, Count: 2}},
			reads:   []protocols.Value{protocols.BoolValue(true), protocols.BoolValue(false)}},
		{name: "negative confirmation from the station", apdu: `68 0e 0a 00 04 00
			2e 01 47 00 | C_DC_NA_1, negative actcon
			0d 91 98 3a 00 02`,
			code: 46, subcode: 7, op: protocols.OpOther, outcome: protocols.OutcomeException, unit: "37133",
			targets: []protocols.Target{{Space: "ioa", Address: 15000, Count: 1}}, reads: []protocols.Value{protocols.IntValue(2)}},
		{name: "reset process", controlling: true, apdu: `68 0e 00 00 00 00
			69 01 06 00 01 00 | C_RP_NA_1, act, CA 1
			00 00 00 01       // IOA 0, QRP general reset`,
			code: 105, subcode: 6, op: protocols.OpRestart, unit: "1", targets: []protocols.Target{{Space: "ioa", Count: 1}}},
		{name: "counter interrogation that freezes", controlling: true, apdu: `68 0e 00 00 00 00
			65 01 06 00 01 00 | C_CI_NA_1, act
			00 00 00 45       // QCC: freeze without reset, general request`,
			code: 101, subcode: 6, op: protocols.OpControl, unit: "1", targets: []protocols.Target{{Space: "ioa", Count: 1}}},
		{name: "counter interrogation that only reads", controlling: true, apdu: `68 0e 00 00 00 00
			65 01 06 00 01 00 00 00 00 05`,
			code: 101, subcode: 6, op: protocols.OpRead, unit: "1", targets: []protocols.Target{{Space: "ioa", Count: 1}}},
		{name: "ASDU cut after its type", controlling: true, apdu: `68 06 00 00 00 00 | I-format
			2d 01 // type and VSQ only`, code: 45, subcode: -1, anomalies: []string{"iec104.short_asdu"}},
		{name: "unknown type", controlling: true, apdu: `68 0e 00 00 00 00
			18 01 06 00 01 00 00 00 00 00`, code: 24, subcode: 6, op: protocols.OpOther, unit: "1", anomalies: []string{"iec104.unknown_type"}},
		{name: "objects cut short", controlling: true, apdu: `68 0f 00 00 00 00
			2d 02 06 00 01 00 | two single commands declared
			01 00 00 01       | IOA 1
			02 00 00          // IOA 2 without its SCO`,
			code: 45, subcode: 6, op: protocols.OpControl, unit: "1",
			targets: []protocols.Target{{Space: "ioa", Address: 1, Count: 1}}, values: []protocols.Value{protocols.BoolValue(true)},
			anomalies: []string{"iec104.short_asdu"}},
		{name: "bytes after the objects", controlling: true, apdu: `68 0f 00 00 00 00
			2d 01 06 00 01 00 01 00 00 01 | one command
			ff                            // one byte more`,
			code: 45, subcode: 6, op: protocols.OpControl, unit: "1",
			targets: []protocols.Target{{Space: "ioa", Address: 1, Count: 1}}, values: []protocols.Value{protocols.BoolValue(true)},
			anomalies: []string{"iec104.trailing_bytes"}},
		{name: "command activation sent by the station", apdu: `68 0e 00 00 00 00
			2d 01 06 00 01 00 01 00 00 01`,
			code: 45, subcode: 6, op: protocols.OpOther, unit: "1",
			targets: []protocols.Target{{Space: "ioa", Address: 1, Count: 1}}, reads: []protocols.Value{protocols.BoolValue(true)},
			anomalies: []string{"iec104.command_from_station"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			var tx protocols.Transaction
			_, ok := decodeAPDU(hx(t, c.apdu), &tx, c.controlling, &unitCache{})
			require.True(t, ok)
			assert.Equal(t, Proto, tx.Proto)
			assert.Equal(t, c.code, tx.Code)
			if c.subcode < 0 {
				assert.False(t, tx.HasSubcode)
			} else {
				assert.True(t, tx.HasSubcode)
				assert.Equal(t, c.subcode, tx.Subcode)
			}
			assert.Equal(t, c.op, tx.Op, "op %v", tx.Op)
			assert.Equal(t, c.outcome, tx.Outcome)
			assert.Equal(t, c.unit, tx.Unit)
			assert.Equal(t, c.targets, tx.Targets)
			assert.Equal(t, c.values, tx.Values)
			assert.Equal(t, c.reads, tx.ReadValues)
			assert.Equal(t, c.anomalies, tx.Anomalies)
			for k, v := range c.attrs {
				assert.Equal(t, v, tx.Attr(k), k)
			}
		})
	}
}

// APDUs that make no record, as tshark shows none of them.
func TestDecodeAPDUNoRecord(t *testing.T) {
	for name, apdu := range map[string]string{
		"length below 4":         "68 02 07 00 00 00",
		"U-format, no function":  "68 04 03 00 00 00",
		"I-format without ASDU":  "68 04 00 00 00 00",
		"start octet is missing": "69 04 07 00 00 00",
	} {
		var tx protocols.Transaction
		_, ok := decodeAPDU(hx(t, apdu), &tx, true, nil)
		assert.False(t, ok, name)
	}
}

func TestParseAPCISequenceNumbers(t *testing.T) {
	a, ok := ParseAPCI(hx(t, "68 04 | start, length\n fe ff ff ff // I-format, N(S) = N(R) = 32767"))
	require.True(t, ok)
	assert.Equal(t, FormatI, a.Format)
	assert.Equal(t, uint16(0x7FFF), a.SendSeq)
	assert.Equal(t, uint16(0x7FFF), a.RecvSeq)
}

func TestProfileClassifiesParameterLoading(t *testing.T) {
	var tx protocols.Transaction
	_, ok := decodeAPDU(hx(t, "68 12 00 00 00 00 | I\n 70 01 06 00 01 00 | P_ME_NC_1 act\n 05 00 00 00 00 20 41 01 // IOA 5: threshold 10.0"), &tx, true, nil)
	require.True(t, ok)
	tx.RequestFrame = 1
	assert.Equal(t, protocols.OpWrite, tx.Op)
	assert.Equal(t, protocols.ClassConfigChange, classify(&tx))
	tx.Code = 45
	assert.Equal(t, protocols.ClassNone, classify(&tx))
}

func BenchmarkDecodeAPDU(b *testing.B) {
	apdu := hx(b, "68 16 06 00 02 00 0b 83 03 00 01 00 64 00 00 e8 03 00 18 fc 00 00 00 80")
	var tx protocols.Transaction
	units := &unitCache{}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		tx.Reset()
		decodeAPDU(apdu, &tx, false, units)
	}
}
