package s7comm

import "strconv"

// S7comm-plus names every object, class and attribute with a numeric id from
// one id space. The names below are those published with the Wireshark
// S7comm-plus dissector (Thomas Wiens' "s7comm_plus" plugin, id_number_names),
// restricted to the ids an OT engineer needs to read a transaction: the
// native objects of the CPU, the session and subscription attributes, the
// program blocks and their bodies, the CPU's operating state and the
// protection settings. Ids outside the table keep their number.

// Native objects (relation ids that exist on every CPU).
const (
	plusObjASRoot        = 1
	plusObjPLCProgram    = 3
	plusObjCPU           = 48
	plusObjCPUproxy      = 49
	plusObjCPUcommon     = 50
	plusObjCPUexecUnit   = 52
	plusObjProgramChange = 56
	plusObjNullSession   = 288 // the session object a client talks to before it has one
	plusObjRoot          = 201 // ObjectRoot
)

// Attributes and classes with a meaning for detection.
const (
	plusAttrObjectName          = 233  // ObjectVariableTypeName
	plusClassServerSession      = 287  // ClassServerSession
	plusAttrSessionClientID     = 289  // ServerSessionClientID
	plusAttrSessionUser         = 296  // ServerSessionUser
	plusAttrSessionApplication  = 297  // ServerSessionApplication
	plusAttrSessionHost         = 298  // ServerSessionHost
	plusAttrSessionRole         = 299  // ServerSessionRole
	plusAttrSessionComment      = 301  // ServerSessionClientComment
	plusAttrSessionChallenge    = 303  // ServerSessionChallenge
	plusAttrSessionResponse     = 304  // ServerSessionResponse: the legitimation answer
	plusAttrSessionVersion      = 306  // ServerSessionVersion (struct 314)
	plusAttrPAOMSystem          = 319  // LID_SessionVersionSystemPAOMString "1;6ES7 ...;V2.2"
	plusAttrPAOMProject         = 320  // LID_SessionVersionProjectPAOMString
	plusClassSubscription       = 1001 // ClassSubscription
	plusAttrSubscrRefList       = 1048 // SubscriptionReferenceList
	plusAttrCreditLimit         = 1053 // SubscriptionCreditLimit
	plusAttrEffectiveProtection = 1842 // EffectiveProtectionLevel
	plusClassTransaction        = 1700 // ClassTransaction (a download sequence)
	plusAttrOperatingStateREQ   = 2167 // CPUexecUnit.OperatingStateREQ
	plusAttrBlockNumber         = 2521 // Block.BlockNumber
	plusAttrBlockLanguage       = 2523 // Block.BlockLanguage
	plusAttrKnowhowProtected    = 2524 // Block.KnowhowProtected
	plusAttrBlockCRC            = 2532 // Block.CRC
	plusAttrAdditionalMAC       = 7831 // Block.AdditionalMAC
	plusAttrDBValueActual       = 2550 // DB.ValueActual
	plusAttrControllerAreaValue = 3736 // ControllerArea.ValueActual (I/Q/M/C/T)
	plusAttrOperatingState      = 3486 // AS_DIS.OperatingState
	plusAttrCPUProtectionLevel  = 3451 // CPUcommon.CPUProtectionLevel
	plusAttrIuM0DataActual      = 3753 // SubmoduleAbstr.IuM0DataActual (I&M0: order number, serial, revisions)
	plusAttrIncrementCredit     = 2711 // TisSubscriptionRef.IncrementNotificationCredit
	plusAttrTisNotifyCredit     = 2692 // AbstractTisJob.NotificationCredit
)

var plusIDNames = map[uint32]string{
	1: "ASRoot", 2: "HWConfiguration", 3: "PLCProgram", 4: "Folders", 5: "Logs",
	6: "TypeInfoModificationTime", 7: "TisJobCont", 8: "AlarmSubsystem", 9: "ASLog",
	10: "SWEvents", 11: "TisSubsystem", 12: "CommCont", 14: "ProgramCyclePI",
	16: "FWpackage", 30: "StationConfiguration", 32: "CentralDevice",
	48: "CPU", 49: "CPUproxy", 50: "CPUcommon", 51: "CardReaderWriter", 52: "CPUexecUnit",
	53: "WebServer", 54: "CPUDisplay", 55: "CPUFexecUnit", 56: "PLCProgramChange",
	64: "IE1", 72: "IE2", 77: "IE1_NetworkParameters", 80: "IArea", 81: "QArea", 82: "MArea",
	83: "S7Counters", 84: "S7Timers",
	201: "ObjectRoot", 211: "GetNewRIDOnServer", 233: "ObjectName",
	253: "SubscriptionBase", 272: "SubscriptionReference",
	285: "ServerSessionContainer", 287: "ServerSession", 288: "NullServerSession",
	289: "ServerSessionClientID", 296: "ServerSessionUser", 297: "ServerSessionApplication",
	298: "ServerSessionHost", 299: "ServerSessionRole", 300: "ServerSessionClientRID",
	301: "ServerSessionClientComment", 302: "ServerSessionTimeout", 303: "ServerSessionChallenge",
	304: "ServerSessionResponse", 305: "ServerSessionRoles", 306: "ServerSessionVersion",
	314: "SessionVersionStruct", 315: "SessionVersionSystemOMS", 316: "SessionVersionProjectOMS",
	317: "SessionVersionSystemPAOM", 318: "SessionVersionProjectPAOM",
	319: "SessionVersionSystemPAOMString", 320: "SessionVersionProjectPAOMString",
	321: "SessionVersionProjectFormat",
	387: "RootMemoryReset", 388: "RootReset",
	1000: "ObjectSubscriptionTypes", 1001: "Subscription", 1002: "SubscriptionMissedSendings",
	1003: "SubscriptionSubsystemError", 1037: "SystemLimits", 1040: "SubscriptionRouteMode",
	1041: "SubscriptionActive", 1048: "SubscriptionReferenceList", 1049: "SubscriptionCycleTime",
	1050: "SubscriptionDelayTime", 1051: "SubscriptionDisabled", 1052: "SubscriptionCount",
	1053: "SubscriptionCreditLimit", 1054: "SubscriptionTicks", 1081: "FreeItems",
	1256: "ObjectQualifier", 1257: "ParentRID", 1258: "CompositionAID", 1259: "KeyQualifier",
	1700: "Transaction", 1702: "TransactionParameters",
	1805: "SecurityKeyEncryptedKey", 1842: "EffectiveProtectionLevel", 1843: "ActiveProtectionLevel",
	1844: "ExpectedLegitimLevel", 1846: "Legitimate",
	2118: "CardReaderWriter.MCcommandREQ", 2166: "CPU.Class_Rid",
	2167: "CPUexecUnit.OperatingStateREQ", 2168: "CPUexecUnit.PowerOnAction",
	2171: "CPUexecUnit.MaxCycleConfig", 2172: "CPUexecUnit.MinCycleConfig",
	2173: "CPUexecUnit.MaxCycleActual", 2174: "CPUexecUnit.MinCycleActual",
	2175: "CPUexecUnit.LastCycleActual", 2179: "CPUexecUnit.Class_Rid",
	2256: "HWObject.HWTypeName", 2343: "CPUcommon.LMSize", 2344: "CPUcommon.LMUsedSize",
	2372: "SubmoduleAbstr.WriteDataRecordsREQ",
	2406: "CPUcommon.ClockStatus", 2407: "CPUcommon.CommunicationLoad", 2415: "CPUcommon.LocalTime",
	2418: "CPUcommon.MemSize", 2419: "CPUcommon.MemUsedSize", 2421: "CPUcommon.SystemTime",
	2436: "CPUcommon.Class_Rid",
	2449: "ASObjectES.IdentES", 2453: "ASObjectSimple.LastModified", 2454: "ASObjectSimple.LoadMemorySize",
	2459: "ASRoot.ESversion", 2478: "ASRoot.Class_Rid", 2520: "PLCProgram.Class_Rid",
	2521: "Block.BlockNumber", 2522: "Block.AutoNumbering", 2523: "Block.BlockLanguage",
	2524: "Block.KnowhowProtected", 2527: "Block.Unlinked", 2529: "Block.RuntimeModified",
	2531: "Block.Dirty", 2532: "Block.CRC", 2533: "Block.BodyDescription", 2537: "Block.OptimizeInfo",
	2538: "Block.Class_Rid", 2543: "DataInterface.InterfaceModified",
	2544: "DataInterface.InterfaceDescription", 2545: "DataInterface.CompilerSwitches",
	2546: "DataInterface.LineComments", 2547: "DataInterface.Class_Rid", 2548: "DB.ValueInitial",
	2550: "DB.ValueActual", 2551: "DB.InitialChanged", 2554: "DataType.Class_Rid", 2563: "DB.ReadOnly",
	2574: "DB.Class_Rid", 2578: "FB.Class_Rid", 2579: "FC.Class_Rid", 2580: "FunctionalObject.Code",
	2581: "FunctionalObject.ParameterModified", 2582: "FunctionalObject.extRefData",
	2583: "FunctionalObject.intRefData", 2584: "FunctionalObject.NetworkComments",
	2585: "FunctionalObject.NetworkTitles", 2586: "FunctionalObject.CalleeList",
	2587: "FunctionalObject.InterfaceSignature", 2588: "FunctionalObject.DisplayInfo",
	2589: "FunctionalObject.DebugInfo", 2590: "FunctionalObject.LocalErrorHandling",
	2591: "FunctionalObject.LongConstants", 2592: "FunctionalObject.Class_Rid",
	2595: "IArea.Class_Rid", 2602: "MArea.Class_Rid", 2607: "OB.StartInfoType", 2610: "OB.Class_Rid",
	2621: "QArea.Class_Rid", 2640: "CyclicOB.Class_Rid", 2647: "ProgramCycleOB.Class_Rid",
	2651: "StartupOB.Class_Rid", 2662: "AlarmSubscriptionRef.Class_Rid",
	2692: "AbstractTisJob.NotificationCredit", 2708: "ContinuingTisJob.Class_Rid",
	2709: "SessionTisJob.Class_Rid", 2711: "TisSubscriptionRef.IncrementNotificationCredit",
	2712: "TisSubscriptionRef.Class_Rid",
	3002: "FunctionalObjectWithDB.Class_Rid", 3447: "AS_KnowhowProtection.Class_Rid",
	3448: "AS_KnowhowProtection.Mode", 3449: "AS_KnowhowProtection.Password",
	3450: "AS_Protection.Class_Rid", 3451: "CPUcommon.CPUProtectionLevel", 3452: "AS_Protection.Password",
	3453: "AS_Protection.FailsafePassword", 3482: "AS_DIS.OwnState", 3486: "AS_DIS.OperatingState",
	3700: "AS_CPULeds.RunStopLed", 3701: "CPUcommon.CPULeds",
	3736: "ControllerArea.ValueActual", 3735: "ControllerArea.ValueInitial",
	3746: "PLCProgram.OfflineChange", 3748: "CPUcommon.ASStateREQ",
	3753: "SubmoduleAbstr.IuM0DataActual", 3932: "UDT.Class_Rid", 3933: "FBT.Class_Rid",
	3934: "SDT.Class_Rid", 3935: "FCT.Class_Rid",
	4063: "SubmoduleAbstr.IuM1DesignatorsActual", 4064: "SubmoduleAbstr.IuM2InstallationDateActual",
	4065: "SubmoduleAbstr.IuM3DescriptorActual", 4066: "SubmoduleAbstr.IuM4SignatureActual",
	4268: "TagArray.Class_Rid", 4269: "TagArray.Symbolics", 4272: "TA_DB.Class_Rid",
	4273: "ConstantsGlobal.Class_Rid", 4275: "ConstantsGlobal.Symbolics", 4288: "ASObjectES.Comment",
	4544: "CPcommon.CPstateREQ", 4578: "Block.TypeInfo", 4600: "MC_DB.Class_Rid",
	4688: "HWObject.CommandREQ", 4693: "AS_CommandREQ.Command",
	7564: "DataInterface.XrefInfo", 7589: "Block.FunctionalSignature", 7680: "StationComponent.PingREQ",
	7831: "Block.AdditionalMAC", 7843: "Block.FailsafeBlockInfo", 7845: "DataInterface.AlarmTexts",
	7853: "DataInterface.AlarmDescription", 7918: "CPUcommon.CPUPassword",
	7928: "StationManager.WriteFilterCommandREQ", 7946: "CPUcommon.CompanyIdentification",
	8040: "PLCProgramChange.Class_Rid", 8066: "CPUcommon.RestartMeasurementREQ",
	8184: "PLCProgramChange.StationGUID", 8186: "PLCProgramChange.DownloadGUID",
	8190: "FunctionalObject.LongConstantsEncrypted", 8292: "BackupContainer.CommandREQ",
}

// plusBlockKinds: relation-id ranges (high 16 bits) of program objects;
// the low 16 bits are the block number.
var plusBlockKinds = map[uint32]string{
	0x89fd: "UDT", 0x8a0e: "DB", 0x8a11: "UserConstants", 0x8a12: "FB", 0x8a13: "FC",
	0x8a20: "S_FB", 0x8a21: "S_FC", 0x8a24: "S_UDT", 0x8a32: "OB",
	0x8a36: "AlarmTextList", 0x8a37: "TextList",
}

// plusBlock returns the kind ("OB", "DB", ...) and number of a program
// object's relation id.
func plusBlock(relid uint32) (kind string, num uint32, ok bool) {
	kind, ok = plusBlockKinds[relid>>16]
	return kind, relid & 0xffff, ok
}

// plusBlockClasses are the classes of program objects (blocks, types, their
// interfaces): creating one is a download, deleting one changes the program.
var plusBlockClasses = map[uint32]bool{
	2538: true, 2547: true, 2554: true, 2574: true, 2578: true, 2579: true, 2592: true, 2610: true,
	2637: true, 2638: true, 2639: true, 2640: true, 2641: true, 2642: true, 2643: true, 2644: true,
	2645: true, 2646: true, 2647: true, 2648: true, 2649: true, 2650: true, 2651: true, 2652: true,
	2653: true, 2654: true, 2655: true, 2656: true, 2657: true, 2658: true, 3002: true,
	3932: true, 3933: true, 3934: true, 3935: true, 4268: true, 4272: true, 4273: true,
	4600: true, 4637: true, 4639: true, 8336: true, 8337: true,
}

// plusBodyAttrs hold a block's program: its code, interface, comments,
// debug and reference data, initial values. Reading them is a program
// upload; writing them a download. (DB.ValueActual, ControllerArea.ValueActual
// and the block's CRC or timestamps are not among them: an HMI reads and
// writes process values, TIA Portal compares checksums when it goes online.)
var plusBodyAttrs = map[uint32]bool{
	2449: true, 2533: true, 2537: true, 2544: true, 2545: true, 2546: true, 2548: true,
	2580: true, 2582: true, 2583: true, 2584: true, 2585: true, 2586: true, 2587: true,
	2588: true, 2589: true, 2590: true, 2591: true, 3735: true, 4269: true, 4275: true,
	4578: true, 7564: true, 7589: true, 7831: true, 7843: true, 7845: true, 7853: true,
	8190: true,
}

// plusCommandAttrs are request attributes ("...REQ") that command the CPU or
// a module rather than set a value; writing one is a control operation.
var plusCommandAttrs = map[uint32]bool{
	2118: true, 2167: true, 2372: true, 3748: true, 4544: true, 4688: true, 4693: true,
	7680: true, 7928: true, 8066: true, 8292: true,
}

// plusSubscriptionAttrs: writing them re-arms or reshapes a subscription
// (cyclic reads an HMI set up); nothing reaches the process.
var plusSubscriptionAttrs = map[uint32]bool{
	1048: true, 1049: true, 1050: true, 1051: true, 1053: true, 2692: true, 2711: true,
}

// Values of CPUexecUnit.OperatingStateREQ (the request, a DInt) as TIA
// Portal writes them.
var plusOperatingStateREQ = map[int64]string{1: "stop", 2: "reset_retentive", 3: "run", 4: "run_redundant"}

// plusBlockLanguages names Block.BlockLanguage values.
var plusBlockLanguages = map[int64]string{
	0: "undefined", 1: "stl", 2: "lad_classic", 3: "fbd_classic", 4: "scl", 5: "db", 6: "graph",
	7: "sdb", 8: "cpu_db", 17: "cpu_sdb", 21: "c_for_s7", 22: "higraph", 23: "cfc", 24: "sfc",
	26: "s7_pdiag", 29: "rse", 31: "f_stl", 32: "f_lad", 33: "f_fbd", 34: "f_db", 35: "f_call",
	37: "techno_db", 38: "f_lad_lib", 39: "f_fbd_lib", 41: "classic_encryption", 50: "fcp",
	100: "lad_iec", 101: "fbd_iec", 102: "fld", 150: "udt", 151: "sdt", 152: "fbt", 201: "motion_db",
	300: "graph_actions", 301: "graph_sequence",
}

// plusErrorNames names the (negative) error codes of a return value that
// an operator meets: access, protection, state and addressing errors.
var plusErrorNames = map[int64]string{
	-513: "concurrent_transaction_running", -510: "multi_es_conflict", -351: "integrity_error",
	-353: "ssl_handshake", -352: "security_disconnect", -263: "invalid_state", -255: "invalid_lid",
	-135: "service_aborted", -133: "service_not_changeable_in_error_state",
	-124: "service_not_changeable_in_run", -119: "service_unknown_request",
	-113: "service_too_many_sessions", -112: "service_too_many_requests", -111: "service_timeout",
	-110: "service_not_owner", -107: "service_not_allowed", -106: "service_invalid_session",
	-105: "service_invalid_object", -104: "service_invalid_address", -100: "service_access_denied",
	-86: "no_delete_allowed", -61: "invalid_value_range", -51: "object_is_locked",
	-50: "read_only_object", -41: "read_only_property", -32: "invalid_aid", -30: "invalid_rid",
	-17: "invalid_crc", -14: "class_not_found", -12: "object_not_found", -4: "not_enough_memory",
	-3: "invalid_argument_value", -2: "invalid_value_type", -1: "unknown_error",
}

// plusMessageNames names the positive codes of a return value: messages
// and warnings that come with a successful answer.
var plusMessageNames = map[int64]string{
	3: "value_unchanged", 5: "response_needed", 17: "session_pre_legitimated", 18: "service_ignored",
	19: "executed_with_partial_error", 21: "subscription_too_many_notifies", 22: "session_delegitimated",
	24: "subscription_disabled", 25: "legitimated_for_level2", 26: "legitimated_for_level3",
	33: "legitimated_for_level1", 34: "transaction_aborted",
}

// plusName appends the name of an id to b: the table's name, the block
// ("OB1", "DB5"), a dynamic object ("dyn:0x70000e51"), else the number.
func plusName(b []byte, id uint32) []byte {
	if n, ok := plusIDNames[id]; ok {
		return append(b, n...)
	}
	if kind, num, ok := plusBlock(id); ok {
		return strconv.AppendUint(append(b, kind...), uint64(num), 10)
	}
	if plusDynamic(id) {
		return appendHex32(append(b, "dyn:"...), id)
	}
	return strconv.AppendUint(b, uint64(id), 10)
}

// plusAttrName appends an attribute's name without its class prefix
// ("FunctionalObject.Code" → "Code"), the number when unknown.
func plusAttrName(b []byte, id uint32) []byte {
	n, ok := plusIDNames[id]
	if !ok {
		return strconv.AppendUint(b, uint64(id), 10)
	}
	for i := len(n) - 1; i >= 0; i-- {
		if n[i] == '.' {
			return append(b, n[i+1:]...)
		}
	}
	return append(b, n...)
}

func appendHex32(b []byte, v uint32) []byte {
	const digits = "0123456789abcdef"
	b = append(b, '0', 'x')
	for s := 28; s >= 0; s -= 4 {
		b = append(b, digits[v>>uint(s)&15])
	}
	return b
}
