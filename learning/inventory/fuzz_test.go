package inventory_test

import (
	"encoding/json"
	"testing"

	"github.com/otwatch/otwatch/learning/inventory"
	"github.com/otwatch/otwatch/learning/store/storetest"
	"github.com/otwatch/otwatch/protocols"
)

// FuzzUnmarshalState: a damaged or hostile state file is refused or
// restored, never a panic, and a restored inventory keeps working.
func FuzzUnmarshalState(f *testing.F) {
	seed := inventory.New(inventory.Limits{})
	hmi, plc := ep("10.0.0.10", 40000, mac(0x10)), ep("10.0.0.20", 502, mac(0x20))
	seed.Observe(tx(hmi, plc, 1))
	seed.Observe(deviceID(hmi, plc, 3, "vendor_name", "ACME"))
	b, err := seed.MarshalState()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Add([]byte(`{"version":1}`))
	f.Add([]byte(`{"version":1,"protos":["modbus"],"hosts":[{"ip":"10.0.0.1","asset":0}],"assets":[{"id":"x","hosts":[0]}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		inv := inventory.New(inventory.Limits{MaxAssets: 50, MaxLinks: 50})
		if err := inv.UnmarshalState(data); err != nil {
			return
		}
		useRestored(t, inv)
		if _, err := inv.MarshalState(); err != nil {
			t.Fatal(err)
		}
	})
}

// FuzzLoadRecords: random state records (an SD card's corruption, a hand
// edit) are refused or restored, and a restored inventory keeps working:
// new traffic, the document, a full and an incremental save. The daemon
// loads them at start: a panic there, or after, is a crash loop. The seed
// is a real inventory's records (hosts, an identified asset, links).
func FuzzLoadRecords(f *testing.F) {
	seed := inventory.New(inventory.Limits{})
	hmi, plc := ep("10.0.0.10", 40000, mac(0x10)), ep("10.0.0.20", 502, mac(0x20))
	seed.Observe(tx(hmi, plc, 1))
	seed.Observe(tx(hmi, plc, 2, withOp(protocols.OpWrite)))
	seed.Observe(deviceID(hmi, plc, 3, "vendor_name", "ACME", "product_code", "X1"))
	seed.Observe(tx(ep("10.0.0.11", 40001, mac(0x11)), plc, 4))
	kv := storetest.KV{}
	if err := seed.SaveChanges(kv, true); err != nil {
		f.Fatal(err)
	}
	back := inventory.New(inventory.Limits{})
	if err := back.LoadRecords(storetest.Decode(kv.Encode())); err != nil ||
		len(back.Document().Assets) != len(seed.Document().Assets) || len(back.Document().Links) != len(seed.Document().Links) {
		f.Fatalf("the seed does not load back: %v", err)
	}
	f.Add(kv.Encode())
	f.Fuzz(func(t *testing.T, data []byte) {
		inv := inventory.New(inventory.Limits{MaxAssets: 50, MaxLinks: 50})
		if err := inv.LoadRecords(storetest.Decode(data)); err != nil {
			return
		}
		useRestored(t, inv)
		if err := inv.SaveChanges(storetest.KV{}, true); err != nil {
			t.Fatal(err)
		}
		if err := inv.SaveChanges(storetest.KV{}, false); err != nil {
			t.Fatal(err)
		}
	})
}

// useRestored serves a restored inventory as the daemon does: new traffic
// of known and new hosts, a new identity, the document.
func useRestored(t *testing.T, inv *inventory.Inventory) {
	hmi, plc := ep("10.0.0.10", 40000, mac(0x10)), ep("10.0.0.20", 502, mac(0x20))
	inv.Observe(tx(hmi, plc, 5, withOp(protocols.OpWrite)))
	inv.Observe(deviceID(hmi, plc, 7, "vendor_name", "Other"))
	inv.Observe(tx(ep("10.0.0.11", 1, mac(0x10)), ep("10.9.0.1", 502, mac(0x20)), 9))
	if _, err := json.Marshal(inv.Document()); err != nil {
		t.Fatal(err)
	}
}
