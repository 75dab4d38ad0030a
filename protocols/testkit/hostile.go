package testkit

// HostileText is a device or tag name an attacker would put on the wire to
// deceive whoever reads it: a right-to-left override that makes
// "admin‮gnp.exe" show as "adminexe.png", a C1 CSI and an ESC that
// recolour a terminal, a line separator, a bidi isolate and a byte that
// is not UTF-8 (28 bytes). HostileHex is it as a hex listing, and
// HostileShown what every protocol must keep of it (protocols.Printable).
const (
	HostileText  = "admin\u202egnp.exe\u009b31m\x1b\u2028\u2066\xff"
	HostileHex   = "61646d696e e280ae 676e702e657865 c29b 33316d 1b e280a8 e281a6 ff"
	HostileShown = `admin\u202egnp.exe\u009b31m\x1b\u2028\u2066\xff`
)
