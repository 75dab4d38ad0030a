package inventory_test

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otwatch/otwatch/learning/inventory"
	"github.com/otwatch/otwatch/protocols"
	"github.com/otwatch/otwatch/protocols/frame"
)

// TestCountedPacketsChangeNothing: packets counted in their flows' memos
// and added to the hosts later give the inventory that adding each at once
// gives (no memo), whatever comes between: transactions, a NIC replaced
// (a new MAC on an address), a router (one MAC, several addresses), VLANs
// that change, the document and LastHeard read midway, flows that end and
// whose memos then serve other flows, a save and restore, and one memo
// shared by every flow (notes are hints; counts are owed).
func TestCountedPacketsChangeNothing(t *testing.T) {
	for _, shared := range []bool{false, true} {
		for seed := range uint64(4) {
			t.Run(fmt.Sprintf("seed %d shared %v", seed, shared), func(t *testing.T) {
				countedAsEager(t, seed, shared)
			})
		}
	}
}

func countedAsEager(t *testing.T, seed uint64, shared bool) {
	rng := rand.New(rand.NewPCG(seed, 99))
	const nHosts, nFlows, steps = 9, 14, 8000
	macOf := make([][6]byte, nHosts)
	vlanOf := make([]uint16, nHosts)
	for i := range macOf {
		macOf[i] = mac(byte(0x10 + i))
	}
	macOf[8] = [6]byte{} // a host seen without a usable MAC
	addr := func(i int) string { return fmt.Sprintf("10.0.%d.%d", i%3, 10+i) }
	type flowPair struct{ a, b int }
	flows := make([]flowPair, nFlows)
	for i := range flows {
		a := rng.IntN(nHosts)
		flows[i] = flowPair{a, (a + 1 + rng.IntN(nHosts-1)) % nHosts}
	}
	// A flow may carry a sender's packets with its own MAC or VLAN (a
	// host on a trunk, a spoofer): the host's MAC and VLAN then change
	// with the flow whose packet came last.
	type override struct {
		mac  [6]byte
		vlan uint16
		set  bool
	}
	flowSide := make([][2]override, nFlows)
	eager, lazy := inventory.New(inventory.Limits{}), inventory.New(inventory.Limits{})
	memos := make([]*protocols.FlowMemo, nFlows)
	one := &protocols.FlowMemo{}
	for i := range memos {
		memos[i] = &protocols.FlowMemo{}
		if shared {
			memos[i] = one
		}
	}
	lastHeard := func(step int) {
		t.Helper()
		for i := range nHosts {
			ip := mustAddr(t, addr(i))
			we, wok := eager.LastHeard(ip)
			ge, gok := lazy.LastHeard(ip)
			require.Equal(t, [2]any{we, wok}, [2]any{ge, gok}, "LastHeard %s, step %d", ip, step)
		}
	}
	document := func(step int) {
		t.Helper()
		want, err := json.Marshal(eager.Document())
		require.NoError(t, err)
		got, err := json.Marshal(lazy.Document())
		require.NoError(t, err)
		require.JSONEq(t, string(want), string(got), "step %d", step)
	}
	same := func(step int) { // in either order: each must add what waits
		t.Helper()
		if rng.IntN(2) == 0 {
			lastHeard(step)
			document(step)
		} else {
			document(step)
			lastHeard(step)
		}
	}
	var frameNo uint64
	var saved [2][]byte // an earlier state of each, to go back to
	inMemo := 0         // packets after which a memo held counts
	for step := range steps {
		// capture times may step back (captures merged, clocks of two taps)
		at := t0.Add(time.Duration(step)*time.Second - time.Duration(rng.IntN(4000))*time.Millisecond)
		switch r := rng.IntN(1000); {
		case r < 6: // a NIC replaced: the address sends with a new MAC from now on
			macOf[rng.IntN(nHosts-1)] = mac(byte(0x80 + rng.IntN(64)))
		case r < 9: // the MAC of one address is a router's, carrying another one's packets
			i := rng.IntN(nHosts - 1)
			macOf[(i+1)%(nHosts-1)] = macOf[i]
		case r < 15:
			vlanOf[rng.IntN(nHosts)] = uint16(rng.IntN(3) * 10)
		case r < 21:
			i, side := rng.IntN(nFlows), rng.IntN(2)
			flowSide[i][side] = override{mac: mac(byte(0xc0 + rng.IntN(8))), vlan: uint16(rng.IntN(4) * 100), set: rng.IntN(3) > 0}
		case r < 24:
			same(step)
		case r < 27: // a flow ends; its memo serves the next flow
			i := rng.IntN(nFlows)
			lazy.FlushMemo(memos[i])
			*memos[i] = protocols.FlowMemo{}
		case r < 29: // a save; or a state saved earlier loaded back
			save := saved[0] == nil || rng.IntN(2) == 0
			for k, inv := range []*inventory.Inventory{eager, lazy} {
				if save {
					b, err := inv.MarshalState()
					require.NoError(t, err)
					saved[k] = b
					continue
				}
				require.NoError(t, inv.UnmarshalState(saved[k]))
			}
		case r < 100:
			f := flows[rng.IntN(nFlows)]
			c, s := ep(addr(f.a), 40000, macOf[f.a]), ep(addr(f.b), 502, macOf[f.b])
			frameNo += 2
			x := tx(c, s, frameNo)
			x.RequestTime, x.ResponseTime = at, at.Add(time.Millisecond)
			eager.Observe(x)
			y := *x
			y.Memo = memos[flowIndex(flows, f)]
			lazy.Observe(&y)
		default:
			i := rng.IntN(nFlows)
			a, b, side := flows[i].a, flows[i].b, 0
			if rng.IntN(2) == 0 {
				a, b, side = b, a, 1
			}
			d := &frame.Decoded{Src: mustAddr(t, addr(a)), Dst: mustAddr(t, addr(b)), IPProto: frame.ProtoTCP,
				VLAN: vlanOf[a], SrcMAC: macOf[a], HasMAC: macOf[a] != [6]byte{}}
			if o := flowSide[i][side]; o.set {
				d.SrcMAC, d.HasMAC, d.VLAN = o.mac, true, o.vlan
			}
			n := 60 + rng.IntN(1400)
			frameNo++
			eager.ObservePacket(d, n, at.UnixNano(), nil)
			lazy.ObservePacket(d, n, at.UnixNano(), memos[i])
			if memos[i].Queued {
				inMemo++
			}
		}
	}
	same(steps)
	assert.Positive(t, len(eager.Document().Assets), "the script made assets")
	if shared {
		assert.Positive(t, inMemo, "packets were counted in the memo")
	} else {
		assert.Greater(t, inMemo, steps/20, "packets were counted in their flows' memos")
	}
}

func flowIndex[T comparable](flows []T, f T) int {
	for i, g := range flows {
		if g == f {
			return i
		}
	}
	return -1
}

// TestCountedPacketsAfterRestore: a state loaded back holds a host's
// earlier MAC; the flow's memo vouched for the later one, and must not be
// believed: the next packet binds the MAC again, as without memos.
func TestCountedPacketsAfterRestore(t *testing.T) {
	a, b := ep("10.0.0.1", 40000, mac(1)), ep("10.0.0.2", 502, mac(2))
	run := func(memo *protocols.FlowMemo) string {
		inv := inventory.New(inventory.Limits{})
		n := 0
		send := func(m [6]byte) {
			n++
			d := &frame.Decoded{Src: a.IP, Dst: b.IP, SrcMAC: m, HasMAC: true, IPProto: frame.ProtoTCP}
			inv.ObservePacket(d, 100, t0.Add(time.Duration(n)*time.Second).UnixNano(), memo)
			back := &frame.Decoded{Src: b.IP, Dst: a.IP, SrcMAC: b.MAC, HasMAC: true, IPProto: frame.ProtoTCP}
			inv.ObservePacket(back, 100, t0.Add(time.Duration(n)*time.Second).UnixNano(), memo)
		}
		x := tx(a, b, 1)
		x.Memo = memo
		inv.Observe(x)
		send(mac(1))
		saved, err := inv.MarshalState()
		require.NoError(t, err)
		send(mac(9)) // a new NIC
		send(mac(9))
		inv.Document()                                // the memo's counts are added; its check stays
		require.NoError(t, inv.UnmarshalState(saved)) // back to mac(1)
		send(mac(9))
		send(mac(9))
		st, err := inv.MarshalState() // the hosts' MACs included
		require.NoError(t, err)
		return string(st)
	}
	want := run(nil)
	assert.Contains(t, want, `"mac":[0,27,27,0,0,9]`, "the restored host learns the new MAC again")
	assert.JSONEq(t, want, run(&protocols.FlowMemo{}))
}

// TestCountedPacketsBeforeAMACMoves: whether a MAC that shows up with a
// second address is a router's (the first address sent within the last
// minute) or one host's new address reads when the first address last
// sent, which its flow's memo may still hold.
func TestCountedPacketsBeforeAMACMoves(t *testing.T) {
	a, b, c := ep("10.0.0.1", 40000, mac(1)), ep("10.0.0.2", 502, mac(2)), ep("10.0.0.3", 40001, mac(1))
	run := func(memos bool) string {
		inv := inventory.New(inventory.Limits{})
		var ab, cb *protocols.FlowMemo
		if memos {
			ab, cb = &protocols.FlowMemo{}, &protocols.FlowMemo{}
		}
		at := func(s int) int64 { return t0.Add(time.Duration(s) * time.Second).UnixNano() }
		x := tx(a, b, 1)
		x.Memo = ab
		inv.Observe(x)
		inv.Document()       // what the memos held so far is added
		for s := range 150 { // two and a half minutes of a polling a's flow alone carries
			inv.ObservePacket(&frame.Decoded{Src: a.IP, Dst: b.IP, SrcMAC: a.MAC, HasMAC: true, IPProto: frame.ProtoTCP}, 90, at(s), ab)
			inv.ObservePacket(&frame.Decoded{Src: b.IP, Dst: a.IP, SrcMAC: b.MAC, HasMAC: true, IPProto: frame.ProtoTCP}, 90, at(s), ab)
		}
		// a's MAC now sends from 10.0.0.3 while a still polls: a router
		inv.ObservePacket(&frame.Decoded{Src: c.IP, Dst: b.IP, SrcMAC: c.MAC, HasMAC: true, IPProto: frame.ProtoTCP}, 90, at(150), cb)
		doc, err := json.Marshal(inv.Document())
		require.NoError(t, err)
		return string(doc)
	}
	want := run(false)
	assert.Contains(t, want, `"routers":[{"mac":"00:1b:1b:00:00:01"`, "two addresses at once behind one MAC: a router")
	assert.JSONEq(t, want, run(true))
}

// TestCountedPacketsOnATrunk: a host whose flows carry different VLANs
// (a trunk port) has the VLAN of its last packet, whichever flow it was on,
// and a flow re-tagged changes it too.
func TestCountedPacketsOnATrunk(t *testing.T) {
	a, b, c := mustAddr(t, "10.0.0.1"), mustAddr(t, "10.0.0.2"), mustAddr(t, "10.0.0.3")
	run := func(memos bool) string {
		inv := inventory.New(inventory.Limits{})
		var ab, ac *protocols.FlowMemo
		if memos {
			ab, ac = &protocols.FlowMemo{}, &protocols.FlowMemo{}
		}
		n := 0
		send := func(src, dst netip.Addr, vlan uint16, memo *protocols.FlowMemo) {
			n++
			d := &frame.Decoded{Src: src, Dst: dst, VLAN: vlan, IPProto: frame.ProtoTCP}
			inv.ObservePacket(d, 100, t0.Add(time.Duration(n)*time.Second).UnixNano(), memo)
		}
		for range 3 {
			send(a, b, 10, ab)
			send(b, a, 10, ab)
			send(a, b, 10, ab)
			send(a, c, 20, ac)
			send(c, a, 20, ac)
		}
		send(a, b, 10, ab) // a's VLAN is 10 again
		st10, err := inv.MarshalState()
		require.NoError(t, err)
		send(a, b, 30, ab) // the flow re-tagged
		send(a, b, 30, ab)
		st30, err := inv.MarshalState()
		require.NoError(t, err)
		return string(st10) + "\n" + string(st30)
	}
	want := run(false)
	assert.Contains(t, want, `"ip":"10.0.0.1","mac":[0,0,0,0,0,0],"vlan":10`, "after the packet on VLAN 10")
	assert.Contains(t, want, `"ip":"10.0.0.1","mac":[0,0,0,0,0,0],"vlan":30`, "after the packets re-tagged")
	assert.Equal(t, want, run(true))
}
