package protocols

import (
	"testing"
	"unicode/utf8"
)

func TestPrintable(t *testing.T) {
	for _, tc := range []struct {
		name, in, want string
	}{
		{"ascii stays", "CPU 315-2 PN/DP", "CPU 315-2 PN/DP"},
		{"accents stay", "Steuerung Kühlwasser", "Steuerung Kühlwasser"},
		{"CJK stays", "水処理プラント", "水処理プラント"},
		{"C0 controls", "a\x00b\x1b[31mc\r\n", `a\x00b\x1b[31mc\x0d\x0a`},
		{"DEL", "a\x7fb", `a\x7fb`},
		{"C1 CSI", "a\u009b31mb", `a\u009b31mb`},
		{"RLO", "admin\u202egnp.exe", `admin\u202egnp.exe`},
		{"LRE PDF", "\u202aab\u202c", `\u202aab\u202c`},
		{"isolates", "\u2066x\u2069\u2067\u2068", `\u2066x\u2069\u2067\u2068`},
		{"marks and zero width", "a\u200eb\u200fc\u200bd\ufeff", `a\u200eb\u200fc\u200bd\ufeff`},
		{"line and paragraph separators", "a\u2028b\u2029c", `a\u2028b\u2029c`},
		{"no-break space", "a\u00a0b", `a\u00a0b`},
		{"invalid UTF-8", "a\xffb\xc3", `a\xffb\xc3`},
		{"astral", "tag\U000e0041", `tag\U000e0041`},
		{"emoji stays", "pump 🚰", "pump 🚰"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := Printable([]byte(tc.in))
			if got != tc.want {
				t.Errorf("Printable(%q) = %q, want %q", tc.in, got, tc.want)
			}
			if PrintableString(tc.in) != got {
				t.Errorf("PrintableString differs")
			}
			if !utf8.ValidString(got) {
				t.Errorf("not UTF-8: %q", got)
			}
		})
	}
}

func FuzzPrintable(f *testing.F) {
	for _, s := range []string{"", "abc", "admin\u202egnp.exe", "\x9b", "\xff\xfe", "a\u2028b"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if printableASCII(b) != printableBytewise(b) {
			t.Fatalf("printableASCII(% x) = %v", b, printableASCII(b))
		}
		s := Printable(b)
		if !utf8.ValidString(s) {
			t.Fatalf("not UTF-8: %q", s)
		}
		for _, r := range s {
			if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) || (r >= 0x202a && r <= 0x202e) || (r >= 0x2066 && r <= 0x2069) || r == 0x2028 || r == 0x2029 {
				t.Fatalf("%q kept %U", s, r)
			}
		}
		if Printable([]byte(s)) != s {
			t.Fatalf("not idempotent on %q", s)
		}
	})
}

// printableBytewise is the byte-at-a-time test printableASCII does a word
// at a time.
func printableBytewise(b []byte) bool {
	for _, c := range b {
		if c < 0x20 || c >= 0x7F {
			return false
		}
	}
	return true
}

// TestPrintableASCIIWordAtATime: every byte value, in every lane of a word
// and in the tail, next to neighbours at the edges of the printable range
// (where a borrow or a carry between bytes would show), gets the
// byte-at-a-time verdict, from a string and from bytes.
func TestPrintableASCIIWordAtATime(t *testing.T) {
	edges := []byte{0x00, 0x1F, 0x20, 0x21, 0x41, 0x7E, 0x7F, 0x80, 0xFF}
	checked := 0
	for n := 1; n <= 17; n++ {
		for pos := 0; pos < n; pos++ {
			for v := 0; v < 256; v++ {
				for _, fill := range edges {
					b := make([]byte, n)
					for i := range b {
						b[i] = fill
					}
					b[pos] = byte(v)
					want := printableBytewise(b)
					if got := printableASCII(b); got != want {
						t.Fatalf("printableASCII(% x) = %v, want %v", b, got, want)
					}
					if got := printableASCII(string(b)); got != want {
						t.Fatalf("printableASCII(%q) = %v, want %v", b, got, want)
					}
					checked++
				}
			}
		}
	}
	if checked != 153*256*len(edges) {
		t.Fatalf("checked %d cases", checked)
	}
}

// TestEmitSanitises: whatever a dissector forgot, a transaction leaves it
// with printable attributes and string values.
func TestEmitSanitises(t *testing.T) {
	var got *Transaction
	env := &Env{Client: &Endpoint{}, Server: &Endpoint{}, EmitFunc: func(t *Transaction) { got = t }}
	tx := &Transaction{Attrs: []Attr{{Key: "name", Value: "admin\u202egnp.exe"}}, Values: []Value{StringValue("a\x1bb"), IntValue(7)}}
	env.Emit(tx)
	if got.Attrs[0].Value != `admin\u202egnp.exe` || got.Values[0].Str != `a\x1bb` || got.Values[1].Int != 7 {
		t.Errorf("%+v %+v", got.Attrs, got.Values)
	}
}
