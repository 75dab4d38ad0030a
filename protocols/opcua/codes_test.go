package opcua

import (
	"testing"

	"github.com/otwatch/otwatch/protocols"
	"github.com/stretchr/testify/assert"
)

// TestEncodingsAgreeWithServices checks the indexed encodings against the
// service list they are made from, for every NodeId a message could carry
// in the two-byte and four-byte forms, both below and above the index.
func TestEncodingsAgreeWithServices(t *testing.T) {
	named := 0
	for id := -1; id <= 0xFFFF; id++ {
		s, isReq := services[id]
		_, isResp := requestOf[id]
		isResp = isResp || id == ServiceFault
		assert.Equal(t, isReq, IsRequest(id), "IsRequest(%d)", id)
		assert.Equal(t, isResp, IsResponse(id), "IsResponse(%d)", id)
		want, op := "unknown", protocols.OpOther
		switch {
		case isReq:
			want, op = s.name+"_request", s.op
		case id == ServiceFault:
			want = "service_fault"
		case isResp:
			want = services[requestOf[id]].name + "_response"
		}
		assert.Equal(t, want, ServiceName(id), "ServiceName(%d)", id)
		var tx protocols.Transaction
		setService(&tx, id)
		assert.Equal(t, protocols.Transaction{Proto: "opcua", Code: id, CodeName: want, Op: op}, tx, "setService(%d)", id)
		if isReq || isResp {
			named++
		}
	}
	assert.Equal(t, 2*len(services)+1, named, "every request, its response and ServiceFault")
	assert.True(t, IsRequest(12211) && IsResponse(12212), "RegisterServer2, above the index")
}
