package zones

import (
	"net/netip"
	"testing"

	"github.com/otwatch/otwatch/protocols"
	_ "github.com/otwatch/otwatch/protocols/all" // the registry names the protocols conduits may use
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func prefixes(s ...string) []netip.Prefix {
	out := make([]netip.Prefix, len(s))
	for i, p := range s {
		out[i] = netip.MustParsePrefix(p)
	}
	return out
}

// A small plant: an area network with a packaging cell inside it, a SCADA
// zone, and a DMZ historian. SCADA may read and write the cells; the
// historian may only read.
func plant(t *testing.T) *Policy {
	p, err := New([]Zone{
		{Name: "area-1", Networks: prefixes("10.1.0.0/16"), Level: 1},
		{Name: "packaging", Networks: prefixes("10.1.5.0/24"), Level: 1},
		{Name: "scada", Networks: prefixes("10.2.0.0/24", "fd00:2::/64"), Level: 2},
		{Name: "dmz", Networks: prefixes("10.3.0.0/24"), Level: 3},
	}, []Conduit{
		{From: "scada", To: "area-1", Protocols: []string{"modbus", "s7comm"}},
		{From: "scada", To: "packaging"},
		{From: "dmz", To: "area-1", Protocols: []string{"opcua", "modbus"}, Ops: []protocols.Op{protocols.OpRead, protocols.OpSession}},
	})
	require.NoError(t, err)
	return p
}

func tx(client, server, proto string, op protocols.Op) *protocols.Transaction {
	return &protocols.Transaction{Proto: proto, Op: op, CodeName: "x",
		Client: protocols.Endpoint{IP: netip.MustParseAddr(client)}, Server: protocols.Endpoint{IP: netip.MustParseAddr(server)}}
}

func TestZoneOf(t *testing.T) {
	p := plant(t)
	for ip, want := range map[string]string{
		"10.1.0.7": "area-1", "10.1.5.9": "packaging", "10.2.0.1": "scada", "fd00:2::1": "scada",
		"::ffff:10.3.0.4": "dmz", "192.168.1.1": Unzoned,
	} {
		assert.Equal(t, want, p.zoneName(netip.MustParseAddr(ip)), ip)
	}
	z, ok := p.ZoneOf(netip.MustParseAddr("10.1.5.9"))
	require.True(t, ok)
	assert.Equal(t, 1, z.Level)
}

func TestCheck(t *testing.T) {
	p := plant(t)
	for _, tc := range []struct {
		name       string
		tx         *protocols.Transaction
		violation  bool
		messageHas string
	}{
		{"within a zone", tx("10.1.0.7", "10.1.0.8", "dnp3", protocols.OpControl), false, ""},
		{"SCADA writes Modbus to the area", tx("10.2.0.1", "10.1.0.8", "modbus", protocols.OpWrite), false, ""},
		{"SCADA speaks DNP3 to the area: protocol not allowed", tx("10.2.0.1", "10.1.0.8", "dnp3", protocols.OpRead), true,
			"the conduit scada → area-1 (modbus/s7comm) does not allow it"},
		{"SCADA to the packaging cell: any protocol", tx("10.2.0.1", "10.1.5.3", "opcua", protocols.OpControl), false, ""},
		{"the historian reads", tx("10.3.0.4", "10.1.0.8", "opcua", protocols.OpRead), false, ""},
		{"the historian writes: the conduit is read-only", tx("10.3.0.4", "10.1.0.8", "modbus", protocols.OpWrite), true,
			"(opcua/modbus, read/session only) does not allow it"},
		{"the area answers back to SCADA as a client: no conduit that way", tx("10.1.0.8", "10.2.0.1", "modbus", protocols.OpRead), true,
			"no conduit allows modbus from area-1 to scada"},
		{"an unzoned laptop writes to the packaging cell", tx("192.168.9.9", "10.1.5.3", "s7comm", protocols.OpStop), true,
			"192.168.9.9 (zone unzoned)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v, bad := p.Check(tc.tx)
			assert.Equal(t, tc.violation, bad)
			if tc.violation {
				assert.Contains(t, v.Message, tc.messageHas)
			}
		})
	}
}

func TestZonesWithoutConduitsOnlyPlace(t *testing.T) {
	p, err := New([]Zone{{Name: "a", Networks: prefixes("10.0.0.0/8"), Level: -1}}, nil)
	require.NoError(t, err)
	assert.False(t, p.Enforced())
	_, bad := p.Check(tx("10.0.0.1", "192.168.0.1", "modbus", protocols.OpWrite))
	assert.False(t, bad)
	var none *Policy
	_, bad = none.Check(tx("10.0.0.1", "192.168.0.1", "modbus", protocols.OpWrite))
	assert.False(t, bad, "no policy, no violations")
}

func TestNewRejects(t *testing.T) {
	z := func(name string, nets ...string) Zone { return Zone{Name: name, Networks: prefixes(nets...)} }
	for _, tc := range []struct {
		zones    []Zone
		conduits []Conduit
		err      string
	}{
		{[]Zone{z("a", "10.0.0.0/8"), z("a", "11.0.0.0/8")}, nil, `zone "a" is defined twice`},
		{[]Zone{z("a", "10.0.0.0/8"), z("b", "10.0.0.0/8")}, nil, `network 10.0.0.0/8 is in zones "a" and "b"`},
		{[]Zone{z("unzoned", "10.0.0.0/8")}, nil, `names the addresses of no zone`},
		{[]Zone{z("a")}, nil, `zone "a": no networks`},
		{[]Zone{z("a", "10.0.0.0/8")}, []Conduit{{From: "a", To: "b"}}, `conduit 0: "b" is not a zone (zones: a, unzoned)`},
		{[]Zone{z("a", "10.0.0.0/8")}, []Conduit{{From: "a", To: Unzoned, Protocols: []string{"bacnet"}}}, `"bacnet" is not a protocol`},
	} {
		_, err := New(tc.zones, tc.conduits)
		require.Error(t, err)
		assert.Contains(t, err.Error(), tc.err)
	}
}
