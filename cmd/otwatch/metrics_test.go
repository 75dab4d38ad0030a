package main

import (
	"net/http/httptest"
	"testing"

	"github.com/otwatch/otwatch/protocols/pipeline"
	"github.com/stretchr/testify/assert"
)

// TestMetricsCyclicIO: /metrics carries the cyclic I/O totals per protocol.
func TestMetricsCyclicIO(t *testing.T) {
	d := &daemon{}
	d.snap.stats.CyclicIO = map[string]pipeline.CyclicTotals{"enip": {Connections: 24, Datagrams: 398, Lost: 5}}
	rec := httptest.NewRecorder()
	d.metrics(rec, httptest.NewRequest("GET", "/metrics", nil))
	body := rec.Body.String()
	assert.Contains(t, body, "otwatch_cyclic_io_connections{proto=\"enip\"} 24\n")
	assert.Contains(t, body, "otwatch_cyclic_io_datagrams_total{proto=\"enip\"} 398\n")
	assert.Contains(t, body, "otwatch_cyclic_io_lost_total{proto=\"enip\"} 5\n")
}
