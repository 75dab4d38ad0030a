package dnp3

import (
	"strconv"

	"github.com/otwatch/otwatch/protocols"
)

// Application layer function codes (IEEE 1815-2012 §4.2.2.5).
const (
	FuncConfirm                  = 0
	FuncRead                     = 1
	FuncWrite                    = 2
	FuncSelect                   = 3
	FuncOperate                  = 4
	FuncDirectOperate            = 5
	FuncDirectOperateNR          = 6
	FuncImmediateFreeze          = 7
	FuncImmediateFreezeNR        = 8
	FuncFreezeClear              = 9
	FuncFreezeClearNR            = 10
	FuncFreezeAtTime             = 11
	FuncFreezeAtTimeNR           = 12
	FuncColdRestart              = 13
	FuncWarmRestart              = 14
	FuncInitializeData           = 15
	FuncInitializeApplication    = 16
	FuncStartApplication         = 17
	FuncStopApplication          = 18
	FuncSaveConfiguration        = 19
	FuncEnableUnsolicited        = 20
	FuncDisableUnsolicited       = 21
	FuncAssignClass              = 22
	FuncDelayMeasure             = 23
	FuncRecordCurrentTime        = 24
	FuncOpenFile                 = 25
	FuncCloseFile                = 26
	FuncDeleteFile               = 27
	FuncGetFileInfo              = 28
	FuncAuthenticateFile         = 29
	FuncAbortFile                = 30
	FuncActivateConfig           = 31
	FuncAuthenticateRequest      = 32
	FuncAuthenticateRequestNoAck = 33
	FuncResponse                 = 129
	FuncUnsolicitedResponse      = 130
	FuncAuthenticateResponse     = 131
)

type functionInfo struct {
	name string
	op   protocols.Op
}

// functions maps every defined function code to its name and operation.
// The choices for codes the issue leaves open are documented in README.md.
var functions = [256]functionInfo{
	FuncConfirm:                  {"confirm", protocols.OpSession},
	FuncRead:                     {"read", protocols.OpRead},
	FuncWrite:                    {"write", protocols.OpWrite},
	FuncSelect:                   {"select", protocols.OpControl},
	FuncOperate:                  {"operate", protocols.OpControl},
	FuncDirectOperate:            {"direct_operate", protocols.OpControl},
	FuncDirectOperateNR:          {"direct_operate_nr", protocols.OpControl},
	FuncImmediateFreeze:          {"immediate_freeze", protocols.OpControl},
	FuncImmediateFreezeNR:        {"immediate_freeze_nr", protocols.OpControl},
	FuncFreezeClear:              {"freeze_clear", protocols.OpControl},
	FuncFreezeClearNR:            {"freeze_clear_nr", protocols.OpControl},
	FuncFreezeAtTime:             {"freeze_at_time", protocols.OpControl},
	FuncFreezeAtTimeNR:           {"freeze_at_time_nr", protocols.OpControl},
	FuncColdRestart:              {"cold_restart", protocols.OpRestart},
	FuncWarmRestart:              {"warm_restart", protocols.OpRestart},
	FuncInitializeData:           {"initialize_data", protocols.OpControl},
	FuncInitializeApplication:    {"initialize_application", protocols.OpRestart},
	FuncStartApplication:         {"start_application", protocols.OpStart},
	FuncStopApplication:          {"stop_application", protocols.OpStop},
	FuncSaveConfiguration:        {"save_configuration", protocols.OpWrite},
	FuncEnableUnsolicited:        {"enable_unsolicited", protocols.OpControl},
	FuncDisableUnsolicited:       {"disable_unsolicited", protocols.OpControl},
	FuncAssignClass:              {"assign_class", protocols.OpControl},
	FuncDelayMeasure:             {"delay_measure", protocols.OpDiagnostic},
	FuncRecordCurrentTime:        {"record_current_time", protocols.OpDiagnostic},
	FuncOpenFile:                 {"open_file", protocols.OpOther},
	FuncCloseFile:                {"close_file", protocols.OpOther},
	FuncDeleteFile:               {"delete_file", protocols.OpWrite},
	FuncGetFileInfo:              {"get_file_info", protocols.OpRead},
	FuncAuthenticateFile:         {"authenticate_file", protocols.OpSession},
	FuncAbortFile:                {"abort_file", protocols.OpOther},
	FuncActivateConfig:           {"activate_config", protocols.OpProgramDownload},
	FuncAuthenticateRequest:      {"authenticate_request", protocols.OpSession},
	FuncAuthenticateRequestNoAck: {"authenticate_request_no_ack", protocols.OpSession},
	FuncResponse:                 {"response", protocols.OpRead},
	FuncUnsolicitedResponse:      {"unsolicited_response", protocols.OpRead},
	FuncAuthenticateResponse:     {"authenticate_response", protocols.OpSession},
}

// knownFunction: the code is defined by the standard.
func knownFunction(fc byte) bool { return functions[fc].name != "" }

// FunctionName returns the snake_case name of a function code.
func FunctionName(fc byte) string {
	if n := functions[fc].name; n != "" {
		return n
	}
	return "unknown"
}

// expectsResponse: the outstation answers this request. CONFIRM and the
// no-acknowledgement variants are never answered (the tshark oracle's
// DNP3_NO_RESPONSE set).
func expectsResponse(fc byte) bool {
	switch fc {
	case FuncConfirm, FuncDirectOperateNR, FuncImmediateFreezeNR, FuncFreezeClearNR, FuncFreezeAtTimeNR:
		return false
	}
	return true
}

// headersOnly: requests of these functions carry object headers without
// object data (a READ names points, it does not carry their values).
func headersOnly(fc byte) bool {
	switch fc {
	case FuncRead, FuncImmediateFreeze, FuncImmediateFreezeNR, FuncFreezeClear, FuncFreezeClearNR,
		FuncEnableUnsolicited, FuncDisableUnsolicited, FuncAssignClass:
		return true
	}
	return false
}

// setFunction fills the code, name and op of t.
func setFunction(t *protocols.Transaction, fc byte) {
	t.Proto = "dnp3"
	t.Code = int(fc)
	t.CodeName = FunctionName(fc)
	t.Op = functions[fc].op
}

// IIN bits (IEEE 1815-2012 §4.2.2.7): IIN1 is the high byte of the 16-bit value.
const (
	IINBroadcast           = 0x0100
	IINClass1Events        = 0x0200
	IINClass2Events        = 0x0400
	IINClass3Events        = 0x0800
	IINNeedTime            = 0x1000
	IINLocalControl        = 0x2000
	IINDeviceTrouble       = 0x4000
	IINDeviceRestart       = 0x8000
	IINNoFuncCodeSupport   = 0x0001
	IINObjectUnknown       = 0x0002
	IINParameterError      = 0x0004
	IINEventBufferOverflow = 0x0008
	IINAlreadyExecuting    = 0x0010
	IINConfigCorrupt       = 0x0020
	// IINErrors: the bits that say the request was not carried out.
	IINErrors = IINNoFuncCodeSupport | IINObjectUnknown | IINParameterError
)

// CROB operation types (control code bits 0–3) and trip-close codes (bits 6–7).
var crobOps = [16]string{0: "nul", 1: "pulse_on", 2: "pulse_off", 3: "latch_on", 4: "latch_off"}
var crobTCC = [4]string{"", "close_", "trip_", "reserved_"}

// crobOperation names a CROB control code, e.g. "latch_on" or "trip_pulse_on".
func crobOperation(code byte) string { return crobNames[code>>6][code&0x0F] }

// crobNames holds every trip-close code and operation type named, made
// once: a CROB is named on every control request.
var crobNames = func() (n [4][16]string) {
	for tcc := range n {
		for op := range n[tcc] {
			name := crobOps[op]
			if name == "" {
				name = "op" + strconv.Itoa(op)
			}
			n[tcc][op] = crobTCC[tcc] + name
		}
	}
	return
}()

// deviceAttributes names the group 0 variations the inventory uses.
var deviceAttributes = map[byte]string{
	196: "configuration_id",
	197: "configuration_version",
	242: "software_version",
	243: "hardware_version",
	245: "location",
	246: "device_id",
	247: "device_name",
	248: "serial",
	249: "dnp3_subset",
	250: "product_name",
	252: "vendor_name",
}

// File modes of g70v3 (file command object).
const (
	fileModeNull   = 0
	fileModeRead   = 1
	fileModeWrite  = 2
	fileModeAppend = 3
)
