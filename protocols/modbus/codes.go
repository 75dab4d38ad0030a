package modbus

import (
	_ "embed"

	"github.com/otwatch/otwatch/protocols"
)

// Function codes of the Modbus Application Protocol Specification V1.1b3.
const (
	ReadCoils                  = 1
	ReadDiscreteInputs         = 2
	ReadHoldingRegisters       = 3
	ReadInputRegisters         = 4
	WriteSingleCoil            = 5
	WriteSingleRegister        = 6
	ReadExceptionStatus        = 7
	Diagnostics                = 8
	GetCommEventCounter        = 11
	GetCommEventLog            = 12
	WriteMultipleCoils         = 15
	WriteMultipleRegisters     = 16
	ReportServerID             = 17
	ReadFileRecord             = 20
	WriteFileRecord            = 21
	MaskWriteRegister          = 22
	ReadWriteMultipleRegisters = 23
	ReadFIFOQueue              = 24
	EncapsulatedInterface      = 43
)

// MEI types of function 43.
const (
	MEICANopen                  = 13
	MEIReadDeviceIdentification = 14
)

// codes are the tables of codes.tsv: names and ops of the function codes,
// the diagnostics subfunctions (Modbus over serial line spec §6.8), the MEI
// types of function 43, the objects of Read Device Identification (spec
// §6.21) and the exception codes.
var codes = protocols.MustLoadCodes[struct {
	Functions, DiagnosticSubfunctions, MEITypes map[int]protocols.Code
	DeviceIDObjects, ExceptionNames             map[byte]string
}](codeList)

//go:embed codes.tsv
var codeList string

// isUserDefined: ranges 65–72 and 100–110 are left to vendors.
func isUserDefined(fc int) bool { return (fc >= 65 && fc <= 72) || (fc >= 100 && fc <= 110) }

// plausibleFunction is true for a code a device could send (with or
// without the exception bit); used for probing and re-synchronisation.
func plausibleFunction(b byte) bool {
	fc := int(b & 0x7F)
	_, known := codes.Functions[fc]
	return fc != 0 && (known || isUserDefined(fc))
}

// FunctionName returns the snake_case name of a function code.
func FunctionName(fc int) string {
	if f, ok := codes.Functions[fc]; ok {
		return f.Name
	}
	if isUserDefined(fc) {
		return "user_defined"
	}
	return "unknown"
}
