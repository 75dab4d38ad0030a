// Command plcsim generates live industrial traffic for tests and demos: a
// plant of PLCs polled and written cyclically by an HMI, with optional
// injected attacks. Modbus/TCP (simonvetter/modbus server, goburrow/modbus
// client), OPC UA (gopcua server and client) and S7comm (a small responder
// of ours, robinson/gos7 client). It is never part of the appliance image.
//
//	plcsim -protocol all -attack all -attack-after 30s
//	ip netns exec plc  plcsim -role server -protocol all -listen 10.77.0.2:502 -opcua-listen 10.77.0.2:4840 -s7-listen 10.77.0.2:102
//	ip netns exec hmi  plcsim -role client -protocol s7 -s7-connect 10.77.0.2:102 -attack plc-stop
//	ip netns exec evil plcsim -role client -connect 10.77.0.2:502 -attack rogue-write -attack-after 0s -duration 1s
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

type options struct {
	replay, replayIface         string // replay a capture instead of simulating
	replayMbps                  float64
	replayLoops                 int
	role                        string
	protocols                   []string
	listen, connect             string // Modbus
	opcuaListen, opcuaConnect   string
	s7Listen, s7Connect         string
	source, rogueSource         string
	unit                        uint
	period, duration, attackAft time.Duration
	attacks                     []string
	verbose                     bool
}

func parseFlags(args []string, stderr io.Writer) (options, error) {
	var o options
	var attacks, protos string
	fs := flag.NewFlagSet("plcsim", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.role, "role", "all", "server (the PLC), client (the HMI, and the attacks), or all (both in this process)")
	fs.StringVar(&protos, "protocol", ProtoModbus, "comma-separated protocols: modbus, opcua, s7, or all")
	fs.StringVar(&o.listen, "listen", "127.0.0.1:5020", "server: Modbus/TCP listen address host:port")
	fs.StringVar(&o.connect, "connect", "", "client: Modbus server address host:port (default: the -listen address)")
	fs.StringVar(&o.opcuaListen, "opcua-listen", "127.0.0.1:4840", "server: OPC UA listen address host:port")
	fs.StringVar(&o.opcuaConnect, "opcua-connect", "", "client: OPC UA server address host:port (default: the -opcua-listen address)")
	fs.StringVar(&o.s7Listen, "s7-listen", "127.0.0.1:1102", "server: S7 (ISO-on-TCP) listen address host:port")
	fs.StringVar(&o.s7Connect, "s7-connect", "", "client: S7 server address host:port (default: the -s7-listen address)")
	fs.StringVar(&o.source, "source", "", "client: local IP address to connect from")
	fs.StringVar(&o.rogueSource, "rogue-source", "", "rogue-write attack: local IP address of the rogue client (e.g. 127.0.0.2)")
	fs.UintVar(&o.unit, "unit", 1, "Modbus unit id")
	fs.DurationVar(&o.period, "period", time.Second, "client: poll cycle")
	fs.DurationVar(&o.duration, "duration", 0, "stop after this long (0: run until SIGINT/SIGTERM)")
	fs.StringVar(&attacks, "attack", "", "comma-separated attacks: rogue-write, out-of-range, unseen-register, call (OPC UA), plc-stop (S7), or all")
	fs.DurationVar(&o.attackAft, "attack-after", 10*time.Second, "inject the attacks once, this long after the start")
	fs.BoolVar(&o.verbose, "v", false, "log every request the servers serve")
	fs.StringVar(&o.replay, "replay", "", "instead of simulating: send this capture onto -replay-iface with tcpreplay")
	fs.StringVar(&o.replayIface, "replay-iface", "", "interface for -replay")
	fs.Float64Var(&o.replayMbps, "replay-mbps", 0, "-replay rate in Mbit/s (0: the capture's own pace)")
	fs.IntVar(&o.replayLoops, "replay-loops", 1, "-replay: how many times")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if (o.replay == "") != (o.replayIface == "") {
		return o, errors.New("-replay and -replay-iface go together")
	}
	if o.connect == "" {
		o.connect = o.listen
	}
	if o.opcuaConnect == "" {
		o.opcuaConnect = o.opcuaListen
	}
	if o.s7Connect == "" {
		o.s7Connect = o.s7Listen
	}
	var err error
	if o.protocols, err = parseProtocols(protos); err != nil {
		return o, err
	}
	if o.attacks, err = parseAttacks(attacks); err != nil {
		return o, err
	}
	switch {
	case o.role != "all" && o.role != "server" && o.role != "client":
		return o, fmt.Errorf("-role %q: want server, client or all", o.role)
	case o.unit > 255:
		return o, fmt.Errorf("-unit %d: want 0…255", o.unit)
	case o.period <= 0:
		return o, errors.New("-period must be positive")
	case o.role == "server" && len(o.attacks) > 0:
		return o, errors.New("-attack needs a client (-role client or all)")
	}
	if attacks != "all" {
		for _, a := range o.attacks {
			ok := false
			for _, p := range o.protocols {
				ok = ok || len(attacksFor(p, []string{a})) > 0
			}
			if !ok {
				return o, fmt.Errorf("attack %s: not for -protocol %s", a, strings.Join(o.protocols, ","))
			}
		}
	}
	return o, nil
}

func main() {
	o, err := parseFlags(os.Args[1:], os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "plcsim: %v\n", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	logger := log.New(os.Stderr, "plcsim: ", log.LstdFlags|log.Lmicroseconds)
	if o.replay != "" {
		if err := replay(ctx, o.replayIface, o.replay, o.replayMbps, o.replayLoops); err != nil {
			fmt.Fprintf(os.Stderr, "plcsim: %v\n", err)
			os.Exit(1)
		}
		return
	}
	if _, err := run(ctx, o, logger); err != nil {
		fmt.Fprintf(os.Stderr, "plcsim: %v\n", err)
		os.Exit(1)
	}
}

// sim is what a run served: one PLC per protocol (nil when not run here).
type sim struct {
	Modbus *plant
	OPCUA  *uaPLC
	S7     *s7PLC
}

// run plays the role until ctx ends or the duration passes; it returns the
// PLCs it ran (none for a client-only role) so tests can look at what they
// served. A client error (a failed attack) ends the run.
func run(ctx context.Context, o options, logger *log.Logger) (*sim, error) {
	s := &sim{}
	var steps []func()
	if o.role == "server" || o.role == "all" {
		var reqLog *log.Logger
		if o.verbose {
			reqLog = logger
		}
		for _, proto := range o.protocols {
			switch proto {
			case ProtoModbus:
				s.Modbus = newPlant(reqLog)
				srv, err := startServer(o.listen, s.Modbus)
				if err != nil {
					return nil, err
				}
				defer srv.Stop()
				steps = append(steps, s.Modbus.step)
				logger.Printf("PLC serving Modbus/TCP on %s (process values %d–%d, setpoints %d–%d)", o.listen,
					pvBase, pvBase+pvCount-1, setpointReg, setpointReg+1)
			case ProtoOPCUA:
				// gopcua's server stops serving when its context ends: it
				// lives until run returns, so the clients can close their
				// sessions after the duration has passed.
				srvCtx, srvCancel := context.WithCancel(context.WithoutCancel(ctx))
				defer srvCancel()
				p, err := startUAServer(srvCtx, o.opcuaListen, reqLog)
				if err != nil {
					return nil, err
				}
				s.OPCUA = p
				defer p.Stop()
				steps = append(steps, p.step)
				logger.Printf("PLC serving OPC UA on opc.tcp://%s (%s, %s, %s, method %s)", o.opcuaListen,
					uaNode(uaTank), uaNode(uaSetpoint), uaNode(uaInterlock), uaNode(uaReset))
			case ProtoS7:
				s.S7 = newS7PLC(reqLog)
				if err := startS7Server(o.s7Listen, s.S7); err != nil {
					return nil, err
				}
				defer s.S7.Stop()
				steps = append(steps, s.S7.step)
				logger.Printf("PLC serving S7comm on %s (rack %d slot %d; DB%d.DBW%d–%d process values, DBW%d–%d setpoints)",
					o.s7Listen, s7Rack, s7Slot, s7DB, s7PVOffset, s7PVOffset+s7PVBytes-2, s7SetpointOff, s7SetpointOff+2)
			}
		}
	}
	// The duration counts from here: gopcua's server takes a while to
	// build its address space (seconds under the race detector).
	if o.duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, o.duration)
		defer cancel()
	}
	if len(steps) > 0 {
		stepCtx, stopSteps := context.WithCancel(ctx)
		done := make(chan struct{})
		defer func() { stopSteps(); <-done }()
		go func() {
			defer close(done)
			t := time.NewTicker(100 * time.Millisecond)
			defer t.Stop()
			for {
				select {
				case <-stepCtx.Done():
					return
				case <-t.C:
					for _, step := range steps {
						step()
					}
				}
			}
		}()
	}
	if o.role == "server" {
		<-ctx.Done()
		return s, nil
	}
	// The clients, one per protocol; a failed attack ends them all.
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errs := make(chan error, len(o.protocols))
	for _, proto := range o.protocols {
		cfg := clientConfig{Source: o.source, RogueSource: o.rogueSource, Period: o.period,
			Attacks: attacksFor(proto, o.attacks), AttackAfter: o.attackAft, Logger: logger}
		var client func(context.Context, clientConfig) error
		switch proto {
		case ProtoModbus:
			cfg.Connect, cfg.Unit, client = o.connect, byte(o.unit), runClient
		case ProtoOPCUA:
			cfg.Connect, client = o.opcuaConnect, runUAClient
		case ProtoS7:
			cfg.Connect, client = o.s7Connect, runS7Client
		}
		logger.Printf("HMI (%s) polling %s every %s; attacks %v after %s", proto, cfg.Connect, o.period, cfg.Attacks, o.attackAft)
		go func() {
			err := client(cctx, cfg)
			if err != nil {
				cancel()
			}
			errs <- err
		}()
	}
	var all []error
	for range o.protocols {
		all = append(all, <-errs)
	}
	return s, errors.Join(all...)
}
