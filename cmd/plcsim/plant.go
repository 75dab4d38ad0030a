package main

import (
	"fmt"
	"io"
	"log"
	"slices"
	"sync"
	"time"

	smodbus "github.com/simonvetter/modbus"
)

// The simulated PLC's register map.
const (
	pvBase       = 0   // holding 0–9: process values, read cyclically
	pvCount      = 10  //
	setpointReg  = 100 // holding 100–101: setpoints, written cyclically
	unseenReg    = 300 // holding 300: never written in normal operation
	holdingSize  = 1000
	inputSize    = 100
	spMin, spMax = 500, 600 // the normal setpoint range
	maxLog       = 100000   // requests kept in the plant's log
)

// Request is one request the server served.
type Request struct {
	Time   time.Time
	Client string // client IP address
	Unit   uint8
	Table  string // "holding", "input", "coils", "discrete"
	Write  bool
	Addr   uint16
	Qty    uint16
	Values []uint16 // written values
}

// plant is the PLC's memory (simonvetter's RequestHandler) and the log of
// the requests it served. Process values follow the first setpoint.
type plant struct {
	mu      sync.Mutex
	holding [holdingSize]uint16
	input   [inputSize]uint16
	log     []Request
	dropped int // requests beyond maxLog, counted only
	logger  *log.Logger
}

func newPlant(logger *log.Logger) *plant {
	p := &plant{logger: logger}
	for i := range pvCount {
		p.holding[pvBase+i] = uint16(200 + i)
	}
	p.holding[setpointReg] = spMin
	return p
}

func (p *plant) record(r Request) {
	if p.logger != nil {
		verb := "read"
		if r.Write {
			verb = fmt.Sprintf("write %v", r.Values)
		}
		p.logger.Printf("server: %s unit %d %s %s %d+%d", r.Client, r.Unit, r.Table, verb, r.Addr, r.Qty)
	}
	if len(p.log) >= maxLog {
		p.dropped++
		return
	}
	p.log = append(p.log, r)
}

// Requests returns a copy of the log.
func (p *plant) Requests() []Request {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.log)
}

// step moves the process values a tenth of the way to the setpoint.
func (p *plant) step() {
	p.mu.Lock()
	defer p.mu.Unlock()
	sp := int(p.holding[setpointReg])
	for i := range pvCount {
		v := int(p.holding[pvBase+i])
		p.holding[pvBase+i] = uint16(v + (sp+i-v)/10)
	}
	for i := range inputSize {
		p.input[i] = p.holding[pvBase+i%pvCount] / 10
	}
}

func clientIP(addr string) string {
	for i := len(addr) - 1; i >= 0; i-- {
		if addr[i] == ':' {
			host := addr[:i]
			if len(host) > 1 && host[0] == '[' {
				host = host[1 : len(host)-1]
			}
			return host
		}
	}
	return addr
}

func (p *plant) HandleHoldingRegisters(req *smodbus.HoldingRegistersRequest) ([]uint16, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	end := int(req.Addr) + int(req.Quantity)
	if end > holdingSize {
		return nil, smodbus.ErrIllegalDataAddress
	}
	r := Request{Time: time.Now(), Client: clientIP(req.ClientAddr), Unit: req.UnitId, Table: "holding",
		Write: req.IsWrite, Addr: req.Addr, Qty: req.Quantity}
	if req.IsWrite {
		r.Values = slices.Clone(req.Args)
		copy(p.holding[req.Addr:end], req.Args)
	}
	p.record(r)
	return slices.Clone(p.holding[req.Addr:end]), nil
}

func (p *plant) HandleInputRegisters(req *smodbus.InputRegistersRequest) ([]uint16, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	end := int(req.Addr) + int(req.Quantity)
	if end > inputSize {
		return nil, smodbus.ErrIllegalDataAddress
	}
	p.record(Request{Time: time.Now(), Client: clientIP(req.ClientAddr), Unit: req.UnitId, Table: "input",
		Addr: req.Addr, Qty: req.Quantity})
	return slices.Clone(p.input[req.Addr:end]), nil
}

func (p *plant) HandleCoils(req *smodbus.CoilsRequest) ([]bool, error) {
	return nil, smodbus.ErrIllegalFunction
}

func (p *plant) HandleDiscreteInputs(req *smodbus.DiscreteInputsRequest) ([]bool, error) {
	return nil, smodbus.ErrIllegalFunction
}

// startServer serves the plant on listen (host:port).
func startServer(listen string, p *plant) (*smodbus.ModbusServer, error) {
	srv, err := smodbus.NewServer(&smodbus.ServerConfiguration{
		URL:        "tcp://" + listen,
		Timeout:    5 * time.Minute,
		MaxClients: 16,
		Logger:     log.New(io.Discard, "", 0),
	}, p)
	if err != nil {
		return nil, err
	}
	if err := srv.Start(); err != nil {
		return nil, fmt.Errorf("modbus server on %s: %w", listen, err)
	}
	return srv, nil
}
