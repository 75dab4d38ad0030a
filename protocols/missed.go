package protocols

import "time"

// MissedRequests tells a session whether a response without its request
// may answer a request the session could not see. A monitor picks up
// connections in the middle (a capture starts, the appliance restarts, a
// plant learns on one capture and detects on the next) and loses bytes in
// gaps; for a while after either, responses to requests sent before can
// still come. Such a response is an artefact of where capture started: a
// session counts it (under "<protocol>.response_without_request") and
// emits it without a malformed-PDU anomaly.
//
// The while ends after Window (the protocol's response timeout: no
// request waits longer), and, for a protocol whose devices answer in
// order and whose request ids do not repeat within the window (Modbus,
// S7comm), once the session paired a response with its request: answers
// to older requests came before it. After that, a response without its
// request answers nothing the session could have missed: the protocol's
// "unmatched_response" anomaly, which alerts. A protocol whose servers
// hold requests for long (OPC UA publish), or whose request ids repeat
// (DNP3's four-bit sequence numbers, repeated by a retry: the response
// paired may answer the same number sent before capture), does not
// report pairs and relies on the window alone.
type MissedRequests struct {
	Window  time.Duration
	since   time.Time // the session's first bytes, or its last gap
	matched time.Time // the first response paired since then
}

// Feed notes that the session received bytes at t (only the first call counts).
func (m *MissedRequests) Feed(t time.Time) {
	if m.since.IsZero() {
		m.since = t
	}
}

// Gap notes that bytes were lost at t: requests may have been lost too.
func (m *MissedRequests) Gap(t time.Time) {
	if t.After(m.since) {
		m.since, m.matched = t, time.Time{}
	}
}

// Matched notes that a response at t was paired with its request.
func (m *MissedRequests) Matched(t time.Time) {
	if m.matched.IsZero() && !t.Before(m.since) {
		m.matched = t
	}
}

// Possible reports whether a response at t may answer a request sent
// before the session began or lost in a gap.
func (m *MissedRequests) Possible(t time.Time) bool {
	switch {
	case m.since.IsZero():
		return true
	case !m.matched.IsZero() && t.After(m.matched):
		return false
	}
	return t.Sub(m.since) <= m.Window
}
