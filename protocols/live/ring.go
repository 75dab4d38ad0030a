//go:build linux

package live

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// ring is a receive-only AF_PACKET socket with a TPACKET_V3 ring mapped
// into memory: the kernel fills blocks of frames, we read them in place and
// hand each block back. Written here rather than taken from gopacket's
// afpacket, whose TPacket keeps 64-bit counters that 32-bit ARM updates
// atomically at a misaligned offset (a panic on the first frame); nothing
// here is atomic on 64-bit values, and this socket never sends.
type ring struct {
	fd          int
	mem         []byte
	blockSize   int
	blocks      int
	block       int // the block being read, or the next to wait for
	pkt         int // offset of the next frame within the block, 0: block not started
	left        int // frames left in the block
	pollTimeout int // milliseconds
	scratch     []byte
}

// errRingTimeout: no frame arrived within the poll timeout.
var errRingTimeout = errors.New("live: poll timeout")

// Offsets in struct tpacket_block_desc / tpacket_hdr_v1 and struct
// tpacket3_hdr (linux/if_packet.h), which the kernel lays out the same on
// every architecture.
const (
	bdBlockStatus = 8
	bdNumPkts     = 12
	bdFirstPkt    = 16

	phNextOffset = 0
	phSec        = 4
	phNsec       = 8
	phSnapLen    = 12
	phLen        = 16
	phStatus     = 20
	phMac        = 24
	phVLANTCI    = 32
	phVLANTPID   = 36

	tpStatusUser          = 1
	tpStatusVLANValid     = 1 << 4
	tpStatusVLANTPIDValid = 1 << 6
)

func htons(v uint16) uint16 { return v<<8 | v>>8 }

// openRing opens a packet socket bound to the interface with a ring of
// numBlocks blocks of blockSize bytes; a block is handed over when full or
// after blockTimeout.
func openRing(ifindex, blockSize, numBlocks int, blockTimeout, pollTimeout time.Duration) (*ring, error) {
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, int(htons(unix.ETH_P_ALL)))
	if err != nil {
		return nil, fmt.Errorf("packet socket: %w", err)
	}
	r := &ring{fd: fd, blockSize: blockSize, blocks: numBlocks, pollTimeout: int(pollTimeout / time.Millisecond)}
	if r.pollTimeout <= 0 {
		r.pollTimeout = 1
	}
	fail := func(what string, err error) (*ring, error) {
		r.close()
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_VERSION, unix.TPACKET_V3); err != nil {
		return fail("TPACKET_V3", err)
	}
	req := unix.TpacketReq3{
		Block_size: uint32(blockSize), Block_nr: uint32(numBlocks),
		Frame_size: 2048, Frame_nr: uint32(blockSize / 2048 * numBlocks), // frames are variable in V3; the kernel checks these
		Retire_blk_tov: uint32(blockTimeout / time.Millisecond),
	}
	if err := unix.SetsockoptTpacketReq3(fd, unix.SOL_PACKET, unix.PACKET_RX_RING, &req); err != nil {
		return fail("receive ring", err)
	}
	mem, err := unix.Mmap(fd, 0, blockSize*numBlocks, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		return fail("mapping the ring", err)
	}
	r.mem = mem
	if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ALL), Ifindex: ifindex}); err != nil {
		return fail("binding to the interface", err)
	}
	return r, nil
}

func (r *ring) setBPF(prog []bpf.RawInstruction) error {
	filter := make([]unix.SockFilter, len(prog))
	for i, ins := range prog {
		filter[i] = unix.SockFilter{Code: ins.Op, Jt: ins.Jt, Jf: ins.Jf, K: ins.K}
	}
	return unix.SetsockoptSockFprog(r.fd, unix.SOL_SOCKET, unix.SO_ATTACH_FILTER,
		&unix.SockFprog{Len: uint16(len(filter)), Filter: &filter[0]})
}

// setPromiscuous adds a PACKET_MR_PROMISC membership: the kernel drops it
// when the socket closes, so a crash leaves the interface as it was.
func (r *ring) setPromiscuous(ifindex int) error {
	return unix.SetsockoptPacketMreq(r.fd, unix.SOL_PACKET, unix.PACKET_ADD_MEMBERSHIP,
		&unix.PacketMreq{Ifindex: int32(ifindex), Type: unix.PACKET_MR_PROMISC})
}

// setFanout joins a hash fanout group (IP fragments reassembled first, so
// a flow stays on one socket).
func (r *ring) setFanout(id uint16) error {
	// the option is a 32-bit value: group id low, type and flags high (the
	// defrag flag is the top bit, hence the uint32 → int32 bit pattern)
	arg := uint32(id) | uint32(unix.PACKET_FANOUT_HASH|unix.PACKET_FANOUT_FLAG_DEFRAG)<<16
	return unix.SetsockoptInt(r.fd, unix.SOL_PACKET, unix.PACKET_FANOUT, int(int32(arg)))
}

// stats reads PACKET_STATISTICS, which the kernel clears on each read.
func (r *ring) stats() (packets, drops, freezes uint64, err error) {
	s, err := unix.GetsockoptTpacketStatsV3(r.fd, unix.SOL_PACKET, unix.PACKET_STATISTICS)
	if err != nil {
		return 0, 0, 0, err
	}
	return uint64(s.Packets), uint64(s.Drops), uint64(s.Freeze_q_cnt), nil
}

func (r *ring) blockStatus(b []byte) *uint32 {
	return (*uint32)(unsafe.Pointer(&b[bdBlockStatus]))
}

// read returns the next frame (valid until the next call), its time and
// its length on the wire; errRingTimeout when the poll timed out.
func (r *ring) read() (data []byte, tsNano int64, wireLen int, err error) {
	for r.left == 0 {
		b := r.mem[r.block*r.blockSize : (r.block+1)*r.blockSize]
		if r.pkt != 0 { // done with this block: give it back and move on
			atomic.StoreUint32(r.blockStatus(b), 0)
			r.pkt = 0
			r.block = (r.block + 1) % r.blocks
			continue
		}
		if atomic.LoadUint32(r.blockStatus(b))&tpStatusUser == 0 {
			fds := []unix.PollFd{{Fd: int32(r.fd), Events: unix.POLLIN | unix.POLLERR}}
			n, err := unix.Poll(fds, r.pollTimeout)
			switch {
			case errors.Is(err, unix.EINTR):
				continue
			case err != nil:
				return nil, 0, 0, err
			case fds[0].Revents&unix.POLLERR != 0:
				return nil, 0, 0, errors.New("socket error (interface gone?)")
			case n == 0 && atomic.LoadUint32(r.blockStatus(b))&tpStatusUser == 0:
				return nil, 0, 0, errRingTimeout
			}
			continue
		}
		r.left = int(binary.NativeEndian.Uint32(b[bdNumPkts:]))
		r.pkt = int(binary.NativeEndian.Uint32(b[bdFirstPkt:]))
		if r.left == 0 {
			r.pkt = 1 // an empty retired block: release it next round
		}
	}
	b := r.mem[r.block*r.blockSize : (r.block+1)*r.blockSize]
	h := b[r.pkt:]
	ne := binary.NativeEndian
	next := int(ne.Uint32(h[phNextOffset:]))
	snap, wire := int(ne.Uint32(h[phSnapLen:])), int(ne.Uint32(h[phLen:]))
	status := ne.Uint32(h[phStatus:])
	mac := int(ne.Uint16(h[phMac:]))
	tsNano = int64(ne.Uint32(h[phSec:]))*1e9 + int64(ne.Uint32(h[phNsec:]))
	if mac+snap > len(h) {
		return nil, 0, 0, errors.New("ring frame beyond its block")
	}
	data = h[mac : mac+snap]
	if status&tpStatusVLANValid != 0 && len(data) >= 12 {
		// The NIC stripped the 802.1Q tag into the header: put it back, so
		// dissectors and evidence see the frame as it was on the wire.
		tpid := uint16(0x8100)
		if status&tpStatusVLANTPIDValid != 0 {
			tpid = uint16(ne.Uint16(h[phVLANTPID:]))
		}
		tci := uint16(ne.Uint32(h[phVLANTCI:]))
		r.scratch = append(append(r.scratch[:0], data[:12]...), byte(tpid>>8), byte(tpid), byte(tci>>8), byte(tci))
		r.scratch = append(r.scratch, data[12:]...)
		data = r.scratch
		wire += 4
	}
	r.left--
	if r.left > 0 {
		r.pkt += next
	}
	return data, tsNano, wire, nil
}

func (r *ring) close() {
	if r.mem != nil {
		unix.Munmap(r.mem)
		r.mem = nil
	}
	if r.fd >= 0 {
		unix.Close(r.fd)
		r.fd = -1
	}
}
