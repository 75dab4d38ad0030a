// The live test drives a gopcua client against a gopcua server on loopback
// and captures the traffic with AF_PACKET (needs CAP_NET_RAW; skips otherwise).
package opcua

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
	gopcua "github.com/gopcua/opcua"
	"github.com/gopcua/opcua/debug"
	"github.com/gopcua/opcua/server"
	"github.com/gopcua/opcua/ua"

	"github.com/otwatch/otwatch/protocols"
	"github.com/otwatch/otwatch/protocols/corpustest"
)

// selfSigned makes an RSA key and an OPC UA application certificate.
func selfSigned(t *testing.T, uri string, bits int) (*rsa.PrivateKey, []byte) {
	key, err := rsa.GenerateKey(rand.Reader, bits)
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(uri)
	tmpl := x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: "otwatch live test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment | x509.KeyUsageDataEncipherment | x509.KeyUsageContentCommitment | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true, IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, DNSNames: []string{"localhost"}, URIs: []*url.URL{u}}
	der, err := x509.CreateCertificate(rand.Reader, &tmpl, &tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return key, der
}

// capture records loopback traffic with AF_PACKET into a pcap until stop.
func capture(t *testing.T, path string) (stop func()) {
	h, err := pcapgo.NewEthernetHandle("lo")
	if err != nil {
		t.Skipf("no AF_PACKET capture on lo (needs CAP_NET_RAW): %v", err)
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := pcapgo.NewWriterNanos(f)
	if err := w.WriteFileHeader(65536, layers.LinkTypeEthernet); err != nil {
		t.Fatal(err)
	}
	var done sync.WaitGroup
	quit := make(chan struct{})
	done.Add(1)
	go func() {
		defer done.Done()
		for {
			select {
			case <-quit:
				return
			default:
			}
			data, ci, err := h.ReadPacketData()
			if err != nil {
				time.Sleep(time.Millisecond) // non-blocking socket: nothing yet
				continue
			}
			w.WritePacket(ci, data)
		}
	}()
	return func() {
		time.Sleep(200 * time.Millisecond)
		close(quit)
		done.Wait()
		h.Close()
		f.Close()
	}
}

func freePort(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// TestLiveGopcua runs a gopcua server and client on 127.0.0.1 (a non-standard
// port), captures loopback with AF_PACKET, and checks that the pipeline finds
// every operation with its NodeIds and written values; a SignAndEncrypt
// session must give metadata-only records and no decoding anomaly.
func TestLiveGopcua(t *testing.T) {
	debug.Enable = os.Getenv("OPCUA_DEBUG") != ""
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	port := freePort(t)
	endpoint := "opc.tcp://127.0.0.1:" + itoa(port)
	srvKey, srvCert := selfSigned(t, "urn:otwatch:live:server", 2048)
	cliKey, cliCert := selfSigned(t, "urn:gopcua:client", 2048)

	pcap := filepath.Join(t.TempDir(), "live.pcap")
	stop := capture(t, pcap)

	srv := server.New(server.EndPoint("127.0.0.1", port), server.PrivateKey(srvKey), server.Certificate(srvCert),
		server.EnableSecurity("None", ua.MessageSecurityModeNone),
		server.EnableSecurity(ua.SecurityPolicyURIBasic256Sha256, ua.MessageSecurityModeSignAndEncrypt),
		server.EnableAuthMode(ua.UserTokenTypeAnonymous),
		server.ProductName("otwatch live"), server.SetLogger(liveLogger{t}))
	ns := server.NewMapNamespace(srv, "live")
	ns.Data["Tank1"] = 12.5 // SetValue notifies monitored items, which exist only once started
	if err := srv.Start(ctx); err != nil {
		t.Fatalf("server: %v", err)
	}
	defer srv.Close()
	tank := ua.NewStringNodeID(ns.ID(), "Tank1")

	// Policy None: Read, Write, Browse, Call, and a read of the BuildInfo.
	c, err := gopcua.NewClient(endpoint, gopcua.SecurityMode(ua.MessageSecurityModeNone), gopcua.AuthAnonymous())
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Connect(ctx); err != nil {
		t.Fatalf("connect: %v", err)
	}
	if _, err := c.Read(ctx, &ua.ReadRequest{NodesToRead: []*ua.ReadValueID{{NodeID: tank, AttributeID: ua.AttributeIDValue},
		{NodeID: ua.NewNumericNodeID(0, 2256), AttributeID: ua.AttributeIDValue}}}); err != nil {
		t.Fatalf("read: %v", err)
	}
	if _, err := c.Write(ctx, &ua.WriteRequest{NodesToWrite: []*ua.WriteValue{{NodeID: tank, AttributeID: ua.AttributeIDValue,
		Value: &ua.DataValue{EncodingMask: ua.DataValueValue, Value: ua.MustVariant(42.5)}}}}); err != nil {
		t.Fatalf("write: %v", err)
	}
	if _, err := c.Browse(ctx, &ua.BrowseRequest{View: &ua.ViewDescription{ViewID: ua.NewTwoByteNodeID(0)},
		NodesToBrowse: []*ua.BrowseDescription{{NodeID: ua.NewNumericNodeID(0, 85), BrowseDirection: ua.BrowseDirectionForward,
			ReferenceTypeID: ua.NewNumericNodeID(0, 33), IncludeSubtypes: true, ResultMask: uint32(ua.BrowseResultMaskAll)}}}); err != nil {
		t.Fatalf("browse: %v", err)
	}
	// gopcua's server answers Call with BadServiceUnsupported: the request is what matters.
	c.Call(ctx, &ua.CallMethodRequest{ObjectID: ua.NewNumericNodeID(0, 85), MethodID: ua.NewStringNodeID(ns.ID(), "Reset"),
		InputArguments: []*ua.Variant{ua.MustVariant(int32(7))}})
	c.Close(ctx)

	// SignAndEncrypt: everything after the handshake is unreadable.
	eps, err := gopcua.GetEndpoints(ctx, endpoint)
	if err != nil {
		t.Fatalf("get endpoints: %v", err)
	}
	ep, err := gopcua.SelectEndpoint(eps, ua.SecurityPolicyURIBasic256Sha256, ua.MessageSecurityModeSignAndEncrypt)
	if err != nil {
		t.Fatalf("select endpoint: %v", err)
	}
	s, err := gopcua.NewClient(endpoint, gopcua.PrivateKey(cliKey), gopcua.Certificate(cliCert),
		gopcua.SecurityFromEndpoint(ep, ua.UserTokenTypeAnonymous), gopcua.AutoReconnect(false))
	if err != nil {
		t.Fatal(err)
	}
	// gopcua v0.8.0's server cannot decrypt an asymmetric OPN (it fails with
	// "invalid node id type"), so the secured session may go no further than
	// the encrypted OpenSecureChannel: enough to check metadata-only records.
	sctx, scancel := context.WithTimeout(ctx, 3*time.Second)
	if err := s.Connect(sctx); err != nil {
		t.Logf("SignAndEncrypt session: %v (the OPN is on the wire all the same)", err)
	} else {
		s.Read(sctx, &ua.ReadRequest{NodesToRead: []*ua.ReadValueID{{NodeID: tank, AttributeID: ua.AttributeIDValue}}})
		s.Close(sctx)
	}
	scancel()
	stop()

	all, stats := corpustest.Replay(t, pcap)
	// Other tests may run OPC UA on loopback at the same time (the plant
	// simulator's own tests): keep this test's server only.
	var txs []protocols.Transaction
	for _, tx := range all {
		if int(tx.Server.Port) == port {
			txs = append(txs, tx)
		}
	}
	for name, n := range stats.Anomalies {
		// the server may answer the encrypted OPN it cannot decrypt with an
		// ERR message (a transport error on the wire), or close at once
		if name != "opcua.unmatched_response" && !(name == "opcua.transport_error" && n == 1) {
			t.Errorf("anomaly %s x%d", name, n)
		}
	}
	tankID := "ns=" + itoa(int(ns.ID())) + ";s=Tank1"
	find := func(code int, pred func(*protocols.Transaction) bool) *protocols.Transaction {
		for i := range txs {
			if txs[i].Proto == "opcua" && txs[i].Code == code && !txs[i].Encrypted && pred(&txs[i]) {
				return &txs[i]
			}
		}
		return nil
	}
	hasTarget := func(id string) func(*protocols.Transaction) bool {
		return func(tx *protocols.Transaction) bool {
			for _, tg := range tx.Targets {
				if tg.ID == id {
					return true
				}
			}
			return false
		}
	}
	if tx := find(ReadRequest, hasTarget(tankID)); tx == nil || tx.Op != protocols.OpRead || tx.ResponseFrame == 0 ||
		tx.Attr("software_version") == "" || tx.Attr("product_name") != "otwatch live" || tx.Unit != endpoint {
		t.Errorf("read: %+v", tx)
	}
	if tx := find(WriteRequest, hasTarget(tankID)); tx == nil || tx.Op != protocols.OpWrite || len(tx.Values) != 1 ||
		tx.Values[0] != protocols.FloatValue(42.5) {
		t.Errorf("write: %+v", tx)
	}
	if tx := find(BrowseRequest, hasTarget("i=85")); tx == nil || tx.Op != protocols.OpDiscovery {
		t.Errorf("browse: %+v", tx)
	}
	if tx := find(CallRequest, hasTarget("ns="+itoa(int(ns.ID()))+";s=Reset")); tx == nil || tx.Op != protocols.OpControl ||
		len(tx.Values) != 1 || tx.Values[0] != protocols.IntValue(7) {
		t.Errorf("call: %+v", tx)
	}
	var encrypted int
	for _, tx := range txs {
		if tx.Encrypted {
			encrypted++
			if len(tx.Targets)+len(tx.Values) != 0 || len(tx.Anomalies) != 0 {
				t.Errorf("encrypted record with body fields: %+v", tx)
			}
		}
	}
	if encrypted == 0 {
		t.Error("no encrypted records from the SignAndEncrypt session")
	}
	if tx := find(OpenSecureChannelRequest, func(*protocols.Transaction) bool { return true }); tx == nil {
		t.Error("no clear OpenSecureChannel")
	}
	if testing.Verbose() {
		os.Stdout.Write(corpustest.Records(txs))
	}
}

func itoa(n int) string { return big.NewInt(int64(n)).String() }

type liveLogger struct{ t *testing.T }

func (l liveLogger) Debug(string, ...any)     {}
func (l liveLogger) Info(string, ...any)      {}
func (l liveLogger) Warn(m string, a ...any)  { l.t.Logf("server: "+m, a...) }
func (l liveLogger) Error(m string, a ...any) { l.t.Logf("server: "+m, a...) }
