package config

import (
	"errors"
	"os"
	"testing"
)

// FuzzParse: any configuration file (a typo, a half-saved edit, a binary
// file given by mistake) is a configuration or errors that name the file,
// never a panic: the daemon reads it at every start and every reload. A
// configuration it accepts gives its restart differences and the
// baseline's settings. Seeds: the shipped example and a minimal file.
func FuzzParse(f *testing.F) {
	example, err := os.ReadFile("otwatch.conf.example")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(example)
	f.Add([]byte("interfaces: [eth1]\n"))
	f.Add([]byte("interfaces: [eth1]\nzones:\n  - name: cell\n    subnets: [10.0.0.0/24]\n"))
	f.Fuzz(func(t *testing.T, src []byte) {
		c, err := Parse("fuzz.conf", src)
		if err != nil {
			var es Errors
			if !errors.As(err, &es) || len(es) == 0 {
				t.Fatalf("an error that is not the file's list of errors: %v", err)
			}
			for _, e := range es {
				if e.File != "fuzz.conf" {
					t.Fatalf("an error that does not name the file: %v", e)
				}
			}
			return
		}
		c.RestartNeeded(Default())
		c.Learning.Baseline()
	})
}
