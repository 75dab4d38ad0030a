//go:build linux

package live

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strings"

	"golang.org/x/sys/unix"
)

// AddressError: a monitor interface carries IP addresses, so the host may
// transmit on it (ARP and neighbour replies, router solicitations...).
type AddressError struct {
	Interface string
	Addrs     []string
}

func (e *AddressError) Error() string {
	return fmt.Sprintf("%s carries IP address %s: a monitor interface must have none (remove it, or override the check)",
		e.Interface, strings.Join(e.Addrs, ", "))
}

// CheckPassive refuses an interface that carries an IP address (IPv4 or
// IPv6, link-local included), naming the addresses. The caller overrides the
// check by not calling it.
func CheckPassive(iface string) error {
	if err := checkName(iface); err != nil {
		return err
	}
	ifi, err := net.InterfaceByName(iface)
	if err != nil {
		return fmt.Errorf("live: %s: %w", iface, err)
	}
	addrs, err := ifi.Addrs()
	if err != nil {
		return fmt.Errorf("live: %s: listing addresses: %w", iface, err)
	}
	if len(addrs) == 0 {
		return nil
	}
	e := &AddressError{Interface: iface}
	for _, a := range addrs {
		e.Addrs = append(e.Addrs, a.String())
	}
	return e
}

// Prepare makes iface a silent monitor port: IPv6 disabled first (sysctl
// net.ipv6.conf.IFACE.disable_ipv6=1, so bringing it up sends no router
// solicitation, MLD report or duplicate-address probe), ARP off (IFF_NOARP),
// promiscuous (IFF_PROMISC) and up (IFF_UP). It needs CAP_NET_ADMIN. The
// flags are set with SIOCGIFFLAGS/SIOCSIFFLAGS through an AF_UNIX socket:
// an ioctl carrier that has no route to any network interface.
func Prepare(iface string) error {
	if err := checkName(iface); err != nil {
		return err
	}
	if _, err := net.InterfaceByName(iface); err != nil {
		return fmt.Errorf("live: %s: %w", iface, err)
	}
	if err := disableIPv6(iface); err != nil {
		return err
	}
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("live: %s: ioctl socket: %w", iface, err)
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq(iface)
	if err != nil {
		return fmt.Errorf("live: %s: %w", iface, err)
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		return fmt.Errorf("live: %s: reading flags: %w", iface, err)
	}
	flags := ifr.Uint16() | unix.IFF_NOARP | unix.IFF_PROMISC | unix.IFF_UP
	ifr.SetUint16(flags)
	if err := unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr); err != nil {
		return fmt.Errorf("live: %s: setting flags up, promisc, noarp: %w", iface, err)
	}
	return nil
}

func disableIPv6(iface string) error {
	if _, err := os.Stat("/proc/sys/net/ipv6"); errors.Is(err, os.ErrNotExist) {
		return nil // no IPv6 in this kernel: nothing to disable
	}
	path := "/proc/sys/net/ipv6/conf/" + iface + "/disable_ipv6"
	if err := os.WriteFile(path, []byte("1\n"), 0); err != nil {
		return fmt.Errorf("live: %s: disabling IPv6: %w", iface, err)
	}
	return nil
}
