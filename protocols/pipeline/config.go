package pipeline

import "time"

// Limits bound the pipeline's memory. Zero values take the defaults.
type Limits struct {
	MaxFlows         int           // flows tracked at once; the least recently active is evicted
	MaxFlowBuffer    int           // bytes buffered per flow direction (partial PDU + out-of-order)
	MaxTotalBuffer   int           // bytes buffered over all flows
	MaxOutOfOrder    int           // out-of-order segments kept per flow direction
	IdleTimeout      time.Duration // a flow silent this long (packet time) is closed
	ProbeWindow      int           // bytes per direction a flow may show before it is called unknown
	MaxFragDatagrams int           // IP datagrams in reassembly at once
	FragTimeout      time.Duration
}

// DefaultLimits suit a small ARM appliance on a plant network.
func DefaultLimits() Limits {
	return Limits{
		MaxFlows:         65536,
		MaxFlowBuffer:    256 << 10,
		MaxTotalBuffer:   256 << 20,
		MaxOutOfOrder:    64,
		IdleTimeout:      10 * time.Minute,
		ProbeWindow:      4096,
		MaxFragDatagrams: 1024,
		FragTimeout:      30 * time.Second,
	}
}

func (l Limits) withDefaults() Limits {
	d := DefaultLimits()
	if l.MaxFlows <= 0 {
		l.MaxFlows = d.MaxFlows
	}
	if l.MaxFlowBuffer <= 0 {
		l.MaxFlowBuffer = d.MaxFlowBuffer
	}
	if l.MaxTotalBuffer <= 0 {
		l.MaxTotalBuffer = d.MaxTotalBuffer
	}
	if l.MaxOutOfOrder <= 0 {
		l.MaxOutOfOrder = d.MaxOutOfOrder
	}
	if l.IdleTimeout <= 0 {
		l.IdleTimeout = d.IdleTimeout
	}
	if l.ProbeWindow <= 0 {
		l.ProbeWindow = d.ProbeWindow
	}
	if l.MaxFragDatagrams <= 0 {
		l.MaxFragDatagrams = d.MaxFragDatagrams
	}
	if l.FragTimeout <= 0 {
		l.FragTimeout = d.FragTimeout
	}
	return l
}
