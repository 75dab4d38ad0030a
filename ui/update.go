package ui

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"
)

// Appliance updates: an admin uploads a signed bundle; the backend only
// stores it (the appliance's PID 1 verifies and installs it, the daemon has
// no rights on block devices) and reports the installer's state.

// MaxUpdateBody bounds an uploaded bundle (the request body of
// POST /api/system/update; every other request is held to 4 MiB).
const MaxUpdateBody = 256 << 20

// UpdateStore is implemented by backends that take update bundles.
type UpdateStore interface {
	// StoreUpdate keeps the bundle read from r for the installer. It may
	// refuse at once what cannot be installed (not a bundle, wrong key or
	// architecture); an *UpdateError says with which HTTP status.
	StoreUpdate(r io.Reader, up UpdateUpload) (UpdateAccepted, error)
	// UpdateState is the installer's state and the slots.
	UpdateState() UpdateState
}

// UpdateUpload is who uploads and how.
type UpdateUpload struct {
	User           string
	Addr           string
	AllowDowngrade bool // install a bundle built before the running version
}

// UpdateAccepted is what the backend stored.
type UpdateAccepted struct {
	Version string `json:"version"`
	Arch    string `json:"arch"`
	Size    int64  `json:"size"`
	Detail  string `json:"detail"`
}

// UpdateState is the appliance's update state (GET /api/system/update).
type UpdateState struct {
	Supported bool   `json:"supported"`
	Reason    string `json:"reason,omitempty"` // why updates are not supported here
	// State: idle, installing, rebooting, trial, trial_failed, refused,
	// rolled_back, failed.
	State   string       `json:"state,omitempty"`
	Detail  string       `json:"detail,omitempty"`
	Running string       `json:"running,omitempty"` // the slot booted
	Trial   bool         `json:"trial"`             // not yet marked good
	Pending bool         `json:"pending"`           // an upload waits for the installer
	Slots   []UpdateSlot `json:"slots"`
	Last    *UpdateStep  `json:"last_step,omitempty"`
}

// UpdateSlot is one root slot.
type UpdateSlot struct {
	Name    string `json:"name"`
	Version string `json:"version,omitempty"`
	State   string `json:"state"` // good, trial, empty, retired
	Tries   int    `json:"tries_left,omitempty"`
	Running bool   `json:"running,omitempty"`
}

// UpdateStep is one step of an update, as the installer journalled it.
type UpdateStep struct {
	TS      time.Time `json:"ts"`
	Step    string    `json:"step"`
	OK      bool      `json:"ok"`
	Version string    `json:"version,omitempty"`
	Detail  string    `json:"detail"`
}

// UpdateError is a refusal with its HTTP status.
type UpdateError struct {
	Code int
	Msg  string
}

func (e *UpdateError) Error() string { return e.Msg }

func (s *Server) updateStore() (UpdateStore, error) {
	st, ok := s.backend.(UpdateStore)
	if !ok {
		return nil, echo.NewHTTPError(http.StatusNotImplemented, "this installation does not take update bundles (only the appliance image does)")
	}
	return st, nil
}

// getUpdate answers 200 everywhere: off the appliance the state says
// updates are not supported here (the system page shows nothing then).
func (s *Server) getUpdate(c echo.Context) error {
	st, ok := s.backend.(UpdateStore)
	if !ok {
		return c.JSON(http.StatusOK, UpdateState{Reason: "this installation does not take update bundles (only the appliance image does)", Slots: []UpdateSlot{}})
	}
	u := st.UpdateState()
	if u.Slots == nil {
		u.Slots = []UpdateSlot{}
	}
	return c.JSON(http.StatusOK, u)
}

// postUpdate takes a bundle as the raw request body
// (application/octet-stream); ?allow_downgrade=1 permits an older build.
func (s *Server) postUpdate(c echo.Context) error {
	id := who(c)
	st, err := s.updateStore()
	if err != nil {
		s.record(c, id.User, "update.upload", "", err)
		return err
	}
	// a bundle over a slow plant link takes longer than the server's
	// read timeout for ordinary requests
	http.NewResponseController(c.Response().Writer).SetReadDeadline(time.Now().Add(15 * time.Minute))
	up := UpdateUpload{User: id.User, Addr: c.RealIP(), AllowDowngrade: c.QueryParam("allow_downgrade") == "1"}
	acc, err := st.StoreUpdate(c.Request().Body, up)
	target := acc.Version
	if up.AllowDowngrade {
		target += " (downgrade allowed)"
	}
	s.record(c, id.User, "update.upload", target, err)
	if err != nil {
		var ue *UpdateError
		var mbe *http.MaxBytesError
		switch {
		case errors.As(err, &mbe):
			return echo.NewHTTPError(http.StatusRequestEntityTooLarge, fmt.Sprintf("a bundle is at most %d MiB", MaxUpdateBody>>20))
		case errors.As(err, &ue):
			return echo.NewHTTPError(ue.Code, ue.Msg)
		}
		return echo.NewHTTPError(http.StatusUnprocessableEntity, err.Error())
	}
	s.cfg.Logf("ui: %s uploaded update bundle %s (%d bytes) from %s", id.User, acc.Version, acc.Size, c.RealIP())
	return c.JSON(http.StatusAccepted, acc)
}

// Audit appends an entry that did not come from a request (the appliance's
// installer reports its steps through the daemon).
func (s *Server) Audit(e AuditEntry) error { return s.audit.Record(e) }
