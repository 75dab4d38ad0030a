package s7comm_test

import (
	"fmt"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/otwatch/otwatch/learning/baseline"
	"github.com/otwatch/otwatch/protocols"
	"github.com/otwatch/otwatch/protocols/corpustest"
	"github.com/otwatch/otwatch/protocols/s7comm"
	"github.com/otwatch/otwatch/protocols/testkit"
)

// TestPlusProgramTransfer replays the synthetic transfer capture: the upload
// of OB1 is three program_upload transactions, the download stops the CPU,
// creates OB1 (from two fragments), deletes FC1, commits the sequence and
// starts the CPU.
func TestPlusProgramTransfer(t *testing.T) {
	txs, _ := corpustest.Replay(t, filepath.Join("testdata", "s7comm_plus_program_synthetic.pcap"))
	var ops []string
	for i := range txs {
		tx := &txs[i]
		if len(tx.Anomalies) > 0 {
			t.Errorf("frame %d: anomalies %v", tx.RequestFrame, tx.Anomalies)
		}
		switch tx.Op {
		case protocols.OpProgramUpload, protocols.OpProgramDownload, protocols.OpStop, protocols.OpStart:
			ops = append(ops, fmt.Sprintf("%s %s %s", tx.Op, tx.CodeName, tx.Attr("block")))
		}
	}
	want := []string{
		"program_upload get_var_sub_streamed OB1",
		"program_upload get_multi_variables OB1",
		"program_upload get_variable OB1",
		"stop set_variable ",
		"program_download create_object OB1",
		"program_download delete_object FC1",
		"program_download end_sequence ",
		"start set_variable ",
	}
	if strings.Join(ops, "\n") != strings.Join(want, "\n") {
		t.Errorf("operations:\n%s\nwant:\n%s", strings.Join(ops, "\n"), strings.Join(want, "\n"))
	}
	for i := range txs {
		if tx := &txs[i]; tx.CodeName == "create_object" && tx.Op == protocols.OpProgramDownload {
			// the first fragment carries opcode and function: the request is reported there
			if tx.RequestFrame != 40 || tx.Attr("knowhow_protected") != "false" || tx.Attr("block_language") != "lad_classic" {
				t.Errorf("download of OB1: frame %d, detail %v", tx.RequestFrame, tx.Attrs)
			}
		}
	}
}

// TestPlusCorpusWrites: on every S7comm-plus capture of the corpus, each
// write request decodes its values, and no PDU is malformed for the decoder.
func TestPlusCorpusWrites(t *testing.T) {
	writes, values := 0, 0
	for _, c := range corpustest.Captures(t, "s7comm-plus") {
		txs, _ := corpustest.Replay(t, c.Path)
		for i := range txs {
			tx := &txs[i]
			if tx.Proto != "s7comm-plus" {
				continue
			}
			for _, a := range tx.Anomalies {
				if strings.HasPrefix(a, "s7comm_plus.invalid") {
					t.Errorf("%s frame %d: %s", c.Rel, tx.RequestFrame, a)
				}
			}
			if tx.RequestFrame == 0 || !strings.HasPrefix(tx.CodeName, "set_") || tx.Op == protocols.OpSession {
				continue
			}
			writes++
			values += len(tx.Values)
			if len(tx.Values) == 0 {
				t.Errorf("%s frame %d: %s to %v without values", c.Rel, tx.RequestFrame, tx.CodeName, tx.Targets)
			}
		}
	}
	t.Logf("%d S7comm-plus writes, %d values decoded", writes, values)
	if writes < 260 {
		t.Errorf("only %d S7comm-plus writes in the corpus (230 SetVariable in modbusBig alone)", writes)
	}
}

// TestPlusCorpusIdentity: the S7-1511 and the S7-1200s of the corpus tell
// their order number and firmware in the session setup, with the frame of
// the CreateObject response as provenance.
func TestPlusCorpusIdentity(t *testing.T) {
	root := corpustest.Dir(t)
	tests := []struct {
		capture, order, firmware string
		frame                    uint64
	}{
		{"ITI__ICS-Security-Tools/pcaps/s7/S7-1511_db2_var1_HMI.pcap", "6ES7 511-1AK00-0AB0", "V1.0", 7},
		{"ITI__ICS-Security-Tools/pcaps/s7/V13_1200_TP1200sim_MW100_Int_SPS_5s_MW102_Int_SPS_10s_MW102_ab_1000_Timer_sync.pcapng",
			"6ES7 214-1HE30-0XB0", "V2.2", 8},
		{"ntop__nDPI/tests/cfgs/default/pcap/s7comm-plus.pcap", "6ES7 211-1BE31-0XB0", "V3.0", 12},
	}
	for _, tc := range tests {
		t.Run(filepath.Base(tc.capture), func(t *testing.T) {
			txs, _ := corpustest.Replay(t, filepath.Join(root, tc.capture))
			got := map[string]string{}
			var frame uint64
			for i := range txs {
				for _, f := range protocols.IdentityOf(&txs[i]) {
					if f.OfClient {
						continue
					}
					if _, seen := got[f.Field]; !seen {
						got[f.Field] = f.Value
						if frame == 0 {
							frame = txs[i].ResponseFrame
						}
					}
				}
			}
			if got["order_number"] != tc.order || got["firmware"] != tc.firmware || frame != tc.frame {
				t.Errorf("identity %v from frame %d, want %s %s from frame %d", got, frame, tc.order, tc.firmware, tc.frame)
			}
		})
	}
}

// TestPlusValueModel: S7comm-plus writes feed the value models as classic
// S7comm writes do: an HMI writing INT 10..20 to M100 while learning, then
// 5000, raises value_out_of_range; a value inside the range raises nothing.
func TestPlusValueModel(t *testing.T) {
	write := func(v int16) *protocols.Transaction {
		raw := testkit.Hex(t, fmt.Sprintf(`72 02 0020 31 0000 0542 0000 0004 00000398 34
			00000000 01 07 00 52 04 9d18 03 64 02 // M100, 2 bytes (absolute)
			01 00 07 %04x                         // item 1: INT
			72020000`, uint16(v)))
		p, err := s7comm.DecodePlus(raw)
		if err != nil {
			t.Fatal(err)
		}
		tx := &protocols.Transaction{}
		s7comm.DecodePlusRequest(&p, tx)
		tx.Client = protocols.Endpoint{IP: netip.MustParseAddr("10.0.0.5"), Port: 50000, LinkAddress: -1}
		tx.Server = protocols.Endpoint{IP: netip.MustParseAddr("10.0.0.1"), Port: 102, LinkAddress: -1}
		tx.RequestFrame, tx.ResponseFrame, tx.Outcome = 1, 2, protocols.OutcomeOK
		return tx
	}
	m := baseline.New(baseline.Config{Mode: baseline.ModeLearn})
	start := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := 0; i < 200; i++ {
		tx := write(int16(10 + i%11))
		tx.RequestTime = start.Add(time.Duration(i) * time.Second)
		tx.ResponseTime = tx.RequestTime
		m.Observe(tx)
	}
	m.SetMode(baseline.ModeDetect)
	kinds := func(v int16) []string {
		tx := write(v)
		tx.RequestTime = start.Add(time.Hour)
		tx.ResponseTime = tx.RequestTime
		var out []string
		for _, f := range m.Observe(tx) {
			out = append(out, f.Kind())
		}
		return out
	}
	if got := kinds(15); len(got) != 0 {
		t.Errorf("a learned value raised %v", got)
	}
	if got := kinds(5000); strings.Join(got, ",") != "value_out_of_range" {
		t.Errorf("5000 to M100 raised %v, want value_out_of_range", got)
	}
}
