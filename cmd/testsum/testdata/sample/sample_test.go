// Package sample is run by testsum's own test: one test passes, one skips
// with a reason, one subtest skips. It lives under testdata so that
// `go test ./...` does not run it.
package sample

import "testing"

func TestPasses(t *testing.T) {}

func TestSkips(t *testing.T) { t.Skip("frobnicator not installed: the frob part is skipped") }

func TestPart(t *testing.T) {
	t.Run("tool", func(t *testing.T) { t.Skip("widget absent") })
}
