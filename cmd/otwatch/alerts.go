package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/otwatch/otwatch/learning/baseline"
	"github.com/otwatch/otwatch/learning/inventory"
	"github.com/otwatch/otwatch/learning/store"
)

// cmdAlerts is the operator's side of alerting from the command line; the
// dashboard calls the same Engine methods.
func cmdAlerts(args []string, stdout, stderr io.Writer) int {
	return dispatchGroup("alerts", args, stdout, stderr, map[string]func([]string) int{
		"list":      func(a []string) int { return alertsRead("alerts list", a, stdout, stderr) },
		"incidents": func(a []string) int { return alertsRead("alerts incidents", a, stdout, stderr) },
		"normal":    func(a []string) int { return alertsNormal(a, stdout, stderr) },
	})
}

// alertsRead lists the recent alerts or the incidents, from the state file
// or from the daemon that holds it.
func alertsRead(name string, args []string, stdout, stderr io.Writer) int {
	fs := newFlags(name)
	sf := addStateFlags(fs)
	pos, err := parseFlags(fs, name, args, stdout, stderr, false)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		return 2
	}
	if len(pos) > 0 {
		usageError(stderr, name, fs, fmt.Sprintf("unexpected argument %q", pos[0]), false)
		return 2
	}
	path, err := sf.path()
	if err != nil {
		fmt.Fprintf(stderr, "otwatch %s: %v\n", name, err)
		return 2
	}
	// the whole monitor: alerts and incidents live in the engine's state
	mon := newMonitor(baseline.Config{}, inventory.Limits{}, nil)
	if _, err := loadState(path, mon.components()); err != nil {
		fmt.Fprintf(stderr, "otwatch %s: %v\n", name, err)
		return 2
	}
	enc := json.NewEncoder(stdout)
	if name == "alerts list" {
		for _, a := range mon.engine.Recent() {
			enc.Encode(a)
		}
	} else {
		for _, inc := range mon.engine.Incidents() {
			enc.Encode(inc)
		}
	}
	return 0
}

// alertsNormal marks an alert normal: in the state file, or in the running
// daemon that holds it.
func alertsNormal(args []string, stdout, stderr io.Writer) int {
	const name = "alerts normal"
	fs := newFlags(name)
	sf := addStateFlags(fs)
	pos, err := parseFlags(fs, name, args, stdout, stderr, false)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		return 2
	}
	if len(pos) != 1 {
		usageError(stderr, name, fs, "give one alert id", false)
		return 2
	}
	id := pos[0]
	path, err := sf.path()
	if err != nil {
		fmt.Fprintf(stderr, "otwatch %s: %v\n", name, err)
		return 2
	}
	if daemonAnswers(path) { // the daemon holds the file: it marks the alert
		if err := askDaemonMarkNormal(path, id); err != nil {
			fmt.Fprintf(stderr, "otwatch %s: the running daemon answered: %v\n", name, err)
			return 2
		}
		fmt.Fprintf(stdout, "alert %s marked normal in the running daemon: its transaction joined the baseline\n", id)
		return 0
	}
	st, err := store.Open(path)
	if err != nil {
		fmt.Fprintf(stderr, "otwatch %s: %v\n", name, err)
		return 2
	}
	defer st.Close()
	// the whole monitor: marking an ARP watch alert normal changes the inventory
	mon := newMonitor(baseline.Config{}, inventory.Limits{}, nil)
	comps := mon.components()
	if err := st.Load(comps); err != nil {
		fmt.Fprintf(stderr, "otwatch %s: %v\n", name, err)
		return 2
	}
	if err := mon.engine.MarkNormal(id); err != nil {
		fmt.Fprintf(stderr, "otwatch %s: %v\n", name, err)
		return 2
	}
	if err := st.Checkpoint(comps); err != nil {
		fmt.Fprintf(stderr, "otwatch %s: %v\n", name, err)
		return 2
	}
	fmt.Fprintf(stdout, "alert %s marked normal: its transaction joined the baseline\n", id)
	return 0
}
