package s7comm

import (
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

var rosctrNames = map[byte]string{ROSCTRJob: "job", ROSCTRAck: "ack", ROSCTRAckData: "ack_data", ROSCTRUserdata: "userdata"}

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

type codeInfo struct {
	name string
	op   protocols.Op
}

// functions names the job functions (an array: looked up on every job).
var functions = [256]codeInfo{
	FuncCPUServices:     {"cpu_services", protocols.OpOther},
	FuncReadVar:         {"read_var", protocols.OpRead},
	FuncWriteVar:        {"write_var", protocols.OpWrite},
	FuncRequestDownload: {"request_download", protocols.OpProgramDownload},
	FuncDownloadBlock:   {"download_block", protocols.OpProgramDownload},
	FuncDownloadEnded:   {"download_ended", protocols.OpProgramDownload},
	FuncStartUpload:     {"start_upload", protocols.OpProgramUpload},
	FuncUpload:          {"upload", protocols.OpProgramUpload},
	FuncEndUpload:       {"end_upload", protocols.OpProgramUpload},
	FuncPIService:       {"pi_service", protocols.OpControl},
	FuncPLCStop:         {"plc_stop", protocols.OpStop},
	FuncSetupComm:       {"setup_communication", protocols.OpSession},
}

// FunctionName is the snake_case name of a job function code.
func FunctionName(fc byte) string {
	if f := functions[fc]; f.name != "" {
		return f.name
	}
	return "unknown"
}

// piServices names the program invocation services (function 0x28) and the
// op each maps to. P_PROGRAM is refined by its parameter (see piOp).
var piServices = map[string]codeInfo{
	"P_PROGRAM": {"plc_start", protocols.OpStart},
	"_INSE":     {"insert_block", protocols.OpProgramDownload},
	"_DELE":     {"delete_block", protocols.OpProgramDownload},
	"_MODU":     {"copy_ram_to_rom", protocols.OpControl},
	"_GARB":     {"compress_memory", protocols.OpControl},
	"_EXEC":     {"execute", protocols.OpControl},
	"_N_LOGIN_": {"nc_login", protocols.OpSession},
	"_N_LOGOUT": {"nc_logout", protocols.OpSession},
	"_N_CANCEL": {"nc_cancel", protocols.OpControl},
	"_N_DASAVE": {"nc_data_save", protocols.OpControl},
	"_N_DIGIOF": {"nc_digitizing_off", protocols.OpControl},
	"_N_DIGION": {"nc_digitizing_on", protocols.OpControl},
	"_N_F_COPY": {"nc_file_copy", protocols.OpControl},
	"_N_F_DELE": {"nc_file_delete", protocols.OpProgramDownload},
	"_N_F_OPEN": {"nc_file_open", protocols.OpControl},
	"_N_F_PROR": {"nc_file_protect", protocols.OpControl},
	"_N_F_PROT": {"nc_file_protect", protocols.OpControl},
	"_N_F_RENA": {"nc_file_rename", protocols.OpControl},
	"_N_F_SEEK": {"nc_file_seek", protocols.OpControl},
	"_N_SELECT": {"nc_select_program", protocols.OpControl},
	"_N_STRTLK": {"nc_start_lock", protocols.OpControl},
	"_N_STRTUL": {"nc_start_unlock", protocols.OpControl},
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

var groups = map[byte]codeInfo{
	GroupModeTransition: {"mode_transition", protocols.OpDiagnostic},
	GroupProgrammer:     {"programmer_commands", protocols.OpDiagnostic},
	GroupCyclicData:     {"cyclic_data", protocols.OpRead},
	GroupBlock:          {"block_functions", protocols.OpDiscovery},
	GroupCPU:            {"cpu_functions", protocols.OpDiagnostic},
	GroupSecurity:       {"security", protocols.OpSession},
	GroupPBC:            {"pbc_bsend_brecv", protocols.OpOther},
	GroupTime:           {"time_functions", protocols.OpRead},
	GroupNCProgramming:  {"nc_programming", protocols.OpControl},
}

// Userdata subfunctions per group.
const (
	SubReadSZL    = 0x01
	SubReadClock  = 0x01
	SubSetClock   = 0x02
	SubSetClock2  = 0x04
	SubListBlocks = 0x01
)

var subfunctions = map[byte]map[byte]codeInfo{
	GroupProgrammer: {
		0x01: {"request_diag_data", protocols.OpDiagnostic},
		0x02: {"var_tab", protocols.OpDiagnostic},
		0x0c: {"erase", protocols.OpControl},
		0x0e: {"read_diag_data", protocols.OpDiagnostic},
		0x0f: {"remove_diag_data", protocols.OpDiagnostic},
		0x10: {"forces", protocols.OpWrite},
		0x13: {"request_diag_data_2", protocols.OpDiagnostic},
	},
	GroupCyclicData: {
		0x01: {"memory", protocols.OpRead},
		0x04: {"unsubscribe", protocols.OpRead},
		0x05: {"memory2", protocols.OpRead},
	},
	GroupBlock: {
		0x01: {"list_blocks", protocols.OpDiscovery},
		0x02: {"list_blocks_of_type", protocols.OpDiscovery},
		0x03: {"get_block_info", protocols.OpDiscovery},
	},
	GroupCPU: {
		0x01: {"read_szl", protocols.OpDiscovery},
		0x02: {"message_service", protocols.OpDiagnostic},
		0x03: {"diagnostic_message", protocols.OpDiagnostic},
		0x05: {"alarm8_indication", protocols.OpDiagnostic},
		0x06: {"notify_indication", protocols.OpDiagnostic},
		0x07: {"alarm8_lock", protocols.OpDiagnostic},
		0x08: {"alarm8_unlock", protocols.OpDiagnostic},
		0x09: {"scan_indication", protocols.OpDiagnostic},
		0x0b: {"alarm_ack", protocols.OpDiagnostic},
		0x0c: {"alarm_ack_indication", protocols.OpDiagnostic},
		0x0d: {"alarm8_lock_indication", protocols.OpDiagnostic},
		0x0e: {"alarm8_unlock_indication", protocols.OpDiagnostic},
		0x11: {"alarm_sq_indication", protocols.OpDiagnostic},
		0x12: {"alarm_s_indication", protocols.OpDiagnostic},
		0x13: {"alarm_query", protocols.OpDiagnostic},
		0x16: {"notify8_indication", protocols.OpDiagnostic},
	},
	GroupSecurity: {
		0x01: {"plc_password", protocols.OpSession},
		0x02: {"clean_session", protocols.OpSession},
	},
	GroupTime: {
		0x01: {"read_clock", protocols.OpRead},
		0x02: {"set_clock", protocols.OpControl},
		0x03: {"read_clock_following", protocols.OpRead},
		0x04: {"set_clock_2", protocols.OpControl},
	},
}

// GroupName is the snake_case name of a userdata function group.
func GroupName(g byte) string {
	if f, ok := groups[g]; ok {
		return f.name
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

// Areas of S7ANY item addresses, with the target space they map to; a data
// block's space carries its number ("db1"). Arrays rather than maps: they
// are looked up for every item.
var areas = [256]string{
	0x03: "sysinfo",
	0x05: "sysflags",
	0x06: "AI",
	0x07: "AQ",
	0x1c: "C",
	0x1d: "T",
	0x1e: "IEC_C",
	0x1f: "IEC_T",
	0x80: "P",
	0x81: "I",
	0x82: "Q",
	0x83: "M",
	0x84: "db",
	0x85: "di",
	0x86: "L",
	0x87: "V",
}

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

// Block types of upload/download file names ("_0A00001P": DB 1).
var blockTypes = map[string]string{
	"08": "ob", "0A": "db", "0B": "sdb", "0C": "fc", "0D": "sfc", "0E": "fb", "0F": "sfb",
}

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

var plusFunctions = map[uint16]codeInfo{
	PlusError2:            {"error", protocols.OpOther},
	PlusExplore:           {"explore", protocols.OpDiscovery},
	PlusCreateObject:      {"create_object", protocols.OpSession},
	PlusDeleteObject:      {"delete_object", protocols.OpSession},
	PlusSetVariable:       {"set_variable", protocols.OpWrite},
	PlusGetVariable:       {"get_variable", protocols.OpRead},
	PlusAddLink:           {"add_link", protocols.OpOther},
	PlusRemoveLink:        {"remove_link", protocols.OpOther},
	PlusGetLink:           {"get_link", protocols.OpRead},
	PlusSetMultiVariables: {"set_multi_variables", protocols.OpWrite},
	PlusGetMultiVariables: {"get_multi_variables", protocols.OpRead},
	PlusBeginSequence:     {"begin_sequence", protocols.OpOther},
	PlusEndSequence:       {"end_sequence", protocols.OpOther},
	PlusInvoke:            {"invoke", protocols.OpControl},
	PlusSetVarSubStreamed: {"set_var_sub_streamed", protocols.OpWrite},
	PlusGetVarSubStreamed: {"get_var_sub_streamed", protocols.OpRead},
	PlusGetVariablesAddr:  {"get_variables_address", protocols.OpRead},
	PlusAbort:             {"abort", protocols.OpOther},
	PlusError:             {"error2", protocols.OpOther},
	PlusInitSSL:           {"init_ssl", protocols.OpSession},
}

// PlusFunctionName is the snake_case name of an S7comm-plus function.
func PlusFunctionName(fc uint16) string {
	if f, ok := plusFunctions[fc]; ok {
		return f.name
	}
	return "unknown"
}

var opcodeNames = map[byte]string{OpcodeRequest: "request", OpcodeResponse: "response",
	OpcodeNotification: "notification", OpcodeResponse2: "response2"}

func hex16(v uint16) string {
	const digits = "0123456789abcdef"
	return string([]byte{'0', 'x', digits[v>>12], digits[v>>8&15], digits[v>>4&15], digits[v&15]})
}

func itoa(v int) string { return strconv.Itoa(v) }

var modeNames = map[byte]string{0: "stop", 1: "warm_restart", 2: "run", 3: "hot_restart", 4: "hold",
	6: "cold_restart", 9: "run_r", 11: "link_up", 12: "update"}

// modeName names the CPU mode a mode-transition push announces.
func modeName(m byte) string {
	if n, ok := modeNames[m]; ok {
		return n
	}
	return "mode_" + itoa(int(m))
}
