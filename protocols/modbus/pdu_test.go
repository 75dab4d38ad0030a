package modbus

import (
	"testing"

	"github.com/otwatch/otwatch/protocols"
	"github.com/otwatch/otwatch/protocols/testkit"
	"github.com/stretchr/testify/assert"
)

// hx turns "0f 00 13 | comment" lines into bytes: text after | is a comment.
func hx(t testing.TB, s string) []byte { return testkit.Hex(t, s) }

func ints(vs ...int64) []protocols.Value {
	out := make([]protocols.Value, len(vs))
	for i, v := range vs {
		out[i] = protocols.IntValue(v)
	}
	return out
}

func TestDecodeRequest(t *testing.T) {
	tests := []struct {
		name      string
		pdu       string
		op        protocols.Op
		code      int
		codeName  string
		subcode   int // -1: none
		targets   []protocols.Target
		values    []protocols.Value
		anomalies []string
	}{
		{"read coils", `01 | function
			00 13 | start address 19
			00 13 | quantity 19`, protocols.OpRead, 1, "read_coils", -1,
			[]protocols.Target{{Space: "coil", Address: 19, Count: 19}}, nil, nil},
		{"read discrete inputs", `02 00c4 0016`, protocols.OpRead, 2, "read_discrete_inputs", -1,
			[]protocols.Target{{Space: "discrete_input", Address: 196, Count: 22}}, nil, nil},
		{"read holding registers", `03 006b 0003`, protocols.OpRead, 3, "read_holding_registers", -1,
			[]protocols.Target{{Space: "holding_register", Address: 107, Count: 3}}, nil, nil},
		{"read input registers", `04 0008 0001`, protocols.OpRead, 4, "read_input_registers", -1,
			[]protocols.Target{{Space: "input_register", Address: 8, Count: 1}}, nil, nil},
		{"read quantity zero", `03 0000 0000`, protocols.OpRead, 3, "read_holding_registers", -1,
			[]protocols.Target{{Space: "holding_register", Address: 0, Count: 0}}, nil, []string{"modbus.quantity_out_of_range"}},
		{"read registers too many", `03 0000 007e | 126 > 125`, protocols.OpRead, 3, "read_holding_registers", -1,
			[]protocols.Target{{Space: "holding_register", Address: 0, Count: 126}}, nil, []string{"modbus.quantity_out_of_range"}},
		{"write single coil on", `05 00ac | address 172
			ff00 | ON`, protocols.OpWrite, 5, "write_single_coil", -1,
			[]protocols.Target{{Space: "coil", Address: 172, Count: 1}}, ints(1), nil},
		{"write single coil bad value", `05 00ac 1234`, protocols.OpWrite, 5, "write_single_coil", -1,
			[]protocols.Target{{Space: "coil", Address: 172, Count: 1}}, ints(0), []string{"modbus.invalid_coil_value"}},
		{"write single register", `06 0001 0003`, protocols.OpWrite, 6, "write_single_register", -1,
			[]protocols.Target{{Space: "holding_register", Address: 1, Count: 1}}, ints(3), nil},
		{"write multiple coils", `0f 0013 | address 19
			000a | 10 coils
			02 | byte count
			cd 01 | 1100 1101, 01`, protocols.OpWrite, 15, "write_multiple_coils", -1,
			[]protocols.Target{{Space: "coil", Address: 19, Count: 10}}, ints(1, 0, 1, 1, 0, 0, 1, 1, 1, 0), nil},
		{"write multiple registers", `10 0001 0002 04 000a 0102`, protocols.OpWrite, 16, "write_multiple_registers", -1,
			[]protocols.Target{{Space: "holding_register", Address: 1, Count: 2}}, ints(10, 258), nil},
		{"write multiple registers byte count wrong", `10 0001 0002 02 000a`, protocols.OpWrite, 16, "write_multiple_registers", -1,
			[]protocols.Target{{Space: "holding_register", Address: 1, Count: 2}}, ints(10), []string{"modbus.byte_count_mismatch"}},
		{"write multiple registers truncated", `10 0001 0002 04 000a`, protocols.OpWrite, 16, "write_multiple_registers", -1,
			[]protocols.Target{{Space: "holding_register", Address: 1, Count: 2}}, ints(10), []string{"modbus.invalid_length"}},
		{"diagnostics return query data", `08 0000 a537`, protocols.OpDiagnostic, 8, "diagnostics", 0, nil, nil, nil},
		{"diagnostics force listen only", `08 | diagnostics
			0004 | force listen only mode
			0000`, protocols.OpControl, 8, "diagnostics", 4, nil, ints(0), nil},
		{"diagnostics restart communications", `08 0001 ff00`, protocols.OpRestart, 8, "diagnostics", 1, nil, ints(0xff00), nil},
		{"read exception status", `07`, protocols.OpDiagnostic, 7, "read_exception_status", -1, nil, nil, nil},
		{"get comm event counter", `0b`, protocols.OpDiagnostic, 11, "get_comm_event_counter", -1, nil, nil, nil},
		{"get comm event log", `0c`, protocols.OpDiagnostic, 12, "get_comm_event_log", -1, nil, nil, nil},
		{"report server id", `11`, protocols.OpDiscovery, 17, "report_server_id", -1, nil, nil, nil},
		{"report server id with junk", `11 00`, protocols.OpDiscovery, 17, "report_server_id", -1, nil, nil, []string{"modbus.invalid_length"}},
		{"read file record", `14 | function 20
			0e | byte count 14
			06 0004 0001 0002 | ref 6, file 4, record 1, length 2
			06 0003 0009 0002 | ref 6, file 3, record 9, length 2`, protocols.OpRead, 20, "read_file_record", -1,
			[]protocols.Target{{Space: "file_record", File: 4, Address: 1, Count: 2}, {Space: "file_record", File: 3, Address: 9, Count: 2}}, nil, nil},
		{"write file record", `15 | function 21
			0d | byte count 13
			06 0004 0007 0003 | ref 6, file 4, record 7, length 3
			06af 04be 100d | data`, protocols.OpWrite, 21, "write_file_record", -1,
			[]protocols.Target{{Space: "file_record", File: 4, Address: 7, Count: 3}}, ints(0x06af, 0x04be, 0x100d), nil},
		{"mask write register", `16 0004 00f2 0025`, protocols.OpWrite, 22, "mask_write_register", -1,
			[]protocols.Target{{Space: "holding_register", Address: 4, Count: 1}}, ints(0xf2, 0x25), nil},
		{"mask write register short", `16 0004`, protocols.OpWrite, 22, "mask_write_register", -1,
			[]protocols.Target{{Space: "holding_register", Address: 4, Count: 1}}, nil, []string{"modbus.invalid_length"}},
		{"read write multiple registers", `17 | function 23
			0003 0006 | read 6 from 3
			000e 0003 | write 3 at 14
			06 00ff 00ff 00ff | byte count, values`, protocols.OpWrite, 23, "read_write_multiple_registers", -1,
			[]protocols.Target{{Space: "holding_register", Address: 14, Count: 3}, {Space: "holding_register_read", Address: 3, Count: 6}},
			ints(255, 255, 255), nil},
		{"read fifo queue", `18 04de`, protocols.OpRead, 24, "read_fifo_queue", -1,
			[]protocols.Target{{Space: "fifo_queue", Address: 1246, Count: 1}}, nil, nil},
		{"read device identification", `2b 0e | MEI 14
			01 00 | basic, from object 0`, protocols.OpDiscovery, 43, "encapsulated_interface_transport", 14, nil, nil, nil},
		{"canopen general reference", `2b 0d 0001`, protocols.OpOther, 43, "encapsulated_interface_transport", 13, nil, nil, nil},
		{"user defined", `41 0102`, protocols.OpOther, 65, "user_defined", -1, nil, nil, nil},
		{"unknown function", `1d 0000`, protocols.OpOther, 29, "unknown", -1, nil, nil, []string{"modbus.unknown_function"}},
		{"function zero", `00 0000 0000`, protocols.OpOther, 0, "unknown", -1, nil, nil, []string{"modbus.unknown_function"}},
		{"empty read", `03`, protocols.OpRead, 3, "read_holding_registers", -1, nil, nil, []string{"modbus.invalid_length"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var tx protocols.Transaction
			DecodeRequest(hx(t, tc.pdu), &tx)
			assert.Equal(t, tc.op, tx.Op, "op")
			assert.Equal(t, tc.code, tx.Code, "code")
			assert.Equal(t, tc.codeName, tx.CodeName, "code name")
			assert.Equal(t, tc.subcode >= 0, tx.HasSubcode, "has subcode")
			if tc.subcode >= 0 {
				assert.Equal(t, tc.subcode, tx.Subcode, "subcode")
			}
			assert.Equal(t, tc.targets, tx.Targets, "targets")
			assert.Equal(t, tc.values, tx.Values, "values")
			assert.Equal(t, tc.anomalies, tx.Anomalies, "anomalies")
		})
	}
}

func TestDecodeResponse(t *testing.T) {
	tests := []struct {
		name      string
		pdu       string
		outcome   protocols.Outcome
		exception int64
		attrs     []protocols.Attr
		anomalies []string
	}{
		{"read coils", `01 03 cd6b05 | 3 bytes for the 2 coils asked`, protocols.OutcomeOK, 0, nil, []string{"modbus.byte_count_mismatch"}},
		{"read registers", `03 04 022b 0000`, protocols.OutcomeOK, 0, nil, nil},
		{"read registers odd count", `03 05 022b000000`, protocols.OutcomeOK, 0, nil, []string{"modbus.byte_count_mismatch"}},
		{"read registers length mismatch", `03 06 022b`, protocols.OutcomeOK, 0, nil, []string{"modbus.invalid_length", "modbus.byte_count_mismatch"}},
		{"exception illegal address", `83 | read holding registers + exception bit
			02 | illegal data address`, protocols.OutcomeException, 2, nil, nil},
		{"exception gateway", `90 0b`, protocols.OutcomeException, 11, nil, nil},
		{"exception unknown code", `83 63`, protocols.OutcomeException, 0x63, nil, []string{"modbus.unknown_exception_code"}},
		{"exception with extra byte", `81 06 00`, protocols.OutcomeException, 6, nil, []string{"modbus.invalid_length"}},
		{"write single register echo", `06 0001 0003`, protocols.OutcomeOK, 0, nil, nil},
		{"fifo", `18 0006 0002 01b8 1284`, protocols.OutcomeOK, 0, nil, nil},
		{"device identification", `2b 0e | MEI 14
			01 01 | read device id code, conformity level
			00 00 | more follows, next object
			03 | three objects
			00 07 436f6d70616e79 | vendor name "Company"
			01 04 5043 3031 | product code "PC01"
			02 05 56322e3131 | revision "V2.11"`, protocols.OutcomeOK, 0,
			[]protocols.Attr{{Key: "conformity_level", Value: "0x1"}, {Key: "vendor_name", Value: "Company"},
				{Key: "product_code", Value: "PC01"}, {Key: "major_minor_revision", Value: "V2.11"}}, nil},
		{"device identification object overruns", `2b 0e 01 01 00 00 01 00 09 4142`, protocols.OutcomeOK, 0,
			[]protocols.Attr{{Key: "conformity_level", Value: "0x1"}}, []string{"modbus.invalid_length"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tx := protocols.Transaction{RequestFrame: 1}
			pdu := hx(t, tc.pdu)
			DecodeRequest([]byte{pdu[0] & 0x7f, 0, 0, 0, 2}, &tx)
			tx.Anomalies = nil
			DecodeResponse(pdu, &tx)
			assert.Equal(t, tc.outcome, tx.Outcome)
			if tc.outcome == protocols.OutcomeException {
				assert.True(t, tx.HasException)
				assert.Equal(t, tc.exception, tx.ExceptionCode)
			}
			assert.Equal(t, tc.attrs, tx.Attrs)
			assert.Equal(t, tc.anomalies, tx.Anomalies)
		})
	}
}

func TestResponseWithoutRequestKeepsOwnCode(t *testing.T) {
	var tx protocols.Transaction
	DecodeResponse(hx(t, "90 02"), &tx)
	assert.Equal(t, 16, tx.Code)
	assert.Equal(t, protocols.OpWrite, tx.Op)
	assert.Equal(t, protocols.OutcomeException, tx.Outcome)
	DecodeResponse(hx(t, "06 0007 00ff"), &tx)
}

func BenchmarkDecodeRequest(b *testing.B) {
	for _, bc := range []struct{ name, pdu string }{
		{"read_holding_registers", "03006b0003"},
		{"write_multiple_registers", "100001000204000a0102"},
		{"write_single_coil", "0500acff00"},
		{"diagnostics", "080004 0000"},
	} {
		pdu := hx(b, bc.pdu)
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			var tx protocols.Transaction
			for i := 0; i < b.N; i++ {
				tx.Targets, tx.Values, tx.Anomalies = tx.Targets[:0], tx.Values[:0], tx.Anomalies[:0]
				DecodeRequest(pdu, &tx)
			}
		})
	}
}

func BenchmarkDecodeResponse(b *testing.B) {
	pdu := hx(b, "03 06 022b00000064")
	b.ReportAllocs()
	tx := protocols.Transaction{RequestFrame: 1}
	for i := 0; i < b.N; i++ {
		tx.Anomalies = tx.Anomalies[:0]
		DecodeResponse(pdu, &tx)
	}
}

func TestIdentityFromDeviceIdentification(t *testing.T) {
	tx := protocols.Transaction{Proto: "modbus", RequestFrame: 1, ResponseFrame: 2}
	DecodeRequest(hx(t, "2b 0e 01 00"), &tx)
	DecodeResponse(hx(t, `2b 0e 01 01 00 00 02
		00 04 41434d45 | vendor ACME
		02 04 76312e32 | revision v1.2`), &tx)
	facts := Dissector.Identity(&tx)
	assert.Equal(t, []protocols.IdentityFact{
		{Field: "vendor_name", Value: "ACME", Message: "read_device_identification"},
		{Field: "firmware", Value: "v1.2", Message: "read_device_identification"},
	}, facts)
	tx.Outcome = protocols.OutcomeException
	assert.Empty(t, Dissector.Identity(&tx))
}

// TestHostileIdentity: device identification strings reach the inventory
// with controls, bidi overrides, separators and bad bytes escaped.
func TestHostileIdentity(t *testing.T) {
	tx := protocols.Transaction{Proto: "modbus", RequestFrame: 1, ResponseFrame: 2}
	DecodeRequest(hx(t, "2b 0e 01 00"), &tx)
	DecodeResponse(hx(t, "2b 0e 01 01 00 00 01 00 1c "+testkit.HostileHex), &tx)
	facts := Dissector.Identity(&tx)
	if assert.Len(t, facts, 1) {
		assert.Equal(t, testkit.HostileShown, facts[0].Value)
	}
}
