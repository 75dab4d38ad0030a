package inventory_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/otwatch/otwatch/learning/inventory"
	"github.com/otwatch/otwatch/protocols/corpustest"
	_ "github.com/otwatch/otwatch/protocols/opcua"
	_ "github.com/otwatch/otwatch/protocols/s7comm"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func identityOf(doc inventory.Document, ip string) map[string]string {
	for _, a := range doc.Assets {
		for _, x := range a.IPs {
			if x == ip {
				out := map[string]string{}
				for k, v := range a.Identity {
					out[k] = v.Value
				}
				return out
			}
		}
	}
	return nil
}

// S7 identity (SZL 0x0011/0x001C) equals ICSNPP's s7comm_known_devices.log
// and tshark's decoding of the same capture.
func TestS7IdentityMatchesICSNPPAndTshark(t *testing.T) {
	base := filepath.Join(corpustest.Dir(t), "cisagov__icsnpp-s7comm", "tests")
	log, err := os.ReadFile(filepath.Join(base, "baseline", "analyzer.s7ident", "s7comm_known_devices.log"))
	require.NoError(t, err)
	inv := inventory.New(inventory.Limits{})
	replay(t, inv, filepath.Join(base, "traces", "s7ident.pcap"))
	checked := 0
	for _, line := range strings.Split(string(log), "\n") {
		if line == "" || line[0] == '#' {
			continue
		}
		f := strings.Split(line, "\t")
		// id.resp_h, automation_system_name, module_name, plant_name, module_serial
		id := identityOf(inv.Document(), f[4])
		require.NotNil(t, id, "asset %s", f[4])
		for field, want := range map[string]string{"automation_system_name": f[11], "module_name": f[12],
			"plant_designation": f[13], "serial": f[14]} {
			if want == "(empty)" || want == "-" {
				assert.Empty(t, id[field], field)
				continue
			}
			assert.Equal(t, want, id[field], field)
			checked++
		}
	}
	assert.Equal(t, 3, checked)

	rows := corpustest.Fields(t, filepath.Join(base, "traces", "s7ident.pcap"), nil, "ip.src", "s7comm.szl.xy11.0001.anz")
	for _, r := range rows {
		if len(r) == 2 && r[1] != "" {
			mlfb := strings.TrimSpace(strings.Split(r[1], ",")[0])
			assert.Equal(t, mlfb, identityOf(inv.Document(), r[0])["order_number"], "tshark's order number")
			checked++
		}
	}
	assert.Greater(t, checked, 3, "tshark showed the order number")
}

// OPC UA: the server's application description from GetEndpoints equals
// what tshark decodes.
func TestOPCUAIdentityMatchesTshark(t *testing.T) {
	path := "../../protocols/opcua/testdata/icsnpp_open62541_mainloop.pcap"
	inv := inventory.New(inventory.Limits{})
	replay(t, inv, path)
	rows := corpustest.Fields(t, path, nil, "ipv6.src", "opcua.servicenodeid.numeric", "opcua.ApplicationUri")
	found := 0
	for _, r := range rows {
		if len(r) < 3 || r[2] == "" || r[1] != "431" { // GetEndpointsResponse
			continue
		}
		uri := strings.Split(r[2], ",")[0]
		assert.Equal(t, uri, identityOf(inv.Document(), r[0])["application_uri"])
		found++
	}
	require.NotZero(t, found, "tshark decoded a GetEndpoints response")
}

// open62541's client and server run on one host (::1): the client's own
// application description (CreateSessionRequest, frame 40:
// urn:unconfigured:application) is a second application there, no
// conflict with the server's (GetEndpointsResponse, frame 16:
// urn:open62541.server.application).
func TestOPCUAClientOnTheServersHostIsNoConflict(t *testing.T) {
	inv := inventory.New(inventory.Limits{})
	evs := replay(t, inv, "../../protocols/opcua/testdata/icsnpp_open62541_mainloop.pcap")
	for _, e := range evs {
		assert.NotEqual(t, inventory.IdentityConflict, e.Kind, e.Message)
	}
	assert.Equal(t, "urn:open62541.server.application", identityOf(inv.Document(), "::1")["application_uri"])
}
