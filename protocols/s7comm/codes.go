package s7comm

import (
	_ "embed"
	"strconv"

	"github.com/otwatch/otwatch/protocols"
)

// Protocol names as the records carry them.
const (
	ProtoS7     = "s7comm"
	ProtoS7Plus = "s7comm-plus"
)

// Protocol ids: the first byte of a COTP DT payload.
const (
	ProtocolIDS7     = 0x32
	ProtocolIDS7Plus = 0x72
)

// ROSCTR (remote operating service control) values of the S7comm header.
const (
	ROSCTRJob      = 1
	ROSCTRAck      = 2
	ROSCTRAckData  = 3
	ROSCTRUserdata = 7
)

// Parameter function codes of job / ack_data PDUs.
const (
	FuncCPUServices     = 0x00
	FuncReadVar         = 0x04
	FuncWriteVar        = 0x05
	FuncRequestDownload = 0x1a
	FuncDownloadBlock   = 0x1b
	FuncDownloadEnded   = 0x1c
	FuncStartUpload     = 0x1d
	FuncUpload          = 0x1e
	FuncEndUpload       = 0x1f
	FuncPIService       = 0x28
	FuncPLCStop         = 0x29
	FuncSetupComm       = 0xf0
)

// codes are the tables of codes.tsv. Functions and Areas are arrays: they
// are looked up on every job and item.
var codes = protocols.MustLoadCodes[struct {
	Functions                           [256]protocols.Code
	Areas                               [256]string
	PIServices                          map[string]protocols.Code
	Groups                              map[byte]protocols.Code
	Subfunctions                        map[uint16]protocols.Code // group<<8 | subfunction
	PlusFunctions                       map[uint16]protocols.Code
	ROSCTRNames, OpcodeNames, ModeNames map[byte]string
	BlockTypes                          map[string]string
}](codeList)

//go:embed codes.tsv
var codeList string

// FunctionName is the snake_case name of a job function code.
func FunctionName(fc byte) string {
	if f := codes.Functions[fc]; f.Name != "" {
		return f.Name
	}
	return "unknown"
}

// Userdata function groups (low nibble of the type/group byte).
const (
	GroupModeTransition = 0x0
	GroupProgrammer     = 0x1
	GroupCyclicData     = 0x2
	GroupBlock          = 0x3
	GroupCPU            = 0x4
	GroupSecurity       = 0x5
	GroupPBC            = 0x6
	GroupTime           = 0x7
	GroupNCProgramming  = 0xf
)

// Userdata subfunctions per group.
const (
	SubReadSZL    = 0x01
	SubReadClock  = 0x01
	SubSetClock   = 0x02
	SubSetClock2  = 0x04
	SubListBlocks = 0x01
)

// GroupName is the snake_case name of a userdata function group.
func GroupName(g byte) string {
	if f, ok := codes.Groups[g]; ok {
		return f.Name
	}
	return "unknown"
}

// Userdata types (high nibble of the type/group byte).
const (
	UDPush       = 0x0
	UDNCPush     = 0x3
	UDRequest    = 0x4
	UDNCRequest  = 0x7
	UDResponse   = 0x8
	UDNCResponse = 0xb
)

// Item transport sizes of S7ANY addresses and their element size in bytes
// (0: bit).
var transportSizes = [256]struct {
	name string
	size int
}{
	0x01: {"BIT", 0}, 0x02: {"BYTE", 1}, 0x03: {"CHAR", 1}, 0x04: {"WORD", 2},
	0x05: {"INT", 2}, 0x06: {"DWORD", 4}, 0x07: {"DINT", 4}, 0x08: {"REAL", 4},
	0x09: {"DATE", 2}, 0x0a: {"TOD", 4}, 0x0b: {"TIME", 4}, 0x0c: {"S5TIME", 2},
	0x0f: {"DATE_AND_TIME", 8}, 0x1c: {"COUNTER", 2}, 0x1d: {"TIMER", 2},
	0x1e: {"IEC_TIMER", 4}, 0x1f: {"IEC_COUNTER", 2}, 0x20: {"HS_COUNTER", 4},
}

// Data transport sizes of data items: the length is in bits for these.
func lengthInBits(ts byte) bool { return ts == 0x03 || ts == 0x04 || ts == 0x05 }

// S7comm-plus opcodes.
const (
	OpcodeRequest      = 0x31
	OpcodeResponse     = 0x32
	OpcodeNotification = 0x33
	OpcodeResponse2    = 0x02
)

// S7comm-plus function codes.
const (
	PlusExplore           = 0x04bb
	PlusCreateObject      = 0x04ca
	PlusDeleteObject      = 0x04d4
	PlusSetVariable       = 0x04f2
	PlusGetVariable       = 0x04fc
	PlusAddLink           = 0x0506
	PlusRemoveLink        = 0x051a
	PlusGetLink           = 0x0524
	PlusSetMultiVariables = 0x0542
	PlusGetMultiVariables = 0x054c
	PlusBeginSequence     = 0x0556
	PlusEndSequence       = 0x0560
	PlusInvoke            = 0x056b
	PlusSetVarSubStreamed = 0x057c
	PlusGetVarSubStreamed = 0x0586
	PlusGetVariablesAddr  = 0x0590
	PlusAbort             = 0x059a
	PlusError             = 0x05a9 // Error2 in Wireshark
	PlusInitSSL           = 0x05b3
	PlusError2            = 0x04b1
)

// PlusFunctionName is the snake_case name of an S7comm-plus function.
func PlusFunctionName(fc uint16) string {
	if f, ok := codes.PlusFunctions[fc]; ok {
		return f.Name
	}
	return "unknown"
}

func hex16(v uint16) string {
	const digits = "0123456789abcdef"
	return string([]byte{'0', 'x', digits[v>>12], digits[v>>8&15], digits[v>>4&15], digits[v&15]})
}

func itoa(v int) string { return strconv.Itoa(v) }

// modeName names the CPU mode a mode-transition push announces.
func modeName(m byte) string {
	if n, ok := codes.ModeNames[m]; ok {
		return n
	}
	return "mode_" + itoa(int(m))
}
