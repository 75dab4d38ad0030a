package advisories

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestParseVersion(t *testing.T) {
	for _, tc := range []struct {
		in   string
		ok   bool
		less string // a version it is below, "" none
		eq   string // a version it equals
	}{
		{"V3.2.7", true, "V3.2.16", "3.2.7.0"},
		{"V4.2", true, "V4.2 SP1", "4.2"},
		{"V4.2 SP1", true, "V4.2 SP1 Update 3", "V4.2 SP 1"},
		{"V16 Update 3", true, "V16 SP1", "V16 Upd3"},
		{"V7.5 SP1 Update 3", true, "V7.5 SP2", "V7.5 SP1 Upd 3"},
		{"1.02B", true, "1.02C", "1.02b"},
		{"5.3.0-64", true, "5.3.0-65", "5.3.0 build 64"},
		{"v2.7", true, "v2.10", "V2.7.0"},
		{"1-02-08", true, "1.2.9", "1.2.8"},
		{"Ver.2.60", true, "2.61", "2.60"},
		{"Version V4.4", true, "V4.4.1", "4.4"},
		{"V3.X.16", true, "", "V3.9.16"}, // wildcard: any minor
		{"January 31 2014", false, "", ""},
		{"the_first_5_digits_of_serial_number_24031", false, "", ""},
		{"", false, "", ""},
		{"X.1", false, "", ""},
	} {
		v, ok := ParseVersion(tc.in)
		assert.Equal(t, tc.ok, ok, tc.in)
		if !ok {
			continue
		}
		if tc.less != "" {
			w, ok := ParseVersion(tc.less)
			assert.True(t, ok, tc.less)
			assert.Equal(t, -1, Compare(v, w), "%s < %s", tc.in, tc.less)
			assert.Equal(t, 1, Compare(w, v), "%s > %s", tc.less, tc.in)
		}
		if tc.eq != "" {
			w, ok := ParseVersion(tc.eq)
			assert.True(t, ok, tc.eq)
			assert.Equal(t, 0, Compare(v, w), "%s = %s", tc.in, tc.eq)
		}
	}
}

// TestParseRange: the forms found in the CISA advisories (each string is
// from ../shared/advisories), what they contain and what they do not.
func TestParseRange(t *testing.T) {
	for _, tc := range []struct {
		raw       string
		form      string
		in, notIn []string
	}{
		{"vers:all/*", "all", []string{"V1.0", "V99"}, nil},
		{"All versions", "all", []string{"0.1"}, nil},
		{"< V3.X.14", "<", []string{"V3.2.7", "V3.3.13"}, []string{"V3.2.14", "V3.3.16", "V4.0"}},
		{"vers:all/<V3.2.17", "<", []string{"V3.2.16"}, []string{"V3.2.17", "V3.3"}},
		{"All versions < V3.X.17", "<", []string{"V3.2.7"}, []string{"V3.2.17"}},
		{"<= 2.0.00", "<=", []string{"2.0"}, []string{"2.0.1"}},
		{">= V2.0 < V2.1.6", ">= <", []string{"V2.0", "V2.1.5"}, []string{"V1.9", "V2.1.6"}},
		{"All versions >= V2.0 and < V2.5", ">= <", []string{"V2.4.9"}, []string{"V1.0", "V2.5"}},
		{"vers:all/>=V4.5.0<V4.5.2", ">= <", []string{"V4.5.1"}, []string{"V4.4", "V4.5.2"}},
		{">= 6.02 | <= 6.05", ">= <=", []string{"6.05"}, []string{"6.06", "6.01"}},
		{"> V1.0  and < V1.6", "> <", []string{"V1.5"}, []string{"V1.0", "V1.6"}},
		{"All versions < V7.4 SP1", "<", []string{"V7.4", "V7.3 SP5"}, []string{"V7.4 SP1", "V7.5"}},
		{"< V9 Update 9", "<", []string{"V9 Update 8", "V8"}, []string{"V9 Update 9", "V9 SP1"}},
		{"<= 5.4.4  Build 161125", "<=", []string{"5.4.4 Build 161125"}, []string{"5.4.5"}},
		{"8.1", "exact", []string{"8.1", "8.1.0"}, []string{"8.1.1", "8.0"}},
		{"28.011 | 28.012 | 28.013", "set of exact versions", []string{"28.012"}, []string{"28.014"}},
		{"< 1.99 | 2.20 | 2.40", "bounds and exact versions", []string{"1.5", "2.20"}, []string{"2.30"}},
		// several maintained lines, each fixed in its own: 5.0.30 is not affected
		{"<= 4.2.21 | <= 5.0.27 | <= 5.1.19 | <= 6.0.16", "<= <= <= <=", []string{"4.1", "5.0.27", "6.0.1"}, []string{"5.0.30", "5.1.20", "6.1"}},
		{"< 2.1.0 (Windows and Linux)", "<", []string{"2.0.9"}, []string{"2.1.0"}},
		{">= 4.4.0 (only affected by CVE-2019-10943)", ">=", []string{"4.4.0"}, []string{"4.3"}},
		{"V3.0 and prior", "<=", []string{"V3.0", "2.9"}, []string{"3.1"}},
		{"<=the_first_5_digits_of_serial_number_24031", "unparsed: a serial number range", nil, []string{"1.0"}},
		{"distributed  < april 1, 2018", "unparsed: a date range", nil, []string{"1.0"}},
		{"BIOS < V22.01.04", "unparsed: a component's version (BIOS, boot loader, hardware, function state) the wire does not tell", nil, nil},
		{"All versions with Function State (FS) < 11", "unparsed: a component's version (BIOS, boot loader, hardware, function state) the wire does not tell", nil, nil},
		{" <2.420.HW01.33.20190812", "unparsed: a firmware and hardware version pair", nil, nil},
		{"No version", "unparsed: no version given", nil, nil},
		{"2016 R2 (when deployed using the PI AF Services 2016 R2 integrated install kit)", "unparsed: free text", nil, []string{"2016"}},
		{"NMC2 <= 6.9.6", "unparsed: free text", nil, []string{"6.9.6"}},
	} {
		r := ParseRange(tc.raw)
		assert.Equal(t, tc.form, r.Form, "%q", tc.raw)
		assert.Equal(t, tc.form[:min(8, len(tc.form))] != "unparsed", r.Parsed(), "%q parsed", tc.raw)
		for _, s := range tc.in {
			v, ok := ParseVersion(s)
			assert.True(t, ok, s)
			assert.True(t, r.Contains(v), "%q contains %s", tc.raw, s)
		}
		for _, s := range tc.notIn {
			v, _ := ParseVersion(s)
			assert.False(t, r.Contains(v), "%q does not contain %s", tc.raw, s)
		}
	}
}

func FuzzParseRange(f *testing.F) {
	for _, s := range []string{"vers:all/>=V2.0<V2.1.6", "< V3.X.14", ">= 6.02 | <= 6.05", "V3.0 and prior", "1.0 through 2.0",
		"<= 4.2.21 | <= 5.0.27", "All versions < V9.0 SP2 with WinCC V7.4 SP1 Upd11", "((((", "vers:", "<<<<1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r := ParseRange(s)
		if r.Form == "" {
			t.Fatalf("%q: no form", s)
		}
		if v, ok := ParseVersion(s); ok {
			r.Contains(v)
			if Compare(v, v) != 0 {
				t.Fatalf("%q: not equal to itself", s)
			}
		}
	})
}
