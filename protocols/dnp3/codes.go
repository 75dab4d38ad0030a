package dnp3

import (
	_ "embed"
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

// codes are the tables of codes.tsv: every defined function code's name
// and operation (the choices for codes the issue leaves open are
// documented in README.md) and the group 0 variations the inventory uses.
var codes = protocols.MustLoadCodes[struct {
	Functions        [256]protocols.Code
	DeviceAttributes map[byte]string
}](codeList)

//go:embed codes.tsv
var codeList string

// knownFunction: the code is defined by the standard.
func knownFunction(fc byte) bool { return codes.Functions[fc].Name != "" }

// FunctionName returns the snake_case name of a function code.
func FunctionName(fc byte) string {
	if n := codes.Functions[fc].Name; n != "" {
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
	t.Op = codes.Functions[fc].Op
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

// File modes of g70v3 (file command object).
const (
	fileModeNull   = 0
	fileModeRead   = 1
	fileModeWrite  = 2
	fileModeAppend = 3
)
