package main

import (
	"fmt"
	"time"

	"github.com/otwatch/otwatch/alerts/finding"
	"github.com/otwatch/otwatch/protocols"
	"github.com/otwatch/otwatch/protocols/capture"
)

// Internal errors are panics of otwatch's own code (a bug no test found
// yet, on input nobody foresaw) while a frame or a transaction was handled.
// The pipeline survives them all: a session's panic is an anomaly and
// detaches the session; a panic of the sink's or of the rest of a frame's
// handling is told here (Pipeline.OnConsumerPanic, OnFramePanic). The
// daemon and `otwatch read` say so (the daemon's log; read's stderr, even
// with --quiet) and raise internal_error.

// framePanic is the pipeline's word of a panic while it handled f
// (pipeline.Pipeline.OnFramePanic, set by attach).
func (m *monitor) framePanic(r any, f capture.Frame) {
	m.internalError("pipeline", "", time.Unix(0, f.TimeNano).UTC(),
		fmt.Sprintf("frame %d (%d bytes, link type %d)", m.frameNo(), len(f.Data), f.LinkType),
		"the streams it was part of may be incomplete", r)
}

// consumerPanic is the pipeline's word of a panic while a transaction was
// learned, inventoried or judged (pipeline.Pipeline.OnConsumerPanic, set
// by attach): the flow goes on.
func (m *monitor) consumerPanic(r any, t *protocols.Transaction) {
	m.internalError("monitor", t.Server.IP.String(), t.Time(),
		fmt.Sprintf("a %s transaction of frame %d (%s → %s)", t.Proto, m.frameNo(), t.Client.IP, t.Server.IP),
		"what it learned or judged of it may be incomplete", r)
}

// frameNo is the attached pipeline's frame number, the frame in hand
// (the inventory's FrameOf, which attach sets).
func (m *monitor) frameNo() uint64 {
	if m.inv.FrameOf == nil {
		return 0
	}
	return m.inv.FrameOf()
}

// internalError counts, logs and alerts a panic that was survived: on
// what (a frame, a transaction), in part (the alert's key), with its
// consequence for what otwatch reports.
func (m *monitor) internalError(part, asset string, at time.Time, what, consequence string, r any) {
	m.panics++
	if m.logf != nil {
		m.logf("internal error on %s: %v; capture goes on", what, r)
	}
	m.engine.Raise(finding.Finding{Key: finding.NewKey("internal_error", part), Time: at, Asset: asset,
		Message: fmt.Sprintf("otwatch hit an internal error on %s and went on; %s (%v)", what, consequence, r)})
}
