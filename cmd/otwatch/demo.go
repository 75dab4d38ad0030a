package main

import (
	_ "embed"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// demoCapture is a real Modbus capture (see demo/PROVENANCE.md), so a fresh
// install shows what otwatch does without any traffic of its own.
//
//go:embed demo/modbus.pcap
var demoCapture []byte

// cmdDemo runs `otwatch read` on the embedded capture.
func cmdDemo(args []string, stdout, stderr io.Writer) int {
	dir, err := os.MkdirTemp("", "otwatch-demo")
	if err != nil {
		fmt.Fprintf(stderr, "otwatch demo: %v\n", err)
		return 2
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "demo-modbus.pcap")
	if err := os.WriteFile(path, demoCapture, 0o600); err != nil {
		fmt.Fprintf(stderr, "otwatch demo: %v\n", err)
		return 2
	}
	fmt.Fprintf(stderr, "otwatch demo: reading the embedded capture (%d bytes of real Modbus/TCP traffic)\n", len(demoCapture))
	return cmdRead(append(append([]string{"--records", "-"}, args...), path), stdout, stderr)
}
