package inventory

import "strings"

// Vendor returns the organisation the IEEE assigned the MAC's 24-bit OUI
// (MA-L) to, "" when unknown or when the address is locally administered
// or multicast.
func Vendor(mac [6]byte) string {
	if mac[0]&0x03 != 0 { // group or locally administered: no OUI meaning
		return ""
	}
	const hexd = "0123456789ABCDEF"
	key := [6]byte{hexd[mac[0]>>4], hexd[mac[0]&15], hexd[mac[1]>>4], hexd[mac[1]&15], hexd[mac[2]>>4], hexd[mac[2]&15]}
	k := string(key[:])
	lo, hi := 0, ouiCount
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if ouiIndex[m*11:m*11+6] < k {
			lo = m + 1
		} else {
			hi = m
		}
	}
	if lo >= ouiCount || ouiIndex[lo*11:lo*11+6] != k {
		return ""
	}
	off := 0
	for _, c := range ouiIndex[lo*11+6 : lo*11+11] {
		off <<= 4
		switch {
		case c >= '0' && c <= '9':
			off |= int(c - '0')
		default:
			off |= int(c-'A') + 10
		}
	}
	name := ouiNames[off:]
	if i := strings.IndexByte(name, '\n'); i >= 0 {
		name = name[:i]
	}
	return name
}
