package advisories

import (
	"regexp"
	"strings"
	"sync"
)

// The map from what the wire tells to the names advisories use. Vendors
// publish marketing names ("SIMATIC S7-1200 CPU family (incl. SIPLUS
// variants)"); devices answer with order numbers and product codes
// ("6ES7 214-1AG40-0XB0", "BMX P34 2020"). Each rule below is one vendor's
// documented numbering (README.md, "The map") and is tested against real
// advisory names, including the near misses that must not match.

// vendorAliases names each vendor as CSAF documents and devices spell it;
// VendorKey maps a spelling to the key. Compared on normalised text (lower
// case, punctuation as blanks) at the start of the name.
var vendorAliases = []struct {
	key   string
	names []string
}{
	{"siemens", []string{"siemens"}},
	{"siemens-healthineers", []string{"siemens healthineers", "siemens healthcare"}},       // another company
	{"schneider", []string{"schneider electric", "schneider", "telemecanique", "modicon"}}, // "Schneider Electric Software, LLC" lists Modicon CPUs too
	{"rockwell", []string{"rockwell automation", "rockwell", "allen bradley", "allen-bradley"}},
	{"mitsubishi", []string{"mitsubishi electric", "mitsubishi"}},
	{"ge", []string{"general electric", "ge digital", "ge vernova", "ge grid", "ge"}},
	{"abb", []string{"abb"}},
	{"hitachi-energy", []string{"hitachi energy", "hitachi abb power grids"}},
	{"honeywell", []string{"honeywell"}},
	{"omron", []string{"omron"}},
	{"phoenix-contact", []string{"phoenix contact"}},
	{"wago", []string{"wago"}},
	{"beckhoff", []string{"beckhoff"}},
	{"moxa", []string{"moxa"}},
	{"codesys", []string{"codesys", "3s smart software solutions", "3s-smart software solutions"}},
	{"softing", []string{"softing"}},
	{"opc-foundation", []string{"opc foundation", "opcfoundation", "opcfoundation org"}},
	{"unified-automation", []string{"unified automation", "unifiedautomation"}},
	{"prosys", []string{"prosys opc", "prosys"}},
	{"emerson", []string{"emerson"}},
	{"yokogawa", []string{"yokogawa"}},
	{"delta", []string{"delta electronics"}},
	{"fuji", []string{"fuji electric"}},
	{"br", []string{"b&r", "b r automation", "br automation"}},
	{"sel", []string{"schweitzer engineering laboratories", "sel"}},
	{"johnson-controls", []string{"johnson controls"}},
	{"aveva", []string{"aveva"}},
	{"unitronics", []string{"unitronics"}},
	{"kepware", []string{"kepware", "ptc kepware"}},
	{"open62541", []string{"open62541"}},
}

// corporate suffixes that say nothing about who the vendor is
var corporate = lazyRegexp(`\b(inc|llc|ltd|gmbh|ag|co|corp|corporation|company|sa|se|plc|kg|limited|group)\b`)

// normName is lower case letters, digits and '&', every other run of
// characters one blank, trimmed.
func normName(s string) string {
	b := make([]byte, 0, len(s))
	blank := true // no leading blank
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		if (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '&' {
			b = append(b, c)
			blank = false
			continue
		}
		if !blank {
			b = append(b, ' ')
			blank = true
		}
	}
	return strings.TrimRight(string(b), " ")
}

// VendorKey is the canonical key of a vendor name ("Schneider Electric",
// "Rockwell Automation ", "Allen-Bradley"); a vendor without an alias keys
// on its normalised name without corporate suffixes.
func VendorKey(name string) string {
	n := normName(name)
	if n == "" {
		return ""
	}
	best, bestLen := "", 0
	for _, v := range vendorAliases {
		for _, a := range v.names {
			a = normName(a)
			if (n == a || strings.HasPrefix(n, a+" ")) && len(a) > bestLen {
				best, bestLen = v.key, len(a)
			}
		}
	}
	if best != "" {
		return best
	}
	return strings.Join(strings.Fields(corporate().ReplaceAllString(n, " ")), " ")
}

// family is one product family: how the wire's order number or product
// code shows it, and how advisories name it.
type family struct {
	Vendor string
	Name   string         // for messages, e.g. "SIMATIC S7-300 CPU"
	Wire   *regexp.Regexp // on the order number / product code, upper case, blanks removed
	Names  *regexp.Regexp // on the advisory's product name
	Not    *regexp.Regexp // advisory names that look alike but are other products (nil: none)
}

func re(s string) *regexp.Regexp { return regexp.MustCompile(s) }

// families: the order-number and product-code rules, per vendor. Siemens
// order numbers (MLFB) are 6ES7 for SIMATIC, 6AG1/6AG2 for its SIPLUS
// (extreme environment) twins; the three digits after them are the family
// and model: 21x S7-1200 (the 2xx-1..3x/4x generation; 21x-..2x is the
// older S7-200), 288 S7-200 SMART, 31x S7-300 (151-8 and 154-8 are the
// ET 200 CPUs of that family), 41x S7-400 (410 is the S7-410), 51x S7-1500
// (and its ET 200SP/pro CPUs), 672 the S7-1500 Software Controller, 677
// the ET 200SP Open Controller; LOGO! is 6ED1 052. Schneider's Modicon
// part numbers: BMXP34 M340, BMEP58/BMEH58 M580, 140CPU Quantum, TSXP57
// Premium, TM221/TM241/TM251 M221/M241/M251, BMKC80 MC80, 171CBU Momentum.
// Rockwell catalog numbers: 1756-L7x ControlLogix 5570, 1756-L8x 5580,
// 1769-L1x/L2x/L3x CompactLogix 5370, 5069-L3x 5380, 5069-L4x 5480,
// 2080-L Micro800, 1766-L32 MicroLogix 1400, 1763-L16 MicroLogix 1100.
// Unitronics model codes: V130…V1210 Vision, SM35/SM43/SM70 Samba.
var families = sync.OnceValue(func() []family {
	return []family{
		{"siemens", "SIMATIC S7-1200 CPU", re(`^6(ES7|AG[12])21[1-7]-1[0-9A-Z]{2}[34]`), re(`(?i)\bS7-1200\b.*\bCPU`), re(`(?i)\bCP ?12|software|\bSM ?12`)},
		{"siemens", "SIMATIC S7-200 CPU", re(`^6(ES7|AG[12])21[1-7]-[0-9A-Z]{3}2`), re(`(?i)\bS7-200\b`), re(`(?i)SMART`)},
		{"siemens", "SIMATIC S7-200 SMART CPU", re(`^6ES7288-`), re(`(?i)\bS7-200 SMART\b`), nil},
		{"siemens", "SIMATIC S7-300 CPU", re(`^6(ES7|AG[12])(31[2-9]-|15[14]-8)`), re(`(?i)\bS7-300\b.*\bCPU`), re(`(?i)\bCP ?3[0-9]{2}`)},
		{"siemens", "SIMATIC S7-400 CPU", re(`^6(ES7|AG[12])41[2-9]-`), re(`(?i)\bS7-400\b.*\bCPU`), re(`(?i)\bCP ?4[0-9]{2}|\bS7-400 ?H\b|\bS7-410\b`)},
		{"siemens", "SIMATIC S7-400 H CPU", re(`^6(ES7|AG[12])41[2-9]-[0-9]H`), re(`(?i)\bS7-400 ?H\b`), nil},
		{"siemens", "SIMATIC S7-410 CPU", re(`^6(ES7|AG[12])410-`), re(`(?i)\bS7-410\b`), nil},
		{"siemens", "SIMATIC S7-1500 CPU", re(`^6(ES7|AG[12])51[0-9]-`), re(`(?i)\bS7-1500\b.*\bCPU|\bET ?200SP\b.*\bCPU 15|\bET ?200 ?pro\b.*\bCPU 15`), re(`(?i)software controller|open controller|\bTM MFP|\bCP ?15|\bCM ?15`)},
		{"siemens", "SIMATIC S7-1500 Software Controller", re(`^6ES7672-`), re(`(?i)\bS7-1500 Software Controller`), nil},
		{"siemens", "SIMATIC ET 200SP Open Controller", re(`^6(ES7|AG[12])677-`), re(`(?i)\bET ?200SP\b.*Open Controller`), nil},
		{"siemens", "LOGO!", re(`^6(ED1|AG[12])052-`), re(`(?i)\bLOGO!\s?(8|BM)|LOGO!8`), re(`(?i)CMR|Soft Comfort`)},
		{"schneider", "Modicon M340 CPU", re(`^BMXP34`), re(`(?i)\bM340\b`), re(`(?i)communication|\bNO[ECR]\b|\bNO[ECR] ?0|module|builder`)},
		{"schneider", "Modicon M580 CPU", re(`^BME[PH]58`), re(`(?i)\bM580\b`), re(`(?i)communication|\bNO[ECR]|module|builder`)},
		{"schneider", "Modicon Quantum CPU", re(`^140CPU`), re(`(?i)\bQuantum\b`), re(`(?i)communication|\bNO[ECR]|module`)},
		{"schneider", "Modicon Premium CPU", re(`^TSXP57`), re(`(?i)\bPremium\b`), re(`(?i)communication|module`)},
		{"schneider", "Modicon M221", re(`^TM221`), re(`(?i)\bM221\b`), nil},
		{"schneider", "Modicon M241", re(`^TM241`), re(`(?i)\bM241\b`), nil},
		{"schneider", "Modicon M251", re(`^TM251`), re(`(?i)\bM251\b`), nil},
		{"schneider", "Modicon MC80", re(`^BMKC80`), re(`(?i)\bMC80\b`), nil},
		{"schneider", "Modicon Momentum M1E", re(`^171CBU`), re(`(?i)\bMomentum\b`), nil},
		{"rockwell", "ControlLogix 5570", re(`^1756-L7[0-9]`), re(`(?i)ControlLogix ?5570`), nil},
		{"rockwell", "ControlLogix 5580", re(`^1756-L8[0-9]`), re(`(?i)ControlLogix ?5580`), nil},
		{"rockwell", "GuardLogix 5580", re(`^1756-L8[0-9]ES`), re(`(?i)GuardLogix ?5580`), re(`(?i)Compact`)},
		{"rockwell", "CompactLogix 5370", re(`^1769-L[123][0-9]`), re(`(?i)CompactLogix ?5370`), nil},
		{"rockwell", "CompactLogix 5380", re(`^5069-L3[0-9]`), re(`(?i)CompactLogix ?5380`), nil},
		{"rockwell", "CompactLogix 5480", re(`^5069-L4[0-9]`), re(`(?i)CompactLogix ?5480`), nil},
		{"rockwell", "Micro800", re(`^2080-L`), re(`(?i)Micro ?8[0-9]0\b|Micro800`), nil},
		{"rockwell", "MicroLogix 1400", re(`^1766-L32`), re(`(?i)MicroLogix ?1400`), nil},
		{"rockwell", "MicroLogix 1100", re(`^1763-L16`), re(`(?i)MicroLogix ?1100`), nil},
		// Unitronics names the Vision and Samba PLCs' firmware "OS" in its advisories
		{"unitronics", "Vision/Samba PLC", re(`^(V[0-9]{3,4}|SM[0-9]{2})`), re(`(?i)^(OS|Vision|Samba)\b`), nil},
	}
})

// orderNumberRE finds a Siemens order number (MLFB) in text, with or
// without the blank after the first four characters.
var orderNumberRE = lazyRegexp(`\b6[A-Z]{2}[0-9] ?[0-9]{3}-[0-9A-Z]{5}-[0-9A-Z]{4}\b`)

// normCode is an order number or product code compared: upper case, no blanks.
func normCode(s string) string {
	return strings.ToUpper(strings.Join(strings.Fields(s), ""))
}

// familyOf returns the family rule a code belongs to.
func familyOf(vendor, code string) *family {
	if code == "" {
		return nil
	}
	var best *family
	fams := families()
	for i := range fams {
		f := &fams[i]
		if f.Vendor == vendor && f.Wire.MatchString(code) {
			best = f // later rules are the more specific (S7-400 H after S7-400)
		}
	}
	return best
}
