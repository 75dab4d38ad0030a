package protocols

import (
	"math/bits"
	"math/rand/v2"
)

// The seeded hash tables of the hot path (the pipeline's flows, a baseline's
// learned points) hash their keys' words with Mix, keyed by a NewSeed drawn
// per table: without the seed a sender choosing addresses and ports cannot
// make lookups collide.

// Mix folds the 128-bit product of a and b to 64 bits (wyhash's mixing step).
func Mix(a, b uint64) uint64 {
	hi, lo := bits.Mul64(a, b)
	return hi ^ lo
}

// NewSeed returns a random, nonzero hash seed.
func NewSeed() uint64 { return rand.Uint64() | 1 }
