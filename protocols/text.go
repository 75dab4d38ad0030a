package protocols

import (
	"strconv"
	"unicode"
	"unicode/utf8"
)

// Printable renders bytes taken from the wire as text an operator and a
// SIEM can trust: printable characters stay as they are, everything that
// could hide, reorder or forge what is shown is written as an escape:
// C0 and C1 controls and DEL ("\x1b", "\u009b": U+009B is a CSI to UTF-8
// terminals), bidirectional overrides and isolates (U+202A–202E,
// U+2066–2069, and the other format characters such as U+200B–200F),
// line and paragraph separators (U+2028, U+2029), other non-printing
// space, and bytes that are not UTF-8 ("\xff"). Every dissector passes
// the strings it keeps (identity, names, written strings) through it where
// they enter the transaction, so the inventory, the dashboard, the logs
// and syslog all show the same, safe text. An OPC UA application name
// "admin\u202egnp.exe" reads as written, not as "adminexe.png".
func Printable(b []byte) string {
	if printableASCII(b) {
		return string(b)
	}
	return string(AppendPrintable(make([]byte, 0, len(b)+8), b))
}

// AppendPrintable appends b to out as Printable renders it.
func AppendPrintable(out, b []byte) []byte {
	for len(b) > 0 {
		r, n := utf8.DecodeRune(b)
		switch {
		case r == utf8.RuneError && n <= 1:
			out = append(out, '\\', 'x', hexDigit(b[0]>>4), hexDigit(b[0]&15))
		case r < 0x20 || r == 0x7F:
			out = append(out, '\\', 'x', hexDigit(byte(r)>>4), hexDigit(byte(r)&15))
		case r < 0x80 || (unicode.IsPrint(r) && !unicode.Is(unicode.Cf, r)):
			out = append(out, b[:n]...)
		default: // C1 controls, format characters (bidi), separators, other spaces
			out = appendEscape(out, r)
		}
		b = b[n:]
	}
	return out
}

// PrintableString is Printable for a string.
func PrintableString(s string) string {
	if printableASCII(s) {
		return s
	}
	return Printable([]byte(s))
}

// printableASCII reports whether every byte of s is printable ASCII (0x20
// to 0x7E), the test every string from the wire goes through, mostly
// passing: eight bytes at a time, as one 64-bit word, the last word
// overlapping the one before when the length is not a multiple of eight.
//   - A byte below 0x20 gets its top bit set when 0x20 is taken from it
//     (it borrows).
//   - A byte from 0x7F to 0xFE gets it when 1 is added; 0xFF keeps it when
//     0x20 is taken.
//   - A printable byte gets it neither way.
//
// A borrow or a carry crosses into the next byte only from a byte that
// already fails, so the word's verdict is exact.
func printableASCII[T string | []byte](s T) bool {
	if len(s) < 8 {
		for i := 0; i < len(s); i++ {
			if c := s[i]; c < 0x20 || c >= 0x7F {
				return false
			}
		}
		return true
	}
	const ones, tops = 0x0101010101010101, 0x8080808080808080
	last := len(s) - 8
	for i := 0; ; i = min(i+8, last) {
		w := s[i : i+8]
		x := uint64(w[0]) | uint64(w[1])<<8 | uint64(w[2])<<16 | uint64(w[3])<<24 |
			uint64(w[4])<<32 | uint64(w[5])<<40 | uint64(w[6])<<48 | uint64(w[7])<<56
		if ((x-0x20*ones)|(x+ones))&tops != 0 {
			return false
		}
		if i == last {
			return true
		}
	}
}

func appendEscape(out []byte, r rune) []byte {
	if r > 0xFFFF {
		out = append(out, '\\', 'U')
		h := strconv.FormatUint(uint64(r), 16)
		for i := len(h); i < 8; i++ {
			out = append(out, '0')
		}
		return append(out, h...)
	}
	out = append(out, '\\', 'u')
	h := strconv.FormatUint(uint64(r), 16)
	for i := len(h); i < 4; i++ {
		out = append(out, '0')
	}
	return append(out, h...)
}

func hexDigit(v byte) byte { return "0123456789abcdef"[v&15] }

var smallInts = func() [256]string {
	var s [256]string
	for i := range s {
		s[i] = strconv.Itoa(i)
	}
	return s
}()

// Itoa is strconv.Itoa without an allocation for 0..255, the addresses,
// slots and small codes that dissectors render on every PDU.
func Itoa(n int) string {
	if n >= 0 && n < len(smallInts) {
		return smallInts[n]
	}
	return strconv.Itoa(n)
}
