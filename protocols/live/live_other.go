//go:build !linux

package live

import (
	"context"
	"errors"
	"time"

	"github.com/otwatch/otwatch/protocols/capture"
)

// ErrUnsupported: live capture needs Linux AF_PACKET.
var ErrUnsupported = errors.New("live: capture needs Linux (AF_PACKET)")

// Source is unavailable off Linux.
type Source struct{}

// Open fails off Linux.
func Open(cfg Config) (*Source, error) {
	if _, err := cfg.withDefaults(); err != nil {
		return nil, err
	}
	return nil, ErrUnsupported
}

// Run fails off Linux.
func (s *Source) Run(ctx context.Context, handle func(capture.Frame)) error { return ErrUnsupported }

// RunTicking fails off Linux.
func (s *Source) RunTicking(ctx context.Context, handle func(capture.Frame), interval time.Duration, tick func(time.Time)) error {
	return ErrUnsupported
}

// Stats is empty off Linux.
func (s *Source) Stats() []InterfaceStats { return nil }

// Close does nothing off Linux.
func (s *Source) Close() {}

// CheckPassive fails off Linux.
func CheckPassive(iface string) error { return ErrUnsupported }

// Prepare fails off Linux.
func Prepare(iface string) error { return ErrUnsupported }
