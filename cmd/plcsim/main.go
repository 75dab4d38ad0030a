// Command plcsim generates live industrial traffic for tests and demos: a
// Modbus/TCP PLC (simonvetter/modbus server) polled and written cyclically
// by an HMI (goburrow/modbus client), with optional injected attacks. It is
// never part of the appliance image.
//
//	plcsim -role all -listen 127.0.0.1:5020 -attack all -attack-after 30s
//	ip netns exec plc  plcsim -role server -listen 10.77.0.2:502
//	ip netns exec hmi  plcsim -role client -connect 10.77.0.2:502 -attack out-of-range
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
	"syscall"
	"time"
)

type options struct {
	role                        string
	listen, connect             string
	source, rogueSource         string
	unit                        uint
	period, duration, attackAft time.Duration
	attacks                     []string
	verbose                     bool
}

func parseFlags(args []string, stderr io.Writer) (options, error) {
	var o options
	var attacks string
	fs := flag.NewFlagSet("plcsim", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.role, "role", "all", "server (the PLC), client (the HMI, and the attacks), or all (both in this process)")
	fs.StringVar(&o.listen, "listen", "127.0.0.1:5020", "server: listen address host:port")
	fs.StringVar(&o.connect, "connect", "", "client: server address host:port (default: the -listen address)")
	fs.StringVar(&o.source, "source", "", "client: local IP address to connect from")
	fs.StringVar(&o.rogueSource, "rogue-source", "", "rogue-write attack: local IP address of the rogue client (e.g. 127.0.0.2)")
	fs.UintVar(&o.unit, "unit", 1, "Modbus unit id")
	fs.DurationVar(&o.period, "period", time.Second, "client: poll cycle")
	fs.DurationVar(&o.duration, "duration", 0, "stop after this long (0: run until SIGINT/SIGTERM)")
	fs.StringVar(&attacks, "attack", "", "comma-separated attacks: rogue-write, out-of-range, unseen-register, or all")
	fs.DurationVar(&o.attackAft, "attack-after", 10*time.Second, "inject the attacks once, this long after the start")
	fs.BoolVar(&o.verbose, "v", false, "log every request the server serves")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if o.connect == "" {
		o.connect = o.listen
	}
	var err error
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
	if _, err := run(ctx, o, logger); err != nil {
		fmt.Fprintf(os.Stderr, "plcsim: %v\n", err)
		os.Exit(1)
	}
}

// run plays the role until ctx ends or the duration passes; it returns the
// plant (nil for a client-only role) so tests can look at what it served.
func run(ctx context.Context, o options, logger *log.Logger) (*plant, error) {
	if o.duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, o.duration)
		defer cancel()
	}
	var p *plant
	if o.role == "server" || o.role == "all" {
		var reqLog *log.Logger
		if o.verbose {
			reqLog = logger
		}
		p = newPlant(reqLog)
		srv, err := startServer(o.listen, p)
		if err != nil {
			return nil, err
		}
		defer srv.Stop()
		logger.Printf("PLC serving Modbus/TCP on %s (process values %d–%d, setpoints %d–%d)", o.listen,
			pvBase, pvBase+pvCount-1, setpointReg, setpointReg+1)
		go func() {
			t := time.NewTicker(100 * time.Millisecond)
			defer t.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case <-t.C:
					p.step()
				}
			}
		}()
	}
	if o.role == "client" || o.role == "all" {
		logger.Printf("HMI polling %s every %s (unit %d); attacks %v after %s", o.connect, o.period, o.unit, o.attacks, o.attackAft)
		err := runClient(ctx, clientConfig{Connect: o.connect, Source: o.source, RogueSource: o.rogueSource,
			Unit: byte(o.unit), Period: o.period, Attacks: o.attacks, AttackAfter: o.attackAft, Logger: logger})
		return p, err
	}
	<-ctx.Done()
	return p, nil
}
