package ui

import (
	"encoding/json"
	"fmt"
	"net/http"
	"path"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
)

// AdvisorySource is implemented by backends that rank the assets against
// imported security advisories (learning/advisories): the "Patch first"
// page, and its admin upload. Without it the routes answer 404.
type AdvisorySource interface {
	// Advisories is the ranked patch list (learning/advisories.Report).
	Advisories() (json.RawMessage, error)
	// ImportAdvisories imports a feed bundle: CSAF 2.0 documents, CISA's
	// KEV catalog, and the hash (NAME.sha256, NAME.sha512, SHA256SUMS)
	// and signature (NAME.asc) files beside them.
	ImportAdvisories(files map[string][]byte, user string) (AdvisoryImport, error)
}

// AdvisoryImport is what an import did.
type AdvisoryImport struct {
	Summary  string            `json:"summary"` // what was read, with the bundle's digest
	Changes  string            `json:"changes"` // what the stored feed now holds
	Digest   string            `json:"digest"`  // SHA-256 over the documents' hashes
	Problems []AdvisoryProblem `json:"problems"`
}

// AdvisoryProblem is a refused file.
type AdvisoryProblem struct {
	File  string `json:"file"`
	Error string `json:"error"`
}

// AdvisoryUpload is the body of POST /api/advisories: the files of one
// batch. A browser sends a large bundle in several batches (each request
// is capped at 4 MiB); a document travels with its hash and signature files.
type AdvisoryUpload struct {
	Files []UploadFile `json:"files"`
}

// UploadFile is one uploaded file: its name (a relative path) and text.
type UploadFile struct {
	Name    string `json:"name"`
	Content string `json:"content"`
}

// maxUploadFiles bounds one batch.
const maxUploadFiles = 2000

func (s *Server) advisorySource() (AdvisorySource, error) {
	src, ok := s.backend.(AdvisorySource)
	if !ok {
		return nil, echo.NewHTTPError(http.StatusNotFound, "advisories are not available here")
	}
	return src, nil
}

func (s *Server) getAdvisories(c echo.Context) error {
	src, err := s.advisorySource()
	if err != nil {
		return err
	}
	raw, err := src.Advisories()
	if err != nil {
		return err
	}
	return c.JSONBlob(http.StatusOK, raw)
}

// checkUpload validates a batch: names relative and clean, no duplicates.
func checkUpload(u AdvisoryUpload) (map[string][]byte, error) {
	if len(u.Files) == 0 {
		return nil, fmt.Errorf("files: none")
	}
	if len(u.Files) > maxUploadFiles {
		return nil, fmt.Errorf("files: %d in one batch, at most %d", len(u.Files), maxUploadFiles)
	}
	out := make(map[string][]byte, len(u.Files))
	for i, f := range u.Files {
		name := strings.ReplaceAll(f.Name, "\\", "/")
		if name == "" || strings.HasPrefix(name, "/") || path.Clean(name) != name || strings.HasPrefix(name, "../") || name == ".." || len(name) > 512 {
			return nil, fmt.Errorf("files[%d]: name %q: want a relative path", i, f.Name)
		}
		if _, dup := out[name]; dup {
			return nil, fmt.Errorf("files[%d]: %q given twice", i, name)
		}
		out[name] = []byte(f.Content)
	}
	return out, nil
}

func (s *Server) postAdvisories(c echo.Context) error {
	src, err := s.advisorySource()
	if err != nil {
		return err
	}
	var u AdvisoryUpload
	if err := bindJSON(c, &u); err != nil {
		return err
	}
	files, err := checkUpload(u)
	if err != nil {
		s.recordDetail(c, "advisories.import", "", "", err)
		return badRequest("%v", err)
	}
	names := make([]string, 0, len(u.Files))
	for _, f := range u.Files {
		names = append(names, f.Name)
	}
	target := strings.Join(names, " ")
	if len(target) > 300 {
		target = fmt.Sprintf("%s … (%d files)", target[:300], len(names))
	}
	res, err := src.ImportAdvisories(files, who(c).User)
	// the bundle's digest and how each document was checked go to the audit log
	s.recordDetail(c, "advisories.import", target, res.Summary+"; "+res.Changes, err)
	if err != nil {
		return badRequest("%v", err)
	}
	if res.Problems == nil {
		res.Problems = []AdvisoryProblem{}
	}
	return c.JSON(http.StatusOK, res)
}

// recordDetail writes an audit entry with a detail on success too.
func (s *Server) recordDetail(c echo.Context, action, target, detail string, err error) {
	e := AuditEntry{TS: time.Now(), Addr: c.RealIP(), Action: action, Target: target, OK: err == nil, Detail: detail}
	if id := who(c); id.User != "" {
		e.User, e.Role = id.User, id.Role
	}
	if err != nil {
		e.Detail = err.Error()
	}
	if werr := s.audit.Record(e); werr != nil {
		s.cfg.Logf("ui: audit log: %v", werr)
	}
}
