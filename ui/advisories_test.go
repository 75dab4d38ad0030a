package ui_test

import (
	"encoding/json"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/otwatch/otwatch/ui"
)

func TestAdvisoriesAPI(t *testing.T) {
	b := replayed(t)
	srv := newServer(t, b, "")
	c := adminClient(t, srv)
	csrf := map[string]string{ui.CSRFHeader: c.csrf}
	doc, err := os.ReadFile("../learning/advisories/testdata/csaf/icsa-19-283-02.json")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := json.Marshal(ui.AdvisoryUpload{Files: []ui.UploadFile{{Name: "2019/icsa-19-283-02.json", Content: string(doc)},
		{Name: "bad.json", Content: "{"}}})
	var res ui.AdvisoryImport
	if code := c.json("POST", "/api/advisories", string(body), csrf, &res); code != http.StatusOK {
		t.Fatalf("import: %d", code)
	}
	if !strings.Contains(res.Summary, "1 CSAF advisories") || len(res.Problems) != 1 || res.Problems[0].File != "bad.json" || len(res.Digest) != 64 {
		t.Errorf("import result %+v", res)
	}
	var rep struct {
		PatchFirst []struct {
			Asset string
			CVEs  []struct{ ID string } `json:"cves"`
		} `json:"patch_first"`
	}
	if code := c.json("GET", "/api/advisories", "", nil, &rep); code != http.StatusOK || len(rep.PatchFirst) != 2 {
		t.Fatalf("report: %d %+v", code, rep)
	}
	// names must be relative paths; one batch names a file once; the body must hold files
	for _, bad := range []string{`{"files":[{"name":"../etc/x.json","content":"{}"}]}`, `{"files":[{"name":"/x.json","content":"{}"}]}`,
		`{"files":[{"name":"a/./b.json","content":"{}"}]}`, `{"files":[{"name":"a.json","content":"{}"},{"name":"a.json","content":"{}"}]}`,
		`{"files":[]}`, `{"files":[{"name":"a.json","content":"{}","extra":1}]}`} {
		if code := c.json("POST", "/api/advisories", bad, csrf, nil); code != http.StatusBadRequest {
			t.Errorf("%s: %d", bad, code)
		}
	}
	// a viewer reads the ranking and may not import
	if err := srv.Auth().CreateUser("viewer", testPassword, ui.RoleViewer); err != nil {
		t.Fatal(err)
	}
	v := newClient(t, srv.Handler())
	v.login("viewer", testPassword)
	if code := v.json("GET", "/api/advisories", "", nil, nil); code != http.StatusOK {
		t.Errorf("viewer GET: %d", code)
	}
	if code := v.json("POST", "/api/advisories", string(body), map[string]string{ui.CSRFHeader: v.csrf}, nil); code != http.StatusForbidden {
		t.Errorf("viewer POST: %d", code)
	}
}
