package main

import (
	"io"
	"log"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/otwatch/otwatch/cmd/otwatch/config"
	"github.com/otwatch/otwatch/learning/baseline"
	"github.com/otwatch/otwatch/learning/inventory"
	"github.com/otwatch/otwatch/learning/store"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// learnedState writes a state file with a baseline, an inventory and alerts.
func learnedState(t *testing.T) string {
	db := filepath.Join(t.TempDir(), "state.db")
	code, _, stderr := runCmd("--quiet", "--mode", "learn", "--db", db, golden)
	require.Equal(t, 0, code, stderr)
	code, _, stderr = runCmd("--quiet", "--mode", "detect", "--db", db, "../../protocols/modbus/testdata/suricata_modbus.pcap")
	require.Equal(t, 0, code, stderr)
	return db
}

// holdAsDaemon opens the state file as otwatch run does (holding its lock)
// and answers on the local socket, until the test ends.
func holdAsDaemon(t *testing.T, db string) *daemon {
	st, err := store.Open(db)
	require.NoError(t, err)
	d := &daemon{cfg: config.Default(), log: log.New(io.Discard, "", 0), db: st}
	d.mon = newMonitor(baseline.Config{}, inventory.Limits{}, d.onAlert)
	d.model, d.engine = d.mon.model, d.mon.engine
	require.NoError(t, st.Load(d.components()))
	require.NoError(t, d.serveLocal())
	t.Cleanup(func() { d.closeLocal(); st.Close() })
	return d
}

// The read-only commands give the same answers while the daemon holds the
// state file (through its socket) as from the file when it is free.
func TestReadOnlyCommandsWhileTheDaemonRuns(t *testing.T) {
	db := learnedState(t)
	commands := [][]string{
		{"alerts", "list", "--db", db},
		{"alerts", "incidents", "--db", db},
		{"inventory", "export", "--db", db},
		{"inventory", "export", "--format", "csv", "--db", db},
		{"baseline", "export", "--db", db},
		{"advisories", "list", "--db", db},
	}
	offline := map[string]string{}
	for _, args := range commands {
		code, out, errb := runArgs(args...)
		require.Equal(t, 0, code, "%v: %s", args, errb)
		require.NotEmpty(t, strings.TrimSpace(out), "%v", args)
		offline[strings.Join(args, " ")] = out
	}
	assert.NoFileExists(t, socketPath(db))

	d := holdAsDaemon(t, db)
	info, err := os.Stat(db)
	require.NoError(t, err)
	assert.FileExists(t, socketPath(db))
	sock, err := os.Stat(socketPath(db))
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), sock.Mode().Perm(), "the socket is as private as the state file")
	for _, args := range commands {
		code, out, errb := runArgs(args...)
		require.Equal(t, 0, code, "%v while the daemon runs: %s", args, errb)
		assert.Empty(t, errb)
		assert.Equal(t, offline[strings.Join(args, " ")], out, "%v: the daemon answers as the file does", args)
	}
	after, err := os.Stat(db)
	require.NoError(t, err)
	assert.Equal(t, info.ModTime(), after.ModTime(), "the commands wrote nothing")

	// baseline diff against the live baseline
	approved := filepath.Join(t.TempDir(), "approved.json")
	require.NoError(t, os.WriteFile(approved, []byte(offline["baseline export --db "+db]), 0o644))
	code, out, errb := runArgs("baseline", "diff", "--db", db, approved)
	require.Equal(t, 0, code, errb)
	assert.Equal(t, "no difference: the baseline learned in "+db+" and "+approved+" hold the same baseline\n", out)

	// alerts normal goes through the daemon too, and changes its baseline
	var id string
	for _, l := range strings.Split(offline["alerts list --db "+db], "\n") {
		if strings.Contains(l, `"kind":"new_link"`) {
			id = l[strings.Index(l, `"id":"`)+6:]
			id = id[:strings.Index(id, `"`)]
		}
	}
	require.NotEmpty(t, id)
	code, out, errb = runArgs("alerts", "normal", "--db", db, id)
	require.Equal(t, 0, code, errb)
	assert.Equal(t, "alert "+id+" marked normal in the running daemon: its transaction joined the baseline\n", out)
	code, out, _ = runArgs("baseline", "diff", "--db", db, approved)
	require.Equal(t, 0, code)
	assert.Contains(t, out, "- ", "the live baseline gained the marked link:\n%s", out)
	assert.Contains(t, out, "10.0.0.57")
	code, _, errb = runArgs("alerts", "normal", "--db", db, "no-such-alert")
	assert.Equal(t, 2, code)
	assert.Contains(t, errb, "the running daemon answered: alert no-such-alert: not among the")

	// writing the baseline needs the daemon stopped, and says so
	code, _, errb = runArgs("baseline", "import", "--db", db, approved)
	assert.Equal(t, 2, code)
	assert.Contains(t, errb, "in use by another otwatch process (the daemon): stop otwatch before importing a baseline")

	// the daemon stops: the socket goes, the file answers again
	d.closeLocal()
	assert.NoFileExists(t, socketPath(db))
}

// Another process holds the file and nobody answers on the socket (an
// otwatch read --db still running): the message says both.
func TestReadOnlyCommandWhenTheFileIsHeld(t *testing.T) {
	db := learnedState(t)
	st, err := store.Open(db)
	require.NoError(t, err)
	defer st.Close()
	start := time.Now()
	code, out, errb := runArgs("alerts", "list", "--db", db)
	assert.Equal(t, 2, code)
	assert.Empty(t, out)
	assert.Contains(t, errb, db+": in use by another otwatch process, and no daemon answers on "+db+".sock")
	assert.Less(t, time.Since(start), 5*time.Second, "a bounded wait")
}

// A read-only command never creates a state file.
func TestReadOnlyCommandDoesNotCreateTheFile(t *testing.T) {
	db := filepath.Join(t.TempDir(), "typo.db")
	code, _, errb := runArgs("alerts", "list", "--db", db)
	assert.Equal(t, 2, code)
	assert.Contains(t, errb, "no such file or directory")
	assert.NoFileExists(t, db)
}

// Without --db, the configuration names the database (on the appliance:
// otwatch alerts list).
func TestStateFromTheConfiguration(t *testing.T) {
	db := learnedState(t)
	conf := filepath.Join(t.TempDir(), "otwatch.conf")
	require.NoError(t, os.WriteFile(conf, []byte("interfaces: [eth9]\ndatabase:\n  path: "+db+"\n"), 0o644))
	code, out, errb := runArgs("alerts", "list", "--config", conf)
	require.Equal(t, 0, code, errb)
	assert.Contains(t, out, `"kind":"new_link"`)
}
