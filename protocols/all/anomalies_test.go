package all

import (
	"go/ast"
	"go/token"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/otwatch/otwatch/protocols"
	"github.com/otwatch/otwatch/protocols/testkit"
)

// TestAnomalyNamesAgree: each protocol folder's code names its anomalies by
// string literals and its anomalies.txt declares them; every literal of a
// declared protocol prefix in the code must be declared (a typo would be
// an undeclared anomaly) and every declaration used (a dead one misleads
// whoever reads the list).
func TestAnomalyNamesAgree(t *testing.T) {
	registered := map[string]bool{}
	for _, a := range protocols.Anomalies() {
		registered[a.Name] = true
	}
	dirs := map[string]string{}
	for _, d := range protocols.Dissectors() {
		// the folder of the package whose code the dissector's session is
		fn := runtime.FuncForPC(reflect.ValueOf(d.NewSession).Pointer()).Name() // ".../protocols/modbus.init.func1"
		pkg := fn[strings.LastIndex(fn, "/")+1:]
		dirs[filepath.Join("..", pkg[:strings.Index(pkg, ".")])] = d.Name
	}
	if len(dirs) < 6 {
		t.Fatalf("%d protocol folders registered", len(dirs))
	}
	for dir, name := range dirs {
		text, err := os.ReadFile(filepath.Join(dir, "anomalies.txt"))
		if err != nil {
			t.Errorf("%s: every protocol folder lists its anomalies: %v", name, err)
			continue
		}
		list, err := protocols.ParseAnomalies(string(text))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		declared, prefixes := map[string]bool{}, map[string]bool{}
		for _, an := range list {
			declared[an.Name] = true
			prefixes[an.Name[:strings.Index(an.Name, ".")+1]] = true
		}
		used := anomalyLiterals(t, dir, prefixes)
		names := make([]string, 0, len(used))
		for n := range used {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			if !declared[n] {
				t.Errorf("%s: %s uses %q, which anomalies.txt does not declare", name, used[n], n)
			}
		}
		for _, an := range list {
			if used[an.Name] == "" {
				t.Errorf("%s: %s is declared but never used", name, an.Name)
			}
			if !registered[an.Name] {
				t.Errorf("%s: %s is listed but the package does not declare its list", name, an.Name)
			}
		}
	}
}

// anomalyLiterals returns the string literals of the package in dir (tests
// left out) that start with one of the prefixes, with where each is first
// used; a benchmark's tshark field ("modbus.func_code") is not one.
func anomalyLiterals(t *testing.T, dir string, prefixes map[string]bool) map[string]string {
	t.Helper()
	fset, files := testkit.Sources(t, dir)
	out := map[string]string{}
	for _, file := range files {
		ast.Inspect(file, func(n ast.Node) bool {
			if kv, ok := n.(*ast.KeyValueExpr); ok {
				if k, ok := kv.Key.(*ast.Ident); ok && k.Name == "TsharkField" {
					return false
				}
			}
			lit, ok := n.(*ast.BasicLit)
			if !ok || lit.Kind != token.STRING {
				return true
			}
			s, err := strconv.Unquote(lit.Value)
			if i := strings.Index(s, "."); err == nil && i > 0 && prefixes[s[:i+1]] && out[s] == "" {
				out[s] = fset.Position(lit.Pos()).String()
			}
			return true
		})
	}
	return out
}
