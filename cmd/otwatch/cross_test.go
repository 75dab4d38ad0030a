package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/otwatch/otwatch/protocols/corpustest"
	"github.com/stretchr/testify/require"
)

// TestCrossArchitecturesAgree builds the arm64 and armv7 binaries the
// appliance ships, runs them under qemu user emulation on real captures and
// requires records byte-identical to the native build's.
func TestCrossArchitecturesAgree(t *testing.T) {
	if testing.Short() {
		t.Skip("builds three binaries and runs two under qemu: skipped with -short (make test-full runs it)")
	}
	if runtime.GOARCH != "amd64" {
		t.Skip("compares against an amd64 host build")
	}
	targets := []struct{ arch, arm, qemu string }{{"arm64", "", "qemu-aarch64-static"}, {"arm", "7", "qemu-arm-static"}}
	for _, tg := range targets {
		if _, err := exec.LookPath(tg.qemu); err != nil {
			t.Skipf("%s not installed (apt-get install qemu-user-static): skipping", tg.qemu)
		}
	}
	captures, _ := filepath.Glob("../../protocols/*/testdata/*.pcap")
	captures = append(captures, "demo/modbus.pcap")
	captures = append(captures, corpusCaptures()...)
	dir := t.TempDir()
	build := func(arch, arm string) string {
		out := filepath.Join(dir, "otwatch-"+arch+arm)
		cmd := exec.Command("go", "build", "-trimpath", "-o", out, ".")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+arch, "GOARM="+arm)
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("build %s: %v\n%s", arch, err, b)
		}
		return out
	}
	records := func(runner []string, capture string) []byte {
		out := filepath.Join(dir, "records.jsonl")
		args := append(runner[1:], "read", "--quiet", "--records", out, capture)
		cmd := exec.Command(runner[0], args...)
		if b, err := cmd.CombinedOutput(); err != nil {
			if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
				t.Fatalf("%v on %s: %v\n%s", runner, capture, err, b)
			}
		}
		b, err := os.ReadFile(out)
		require.NoError(t, err)
		return b
	}
	native := build("amd64", "")
	for _, tg := range targets {
		bin := build(tg.arch, tg.arm)
		for _, c := range captures {
			want := records([]string{native}, c)
			got := records([]string{tg.qemu, bin}, c)
			if !bytes.Equal(want, got) {
				t.Errorf("%s%s differs from amd64 on %s", tg.arch, tg.arm, c)
			}
		}
	}
	t.Logf("%d captures agree on amd64, arm64 and armv7", len(captures))
}

// corpusCaptures picks the large Modbus captures of the shared corpus, if present.
func corpusCaptures() []string {
	dir := corpustest.Locate()
	if dir == "" {
		return nil
	}
	list, _ := corpustest.List(dir, "modbus")
	var out []string
	for _, c := range list {
		if filepath.Base(c.Path) == "modbusBig.pcap" || filepath.Base(c.Path) == "characterization_modbus_6RTU_with_operate.pcap" {
			out = append(out, c.Path)
		}
	}
	return out
}
