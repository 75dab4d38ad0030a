package main

import (
	"context"
	"fmt"
	"io"
	"log"
	"net"
	"strconv"
	"time"

	"github.com/gopcua/opcua"
	"github.com/gopcua/opcua/id"
	"github.com/gopcua/opcua/server"
	"github.com/gopcua/opcua/ua"
	"github.com/gopcua/opcua/uacp"
	"github.com/gopcua/opcua/uasc"
)

// The OPC UA plant: a gopcua server (security None, anonymous) whose
// namespace 1 holds the tank. Read, Write and Call are served by handlers
// of ours (registered before Start, so gopcua's own do not replace them):
// they log every request with its client address and implement the Reset
// method, which gopcua v0.8.0's server does not (it answers every Call
// with BadServiceUnsupported).
const (
	uaNamespace = "urn:otwatch:plcsim" // namespace 1: the first one added after ns 0
	uaTank      = "Tank1"              // Double: the level, drifts towards the setpoint
	uaSetpoint  = "Setpoint"           // Double: written every cycle, normally 500…600
	uaInterlock = "Interlock"          // Boolean: never written in normal operation
	uaReset     = "Reset"              // method on Tank1: level := 0, interlock off
)

// UARequest is one OPC UA service request the server served (Read, Write
// or Call; the session services are not logged).
type UARequest struct {
	Time    time.Time
	Client  string // client IP address
	Service string // "read", "write", "call"
	Nodes   []string
	Values  []any // written values, or a Call's input arguments
	Status  ua.StatusCode
}

type uaPLC struct {
	srv    *server.Server
	ns     *server.MapNamespace
	log    ledger[UARequest]
	logger *log.Logger
}

// Requests returns a copy of the log.
func (p *uaPLC) Requests() []UARequest { return p.log.all() }

func (p *uaPLC) record(r UARequest) {
	if p.logger != nil {
		p.logger.Printf("opcua server: %s %s %v %v %v", r.Client, r.Service, r.Nodes, r.Values, r.Status)
	}
	p.log.add(r)
}

func uaNode(name string) *ua.NodeID { return ua.NewStringNodeID(1, name) }

// startUAServer serves the OPC UA PLC on listen (host:port).
func startUAServer(ctx context.Context, listen string, logger *log.Logger) (*uaPLC, error) {
	host, portStr, err := net.SplitHostPort(listen)
	if err != nil {
		return nil, err
	}
	port, err := strconv.Atoi(portStr)
	if err != nil {
		return nil, fmt.Errorf("port %q: %w", portStr, err)
	}
	// gopcua logs its node-set import and "Started listening" with the
	// standard logger: silenced while it starts.
	out := log.Writer()
	log.SetOutput(io.Discard)
	defer log.SetOutput(out)
	p := &uaPLC{logger: logger}
	p.srv = server.New(server.EndPoint(host, port),
		server.EnableSecurity("None", ua.MessageSecurityModeNone),
		server.EnableAuthMode(ua.UserTokenTypeAnonymous),
		server.ServerName("plcsim PLC"), server.ProductName("plcsim PLC"), server.ManufacturerName("otwatch"))
	p.ns = server.NewMapNamespace(p.srv, uaNamespace)
	if p.ns.ID() != 1 {
		return nil, fmt.Errorf("plant namespace got index %d, want 1", p.ns.ID())
	}
	p.ns.Data[uaTank] = 200.0
	p.ns.Data[uaSetpoint] = float64(spMin)
	p.ns.Data[uaInterlock] = false
	p.srv.RegisterHandler(id.ReadRequest_Encoding_DefaultBinary, p.read)
	p.srv.RegisterHandler(id.WriteRequest_Encoding_DefaultBinary, p.write)
	p.srv.RegisterHandler(id.CallRequest_Encoding_DefaultBinary, p.call)
	if err := p.srv.Start(ctx); err != nil {
		return nil, fmt.Errorf("opcua server on %s: %w", listen, err)
	}
	return p, nil
}

func (p *uaPLC) Stop() { p.srv.Close() }

// step moves the level a tenth of the way to the setpoint.
func (p *uaPLC) step() {
	p.ns.Mu.RLock()
	level, _ := p.ns.Data[uaTank].(float64)
	sp, _ := p.ns.Data[uaSetpoint].(float64)
	p.ns.Mu.RUnlock()
	p.ns.SetValue(uaTank, level+(sp-level)/10)
}

func respHeader(req *ua.RequestHeader, status ua.StatusCode) *ua.ResponseHeader {
	return &ua.ResponseHeader{Timestamp: time.Now(), RequestHandle: req.RequestHandle, ServiceResult: status,
		ServiceDiagnostics: &ua.DiagnosticInfo{}, StringTable: []string{}, AdditionalHeader: ua.NewExtensionObject(nil)}
}

func remoteIP(sc *uasc.SecureChannel) string {
	if a := sc.RemoteAddr(); a != nil {
		return clientIP(a.String())
	}
	return ""
}

func (p *uaPLC) read(sc *uasc.SecureChannel, r ua.Request, _ uint32) (ua.Response, error) {
	req, ok := r.(*ua.ReadRequest)
	if !ok {
		return nil, ua.StatusBadRequestTypeInvalid
	}
	rec := UARequest{Time: time.Now(), Client: remoteIP(sc), Service: "read", Status: ua.StatusOK}
	results := make([]*ua.DataValue, len(req.NodesToRead))
	for i, n := range req.NodesToRead {
		rec.Nodes = append(rec.Nodes, n.NodeID.String())
		ns, err := p.srv.Namespace(int(n.NodeID.Namespace()))
		if err != nil {
			results[i] = &ua.DataValue{EncodingMask: ua.DataValueStatusCode, Status: ua.StatusBadNodeIDUnknown}
			continue
		}
		if ns == server.NameSpace(p.ns) {
			p.ns.Mu.RLock() // MapNamespace.Attribute reads the map unlocked
			results[i] = ns.Attribute(n.NodeID, n.AttributeID)
			p.ns.Mu.RUnlock()
		} else {
			results[i] = ns.Attribute(n.NodeID, n.AttributeID)
		}
	}
	p.record(rec)
	return &ua.ReadResponse{ResponseHeader: respHeader(req.RequestHeader, ua.StatusOK), Results: results,
		DiagnosticInfos: []*ua.DiagnosticInfo{}}, nil
}

func (p *uaPLC) write(sc *uasc.SecureChannel, r ua.Request, _ uint32) (ua.Response, error) {
	req, ok := r.(*ua.WriteRequest)
	if !ok {
		return nil, ua.StatusBadRequestTypeInvalid
	}
	rec := UARequest{Time: time.Now(), Client: remoteIP(sc), Service: "write", Status: ua.StatusOK}
	results := make([]ua.StatusCode, len(req.NodesToWrite))
	for i, n := range req.NodesToWrite {
		rec.Nodes = append(rec.Nodes, n.NodeID.String())
		var v any
		if n.Value != nil && n.Value.Value != nil {
			v = n.Value.Value.Value()
		}
		rec.Values = append(rec.Values, v)
		results[i] = p.writeOne(n, v)
		if results[i] != ua.StatusOK && rec.Status == ua.StatusOK {
			rec.Status = results[i]
		}
	}
	p.record(rec)
	return &ua.WriteResponse{ResponseHeader: respHeader(req.RequestHeader, ua.StatusOK), Results: results,
		DiagnosticInfos: []*ua.DiagnosticInfo{}}, nil
}

// writeOne accepts a value of the variable's own type on namespace 1.
func (p *uaPLC) writeOne(n *ua.WriteValue, v any) ua.StatusCode {
	if n.NodeID.Namespace() != 1 || n.NodeID.Type() != ua.NodeIDTypeString {
		return ua.StatusBadNotWritable
	}
	if n.AttributeID != ua.AttributeIDValue {
		return ua.StatusBadNotWritable
	}
	key := n.NodeID.StringID()
	p.ns.Mu.RLock()
	old, ok := p.ns.Data[key]
	p.ns.Mu.RUnlock()
	switch {
	case !ok:
		return ua.StatusBadNodeIDUnknown
	case fmt.Sprintf("%T", old) != fmt.Sprintf("%T", v):
		return ua.StatusBadTypeMismatch
	}
	p.ns.SetValue(key, v)
	return ua.StatusOK
}

func (p *uaPLC) call(sc *uasc.SecureChannel, r ua.Request, _ uint32) (ua.Response, error) {
	req, ok := r.(*ua.CallRequest)
	if !ok {
		return nil, ua.StatusBadRequestTypeInvalid
	}
	rec := UARequest{Time: time.Now(), Client: remoteIP(sc), Service: "call", Status: ua.StatusOK}
	results := make([]*ua.CallMethodResult, len(req.MethodsToCall))
	for i, m := range req.MethodsToCall {
		rec.Nodes = append(rec.Nodes, m.MethodID.String())
		for _, a := range m.InputArguments {
			rec.Values = append(rec.Values, a.Value())
		}
		status := ua.StatusBadMethodInvalid
		if m.MethodID.Namespace() == 1 && m.MethodID.StringID() == uaReset {
			status = ua.StatusOK
			p.ns.SetValue(uaTank, 0.0)
			p.ns.SetValue(uaInterlock, false)
		}
		if status != ua.StatusOK && rec.Status == ua.StatusOK {
			rec.Status = status
		}
		results[i] = &ua.CallMethodResult{StatusCode: status, InputArgumentResults: []ua.StatusCode{},
			InputArgumentDiagnosticInfos: []*ua.DiagnosticInfo{}, OutputArguments: []*ua.Variant{}}
	}
	p.record(rec)
	return &ua.CallResponse{ResponseHeader: respHeader(req.RequestHeader, ua.StatusOK), Results: results,
		DiagnosticInfos: []*ua.DiagnosticInfo{}}, nil
}

// uaConnect opens a session (security None, anonymous) from source if given.
func uaConnect(ctx context.Context, connect, source string, reconnect bool) (*opcua.Client, error) {
	opts := []opcua.Option{opcua.SecurityMode(ua.MessageSecurityModeNone), opcua.AuthAnonymous(),
		opcua.AutoReconnect(reconnect), opcua.DialTimeout(3 * time.Second), opcua.RequestTimeout(3 * time.Second)}
	if source != "" {
		ip := net.ParseIP(source)
		if ip == nil {
			return nil, fmt.Errorf("source %q is not an IP address", source)
		}
		opts = append(opts, opcua.Dialer(&uacp.Dialer{Dialer: &net.Dialer{Timeout: 3 * time.Second, LocalAddr: &net.TCPAddr{IP: ip}}}))
	}
	c, err := opcua.NewClient("opc.tcp://"+connect, opts...)
	if err != nil {
		return nil, err
	}
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := c.Connect(cctx); err != nil {
		return nil, fmt.Errorf("opcua connect %s: %w", connect, err)
	}
	return c, nil
}

// uaClose closes the session and the secure channel (even after ctx ended).
func uaClose(c *opcua.Client) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	c.Close(ctx)
}

func uaWrite(ctx context.Context, c *opcua.Client, node string, v any) error {
	resp, err := c.Write(ctx, &ua.WriteRequest{NodesToWrite: []*ua.WriteValue{{NodeID: uaNode(node),
		AttributeID: ua.AttributeIDValue, Value: &ua.DataValue{EncodingMask: ua.DataValueValue, Value: ua.MustVariant(v)}}}})
	if err != nil {
		return err
	}
	if len(resp.Results) != 1 || resp.Results[0] != ua.StatusOK {
		return fmt.Errorf("write %s: %v", node, resp.Results)
	}
	return nil
}

// runUAClient reads the level and the setpoint and writes the setpoint
// every cycle until ctx ends; the attacks happen once, AttackAfter after
// the start. Until the server answers, each cycle tries to connect.
func runUAClient(ctx context.Context, cfg clientConfig) error {
	var c *opcua.Client
	defer func() {
		if c != nil {
			uaClose(c)
		}
	}()
	tick := time.NewTicker(cfg.Period)
	defer tick.Stop()
	attackAt := time.Now().Add(cfg.AttackAfter)
	attacked := len(cfg.Attacks) == 0
	// Requests do not take ctx: gopcua numbers a request before it checks
	// its context, so one cancelled there leaves a hole in the secure
	// channel's sequence numbers (a real sequence jump on the wire). A
	// cycle under way finishes; RequestTimeout bounds each request.
	reqCtx := context.WithoutCancel(ctx)
	read := &ua.ReadRequest{NodesToRead: []*ua.ReadValueID{{NodeID: uaNode(uaTank), AttributeID: ua.AttributeIDValue},
		{NodeID: uaNode(uaSetpoint), AttributeID: ua.AttributeIDValue}}, TimestampsToReturn: ua.TimestampsToReturnBoth}
	for i := 0; ; i++ {
		if c == nil {
			var err error
			if c, err = uaConnect(reqCtx, cfg.Connect, cfg.Source, true); err != nil {
				cfg.logf("opcua client: %v", err)
				c = nil
			}
		}
		if c != nil {
			if _, err := c.Read(reqCtx, read); err != nil {
				cfg.logf("opcua client: read: %v", err)
			}
			if err := uaWrite(reqCtx, c, uaSetpoint, float64(setpoint(i))); err != nil {
				cfg.logf("opcua client: write setpoint: %v", err)
			}
			if !attacked && !time.Now().Before(attackAt) {
				attacked = true
				if err := uaAttack(reqCtx, cfg, c); err != nil {
					return err
				}
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

func uaAttack(ctx context.Context, cfg clientConfig, c *opcua.Client) error {
	for _, a := range cfg.Attacks {
		var err error
		switch a {
		case AttackRogueWrite:
			cfg.logf("attack: opcua %s: a new session from %q writes %s := %d", a, cfg.RogueSource, uaNode(uaSetpoint), spMin+50)
			var rogue *opcua.Client
			if rogue, err = uaConnect(ctx, cfg.Connect, cfg.RogueSource, false); err == nil {
				err = uaWrite(ctx, rogue, uaSetpoint, float64(spMin+50))
				uaClose(rogue)
			}
		case AttackOutOfRange:
			cfg.logf("attack: opcua %s: %s := 9999 (normal %d…%d)", a, uaNode(uaSetpoint), spMin, spMax)
			err = uaWrite(ctx, c, uaSetpoint, 9999.0)
		case AttackUnseenRegister:
			cfg.logf("attack: opcua %s: write %s, never written before", a, uaNode(uaInterlock))
			err = uaWrite(ctx, c, uaInterlock, true)
		case AttackCall:
			cfg.logf("attack: opcua %s: call %s on %s", a, uaNode(uaReset), uaNode(uaTank))
			var res *ua.CallMethodResult
			res, err = c.Call(ctx, &ua.CallMethodRequest{ObjectID: uaNode(uaTank), MethodID: uaNode(uaReset),
				InputArguments: []*ua.Variant{ua.MustVariant(int32(1))}})
			if err == nil && res.StatusCode != ua.StatusOK {
				err = res.StatusCode
			}
		}
		if err != nil {
			return fmt.Errorf("opcua attack %s: %w", a, err)
		}
	}
	return nil
}
