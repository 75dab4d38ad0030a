package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/otwatch/otwatch/cmd/otwatch/config"
	"github.com/otwatch/otwatch/learning/advisories"
	"github.com/otwatch/otwatch/learning/store"
)

// The operator's commands on the state (alerts list and incidents,
// inventory export, baseline export and diff) read the state file. While
// the daemon runs it holds the file, and bbolt's lock keeps even a
// read-only open out; so the daemon also answers on a unix socket beside
// the file (its path + ".sock") with the very snapshots a checkpoint would
// write, and the commands ask it there. The socket is as private as the
// file (mode 0600, the daemon's user): whoever may read the state may ask.
// This is the management side of the box, never a monitored interface.

// socketPath is where the daemon holding db answers.
func socketPath(db string) string { return db + ".sock" }

// readOnlyWait is how long a read-only open waits for a writer that is
// about to finish (a checkpoint of `otwatch read --db`).
const readOnlyWait = 500 * time.Millisecond

// stateFlags are --db and --config, shared by the commands on the state.
type stateFlags struct{ db, config string }

func addStateFlags(fs *flag.FlagSet) *stateFlags {
	s := &stateFlags{}
	fs.StringVar(&s.db, "db", "", "state `FILE` (default: the database.path of --config)")
	fs.StringVar(&s.config, "config", "/etc/otwatch/otwatch.conf", "configuration `FILE` naming the database, when --db is not given")
	return s
}

// path is the state file: --db, or the configuration's database.path.
func (s *stateFlags) path() (string, error) {
	if s.db != "" {
		return s.db, nil
	}
	cfg, err := config.Load(s.config)
	if err != nil {
		return "", fmt.Errorf("give --db FILE, or --config FILE naming database.path:\n%v", err)
	}
	return cfg.Database.Path, nil
}

// loadState fills comps from the running daemon that holds the state file
// at path (its live state, fresher than the last checkpoint), else from the
// file. It says where the state came from.
func loadState(path string, comps map[string]store.Component) (string, error) {
	var serr error
	if _, err := os.Stat(socketPath(path)); err == nil {
		snaps, err := askDaemonState(path)
		if err == nil {
			for name, c := range comps {
				if b, ok := snaps[name]; ok {
					if err := c.UnmarshalState(b); err != nil {
						return "", fmt.Errorf("%s: state %q from the daemon unreadable: %w", socketPath(path), name, err)
					}
				}
			}
			return socketPath(path), nil
		}
		serr = err // a socket left by a daemon that died: the file is free
	}
	st, err := store.OpenReadOnly(path, readOnlyWait)
	if err != nil {
		if errors.Is(err, store.ErrInUse) {
			if serr == nil {
				serr = errors.New("no socket")
			}
			return "", fmt.Errorf("%w, and no daemon answers on %s (%v): stop the other process, or try again when it is done", err, socketPath(path), serr)
		}
		return "", err
	}
	defer st.Close()
	return path, st.Load(comps)
}

// stateReply is the daemon's answer to GET /v1/state.
type stateReply struct {
	Components map[string][]byte `json:"components"`
}

func localClient(db string) *http.Client {
	sock := socketPath(db)
	return &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", sock)
		}}}
}

func askDaemonState(db string) (map[string][]byte, error) {
	var r stateReply
	if err := getLocal(db, "/v1/state", &r); err != nil {
		return nil, err
	}
	return r.Components, nil
}

// getLocal decodes the JSON the daemon answers at path on its socket.
func getLocal(db, path string, v any) error {
	resp, err := localClient(db).Get("http://otwatch" + path)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return fmt.Errorf("%s: %s", resp.Status, strings.TrimSpace(string(b)))
	}
	return json.NewDecoder(resp.Body).Decode(v)
}

// daemonAnswers says whether a daemon listens on the state file's socket.
func daemonAnswers(db string) bool {
	c, err := net.DialTimeout("unix", socketPath(db), time.Second)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

// askDaemonMarkNormal marks an alert normal in the running daemon.
func askDaemonMarkNormal(db, id string) error {
	resp, err := localClient(db).Post("http://otwatch/v1/alerts/"+url.PathEscape(id)+"/normal", "text/plain", nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return errors.New(strings.TrimSpace(string(b)))
	}
	return nil
}

// serveLocal answers the commands on the state over the unix socket
// beside the database, until the daemon stops.
func (d *daemon) serveLocal() error {
	sock := socketPath(d.db.Path())
	// The daemon holds the database's lock, so a socket left here is from
	// a daemon that died: nobody answers on it.
	if err := os.Remove(sock); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("local socket: %w", err)
	}
	ln, err := net.Listen("unix", sock)
	if err != nil {
		return fmt.Errorf("local socket: %w", err)
	}
	if err := os.Chmod(sock, 0o600); err != nil {
		ln.Close()
		return fmt.Errorf("local socket: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/state", d.localState)
	mux.HandleFunc("POST /v1/alerts/{id}/normal", d.localMarkNormal)
	mux.HandleFunc("GET /v1/patch-first", d.localPatchFirst)
	d.local = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go d.local.Serve(ln)
	return nil
}

// localState: every component's snapshot, as a checkpoint would write it.
func (d *daemon) localState(w http.ResponseWriter, r *http.Request) {
	reply := stateReply{Components: map[string][]byte{}}
	d.state.Lock()
	var err error
	for name, c := range d.components() {
		var b []byte
		if b, err = c.MarshalState(); err != nil {
			err = fmt.Errorf("%s: %w", name, err)
			break
		}
		reply.Components[name] = b
	}
	d.state.Unlock()
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(reply)
}

// localPatchFirst is `otwatch advisories list` on a running daemon: its
// assessment of the moment, with its zones.
func (d *daemon) localPatchFirst(w http.ResponseWriter, r *http.Request) {
	d.state.Lock()
	report := d.mon.assess(time.Now())
	d.state.Unlock()
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(report)
}

// askDaemonPatchFirst asks the running daemon for its patch-first list.
func askDaemonPatchFirst(db string) (*advisories.Report, error) {
	var r advisories.Report
	if err := getLocal(db, "/v1/patch-first", &r); err != nil {
		return nil, err
	}
	return &r, nil
}

// localMarkNormal is `otwatch alerts normal` on a running daemon: the same
// as the dashboard's button.
func (d *daemon) localMarkNormal(w http.ResponseWriter, r *http.Request) {
	if err := d.markNormal(r.PathValue("id"), "(command line)"); err != nil {
		http.Error(w, err.Error(), http.StatusNotFound)
		return
	}
	fmt.Fprintln(w, "ok")
}
