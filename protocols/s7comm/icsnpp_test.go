package s7comm_test

import (
	"fmt"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/otwatch/otwatch/protocols"
	"github.com/otwatch/otwatch/protocols/corpustest"
)

func sameMultiset(t *testing.T, what string, want, got []string) {
	t.Helper()
	sort.Strings(want)
	sort.Strings(got)
	if strings.Join(want, "\n") != strings.Join(got, "\n") {
		t.Errorf("%s differ from ICSNPP:\n ours:   %v\n icsnpp: %v", what, got, want)
	}
}

func attrOf(tx *protocols.Transaction, k string) string { return tx.Attr(k) }

// TestICSNPPBaselines compares with the Zeek ICSNPP-S7comm btest baselines
// shipped beside its traces: per-PDU functions (s7comm.log), SZL ids
// (s7comm_read_szl.log), uploaded blocks (s7comm_upload_download.log), the
// device identity (s7comm_known_devices.log) and S7comm-plus function counts
// (s7comm_plus.log).
func TestICSNPPBaselines(t *testing.T) {
	root := filepath.Join(corpustest.Dir(t), "cisagov__icsnpp-s7comm", "tests")
	replay := map[string][]protocols.Transaction{}
	for _, name := range []string{"snap7", "s7ident", "s7comm_plus"} {
		replay[name], _ = corpustest.Replay(t, filepath.Join(root, "traces", name+".pcap"))
	}

	t.Run("s7comm.log", func(t *testing.T) {
		for name, txs := range replay {
			var want, got []string
			for _, r := range corpustest.ZeekRecords(t, filepath.Join(root, "baseline", "analyzer."+name, "s7comm.log")) {
				fc, err := strconv.ParseUint(r["function_code"], 0, 8)
				if err != nil {
					continue // an ack without parameter names no function
				}
				switch r["rosctr_code"] {
				case "1":
					want = append(want, fmt.Sprintf("request %d", fc))
				case "2", "3":
					want = append(want, fmt.Sprintf("response %d", fc))
				case "7":
					dir := "response"
					if fc>>4 == 4 || fc>>4 == 7 {
						dir = "request"
					}
					sub, _ := strconv.ParseUint(r["subfunction_code"], 0, 8)
					want = append(want, fmt.Sprintf("%s %d/%d", dir, fc&0x0f, sub))
				}
			}
			for i := range txs {
				tx := &txs[i]
				// ICSNPP logs neither the follow-up request of a multi-unit userdata
				// response (nor its answer), nor an ack_data whose header carries an
				// error class (its parameter still names the function; tshark counts it).
				if tx.Proto != "s7comm" || tx.Attr("continuation") == "true" {
					continue
				}
				response := tx.ResponseFrame != 0
				if tx.Outcome == protocols.OutcomeException && tx.ExceptionCode > 0xff && !tx.HasSubcode {
					response = false
				}
				code := strconv.Itoa(tx.Code)
				if tx.HasSubcode {
					code += "/" + strconv.Itoa(tx.Subcode)
				}
				if tx.RequestFrame != 0 {
					got = append(got, "request "+code)
				}
				if response {
					got = append(got, "response "+code)
				}
			}
			sameMultiset(t, name+" PDUs", want, got)
		}
	})

	t.Run("s7comm_read_szl.log", func(t *testing.T) {
		var want, got []string
		for _, r := range corpustest.ZeekRecords(t, filepath.Join(root, "baseline", "analyzer.snap7", "s7comm_read_szl.log")) {
			if r["method"] == "Request" {
				want = append(want, r["szl_id"]+" "+r["szl_index"])
			}
		}
		for i := range replay["snap7"] {
			tx := &replay["snap7"][i]
			if tx.RequestFrame != 0 && tx.Code == 4 && tx.Subcode == 1 && tx.Attr("continuation") == "" {
				got = append(got, attrOf(tx, "szl_id")+" "+attrOf(tx, "szl_index"))
			}
		}
		sameMultiset(t, "SZL reads", want, got)
	})

	t.Run("s7comm_upload_download.log", func(t *testing.T) {
		names := map[string]string{"System Data Block": "sdb", "Organization Block": "ob", "Data Block": "db",
			"Function": "fc", "Function Block": "fb", "System Function": "sfc", "System Function Block": "sfb"}
		var want, got []string
		for _, r := range corpustest.ZeekRecords(t, filepath.Join(root, "baseline", "analyzer.snap7", "s7comm_upload_download.log")) {
			if r["rosctr"] == "Job-Request" && r["filename"] != "-" {
				n, _ := strconv.Atoi(r["block_number"])
				want = append(want, fmt.Sprintf("%s %s %d", r["filename"], names[r["block_type"]], n))
			}
		}
		for i := range replay["snap7"] {
			tx := &replay["snap7"][i]
			if tx.RequestFrame != 0 && tx.Code >= 0x1a && tx.Code <= 0x1f && attrOf(tx, "filename") != "" {
				got = append(got, attrOf(tx, "filename")+" "+attrOf(tx, "block_type")+" "+attrOf(tx, "block_number"))
			}
		}
		sameMultiset(t, "uploaded blocks", want, got)
	})

	t.Run("s7comm_known_devices.log", func(t *testing.T) {
		rows := corpustest.ZeekRecords(t, filepath.Join(root, "baseline", "analyzer.s7ident", "s7comm_known_devices.log"))
		if len(rows) != 1 {
			t.Fatalf("%d rows in the baseline", len(rows))
		}
		var id *protocols.Transaction
		for i := range replay["s7ident"] {
			if tx := &replay["s7ident"][i]; tx.Attr("szl_id") == "0x001c" && tx.Attr("serial") != "" {
				id = tx
			}
		}
		if id == nil {
			t.Fatal("no SZL 0x001C identity decoded")
		}
		plant := rows[0]["plant_name"]
		if plant == "(empty)" {
			plant = ""
		}
		for k, v := range map[string]string{"automation_system_name": rows[0]["automation_system_name"],
			"module_name": rows[0]["module_name"], "plant_designation": plant, "serial": rows[0]["module_serial"]} {
			if got := id.Attr(k); got != v {
				t.Errorf("%s = %q, ICSNPP %q", k, got, v)
			}
		}
	})

	t.Run("s7comm_plus.log", func(t *testing.T) {
		var want, got []string
		for _, r := range corpustest.ZeekRecords(t, filepath.Join(root, "baseline", "analyzer.s7comm_plus", "s7comm_plus.log")) {
			if r["function_code"] != "-" {
				fc, _ := strconv.ParseUint(r["function_code"], 0, 16)
				want = append(want, fmt.Sprintf("%s %d v%s", r["opcode"], fc, r["version"]))
			}
		}
		for i := range replay["s7comm_plus"] {
			tx := &replay["s7comm_plus"][i]
			if tx.Proto != "s7comm-plus" {
				continue
			}
			if tx.RequestFrame != 0 {
				got = append(got, fmt.Sprintf("0x31 %d v%s", tx.Code, tx.Attr("version")))
			}
			if tx.ResponseFrame != 0 {
				got = append(got, fmt.Sprintf("0x32 %d v%s", tx.Code, tx.Attr("version")))
			}
		}
		sameMultiset(t, "S7comm-plus functions and versions", want, got)
	})
}
