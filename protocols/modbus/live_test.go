package modbus_test

import (
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	gbmodbus "github.com/goburrow/modbus"
	"github.com/gopacket/gopacket/afpacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
	"github.com/otwatch/otwatch/protocols"
	"github.com/otwatch/otwatch/protocols/capture"
	"github.com/otwatch/otwatch/protocols/frame"
	"github.com/otwatch/otwatch/protocols/pipeline"
	svmodbus "github.com/simonvetter/modbus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// plcMemory is the simonvetter server's register file: a small PLC.
type plcMemory struct {
	mu    sync.Mutex
	coils [1000]bool
	regs  [1000]uint16
}

func (m *plcMemory) HandleCoils(req *svmodbus.CoilsRequest) ([]bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if int(req.Addr)+int(req.Quantity) > len(m.coils) {
		return nil, svmodbus.ErrIllegalDataAddress
	}
	if req.IsWrite {
		copy(m.coils[req.Addr:], req.Args)
	}
	return append([]bool(nil), m.coils[req.Addr:req.Addr+req.Quantity]...), nil
}

func (m *plcMemory) HandleDiscreteInputs(req *svmodbus.DiscreteInputsRequest) ([]bool, error) {
	return make([]bool, req.Quantity), nil
}

func (m *plcMemory) HandleHoldingRegisters(req *svmodbus.HoldingRegistersRequest) ([]uint16, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if int(req.Addr)+int(req.Quantity) > len(m.regs) {
		return nil, svmodbus.ErrIllegalDataAddress
	}
	if req.IsWrite {
		copy(m.regs[req.Addr:], req.Args)
	}
	return append([]uint16(nil), m.regs[req.Addr:req.Addr+req.Quantity]...), nil
}

func (m *plcMemory) HandleInputRegisters(req *svmodbus.InputRegistersRequest) ([]uint16, error) {
	out := make([]uint16, req.Quantity)
	for i := range out {
		out[i] = req.Addr + uint16(i)
	}
	return out, nil
}

// loopbackCapture records loopback frames of one TCP port with AF_PACKET.
type loopbackCapture struct {
	tp     *afpacket.TPacket
	port   uint16
	quit   chan struct{} // asks the reader to stop
	done   chan struct{} // the reader has stopped
	mu     sync.Mutex
	frames []capture.Frame
}

func startCapture(t *testing.T, port uint16) *loopbackCapture {
	if os.Geteuid() != 0 {
		t.Skip("live capture needs root (AF_PACKET): skipping")
	}
	tp, err := afpacket.NewTPacket(afpacket.OptInterface("lo"), afpacket.OptPollTimeout(50*time.Millisecond))
	if err != nil {
		t.Skipf("AF_PACKET not available: %v", err)
	}
	c := &loopbackCapture{tp: tp, port: port, quit: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(c.done)
		var d frame.Decoded
		for {
			select {
			case <-c.quit: // the ring may only be unmapped once no read is in flight
				return
			default:
			}
			data, ci, err := tp.ZeroCopyReadPacketData()
			if err == afpacket.ErrTimeout {
				continue
			}
			if err != nil {
				return
			}
			if frame.Decode(capture.LinkEthernet, data, &d) != nil || (d.SrcPort != port && d.DstPort != port) {
				continue
			}
			c.mu.Lock()
			c.frames = append(c.frames, capture.Frame{Data: append([]byte(nil), data...), TimeNano: ci.Timestamp.UnixNano(),
				LinkType: capture.LinkEthernet, OrigLen: uint32(ci.Length)})
			c.mu.Unlock()
		}
	}()
	return c
}

func (c *loopbackCapture) stop(t *testing.T, path string) []capture.Frame {
	time.Sleep(200 * time.Millisecond) // let the last FIN/ACKs arrive
	close(c.quit)
	<-c.done
	c.tp.Close()
	c.mu.Lock()
	defer c.mu.Unlock()
	f, err := os.Create(path)
	require.NoError(t, err)
	defer f.Close()
	w := pcapgo.NewWriterNanos(f)
	require.NoError(t, w.WriteFileHeader(65536, layers.LinkTypeEthernet))
	for _, fr := range c.frames {
		ci := captureInfo(fr)
		require.NoError(t, w.WritePacket(ci, fr.Data))
	}
	return c.frames
}

func freePort(t *testing.T) uint16 {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	return uint16(l.Addr().(*net.TCPAddr).Port)
}

type wantRequest struct {
	code    int
	space   string
	address uint64
	count   uint64
	values  []int64
}

// TestLiveTraffic drives a real Modbus server (simonvetter) with a real
// client (goburrow) over loopback, captures the traffic with AF_PACKET,
// writes a pcap and finds every request in the pipeline's transactions with
// its exact addresses and values. The server listens on a non-standard port:
// the probe, not the port, finds Modbus.
func TestLiveTraffic(t *testing.T) {
	port := freePort(t)
	capt := startCapture(t, port)
	addr := "127.0.0.1:" + strconv.Itoa(int(port))
	server, err := svmodbus.NewServer(&svmodbus.ServerConfiguration{URL: "tcp://" + addr, Timeout: 5 * time.Second, MaxClients: 2}, &plcMemory{})
	require.NoError(t, err)
	require.NoError(t, server.Start())
	defer server.Stop()

	handler := gbmodbus.NewTCPClientHandler(addr)
	handler.SlaveId = 7
	handler.Timeout = 2 * time.Second
	require.NoError(t, handler.Connect())
	client := gbmodbus.NewClient(handler)
	want := []wantRequest{
		{5, "coil", 17, 1, []int64{1}},
		{15, "coil", 20, 10, []int64{1, 0, 1, 1, 0, 0, 0, 1, 1, 0}},
		{1, "coil", 17, 13, nil},
		{2, "discrete_input", 300, 9, nil},
		{6, "holding_register", 40, 1, []int64{4321}},
		{16, "holding_register", 100, 3, []int64{11, 22, 33}},
		{3, "holding_register", 100, 3, nil},
		{4, "input_register", 5, 4, nil},
		{22, "holding_register", 40, 1, []int64{0x00f2, 0x0025}},
		{23, "holding_register", 200, 2, []int64{7, 8}},
		{24, "fifo_queue", 600, 1, nil},
	}
	_, err = client.WriteSingleCoil(17, 0xFF00)
	require.NoError(t, err)
	_, err = client.WriteMultipleCoils(20, 10, []byte{0x8d, 0x01})
	require.NoError(t, err)
	_, err = client.ReadCoils(17, 13)
	require.NoError(t, err)
	_, err = client.ReadDiscreteInputs(300, 9)
	require.NoError(t, err)
	_, err = client.WriteSingleRegister(40, 4321)
	require.NoError(t, err)
	_, err = client.WriteMultipleRegisters(100, 3, []byte{0, 11, 0, 22, 0, 33})
	require.NoError(t, err)
	_, err = client.ReadHoldingRegisters(100, 3)
	require.NoError(t, err)
	_, err = client.ReadInputRegisters(5, 4)
	require.NoError(t, err)
	// codes the server does not implement: answered with exceptions, still seen
	_, _ = client.MaskWriteRegister(40, 0x00f2, 0x0025)
	_, _ = client.ReadWriteMultipleRegisters(100, 2, 200, 2, []byte{0, 7, 0, 8})
	_, _ = client.ReadFIFOQueue(600)
	handler.Close()

	path := filepath.Join(t.TempDir(), "live.pcap")
	frames := capt.stop(t, path)
	require.NotEmpty(t, frames, "nothing captured on lo")

	var txs []protocols.Transaction
	p := pipeline.New(pipeline.DefaultLimits(), func(tx *protocols.Transaction) { txs = append(txs, *tx) })
	require.NoError(t, p.ReplayFile(path))
	p.Flush()
	t.Logf("captured %d frames, %d transactions, %d retransmissions seen (loopback shows each frame twice)",
		len(frames), len(txs), p.Stats.Retransmitted)
	require.GreaterOrEqual(t, len(txs), len(want))
	for _, w := range want {
		var found *protocols.Transaction
		for i := range txs {
			if txs[i].Code == w.code && txs[i].RequestFrame != 0 {
				found = &txs[i]
				break
			}
		}
		if !assert.NotNil(t, found, "function %d not found", w.code) {
			continue
		}
		assert.Equal(t, "7", found.Unit)
		assert.Equal(t, port, found.Server.Port)
		require.NotEmpty(t, found.Targets, "function %d", w.code)
		assert.Equal(t, protocols.Target{Space: w.space, Address: w.address, Count: w.count}, found.Targets[0], "function %d", w.code)
		var values []int64
		for _, v := range found.Values {
			values = append(values, v.Int)
		}
		assert.Equal(t, w.values, values, "function %d", w.code)
		assert.NotZero(t, found.ResponseFrame, "function %d answered", w.code)
		assert.Empty(t, found.Anomalies, "function %d", w.code)
	}
	for _, tx := range txs {
		if tx.Code == 22 || tx.Code == 23 || tx.Code == 24 {
			assert.Equal(t, protocols.OutcomeException, tx.Outcome, "server lacks function %d", tx.Code)
			assert.Equal(t, int64(1), tx.ExceptionCode, "illegal function")
		}
	}
}
