package s7comm

import (
	"bytes"
	"flag"
	"net"
	"os"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// No capture of an S7comm-plus program transfer is public with a licence
// that allows copying, and no S7comm-plus implementation in Debian or Go
// transfers programs. testdata/s7comm_plus_program_synthetic.pcap is
// therefore built here, byte by byte, from the published protocol
// description (the Wireshark S7comm-plus dissector): a TIA Portal-like
// engineering station uploads OB1 from an S7-1214C (explore the program,
// read the block's body description, code and interface, its network
// comments), then, in a second connection, legitimates, stops the CPU,
// downloads OB1 inside a download sequence (the CreateObject split in two
// fragments, as a PDU larger than the negotiated size is), deletes FC1 and
// starts the CPU again. `go test -run TestSynthesize -synth` rewrites it.
var synth = flag.Bool("synth", false, "rewrite testdata/s7comm_plus_program_synthetic.pcap")

const synthPath = "testdata/s7comm_plus_program_synthetic.pcap"

// encVLQ encodes an unsigned VLQ (7 bits per byte, high bit = more).
func encVLQ(v uint32) []byte {
	var out []byte
	for {
		out = append([]byte{byte(v & 0x7f)}, out...)
		v >>= 7
		if v == 0 {
			break
		}
	}
	for i := 0; i < len(out)-1; i++ {
		out[i] |= 0x80
	}
	return out
}

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

func u16b(v uint16) []byte { return []byte{byte(v >> 8), byte(v)} }
func u32b(v uint32) []byte { return []byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)} }

// wstr is a WString value: flags 0, type 0x15, VLQ length, UTF-8.
func wstr(s string) []byte { return cat([]byte{0, ptWString}, encVLQ(uint32(len(s))), []byte(s)) }

// blob is a Blob value: flags 0, type 0x14, root id 0, VLQ length, bytes.
func blob(b []byte) []byte { return cat([]byte{0, ptBlob, 0}, encVLQ(uint32(len(b))), b) }

// attrElem is an object attribute: element 0xa3, VLQ id, value.
func attrElem(id uint32, value []byte) []byte { return cat([]byte{elemAttribute}, encVLQ(id), value) }

// objStart opens an object: 0xa1, relation id, class id, class flags 0, attribute id 0.
func objStart(rel, class uint32) []byte {
	return cat([]byte{elemStartObject}, u32b(rel), encVLQ(class), []byte{0, 0})
}

// qualifier is the object qualifier TIA Portal appends to requests.
var qualifier = cat(u32b(1256), encVLQ(1257), []byte{0, ptRID}, u32b(0), encVLQ(1258), []byte{0, ptAID, 0},
	encVLQ(1259), []byte{0, ptUDInt, 0}, []byte{0})

// plusFrame wraps data in header and trailer.
func plusFrame(version byte, data []byte) []byte {
	return cat([]byte{ProtocolIDS7Plus, version}, u16b(uint16(len(data))), data, []byte{ProtocolIDS7Plus, version, 0, 0})
}

// plusFragments splits data into PDUs of at most max data bytes; all but the
// last lack the trailer.
func plusFragments(version byte, data []byte, max int) [][]byte {
	var out [][]byte
	for len(data) > max {
		out = append(out, cat([]byte{ProtocolIDS7Plus, version}, u16b(uint16(max)), data[:max]))
		data = data[max:]
	}
	return append(out, plusFrame(version, data))
}

func reqData(fc, seq uint16, session uint32, body []byte) []byte {
	return cat([]byte{OpcodeRequest, 0, 0}, u16b(fc), []byte{0, 0}, u16b(seq), u32b(session), []byte{0x34}, body)
}

func respData(fc, seq uint16, body []byte) []byte {
	return cat([]byte{OpcodeResponse, 0, 0}, u16b(fc), []byte{0, 0}, u16b(seq), []byte{0x34}, body)
}

// cotpDT frames an S7comm-plus PDU in TPKT and COTP DT (EOT).
func cotpDT(pdu []byte) []byte {
	return cat([]byte{3, 0}, u16b(uint16(len(pdu)+7)), []byte{2, COTPData, 0x80}, pdu)
}

type synthConn struct {
	w          *pcapgo.Writer
	t          *testing.T
	now        time.Time
	cmac, smac net.HardwareAddr
	cip, sip   net.IP
	cport      uint16
	cseq, sseq uint32
}

func (c *synthConn) packet(fromClient bool, flags func(*layers.TCP), payload []byte) {
	eth := &layers.Ethernet{SrcMAC: c.cmac, DstMAC: c.smac, EthernetType: layers.EthernetTypeIPv4}
	ip := &layers.IPv4{Version: 4, TTL: 128, Protocol: layers.IPProtocolTCP, SrcIP: c.cip, DstIP: c.sip, Flags: layers.IPv4DontFragment}
	tcp := &layers.TCP{SrcPort: layers.TCPPort(c.cport), DstPort: 102, Seq: c.cseq, Ack: c.sseq, Window: 8192}
	if !fromClient {
		eth.SrcMAC, eth.DstMAC = c.smac, c.cmac
		ip.SrcIP, ip.DstIP = c.sip, c.cip
		tcp.SrcPort, tcp.DstPort, tcp.Seq, tcp.Ack = 102, layers.TCPPort(c.cport), c.sseq, c.cseq
	}
	flags(tcp)
	if err := tcp.SetNetworkLayerForChecksum(ip); err != nil {
		c.t.Fatal(err)
	}
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true},
		eth, ip, tcp, gopacket.Payload(payload)); err != nil {
		c.t.Fatal(err)
	}
	c.now = c.now.Add(3 * time.Millisecond)
	data := buf.Bytes()
	if err := c.w.WritePacket(gopacket.CaptureInfo{Timestamp: c.now, CaptureLength: len(data), Length: len(data)}, data); err != nil {
		c.t.Fatal(err)
	}
	n := uint32(len(payload))
	if tcp.SYN || tcp.FIN {
		n++
	}
	if fromClient {
		c.cseq += n
	} else {
		c.sseq += n
	}
}

func (c *synthConn) send(fromClient bool, payload []byte) {
	c.packet(fromClient, func(t *layers.TCP) { t.PSH, t.ACK = true, true }, payload)
}

// open runs the TCP handshake and the COTP connection to SIMATIC-ROOT-ES.
func (c *synthConn) open() {
	c.packet(true, func(t *layers.TCP) { t.SYN = true }, nil)
	c.packet(false, func(t *layers.TCP) { t.SYN, t.ACK = true, true }, nil)
	c.packet(true, func(t *layers.TCP) { t.ACK = true }, nil)
	tsap := []byte("SIMATIC-ROOT-ES")
	params := cat([]byte{0xc1, 2, 0x06, 0x00}, []byte{0xc2, byte(len(tsap))}, tsap, []byte{0xc0, 1, 0x0a})
	cr := cat([]byte{byte(6 + len(params)), COTPConnectRequest, 0, 0, 0, 0x1b, 0}, params)
	c.send(true, cat([]byte{3, 0}, u16b(uint16(len(cr)+4)), cr))
	cc := cat([]byte{byte(6 + len(params)), COTPConnectConfirm, 0, 0x1b, 0, 0x01, 0}, params)
	c.send(false, cat([]byte{3, 0}, u16b(uint16(len(cc)+4)), cc))
}

func (c *synthConn) close() {
	c.packet(true, func(t *layers.TCP) { t.FIN, t.ACK = true, true }, nil)
	c.packet(false, func(t *layers.TCP) { t.FIN, t.ACK = true, true }, nil)
	c.packet(true, func(t *layers.TCP) { t.ACK = true }, nil)
}

// setup creates the session: CreateObject (V1) of a ServerSession with the
// client's self-description, the PLC's answer with the PAOM version
// string, and the SetMultiVariables (V2) that writes the session version
// back.
func (c *synthConn) setup(session uint32) {
	create := cat(u32b(285), []byte{0, ptUDInt, 0}, u32b(0),
		objStart(211, plusClassServerSession),
		attrElem(plusAttrObjectName, wstr("ServerSession_ES01")),
		attrElem(plusAttrSessionClientID, wstr("1:::6.0::")),
		attrElem(plusAttrSessionUser, wstr("engineer")),
		attrElem(plusAttrSessionApplication, wstr("TIA Portal")),
		attrElem(plusAttrSessionHost, wstr("ES-PC01")),
		attrElem(plusAttrSessionRole, []byte{0, ptUDInt, 3}),
		attrElem(plusAttrSessionComment, wstr("TIA Portal V12")),
		[]byte{elemEndObject}, u32b(0))
	c.send(true, cotpDT(plusFrame(PlusV1, reqData(PlusCreateObject, 1, plusObjNullSession, create))))
	version := cat([]byte{0, ptStruct}, u32b(314),
		encVLQ(315), []byte{0, ptUDInt}, encVLQ(256),
		encVLQ(plusAttrPAOMSystem), wstr("1;6ES7 214-1AG40-0XB0 ;V4.2"),
		encVLQ(plusAttrPAOMProject), wstr("2;793"),
		[]byte{0})
	resp := cat([]byte{0x11, 1}, encVLQ(session),
		objStart(plusObjNullSession, plusClassServerSession),
		attrElem(plusAttrObjectName, wstr("")),
		attrElem(plusAttrSessionVersion, version),
		[]byte{elemEndObject}, u32b(0))
	c.send(false, cotpDT(plusFrame(PlusV1, respData(PlusCreateObject, 1, resp))))
	set := cat(u32b(session), []byte{1, 1}, encVLQ(plusAttrSessionVersion), []byte{1}, version, []byte{0}, qualifier, u32b(0))
	c.send(true, cotpDT(plusFrame(PlusV2, reqData(PlusSetMultiVariables, 2, session, set))))
	c.send(false, cotpDT(plusFrame(PlusV2, respData(PlusSetMultiVariables, 2, cat([]byte{0, 0}, u32b(0))))))
}

func (c *synthConn) bye(session uint32, seq uint16) {
	c.send(true, cotpDT(plusFrame(PlusV2, reqData(PlusDeleteObject, seq, session, cat(u32b(session), []byte{0}, qualifier, u32b(0))))))
	c.send(false, cotpDT(plusFrame(PlusV2, respData(PlusDeleteObject, seq, cat([]byte{0}, u32b(session), u32b(0))))))
}

const synthOB1 = 0x8a320001

// setVariable writes one attribute of an object.
func (c *synthConn) setVariable(session uint32, seq uint16, obj, attrID uint32, value []byte) {
	body := cat(u32b(obj), []byte{1}, encVLQ(attrID), value, qualifier, []byte{0}, u32b(0))
	c.send(true, cotpDT(plusFrame(PlusV2, reqData(PlusSetVariable, seq, session, body))))
	c.send(false, cotpDT(plusFrame(PlusV2, respData(PlusSetVariable, seq, cat([]byte{0}, u32b(0))))))
}

func synthesize(t *testing.T, path string) {
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w := pcapgo.NewWriter(f)
	if err := w.WriteFileHeader(65535, layers.LinkTypeEthernet); err != nil {
		t.Fatal(err)
	}
	code := bytes.Repeat([]byte{0x70, 0x12, 0x00, 0x40, 0xfb, 0x7c}, 50) // 300 bytes of "MC7+" code
	body := []byte("\x78\x9c<BodyDescription lang=\"LAD\"/>")
	iface := []byte("\x78\x9c<Interface><Section Name=\"Temp\"/></Interface>")
	c := &synthConn{w: w, t: t, now: time.Date(2024, 3, 4, 9, 30, 0, 0, time.UTC),
		cmac: net.HardwareAddr{0x00, 0x1b, 0x21, 0x3c, 0x4d, 0x5e}, smac: net.HardwareAddr{0x28, 0x63, 0x36, 0x8a, 0x10, 0x01},
		cip: net.IP{192, 168, 0, 10}, sip: net.IP{192, 168, 0, 1}, cport: 50123, cseq: 1000, sseq: 9000}

	// Connection 1: upload of OB1.
	c.open()
	const s1 = 0x3e0
	c.setup(s1)
	explore := cat(u32b(plusObjPLCProgram), []byte{0, 1, 0, 1, 0, 0}, qualifier, u32b(0))
	c.send(true, cotpDT(plusFrame(PlusV2, reqData(PlusExplore, 3, s1, explore))))
	tree := cat([]byte{0}, u32b(plusObjPLCProgram), objStart(synthOB1, 2610),
		attrElem(plusAttrBlockNumber, []byte{0, ptUInt, 0, 1}),
		attrElem(plusAttrBlockLanguage, []byte{0, ptUInt, 0, 2}),
		attrElem(plusAttrKnowhowProtected, []byte{0, ptBool, 0}),
		[]byte{elemEndObject}, u32b(0))
	c.send(false, cotpDT(plusFrame(PlusV2, respData(PlusExplore, 3, tree))))
	sub := cat(u32b(synthOB1), []byte{pfAddrArray, ptUDInt, 1}, encVLQ(2533), qualifier, []byte{0, 1}, u32b(0))
	c.send(true, cotpDT(plusFrame(PlusV2, reqData(PlusGetVarSubStreamed, 4, s1, sub))))
	c.send(false, cotpDT(plusFrame(PlusV2, respData(PlusGetVarSubStreamed, 4, cat([]byte{0, 0}, blob(body), u32b(0))))))
	item := func(a uint32) []byte { return cat([]byte{0}, encVLQ(synthOB1), []byte{1}, encVLQ(a)) }
	multi := cat(u32b(0), []byte{2, 6}, item(2580), item(2544), qualifier, u32b(0))
	c.send(true, cotpDT(plusFrame(PlusV2, reqData(PlusGetMultiVariables, 5, s1, multi))))
	vals := cat([]byte{0}, []byte{1}, blob(code), []byte{2}, blob(iface), []byte{0, 0}, u32b(0))
	c.send(false, cotpDT(plusFrame(PlusV2, respData(PlusGetMultiVariables, 5, vals))))
	getv := cat(u32b(synthOB1), []byte{1}, encVLQ(2584), qualifier, u32b(0))
	c.send(true, cotpDT(plusFrame(PlusV2, reqData(PlusGetVariable, 6, s1, getv))))
	c.send(false, cotpDT(plusFrame(PlusV2, respData(PlusGetVariable, 6, cat([]byte{0}, blob([]byte("\x78\x9c<Comments/>")), u32b(0))))))
	c.bye(s1, 7)
	c.close()

	// Connection 2: legitimation, stop, download of OB1, delete of FC1, start.
	c.cport, c.cseq, c.sseq = 50124, 5000, 70000
	c.open()
	const s2 = 0x3e2
	c.setup(s2)
	prot := cat(u32b(s2), []byte{pfAddrArray, ptUDInt, 1}, encVLQ(plusAttrEffectiveProtection), qualifier, []byte{0, 1}, u32b(0))
	c.send(true, cotpDT(plusFrame(PlusV2, reqData(PlusGetVarSubStreamed, 3, s2, prot))))
	c.send(false, cotpDT(plusFrame(PlusV2, respData(PlusGetVarSubStreamed, 3, cat([]byte{0, 0}, []byte{0, ptUDInt, 3}, u32b(0))))))
	answer := cat([]byte{pfArray, ptUSInt, 20}, bytes.Repeat([]byte{0x5a}, 20))
	c.setVariable(s2, 4, s2, plusAttrSessionResponse, answer)
	c.setVariable(s2, 5, plusObjCPUexecUnit, plusAttrOperatingStateREQ, []byte{0, ptDInt, 1})
	begin := cat([]byte{1}, u16b(1), []byte{0}, objStart(0x7fffc001, plusClassTransaction), []byte{elemEndObject}, u32b(0))
	c.send(true, cotpDT(plusFrame(PlusV2, reqData(PlusBeginSequence, 6, s2, begin))))
	c.send(false, cotpDT(plusFrame(PlusV2, respData(PlusBeginSequence, 6, cat([]byte{0}, u16b(1), u32b(0x7fffc001), u32b(0))))))
	ob1 := cat(u32b(plusObjPLCProgram), []byte{0, ptUDInt, 0}, u32b(0), []byte{0x07}, // integrity id
		objStart(synthOB1, 2610),
		attrElem(plusAttrBlockNumber, []byte{0, ptUInt, 0, 1}),
		attrElem(plusAttrBlockLanguage, []byte{0, ptUInt, 0, 2}),
		attrElem(plusAttrKnowhowProtected, []byte{0, ptBool, 0}),
		attrElem(2580, blob(code)),
		attrElem(2533, blob(body)),
		attrElem(2544, blob(iface)),
		[]byte{elemEndObject}, u32b(0))
	for _, frag := range plusFragments(PlusV2, reqData(PlusCreateObject, 7, s2, ob1), 240) {
		c.send(true, cotpDT(frag))
	}
	c.send(false, cotpDT(plusFrame(PlusV2, respData(PlusCreateObject, 7, cat([]byte{0, 1}, encVLQ(synthOB1), u32b(0))))))
	del := cat(u32b(0x8a130001), []byte{0}, qualifier, u32b(0))
	c.send(true, cotpDT(plusFrame(PlusV2, reqData(PlusDeleteObject, 8, s2, del))))
	c.send(false, cotpDT(plusFrame(PlusV2, respData(PlusDeleteObject, 8, cat([]byte{0}, u32b(0x8a130001), u32b(0))))))
	c.send(true, cotpDT(plusFrame(PlusV2, reqData(PlusEndSequence, 9, s2, cat([]byte{0, 0}, u32b(0))))))
	c.send(false, cotpDT(plusFrame(PlusV2, respData(PlusEndSequence, 9, cat([]byte{0}, u32b(0))))))
	c.setVariable(s2, 10, plusObjCPUexecUnit, plusAttrOperatingStateREQ, []byte{0, ptDInt, 3})
	c.bye(s2, 11)
	c.close()
}

// TestSynthesize rewrites the synthetic capture with -synth, and otherwise
// checks that the committed file is what the generator makes.
func TestSynthesize(t *testing.T) {
	if *synth {
		synthesize(t, synthPath)
		return
	}
	tmp := t.TempDir() + "/synth.pcap"
	synthesize(t, tmp)
	want, err := os.ReadFile(synthPath)
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(tmp)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s is not what the generator makes (%d vs %d bytes): run go test -run TestSynthesize -synth", synthPath, len(want), len(got))
	}
}
