package enip

import "github.com/otwatch/otwatch/protocols"

// pccc reads the PCCC command an Execute PCCC request carries (the
// requester id — its length, vendor and serial — then the DF1 command:
// CMD, STS, TNS, FNC) to tell reads from writes and mode changes, as
// the DF1 protocol manual (Allen-Bradley 1770-6.5.16) defines them.
func pccc(t *protocols.Transaction, d []byte) {
	if len(d) < 1 {
		return
	}
	n := int(d[0]) // requester id length, itself included
	if n < 1 || len(d) < n+4 {
		return
	}
	cmd := d[n]
	fnc := byte(0)
	if len(d) >= n+5 {
		fnc = d[n+4]
	}
	t.AddAttr("pccc_command", pcccName(cmd, fnc))
	switch cmd {
	case 0x0F:
		switch fnc {
		case 0x67, 0xA9, 0xAA, 0xAB:
			t.Op = protocols.OpWrite
		case 0x68, 0xA1, 0xA2:
			t.Op = protocols.OpRead
		case 0x80:
			t.Op = protocols.OpControl // change mode: run/program
		}
	case 0x06:
		t.Op = protocols.OpDiagnostic
	}
}

func pcccName(cmd, fnc byte) string {
	switch cmd {
	case 0x0F:
		switch fnc {
		case 0x67:
			return "typed_write"
		case 0x68:
			return "typed_read"
		case 0xA2:
			return "protected_typed_logical_read_3"
		case 0xAA:
			return "protected_typed_logical_write_3"
		case 0xAB:
			return "protected_typed_logical_masked_write_3"
		case 0xA1:
			return "protected_typed_logical_read_2"
		case 0xA9:
			return "protected_typed_logical_write_2"
		case 0x80:
			return "change_mode"
		}
		return "cmd_0f"
	case 0x06:
		return "diagnostic"
	}
	return "other"
}
