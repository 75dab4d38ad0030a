//go:build linux

package live

import (
	"go/ast"
	"strings"
	"testing"

	"github.com/otwatch/otwatch/protocols/testkit"
	"golang.org/x/net/bpf"
)

func TestConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		name, want string
		cfg        Config
	}{
		{"no interface", "no interface", Config{}},
		{"empty name", "not an interface name", Config{Interfaces: []string{""}}},
		{"path in name", "not an interface name", Config{Interfaces: []string{"../etc"}}},
		{"long name", "not an interface name", Config{Interfaces: []string{"abcdefghijklmnopq"}}},
		{"twice", "given twice", Config{Interfaces: []string{"eth0", "eth0"}}},
		{"snaplen", "snap length", Config{Interfaces: []string{"eth0"}, SnapLen: 1 << 20}},
		{"block not page multiple", "page size", Config{Interfaces: []string{"eth0"}, BlockSize: 5000}},
		{"block smaller than frame", "cannot hold", Config{Interfaces: []string{"eth0"}, BlockSize: 4096 * 16}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Open(tc.cfg)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Open(%+v) = %v, want an error containing %q", tc.cfg, err, tc.want)
			}
		})
	}
	cfg, err := Config{Interfaces: []string{"eth0"}}.withDefaults()
	if err != nil || cfg.SnapLen != DefaultSnapLen || cfg.BlockSize != DefaultBlockSize || cfg.NumBlocks != DefaultNumBlocks || cfg.PollTimeout != DefaultPollTimeout {
		t.Fatalf("defaults: %+v, %v", cfg, err)
	}
}

// The filter drops PACKET_OUTGOING frames and cuts the others to snapLen.
func TestFilterProgram(t *testing.T) {
	raw, err := filterProgram(1500, false)
	if err != nil {
		t.Fatal(err)
	}
	prog, ok := bpf.Disassemble(raw)
	if !ok || len(prog) != 4 {
		t.Fatalf("program %v", prog)
	}
	if prog[0] != (bpf.LoadExtension{Num: bpf.ExtType}) || prog[2] != (bpf.RetConstant{Val: 1500}) || prog[3] != (bpf.RetConstant{Val: 0}) {
		t.Fatalf("program %v", prog)
	}
	raw, _ = filterProgram(1500, true)
	if prog, _ := bpf.Disassemble(raw); len(prog) != 1 || prog[0] != (bpf.RetConstant{Val: 1500}) {
		t.Fatalf("keep-outgoing program %v", prog)
	}
}

// TestNoSendCalls keeps the package receive-only: no source file may call a
// function that transmits on a socket.
func TestNoSendCalls(t *testing.T) {
	forbidden := map[string]bool{
		"WritePacketData": true, "Write": true, "Writev": true, "Pwrite": true,
		"Send": true, "Sendto": true, "Sendmsg": true, "SendmsgN": true, "Sendmmsg": true, "SendmsgBuffers": true,
		"WriteTo": true, "WriteMsgUDP": true,
	}
	fset, files := testkit.Sources(t, ".")
	checked := 0
	for _, f := range files {
		checked++
		ast.Inspect(f, func(n ast.Node) bool {
			if call, ok := n.(*ast.CallExpr); ok {
				if sel, ok := call.Fun.(*ast.SelectorExpr); ok && forbidden[sel.Sel.Name] {
					t.Errorf("%s: call to %s: this package must never transmit", fset.Position(call.Pos()), sel.Sel.Name)
				}
			}
			return true
		})
	}
	if checked == 0 {
		t.Fatal("no source file checked")
	}
}
