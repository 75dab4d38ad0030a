package enip

import "github.com/otwatch/otwatch/protocols"

// Record protocols: "enip" for encapsulation commands that carry no CIP
// message, "cip" for every CIP message (RECORDS.md).
const (
	ProtoENIP = "enip"
	ProtoCIP  = "cip"
)

// Port is the EtherNet/IP explicit-messaging port (TCP and UDP).
const Port = 44818

// Encapsulation commands (CIP Vol. 2, §2-3).
const (
	CmdNOP               = 0x0000
	CmdListServices      = 0x0004
	CmdListIdentity      = 0x0063
	CmdListInterfaces    = 0x0064
	CmdRegisterSession   = 0x0065
	CmdUnRegisterSession = 0x0066
	CmdSendRRData        = 0x006F
	CmdSendUnitData      = 0x0070
	CmdIndicateStatus    = 0x0072
	CmdCancel            = 0x0073
)

var commands = map[uint16]struct {
	name string
	op   protocols.Op
}{
	CmdNOP:               {"nop", protocols.OpSession},
	CmdListServices:      {"list_services", protocols.OpDiscovery},
	CmdListIdentity:      {"list_identity", protocols.OpDiscovery},
	CmdListInterfaces:    {"list_interfaces", protocols.OpDiscovery},
	CmdRegisterSession:   {"register_session", protocols.OpSession},
	CmdUnRegisterSession: {"unregister_session", protocols.OpSession},
	CmdSendRRData:        {"send_rr_data", protocols.OpOther},
	CmdSendUnitData:      {"send_unit_data", protocols.OpOther},
	CmdIndicateStatus:    {"indicate_status", protocols.OpOther},
	CmdCancel:            {"cancel", protocols.OpOther},
}

// Common packet format item types.
const (
	itemNullAddress      = 0x0000
	itemListIdentity     = 0x000C
	itemConnectedAddress = 0x00A1
	itemConnectedData    = 0x00B1
	itemUnconnectedData  = 0x00B2
	itemListServices     = 0x0100
	itemSockaddrOT       = 0x8000
	itemSockaddrTO       = 0x8001
	itemSequencedAddress = 0x8002
)

// CIP services (CIP Vol. 1, Appendix A) and the object classes whose own
// services matter here.
const (
	svcGetAttributesAll  = 0x01
	svcSetAttributesAll  = 0x02
	svcGetAttributeList  = 0x03
	svcSetAttributeList  = 0x04
	svcReset             = 0x05
	svcStart             = 0x06
	svcStop              = 0x07
	svcCreate            = 0x08
	svcDelete            = 0x09
	svcMultipleService   = 0x0A
	svcApplyAttributes   = 0x0D
	svcGetAttribute      = 0x0E
	svcSetAttribute      = 0x10
	svcFindNext          = 0x11
	svcRestore           = 0x15
	svcSave              = 0x16
	svcNOP               = 0x17
	svcGetMember         = 0x18
	svcSetMember         = 0x19
	svcInsertMember      = 0x1A
	svcRemoveMember      = 0x1B
	svcForwardClose      = 0x4E // on the Connection Manager
	svcUnconnectedSend   = 0x52 // on the Connection Manager
	svcForwardOpen       = 0x54
	svcLargeForwardOpen  = 0x5B
	svcGetConnectionData = 0x56
	svcExecutePCCC       = 0x4B // on the PCCC object
	// Logix controller services on tag paths.
	svcReadTag          = 0x4C
	svcWriteTag         = 0x4D
	svcReadModifyWrite  = 0x4E
	svcReadTagFragment  = 0x52
	svcWriteTagFragment = 0x53
	svcGetInstanceAttrs = 0x55

	classIdentity      = 0x01
	classMessageRouter = 0x02
	classAssembly      = 0x04
	classConnManager   = 0x06
	classFileObject    = 0x37
	classPCCC          = 0x67
	classSymbol        = 0x6B
	classTemplate      = 0x6C
	classNVS           = 0xA1 // non-volatile storage: firmware updates
	classTCPIP         = 0xF5
	classEthernetLink  = 0xF6
)

type serviceInfo struct {
	name string
	op   protocols.Op
}

// services are the common services, whatever the class.
var services = map[byte]serviceInfo{
	svcGetAttributesAll: {"get_attributes_all", protocols.OpRead},
	svcSetAttributesAll: {"set_attributes_all", protocols.OpWrite},
	svcGetAttributeList: {"get_attribute_list", protocols.OpRead},
	svcSetAttributeList: {"set_attribute_list", protocols.OpWrite},
	svcReset:            {"reset", protocols.OpRestart},
	svcStart:            {"start", protocols.OpStart},
	svcStop:             {"stop", protocols.OpStop},
	svcCreate:           {"create", protocols.OpControl},
	svcDelete:           {"delete", protocols.OpControl},
	svcMultipleService:  {"multiple_service_packet", protocols.OpOther},
	svcApplyAttributes:  {"apply_attributes", protocols.OpControl},
	svcGetAttribute:     {"get_attribute_single", protocols.OpRead},
	svcSetAttribute:     {"set_attribute_single", protocols.OpWrite},
	svcFindNext:         {"find_next_object_instance", protocols.OpRead},
	svcRestore:          {"restore", protocols.OpControl},
	svcSave:             {"save", protocols.OpControl},
	svcNOP:              {"nop", protocols.OpDiagnostic},
	svcGetMember:        {"get_member", protocols.OpRead},
	svcSetMember:        {"set_member", protocols.OpWrite},
	svcInsertMember:     {"insert_member", protocols.OpWrite},
	svcRemoveMember:     {"remove_member", protocols.OpWrite},
}

// connManagerServices are the Connection Manager's (class 6).
var connManagerServices = map[byte]serviceInfo{
	svcForwardClose:      {"forward_close", protocols.OpSession},
	svcUnconnectedSend:   {"unconnected_send", protocols.OpOther},
	svcForwardOpen:       {"forward_open", protocols.OpSession},
	svcLargeForwardOpen:  {"large_forward_open", protocols.OpSession},
	svcGetConnectionData: {"get_connection_data", protocols.OpRead},
	0x57:                 {"search_connection_data", protocols.OpRead},
	0x5A:                 {"get_connection_owner", protocols.OpRead},
}

// logixServices are the Logix controllers' services on tags (symbolic
// paths, the Symbol and Template objects).
var logixServices = map[byte]serviceInfo{
	svcReadTag:          {"read_tag", protocols.OpRead},
	svcWriteTag:         {"write_tag", protocols.OpWrite},
	svcReadModifyWrite:  {"read_modify_write_tag", protocols.OpWrite},
	svcReadTagFragment:  {"read_tag_fragmented", protocols.OpRead},
	svcWriteTagFragment: {"write_tag_fragmented", protocols.OpWrite},
	svcGetInstanceAttrs: {"get_instance_attribute_list", protocols.OpRead},
	0x4F:                {"read_template", protocols.OpRead},
}

// Identity object device types (CIP Vol. 1, Table 5A-2.2) named in the inventory.
var deviceTypes = map[uint16]string{
	0x00: "generic_device", 0x02: "ac_drive", 0x07: "general_purpose_discrete_io", 0x0C: "communications_adapter",
	0x0E: "programmable_logic_controller", 0x13: "dc_drive", 0x18: "human_machine_interface", 0x2B: "generic_device_keyable",
}

// Vendor ids named in the inventory; the rest stay numeric (vendor_id).
var vendors = map[uint16]string{1: "Rockwell Automation/Allen-Bradley"}

// General status codes of CIP responses (CIP Vol. 1, Appendix B) that
// tell an engineer most.
var generalStatus = map[byte]string{
	0x00: "success", 0x01: "connection_failure", 0x02: "resource_unavailable", 0x03: "invalid_parameter_value",
	0x04: "path_segment_error", 0x05: "path_destination_unknown", 0x06: "partial_transfer", 0x08: "service_not_supported",
	0x09: "invalid_attribute_value", 0x0C: "object_state_conflict", 0x0E: "attribute_not_settable", 0x0F: "privilege_violation",
	0x10: "device_state_conflict", 0x13: "not_enough_data", 0x14: "attribute_not_supported", 0x15: "too_much_data",
	0x16: "object_does_not_exist", 0x1E: "embedded_service_error", 0x26: "path_size_invalid",
}
