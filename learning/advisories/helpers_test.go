package advisories

import (
	"testing"

	"github.com/otwatch/otwatch/learning/inventory"
	"github.com/otwatch/otwatch/protocols"
	"github.com/otwatch/otwatch/protocols/pipeline"

	_ "github.com/otwatch/otwatch/protocols/all"
)

// replay feeds a capture through the real pipeline into the inventory.
func replay(t testing.TB, inv *inventory.Inventory, path string) {
	t.Helper()
	p := pipeline.New(pipeline.DefaultLimits(), func(tx *protocols.Transaction) { inv.Observe(tx) })
	p.Events = func(e *pipeline.Event) {
		if e.Kind == pipeline.PacketSeen {
			inv.ObservePacket(e.Decoded, e.Len, e.Time, e.Memo)
		}
	}
	inv.FrameOf = p.Frames
	if err := p.ReplayFile(path); err != nil {
		t.Fatal(err)
	}
	p.Flush()
}
