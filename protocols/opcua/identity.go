package opcua

import "github.com/otwatch/otwatch/protocols"

// serverIdentity: ApplicationDescription of GetEndpoints/CreateSession/
// FindServers responses and BuildInfo of Read responses describe the server.
var serverIdentity = protocols.NewIdentityFields(map[string]string{
	"application_uri":   "application_uri",
	"product_uri":       "product_uri",
	"application_name":  "application_name",
	"product_name":      "product_name",
	"manufacturer_name": "manufacturer_name",
	"software_version":  "software_version",
	"build_number":      "build_number",
})

// clientIdentity: the client's own ApplicationDescription in CreateSession.
var clientIdentity = protocols.NewIdentityFields(map[string]string{
	"client_application_uri":  "application_uri",
	"client_product_uri":      "product_uri",
	"client_application_name": "application_name",
})

// identity returns the application descriptions and build information a transaction carries.
func identity(t *protocols.Transaction) []protocols.IdentityFact {
	if t.Encrypted || !describes(t.Code) {
		return nil
	}
	var out []protocols.IdentityFact
	if t.Code == CreateSessionRequest { // the only request that describes its client
		out = protocols.FactsFromAttrs(t, clientIdentity, t.CodeName, true)
	}
	if t.ResponseFrame != 0 && t.Outcome == protocols.OutcomeOK {
		out = append(out, protocols.FactsFromAttrs(t, serverIdentity, t.CodeName, false)...)
	}
	return out
}

// describes: transactions of the service (its request, or its response
// alone when the request was not seen) can carry an application
// description or build information. The others, a session's reads of
// process values aside, are most of the traffic: their attributes are not
// looked at.
func describes(code int) bool {
	switch code {
	case CreateSessionRequest, CreateSessionResponse, GetEndpointsRequest, GetEndpointsResponse,
		FindServersRequest, FindServersResponse, ReadRequest, ReadResponse:
		return true
	}
	return false
}
