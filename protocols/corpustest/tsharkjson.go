package corpustest

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
)

var (
	tsharkVersionOnce sync.Once
	tsharkVersion     []byte
)

// TsharkJSON runs `tshark -n -r capture args...` (the args asking for -T
// json and naming filters and layers) and returns what it printed. The
// output is cached under the system temporary folder by the capture's
// content, the args and tshark's version: tshark's start-up dominates a
// conformance test over the corpus. A capture cut short makes tshark exit
// non-zero after printing what it read: that output is kept.
func TsharkJSON(tshark, capturePath string, args ...string) ([]byte, error) {
	data, err := os.ReadFile(capturePath)
	if err != nil {
		return nil, err
	}
	tsharkVersionOnce.Do(func() { tsharkVersion, _ = exec.Command(tshark, "--version").Output() })
	h := sha256.New()
	h.Write(data)
	h.Write([]byte(strings.Join(args, "\x00")))
	h.Write(tsharkVersion)
	cache := filepath.Join(os.TempDir(), "otwatch-tshark-json", hex.EncodeToString(h.Sum(nil))[:32]+".json")
	if out, err := os.ReadFile(cache); err == nil {
		return out, nil
	}
	out, _ := exec.Command(tshark, append([]string{"-n", "-r", capturePath}, args...)...).Output()
	if err := os.MkdirAll(filepath.Dir(cache), 0o755); err == nil {
		tmp := cache + ".tmp" + strconv.Itoa(os.Getpid())
		if os.WriteFile(tmp, out, 0o644) == nil {
			os.Rename(tmp, cache)
		}
	}
	return out, nil
}

// TsharkJSONEach runs TsharkJSON for every capture, four at a time (tshark
// waits on its start-up more than on the CPU), with the args each needs;
// outputs and errors come in the order of the captures.
func TsharkJSONEach(t testing.TB, captures []Capture, args func(Capture) []string) ([][]byte, []error) {
	tshark := Tshark(t)
	outputs := make([][]byte, len(captures))
	errs := make([]error, len(captures))
	var wg sync.WaitGroup
	work := make(chan int)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				outputs[i], errs[i] = TsharkJSON(tshark, captures[i].Path, args(captures[i])...)
			}
		}()
	}
	for i := range captures {
		work <- i
	}
	close(work)
	wg.Wait()
	return outputs, errs
}

// TsharkLayers decodes tshark's -T json output into each packet's layers
// (layer name → its tree). Output a truncated capture cut short is closed
// after its last whole packet.
func TsharkLayers(out []byte) ([]map[string]any, error) {
	out = bytes.TrimSpace(out)
	if len(out) == 0 {
		return nil, nil
	}
	if out[len(out)-1] != ']' {
		if i := bytes.LastIndex(out, []byte("\n  }")); i >= 0 {
			out = append(out[:i+4:i+4], ']')
		}
	}
	var packets []struct {
		Source struct {
			Layers map[string]any `json:"layers"`
		} `json:"_source"`
	}
	if err := json.Unmarshal(out, &packets); err != nil {
		return nil, err
	}
	layers := make([]map[string]any, len(packets))
	for i, p := range packets {
		layers[i] = p.Source.Layers
	}
	return layers, nil
}

// AsList is a tshark JSON value as a list: tshark gives a field or layer
// that occurs once as the value itself, several times as an array.
func AsList(v any) []any {
	switch x := v.(type) {
	case nil:
		return nil
	case []any:
		return x
	}
	return []any{v}
}
