package protocols

import (
	"embed"
	"fmt"
	"io/fs"
	"sort"
	"strings"
	"sync"
)

// AnomalyInfo documents a named anomaly. Names are "<protocol>.<what>", the
// protocol being the registry name, so alerts and metrics group by protocol.
type AnomalyInfo struct {
	Name        string
	Description string
}

var (
	anomalyMu sync.Mutex
	anomalies = map[string]AnomalyInfo{}
)

// DeclareAnomaly registers a named anomaly and returns its name, so each
// protocol declares its anomalies in one file:
//
//	var anomalyInvalidLength = protocols.DeclareAnomaly("modbus.invalid_length", "...")
func DeclareAnomaly(name, description string) string {
	if !strings.Contains(name, ".") {
		panic(fmt.Sprintf("protocols: anomaly %q lacks a protocol prefix", name))
	}
	anomalyMu.Lock()
	defer anomalyMu.Unlock()
	if _, dup := anomalies[name]; dup {
		panic(fmt.Sprintf("protocols: anomaly %q declared twice", name))
	}
	anomalies[name] = AnomalyInfo{name, description}
	return name
}

// ParseAnomalies reads an anomaly list: one a line, the name, a tab, the
// description; blank lines and lines starting with # are skipped. A line
// without a tab, a name without its protocol prefix or with characters
// other than lower-case letters, digits and _ after it, an empty
// description or a name listed twice is an error that names the line.
func ParseAnomalies(text string) ([]AnomalyInfo, error) {
	var out []AnomalyInfo
	seen := map[string]bool{}
	for i, line := range strings.Split(text, "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, desc, ok := strings.Cut(line, "\t")
		switch {
		case !ok:
			return nil, fmt.Errorf("line %d: no tab between name and description", i+1)
		case !validAnomalyName(name):
			return nil, fmt.Errorf("line %d: %q is not <protocol>.<name> in lower case", i+1, name)
		case strings.TrimSpace(desc) == "" || desc != strings.TrimSpace(desc):
			return nil, fmt.Errorf("line %d: %s: empty description or stray spaces", i+1, name)
		case seen[name]:
			return nil, fmt.Errorf("line %d: %s listed twice", i+1, name)
		}
		seen[name] = true
		out = append(out, AnomalyInfo{name, desc})
	}
	return out, nil
}

func validAnomalyName(name string) bool {
	proto, what, ok := strings.Cut(name, ".")
	if !ok || proto == "" || what == "" {
		return false
	}
	for _, c := range proto + what {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// DeclareAnomalies declares every anomaly of a list (see ParseAnomalies).
func DeclareAnomalies(text string) error {
	list, err := ParseAnomalies(text)
	if err != nil {
		return err
	}
	for _, a := range list {
		DeclareAnomaly(a.Name, a.Description)
	}
	return nil
}

// Each protocol folder lists its anomalies in its anomalies.txt: data, in
// the folder of the code that raises them, declared here at init so a
// protocol declares them without a line of Go; a bad list panics at init
// and fails every test. protocols/all checks each folder's code uses
// exactly the names its list declares.
//
//go:embed */anomalies.txt
var anomalyLists embed.FS

func init() {
	files, _ := fs.Glob(anomalyLists, "*/anomalies.txt")
	for _, f := range files {
		text, err := anomalyLists.ReadFile(f)
		if err == nil {
			err = DeclareAnomalies(string(text))
		}
		if err != nil {
			panic(fmt.Sprintf("protocols: %s: %v", f, err))
		}
	}
}

// Anomalies lists every declared anomaly, sorted by name.
func Anomalies() []AnomalyInfo {
	anomalyMu.Lock()
	defer anomalyMu.Unlock()
	out := make([]AnomalyInfo, 0, len(anomalies))
	for _, a := range anomalies {
		out = append(out, a)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}
