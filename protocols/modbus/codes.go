package modbus

import "github.com/otwatch/otwatch/protocols"

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

type functionInfo struct {
	name string
	op   protocols.Op
}

var functions = map[int]functionInfo{
	ReadCoils:                  {"read_coils", protocols.OpRead},
	ReadDiscreteInputs:         {"read_discrete_inputs", protocols.OpRead},
	ReadHoldingRegisters:       {"read_holding_registers", protocols.OpRead},
	ReadInputRegisters:         {"read_input_registers", protocols.OpRead},
	WriteSingleCoil:            {"write_single_coil", protocols.OpWrite},
	WriteSingleRegister:        {"write_single_register", protocols.OpWrite},
	ReadExceptionStatus:        {"read_exception_status", protocols.OpDiagnostic},
	Diagnostics:                {"diagnostics", protocols.OpDiagnostic},
	GetCommEventCounter:        {"get_comm_event_counter", protocols.OpDiagnostic},
	GetCommEventLog:            {"get_comm_event_log", protocols.OpDiagnostic},
	WriteMultipleCoils:         {"write_multiple_coils", protocols.OpWrite},
	WriteMultipleRegisters:     {"write_multiple_registers", protocols.OpWrite},
	ReportServerID:             {"report_server_id", protocols.OpDiscovery},
	ReadFileRecord:             {"read_file_record", protocols.OpRead},
	WriteFileRecord:            {"write_file_record", protocols.OpWrite},
	MaskWriteRegister:          {"mask_write_register", protocols.OpWrite},
	ReadWriteMultipleRegisters: {"read_write_multiple_registers", protocols.OpWrite},
	ReadFIFOQueue:              {"read_fifo_queue", protocols.OpRead},
	EncapsulatedInterface:      {"encapsulated_interface_transport", protocols.OpOther},
	// Codes the specification reserves for legacy products: kept by name so
	// a sighting is recognisable, but their layout is unknown.
	9:   {"program_484", protocols.OpProgramDownload},
	10:  {"poll_484", protocols.OpOther},
	13:  {"program_controller", protocols.OpProgramDownload},
	14:  {"poll_controller", protocols.OpOther},
	18:  {"program_884_m84", protocols.OpProgramDownload},
	19:  {"reset_comm_link_884_m84", protocols.OpRestart},
	40:  {"program_concept", protocols.OpProgramDownload},
	90:  {"umas", protocols.OpOther},
	125: {"firmware_replacement", protocols.OpFirmwareUpdate},
	126: {"program_modicon", protocols.OpProgramDownload},
}

// diagnosticSubfunctions of function 8 (Modbus over serial line spec §6.8).
var diagnosticSubfunctions = map[int]functionInfo{
	0x00: {"return_query_data", protocols.OpDiagnostic},
	0x01: {"restart_communications_option", protocols.OpRestart},
	0x02: {"return_diagnostic_register", protocols.OpDiagnostic},
	0x03: {"change_ascii_input_delimiter", protocols.OpControl},
	0x04: {"force_listen_only_mode", protocols.OpControl},
	0x0A: {"clear_counters_and_diagnostic_register", protocols.OpDiagnostic},
	0x0B: {"return_bus_message_count", protocols.OpDiagnostic},
	0x0C: {"return_bus_communication_error_count", protocols.OpDiagnostic},
	0x0D: {"return_bus_exception_error_count", protocols.OpDiagnostic},
	0x0E: {"return_server_message_count", protocols.OpDiagnostic},
	0x0F: {"return_server_no_response_count", protocols.OpDiagnostic},
	0x10: {"return_server_nak_count", protocols.OpDiagnostic},
	0x11: {"return_server_busy_count", protocols.OpDiagnostic},
	0x12: {"return_bus_character_overrun_count", protocols.OpDiagnostic},
	0x14: {"clear_overrun_counter_and_flag", protocols.OpDiagnostic},
}

var meiTypes = map[int]functionInfo{
	MEICANopen:                  {"canopen_general_reference", protocols.OpOther},
	MEIReadDeviceIdentification: {"read_device_identification", protocols.OpDiscovery},
}

// deviceIDObjects names the objects of Read Device Identification (spec §6.21).
var deviceIDObjects = map[byte]string{
	0x00: "vendor_name",
	0x01: "product_code",
	0x02: "major_minor_revision",
	0x03: "vendor_url",
	0x04: "product_name",
	0x05: "model_name",
	0x06: "user_application_name",
}

var exceptionNames = map[byte]string{
	1:  "illegal_function",
	2:  "illegal_data_address",
	3:  "illegal_data_value",
	4:  "server_device_failure",
	5:  "acknowledge",
	6:  "server_device_busy",
	7:  "negative_acknowledge",
	8:  "memory_parity_error",
	10: "gateway_path_unavailable",
	11: "gateway_target_device_failed_to_respond",
}

// isUserDefined: ranges 65–72 and 100–110 are left to vendors.
func isUserDefined(fc int) bool { return (fc >= 65 && fc <= 72) || (fc >= 100 && fc <= 110) }

// plausibleFunction is true for a code a device could send (with or
// without the exception bit); used for probing and re-synchronisation.
func plausibleFunction(b byte) bool {
	fc := int(b & 0x7F)
	_, known := functions[fc]
	return fc != 0 && (known || isUserDefined(fc))
}

// FunctionName returns the snake_case name of a function code.
func FunctionName(fc int) string {
	if f, ok := functions[fc]; ok {
		return f.name
	}
	if isUserDefined(fc) {
		return "user_defined"
	}
	return "unknown"
}
