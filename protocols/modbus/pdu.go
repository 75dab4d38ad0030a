package modbus

import (
	"encoding/binary"
	"strconv"

	"github.com/otwatch/otwatch/protocols"
)

// MBAP header (Modbus Messaging on TCP/IP Implementation Guide §3.1.3).
type Header struct {
	TransactionID uint16
	ProtocolID    uint16
	Length        uint16 // bytes that follow the length field: unit id + PDU
	Unit          uint8
}

// HeaderLen is the MBAP header size; the PDU follows it.
const HeaderLen = 7

// MaxLength is the largest MBAP length: unit id + a 253-byte PDU.
const MaxLength = 254

// ParseHeader decodes an MBAP header; ok is false when b is too short.
func ParseHeader(b []byte) (h Header, ok bool) {
	if len(b) < HeaderLen {
		return h, false
	}
	return Header{
		TransactionID: binary.BigEndian.Uint16(b),
		ProtocolID:    binary.BigEndian.Uint16(b[2:]),
		Length:        binary.BigEndian.Uint16(b[4:]),
		Unit:          b[6],
	}, true
}

// ADULen is the size of the whole ADU this header announces.
func (h Header) ADULen() int { return 6 + int(h.Length) }

// valid says whether the header could start a Modbus ADU.
func (h Header) valid() bool { return h.ProtocolID == 0 && h.Length >= 2 && h.Length <= MaxLength }

func u16(b []byte) uint64 { return uint64(binary.BigEndian.Uint16(b)) }

func setFunction(t *protocols.Transaction, fc int) {
	t.Proto = "modbus"
	t.Code = fc
	t.CodeName = FunctionName(fc)
	if f, ok := codes.Functions[fc]; ok {
		t.Op = f.Op
	} else {
		t.Op = protocols.OpOther
		if !isUserDefined(fc) {
			t.AddAnomaly("modbus.unknown_function")
		}
	}
}

func setSubfunction(t *protocols.Transaction, table map[int]protocols.Code, sub int) {
	t.Subcode, t.HasSubcode = sub, true
	if f, ok := table[sub]; ok {
		t.SubcodeName = f.Name
		t.Op = f.Op
	} else {
		t.SubcodeName = "unknown"
	}
}

func addRegisters(t *protocols.Transaction, regs []byte) {
	for i := 0; i+1 < len(regs); i += 2 {
		t.AddValue(protocols.IntValue(int64(binary.BigEndian.Uint16(regs[i:]))))
	}
}

// addWrittenBits and addWrittenRegisters add written coils and registers
// of target 0 as values and as typed points for the value models.
func addWrittenBits(t *protocols.Transaction, bits []byte, n int) {
	for i := 0; i < n && i/8 < len(bits); i++ {
		v := int64(bits[i/8] >> (i % 8) & 1)
		t.AddValue(protocols.IntValue(v))
		t.AddPoint(0, i, protocols.FieldValue, protocols.TypeBool, float64(v))
	}
}

func addWrittenRegisters(t *protocols.Transaction, regs []byte) {
	for i := 0; i+1 < len(regs); i += 2 {
		v := binary.BigEndian.Uint16(regs[i:])
		t.AddValue(protocols.IntValue(int64(v)))
		t.AddPoint(0, i/2, protocols.FieldValue, protocols.TypeReg, float64(v))
	}
}

func target(t *protocols.Transaction, space string, addr, count uint64) {
	t.AddTarget(space, addr, count)
}

var readSpaces = [5]string{"", "coil", "discrete_input", "holding_register", "input_register"}

// DecodeRequest fills t from a request PDU (function code first): op, code,
// names, targets, written values and anomalies.
func DecodeRequest(pdu []byte, t *protocols.Transaction) {
	if len(pdu) == 0 {
		t.AddAnomaly("modbus.invalid_length")
		return
	}
	fc := int(pdu[0] & 0x7F)
	setFunction(t, fc)
	b := pdu[1:]
	bad := func() { t.AddAnomaly("modbus.invalid_length") }
	switch fc {
	case ReadCoils, ReadDiscreteInputs, ReadHoldingRegisters, ReadInputRegisters:
		if len(b) != 4 {
			bad()
			if len(b) < 4 {
				return
			}
		}
		qty := u16(b[2:])
		limit := uint64(125)
		if fc <= ReadDiscreteInputs {
			limit = 2000
		}
		if qty == 0 || qty > limit {
			t.AddAnomaly("modbus.quantity_out_of_range")
		}
		target(t, readSpaces[fc], u16(b), qty)
	case WriteSingleCoil:
		if len(b) != 4 {
			bad()
			if len(b) < 4 {
				return
			}
		}
		v := u16(b[2:])
		if v != 0xFF00 && v != 0 {
			t.AddAnomaly("modbus.invalid_coil_value")
		}
		target(t, "coil", u16(b), 1)
		t.AddValue(protocols.IntValue(int64(v >> 15)))
		t.AddPoint(0, 0, protocols.FieldValue, protocols.TypeBool, float64(v>>15))
	case WriteSingleRegister:
		if len(b) != 4 {
			bad()
			if len(b) < 4 {
				return
			}
		}
		target(t, "holding_register", u16(b), 1)
		t.AddValue(protocols.IntValue(int64(u16(b[2:]))))
		t.AddPoint(0, 0, protocols.FieldValue, protocols.TypeReg, float64(u16(b[2:])))
	case WriteMultipleCoils, WriteMultipleRegisters:
		if len(b) < 5 {
			bad()
			return
		}
		qty, n := u16(b[2:]), int(b[4])
		space, want, limit := "coil", int((qty+7)/8), uint64(1968)
		if fc == WriteMultipleRegisters {
			space, want, limit = "holding_register", int(qty*2), 123
		}
		if qty == 0 || qty > limit {
			t.AddAnomaly("modbus.quantity_out_of_range")
		}
		if n != want {
			t.AddAnomaly("modbus.byte_count_mismatch")
		}
		if len(b) != 5+n {
			bad()
		}
		target(t, space, u16(b), qty)
		data := b[5:]
		if len(data) > n {
			data = data[:n]
		}
		if fc == WriteMultipleCoils {
			addWrittenBits(t, data, int(qty))
		} else {
			addWrittenRegisters(t, data)
		}
	case Diagnostics:
		if len(b) < 2 {
			bad()
			return
		}
		setSubfunction(t, codes.DiagnosticSubfunctions, int(u16(b)))
		if len(b)%2 != 0 {
			bad()
		}
		if t.Op == protocols.OpControl || t.Op == protocols.OpRestart {
			addRegisters(t, b[2:])
		}
	case ReadFileRecord, WriteFileRecord:
		decodeFileRecords(b, t, fc == WriteFileRecord)
	case MaskWriteRegister:
		if len(b) != 6 {
			bad()
		}
		if len(b) >= 2 { // a short PDU still names its register
			target(t, "holding_register", u16(b), 1)
		}
		if len(b) >= 6 {
			t.AddValue(protocols.IntValue(int64(u16(b[2:])))) // AND mask
			t.AddValue(protocols.IntValue(int64(u16(b[4:])))) // OR mask
		}
	case ReadWriteMultipleRegisters:
		if len(b) < 9 {
			bad()
			return
		}
		readQty, writeQty, n := u16(b[2:]), u16(b[6:]), int(b[8])
		if readQty == 0 || readQty > 125 || writeQty == 0 || writeQty > 121 {
			t.AddAnomaly("modbus.quantity_out_of_range")
		}
		if n != int(writeQty*2) {
			t.AddAnomaly("modbus.byte_count_mismatch")
		}
		if len(b) != 9+n {
			bad()
		}
		// The write target first: detection reads targets of a write as written.
		target(t, "holding_register", u16(b[4:]), writeQty)
		target(t, "holding_register_read", u16(b), readQty)
		data := b[9:]
		if len(data) > n {
			data = data[:n]
		}
		addWrittenRegisters(t, data)
	case ReadFIFOQueue:
		if len(b) != 2 {
			bad()
			if len(b) < 2 {
				return
			}
		}
		target(t, "fifo_queue", u16(b), 1)
	case EncapsulatedInterface:
		if len(b) < 1 {
			bad()
			return
		}
		setSubfunction(t, codes.MEITypes, int(b[0]))
		if b[0] == MEIReadDeviceIdentification {
			if len(b) != 3 {
				bad()
			}
			if len(b) >= 3 {
				t.Attrs = append(t.Attrs, protocols.Attr{Key: "read_device_id_code", Value: strconv.Itoa(int(b[1]))},
					protocols.Attr{Key: "object_id", Value: strconv.Itoa(int(b[2]))})
			}
		}
	case ReadExceptionStatus, GetCommEventCounter, GetCommEventLog, ReportServerID:
		if len(b) != 0 {
			bad()
		}
	}
}

// decodeFileRecords reads the sub-requests of functions 20 and 21.
func decodeFileRecords(b []byte, t *protocols.Transaction, write bool) {
	if len(b) < 1 {
		t.AddAnomaly("modbus.invalid_length")
		return
	}
	n := int(b[0])
	if len(b) != 1+n {
		t.AddAnomaly("modbus.invalid_length")
	}
	b = b[1:]
	if len(b) > n {
		b = b[:n]
	}
	for len(b) >= 7 {
		file, record, length := u16(b[1:]), u16(b[3:]), u16(b[5:])
		if b[0] != 6 {
			t.AddAnomaly("modbus.invalid_length")
		}
		t.Targets = append(t.Targets, protocols.Target{Space: "file_record", File: uint32(file), Address: record, Count: length})
		b = b[7:]
		if !write {
			continue
		}
		data := int(length) * 2
		if data > len(b) {
			t.AddAnomaly("modbus.byte_count_mismatch")
			data = len(b)
		}
		addRegisters(t, b[:data])
		b = b[data:]
	}
	if len(b) != 0 {
		t.AddAnomaly("modbus.invalid_length")
	}
}

// DecodeResponse completes t (whose request may or may not have been
// decoded) from a response PDU: outcome, exception code, identity objects.
func DecodeResponse(pdu []byte, t *protocols.Transaction) {
	if len(pdu) == 0 {
		t.AddAnomaly("modbus.invalid_length")
		return
	}
	fc := int(pdu[0] & 0x7F)
	requestSeen := t.RequestFrame != 0
	if !requestSeen {
		setFunction(t, fc)
	}
	b := pdu[1:]
	if pdu[0]&0x80 != 0 {
		t.Outcome = protocols.OutcomeException
		if len(b) != 1 {
			t.AddAnomaly("modbus.invalid_length")
		}
		if len(b) >= 1 {
			t.ExceptionCode, t.HasException = int64(b[0]), true
			if _, ok := codes.ExceptionNames[b[0]]; !ok {
				t.AddAnomaly("modbus.unknown_exception_code")
			}
		}
		return
	}
	t.Outcome = protocols.OutcomeOK
	bad := func() { t.AddAnomaly("modbus.invalid_length") }
	// byteCounted: one count byte then that many bytes.
	byteCounted := func() []byte {
		if len(b) < 1 || len(b) != 1+int(b[0]) {
			bad()
			if len(b) < 1 {
				return nil
			}
			if len(b) > 1+int(b[0]) {
				return b[1 : 1+int(b[0])]
			}
			return b[1:]
		}
		return b[1:]
	}
	requested := uint64(0)
	if requestSeen && len(t.Targets) > 0 {
		requested = t.Targets[0].Count
	}
	switch fc {
	case ReadCoils, ReadDiscreteInputs:
		data := byteCounted()
		if requested > 0 && len(data) != int((requested+7)/8) {
			t.AddAnomaly("modbus.byte_count_mismatch")
		}
	case ReadHoldingRegisters, ReadInputRegisters, ReadWriteMultipleRegisters:
		data := byteCounted()
		if len(data)%2 != 0 {
			t.AddAnomaly("modbus.byte_count_mismatch")
		}
		if fc != ReadWriteMultipleRegisters && requested > 0 && len(data) != int(requested*2) {
			t.AddAnomaly("modbus.byte_count_mismatch")
		}
	case WriteSingleCoil, WriteSingleRegister, WriteMultipleCoils, WriteMultipleRegisters:
		if len(b) != 4 {
			bad()
			return
		}
		if !requestSeen {
			switch fc {
			case WriteSingleCoil:
				target(t, "coil", u16(b), 1)
				t.AddValue(protocols.IntValue(int64(u16(b[2:]) >> 15)))
				t.AddPoint(0, 0, protocols.FieldValue, protocols.TypeBool, float64(u16(b[2:])>>15))
			case WriteSingleRegister:
				target(t, "holding_register", u16(b), 1)
				t.AddValue(protocols.IntValue(int64(u16(b[2:]))))
				t.AddPoint(0, 0, protocols.FieldValue, protocols.TypeReg, float64(u16(b[2:])))
			case WriteMultipleCoils:
				target(t, "coil", u16(b), u16(b[2:]))
			default:
				target(t, "holding_register", u16(b), u16(b[2:]))
			}
		}
	case MaskWriteRegister:
		if len(b) != 6 {
			bad()
			return
		}
		if !requestSeen {
			target(t, "holding_register", u16(b), 1)
			t.AddValue(protocols.IntValue(int64(u16(b[2:]))))
			t.AddValue(protocols.IntValue(int64(u16(b[4:]))))
		}
	case ReadExceptionStatus:
		if len(b) != 1 {
			bad()
		}
	case Diagnostics:
		if len(b) < 2 {
			bad()
			return
		}
		if !requestSeen {
			setSubfunction(t, codes.DiagnosticSubfunctions, int(u16(b)))
		}
	case GetCommEventCounter:
		if len(b) != 4 {
			bad()
		}
	case GetCommEventLog, ReportServerID, ReadFileRecord:
		byteCounted()
	case WriteFileRecord:
		if !requestSeen {
			decodeFileRecords(b, t, true)
		}
	case ReadFIFOQueue:
		if len(b) < 4 || len(b) != 2+int(u16(b)) {
			bad()
		}
	case EncapsulatedInterface:
		if len(b) < 1 {
			bad()
			return
		}
		if !requestSeen {
			setSubfunction(t, codes.MEITypes, int(b[0]))
		}
		if b[0] == MEIReadDeviceIdentification {
			decodeDeviceIdentification(b[1:], t)
		}
	}
}

// decodeDeviceIdentification reads the objects of a 43/14 response.
func decodeDeviceIdentification(b []byte, t *protocols.Transaction) {
	// read device id code, conformity level, more follows, next object id, number of objects
	if len(b) < 5 {
		t.AddAnomaly("modbus.invalid_length")
		return
	}
	t.Attrs = append(t.Attrs, protocols.Attr{Key: "conformity_level", Value: "0x" + strconv.FormatUint(uint64(b[1]), 16)})
	count := int(b[4])
	b = b[5:]
	for i := 0; i < count; i++ {
		if len(b) < 2 || len(b) < 2+int(b[1]) {
			t.AddAnomaly("modbus.invalid_length")
			return
		}
		id, n := b[0], int(b[1])
		name, ok := codes.DeviceIDObjects[id]
		if !ok {
			name = "object_0x" + strconv.FormatUint(uint64(id), 16)
		}
		t.Attrs = append(t.Attrs, protocols.Attr{Key: name, Value: printable(b[2 : 2+n])})
		b = b[2+n:]
	}
	if len(b) != 0 {
		t.AddAnomaly("modbus.invalid_length")
	}
}

// printable is the shared sanitiser for strings from the wire (protocols.Printable).
func printable(b []byte) string { return protocols.Printable(b) }

// UnitString renders a unit id for Transaction.Unit.
func UnitString(u uint8) string { return unitStrings[u] }

var unitStrings = func() (s [256]string) {
	for i := range s {
		s[i] = strconv.Itoa(i)
	}
	return
}()
