package iec104

import (
	_ "embed"

	"github.com/otwatch/otwatch/protocols"
)

// Proto is the records' proto value.
const Proto = "iec104"

// Port is the IANA port of IEC 60870-5-104 (the controlled station listens).
const Port = 2404

// Frame formats and the record codes of S- and U-format APDUs (RECORDS.md):
// 0x100 plus the first control octet with the sequence bits cleared.
const (
	CodeS            = 0x101
	CodeStartDTAct   = 0x107
	CodeStartDTCon   = 0x10B
	CodeStopDTAct    = 0x113
	CodeStopDTCon    = 0x123
	CodeTestFRAct    = 0x143
	CodeTestFRCon    = 0x183
	uFunctionsMask   = 0xFC
	startOctet       = 0x68
	minAPDULen       = 4
	maxAPDULen       = 253
	apciLen          = 6
	ioaLen           = 3
	asduHeaderLen    = 6 // type, VSQ, COT (2), common address (2)
	maxObjectsPerPDU = 127
)

// codes are the tables of codes.tsv: the names of the U-format functions
// and of the causes of transmission.
var codes = protocols.MustLoadCodes[struct {
	UFunctions map[byte]string
	Causes     [64]string
}](codeList)

//go:embed codes.tsv
var codeList string

// valueKind says how an information element's value reads.
type valueKind uint8

const (
	valNone       valueKind = iota
	valSinglePt             // SIQ / SCO bit 0
	valDoublePt             // DIQ / DCO / RCO bits 0-1
	valStep                 // VTI: 7-bit signed
	valBits32               // BSI
	valNormalized           // NVA: 16-bit fixed point in [-1, 1)
	valScaled               // SVA: 16-bit signed
	valFloat                // IEEE 754 short
	valCounter              // BCR: 32-bit signed counter
)

// typeInfo is what IEC 60870-5-101 §7.3 says of one type identification:
// its mnemonic, a snake_case name, the size of one information element
// (without the 3-octet IOA), how its value reads and the op of the
// command it carries when the controlling station sends it.
type typeInfo struct {
	mnemonic string
	name     string
	size     int
	variable bool // F_SG_NA_1: the element carries its own length
	val      valueKind
	op       protocols.Op
	command  bool // a command (control direction) rather than monitor information
}

// cp24 and cp56 are the CP24Time2a and CP56Time2a time tags.
const (
	cp24 = 3
	cp56 = 7
)

var types = map[byte]typeInfo{
	1:  {"M_SP_NA_1", "single_point", 1, false, valSinglePt, protocols.OpRead, false},
	2:  {"M_SP_TA_1", "single_point_cp24", 1 + cp24, false, valSinglePt, protocols.OpRead, false},
	3:  {"M_DP_NA_1", "double_point", 1, false, valDoublePt, protocols.OpRead, false},
	4:  {"M_DP_TA_1", "double_point_cp24", 1 + cp24, false, valDoublePt, protocols.OpRead, false},
	5:  {"M_ST_NA_1", "step_position", 2, false, valStep, protocols.OpRead, false},
	6:  {"M_ST_TA_1", "step_position_cp24", 2 + cp24, false, valStep, protocols.OpRead, false},
	7:  {"M_BO_NA_1", "bitstring32", 5, false, valBits32, protocols.OpRead, false},
	8:  {"M_BO_TA_1", "bitstring32_cp24", 5 + cp24, false, valBits32, protocols.OpRead, false},
	9:  {"M_ME_NA_1", "measured_normalized", 3, false, valNormalized, protocols.OpRead, false},
	10: {"M_ME_TA_1", "measured_normalized_cp24", 3 + cp24, false, valNormalized, protocols.OpRead, false},
	11: {"M_ME_NB_1", "measured_scaled", 3, false, valScaled, protocols.OpRead, false},
	12: {"M_ME_TB_1", "measured_scaled_cp24", 3 + cp24, false, valScaled, protocols.OpRead, false},
	13: {"M_ME_NC_1", "measured_float", 5, false, valFloat, protocols.OpRead, false},
	14: {"M_ME_TC_1", "measured_float_cp24", 5 + cp24, false, valFloat, protocols.OpRead, false},
	15: {"M_IT_NA_1", "integrated_totals", 5, false, valCounter, protocols.OpRead, false},
	16: {"M_IT_TA_1", "integrated_totals_cp24", 5 + cp24, false, valCounter, protocols.OpRead, false},
	17: {"M_EP_TA_1", "protection_event_cp24", 1 + 2 + cp24, false, valNone, protocols.OpRead, false},
	18: {"M_EP_TB_1", "protection_start_events_cp24", 2 + 2 + cp24, false, valNone, protocols.OpRead, false},
	19: {"M_EP_TC_1", "protection_output_circuit_cp24", 2 + 2 + cp24, false, valNone, protocols.OpRead, false},
	20: {"M_PS_NA_1", "packed_single_points", 5, false, valBits32, protocols.OpRead, false},
	21: {"M_ME_ND_1", "measured_normalized_no_quality", 2, false, valNormalized, protocols.OpRead, false},
	30: {"M_SP_TB_1", "single_point_cp56", 1 + cp56, false, valSinglePt, protocols.OpRead, false},
	31: {"M_DP_TB_1", "double_point_cp56", 1 + cp56, false, valDoublePt, protocols.OpRead, false},
	32: {"M_ST_TB_1", "step_position_cp56", 2 + cp56, false, valStep, protocols.OpRead, false},
	33: {"M_BO_TB_1", "bitstring32_cp56", 5 + cp56, false, valBits32, protocols.OpRead, false},
	34: {"M_ME_TD_1", "measured_normalized_cp56", 3 + cp56, false, valNormalized, protocols.OpRead, false},
	35: {"M_ME_TE_1", "measured_scaled_cp56", 3 + cp56, false, valScaled, protocols.OpRead, false},
	36: {"M_ME_TF_1", "measured_float_cp56", 5 + cp56, false, valFloat, protocols.OpRead, false},
	37: {"M_IT_TB_1", "integrated_totals_cp56", 5 + cp56, false, valCounter, protocols.OpRead, false},
	38: {"M_EP_TD_1", "protection_event_cp56", 1 + 2 + cp56, false, valNone, protocols.OpRead, false},
	39: {"M_EP_TE_1", "protection_start_events_cp56", 2 + 2 + cp56, false, valNone, protocols.OpRead, false},
	40: {"M_EP_TF_1", "protection_output_circuit_cp56", 2 + 2 + cp56, false, valNone, protocols.OpRead, false},
	// Commands: single/double/regulating step commands operate switchgear
	// and tap changers (control); set points and bitstrings write values.
	45: {"C_SC_NA_1", "single_command", 1, false, valSinglePt, protocols.OpControl, true},
	46: {"C_DC_NA_1", "double_command", 1, false, valDoublePt, protocols.OpControl, true},
	47: {"C_RC_NA_1", "regulating_step_command", 1, false, valDoublePt, protocols.OpControl, true},
	48: {"C_SE_NA_1", "set_point_normalized", 3, false, valNormalized, protocols.OpWrite, true},
	49: {"C_SE_NB_1", "set_point_scaled", 3, false, valScaled, protocols.OpWrite, true},
	50: {"C_SE_NC_1", "set_point_float", 5, false, valFloat, protocols.OpWrite, true},
	51: {"C_BO_NA_1", "bitstring32_command", 4, false, valBits32, protocols.OpWrite, true},
	58: {"C_SC_TA_1", "single_command_cp56", 1 + cp56, false, valSinglePt, protocols.OpControl, true},
	59: {"C_DC_TA_1", "double_command_cp56", 1 + cp56, false, valDoublePt, protocols.OpControl, true},
	60: {"C_RC_TA_1", "regulating_step_command_cp56", 1 + cp56, false, valDoublePt, protocols.OpControl, true},
	61: {"C_SE_TA_1", "set_point_normalized_cp56", 3 + cp56, false, valNormalized, protocols.OpWrite, true},
	62: {"C_SE_TB_1", "set_point_scaled_cp56", 3 + cp56, false, valScaled, protocols.OpWrite, true},
	63: {"C_SE_TC_1", "set_point_float_cp56", 5 + cp56, false, valFloat, protocols.OpWrite, true},
	64: {"C_BO_TA_1", "bitstring32_command_cp56", 4 + cp56, false, valBits32, protocols.OpWrite, true},
	70: {"M_EI_NA_1", "end_of_initialization", 1, false, valNone, protocols.OpOther, false},
	// System commands. Interrogations read (a counter interrogation that
	// freezes or resets counters is control, see classifyCounter); clock
	// synchronisation and delay acquisition steer the station; a reset of
	// the process restarts it; test commands are diagnostics.
	100: {"C_IC_NA_1", "interrogation", 1, false, valNone, protocols.OpRead, true},
	101: {"C_CI_NA_1", "counter_interrogation", 1, false, valNone, protocols.OpRead, true},
	102: {"C_RD_NA_1", "read", 0, false, valNone, protocols.OpRead, true},
	103: {"C_CS_NA_1", "clock_synchronization", cp56, false, valNone, protocols.OpControl, true},
	104: {"C_TS_NA_1", "test", 2, false, valNone, protocols.OpDiagnostic, true},
	105: {"C_RP_NA_1", "reset_process", 1, false, valNone, protocols.OpRestart, true},
	106: {"C_CD_NA_1", "delay_acquisition", 2, false, valNone, protocols.OpControl, true},
	107: {"C_TS_TA_1", "test_cp56", 2 + cp56, false, valNone, protocols.OpDiagnostic, true},
	// Parameters change how the station reports (thresholds, smoothing).
	110: {"P_ME_NA_1", "parameter_normalized", 3, false, valNormalized, protocols.OpWrite, true},
	111: {"P_ME_NB_1", "parameter_scaled", 3, false, valScaled, protocols.OpWrite, true},
	112: {"P_ME_NC_1", "parameter_float", 5, false, valFloat, protocols.OpWrite, true},
	113: {"P_AC_NA_1", "parameter_activation", 1, false, valNone, protocols.OpControl, true},
	// File transfer (disturbance records, logs).
	120: {"F_FR_NA_1", "file_ready", 6, false, valNone, protocols.OpOther, false},
	121: {"F_SR_NA_1", "section_ready", 7, false, valNone, protocols.OpOther, false},
	122: {"F_SC_NA_1", "call_file", 4, false, valNone, protocols.OpOther, false},
	123: {"F_LS_NA_1", "last_section", 5, false, valNone, protocols.OpOther, false},
	124: {"F_AF_NA_1", "ack_file", 4, false, valNone, protocols.OpOther, false},
	125: {"F_SG_NA_1", "segment", 4, true, valNone, protocols.OpOther, false},
	126: {"F_DR_TA_1", "directory", 6 + cp56, false, valNone, protocols.OpOther, false},
	127: {"F_SC_NB_1", "query_log", 2 + 2*cp56, false, valNone, protocols.OpOther, false},
}

// Causes of transmission (IEC 60870-5-101 §7.2.3), 6 bits.
const (
	cotPeriodic   = 1
	cotBackground = 2
	cotSpont      = 3
	cotInit       = 4
	cotAct        = 6
	cotDeact      = 8
	cotUnknownMin = 44 // 44..47: unknown type, cause, common address, IOA
	cotUnknownMax = 47
)
