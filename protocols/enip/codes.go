package enip

import (
	_ "embed"

	"github.com/otwatch/otwatch/protocols"
)

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

// A serviceCode is a CIP service (CIP Vol. 1, Appendix A), the reply bit
// cleared; a classID the object class a request path addresses. Both are
// small numbers of one range, each kept to its type: a class compared with
// a service does not compile.
type (
	serviceCode uint8
	classID     uint32
)

// The CIP services and object classes the decoder branches on; codes.tsv
// names these and the others.
const (
	svcGetAttributesAll serviceCode = 0x01
	svcMultipleService  serviceCode = 0x0A
	svcUnconnectedSend  serviceCode = 0x52 // on the Connection Manager
	svcExecutePCCC      serviceCode = 0x4B // on the PCCC object

	classIdentity     classID = 0x01
	classConnManager  classID = 0x06
	classPCCC         classID = 0x67
	classSymbol       classID = 0x6B
	classTemplate     classID = 0x6C
	classNVS          classID = 0xA1 // non-volatile storage: firmware updates
	classTCPIP        classID = 0xF5
	classEthernetLink classID = 0xF6
)

// codes are the tables of codes.tsv: encapsulation commands, the common
// CIP services (whatever the class), the Connection Manager's (class 6),
// the Logix controllers' services on tags (symbolic paths, the Symbol and
// Template objects), the Identity object's device types and vendor ids
// named in the inventory (the rest stay numeric), the general status
// codes of CIP responses that tell an engineer most and the object classes
// named in the records.
var codes = protocols.MustLoadCodes[struct {
	Commands                                     map[uint16]protocols.Code
	Services, ConnManagerServices, LogixServices map[serviceCode]protocols.Code
	DeviceTypes, Vendors                         map[uint16]string
	GeneralStatus                                map[byte]string
	ClassNames                                   map[classID]string
}](codeList)

//go:embed codes.tsv
var codeList string
