package protocols

import (
	"fmt"
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
