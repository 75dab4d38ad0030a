package inventory_test

import (
	"bytes"
	"errors"
	"path/filepath"
	"testing"

	"github.com/otwatch/otwatch/learning/inventory"
	"github.com/otwatch/otwatch/learning/store"
	"github.com/otwatch/otwatch/protocols"
	"github.com/otwatch/otwatch/protocols/capture"
	"github.com/otwatch/otwatch/protocols/corpustest"
	"github.com/otwatch/otwatch/protocols/pipeline"
	"github.com/stretchr/testify/require"
)

// TestIncrementalStateMatchesTheInventory replays every corpus capture
// into an inventory, checkpointing it into a state file every few
// transactions (so each save writes only the records that changed since
// the one before), then loads the file into a fresh inventory: its
// snapshot must be the live inventory's, byte for byte. A change that a
// save did not see would be missing from the loaded one.
func TestIncrementalStateMatchesTheInventory(t *testing.T) {
	n := 0
	for _, c := range corpustest.Captures(t, "") {
		inv := inventory.New(inventory.Limits{})
		path := filepath.Join(t.TempDir(), "state.db")
		st, err := store.Open(path)
		require.NoError(t, err)
		comps := map[string]store.Component{"inventory": inv}
		txs := 0
		p := pipeline.New(pipeline.DefaultLimits(), func(tx *protocols.Transaction) {
			inv.Observe(tx)
			if txs++; txs%7 == 0 {
				require.NoError(t, st.Checkpoint(comps))
			}
		})
		p.Events = func(e *pipeline.Event) {
			switch e.Kind {
			case pipeline.PacketSeen:
				inv.ObservePacket(e.Decoded, e.Len, e.Time, e.Memo)
			case pipeline.ARPSeen:
				inv.ObserveARP(e.Decoded, e.Frame, e.Time)
			}
		}
		if err := p.ReplayFile(c.Path); err != nil {
			var trunc *capture.TruncatedError
			require.True(t, errors.As(err, &trunc), "replay %s: %v", c.Rel, err)
		}
		p.Flush()
		require.NoError(t, st.Checkpoint(comps))
		require.NoError(t, st.Close())

		st, err = store.Open(path)
		require.NoError(t, err)
		loaded := inventory.New(inventory.Limits{})
		require.NoError(t, st.Load(map[string]store.Component{"inventory": loaded}), c.Rel)
		require.NoError(t, st.Close())
		want, err := inv.MarshalState()
		require.NoError(t, err)
		got, err := loaded.MarshalState()
		require.NoError(t, err)
		if !bytes.Equal(want, got) {
			t.Fatalf("%s: the loaded inventory differs from the live one (%d checkpoints)\nlive   %.600s\nloaded %.600s", c.Rel, txs/7+1, want, got)
		}
		if txs >= 7 {
			n++
		}
	}
	t.Logf("%d captures checkpointed several times", n)
	require.Greater(t, n, 50)
}

// snapshotOnly hides the inventory's records: the store keeps it as one
// document, as builds before the records did.
type snapshotOnly struct{ inv *inventory.Inventory }

func (s snapshotOnly) MarshalState() ([]byte, error) { return s.inv.MarshalState() }
func (s snapshotOnly) UnmarshalState(b []byte) error { return s.inv.UnmarshalState(b) }

// TestStateFileFromBeforeRecords: a state file whose inventory is one
// document loads, and the next checkpoint turns it into records.
func TestStateFileFromBeforeRecords(t *testing.T) {
	c := corpustest.Captures(t, "modbus")[0]
	inv := inventory.New(inventory.Limits{})
	replay(t, inv, c.Path)
	want, err := inv.MarshalState()
	require.NoError(t, err)
	path := filepath.Join(t.TempDir(), "state.db")
	st, err := store.Open(path)
	require.NoError(t, err)
	require.NoError(t, st.Checkpoint(map[string]store.Component{"inventory": snapshotOnly{inv}}))
	require.NoError(t, st.Close())

	st, err = store.Open(path)
	require.NoError(t, err)
	old := inventory.New(inventory.Limits{})
	require.NoError(t, st.Load(map[string]store.Component{"inventory": old}))
	got, err := old.MarshalState()
	require.NoError(t, err)
	require.Equal(t, string(want), string(got), "the document loads")
	require.True(t, old.NeedsFull(), "its records are still to write")
	require.NoError(t, st.Checkpoint(map[string]store.Component{"inventory": old}))
	snap, err := st.Snapshot("inventory")
	require.NoError(t, err)
	require.Nil(t, snap, "the document is gone once the records are written")
	require.NoError(t, st.Close())

	st, err = store.Open(path)
	require.NoError(t, err)
	defer st.Close()
	again := inventory.New(inventory.Limits{})
	require.NoError(t, st.Load(map[string]store.Component{"inventory": again}))
	got, err = again.MarshalState()
	require.NoError(t, err)
	require.Equal(t, string(want), string(got), "the records load")
	require.False(t, again.NeedsFull())
}
