package testkit

import (
	"math"
	"math/rand/v2"
	"net/netip"
	"reflect"
	"time"
)

// Fill sets every exported field of v, recursively, to a value that is not
// zero: slices get one to three elements, strings one of strs, times and
// IPv4 addresses random ones; pointer fields (a transaction's Memo) are
// left alone. A field added to a type later is filled too, so a codec's
// round trip over filled values fails until the codec writes it.
func Fill(rng *rand.Rand, v reflect.Value, strs []string) {
	switch v.Kind() {
	case reflect.Struct:
		switch v.Interface().(type) {
		case time.Time:
			v.Set(reflect.ValueOf(time.Unix(rng.Int64N(4e9), rng.Int64N(1e9)+1).UTC()))
			return
		case netip.Addr:
			v.Set(reflect.ValueOf(netip.AddrFrom4([4]byte{10, byte(rng.IntN(256)), byte(rng.IntN(256)), byte(1 + rng.IntN(250))})))
			return
		}
		for i := 0; i < v.NumField(); i++ {
			if v.Type().Field(i).IsExported() && v.Field(i).Kind() != reflect.Pointer {
				Fill(rng, v.Field(i), strs)
			}
		}
	case reflect.Slice:
		s := reflect.MakeSlice(v.Type(), 1+rng.IntN(3), 4)
		for i := 0; i < s.Len(); i++ {
			Fill(rng, s.Index(i), strs)
		}
		v.Set(s)
	case reflect.Array:
		for i := 0; i < v.Len(); i++ {
			Fill(rng, v.Index(i), strs)
		}
	case reflect.String:
		v.SetString(strs[rng.IntN(len(strs))])
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		n := int64(1 + rng.IntN(200))
		if rng.IntN(2) == 0 {
			n = -n
		}
		v.SetInt(n)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		v.SetUint(uint64(1 + rng.IntN(200)))
	case reflect.Float32, reflect.Float64:
		v.SetFloat(rng.NormFloat64() * math.Pow(10, float64(rng.IntN(40)-20)))
	default:
		panic("testkit.Fill: " + v.Kind().String())
	}
}
