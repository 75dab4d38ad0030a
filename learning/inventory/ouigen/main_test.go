package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestGenerate(t *testing.T) {
	csv := "Registry,Assignment,Organization Name,Organization Address\n" +
		"MA-L,00D0EF,IGT,9295 PROTOTYPE DRIVE RENO NV US 89511 \n" +
		"MA-L,080030,NETWORK RESEARCH CORPORATION,x\n" +
		"MA-L,080030,CERN,y\n" +
		"MA-L,001B1B,\"Siemens AG,\",z\n" +
		"MA-L,001B1C,\"Quote \"\"q\"\" `tick`\t\",z\n" +
		"MA-M,001B1D0,Not MA-L,z\n"
	in := filepath.Join(t.TempDir(), "oui.csv")
	if err := os.WriteFile(in, []byte(csv), 0o644); err != nil {
		t.Fatal(err)
	}
	src, err := generate(in, "x")
	if err != nil {
		t.Fatal(err)
	}
	s := string(src)
	for _, want := range []string{
		"DO NOT EDIT.", "package x", "const ouiCount = 4",
		// names sorted, distinct, whole, joined for the shared OUI
		`const ouiNames = "CERN / NETWORK RESEARCH CORPORATION\nIGT\nQuote \"q\" ` + "`tick`" + `\nSiemens AG,\n"`,
		// index sorted by OUI with name offsets
		`const ouiIndex = "001B1B00039001B1C0002800D0EF0002408003000000"`,
	} {
		if !strings.Contains(s, want) {
			t.Errorf("output lacks %q:\n%s", want, s)
		}
	}
	if _, err := generate(filepath.Join(t.TempDir(), "none.csv"), "x"); err == nil || !strings.Contains(err.Error(), "ieee-data") {
		t.Errorf("missing input: %v", err)
	}
	bad := filepath.Join(t.TempDir(), "bad.csv")
	os.WriteFile(bad, []byte("a,b,c\n"), 0o644)
	if _, err := generate(bad, "x"); err == nil {
		t.Error("bad header accepted")
	}
}
