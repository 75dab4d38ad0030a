package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"

	"github.com/otwatch/otwatch/learning/baseline"
	"github.com/otwatch/otwatch/learning/inventory"
	"github.com/otwatch/otwatch/learning/store"
)

const alertsUsage = `usage: otwatch alerts list      --db FILE            recent alerts as JSON lines
       otwatch alerts incidents --db FILE            incidents with their narratives
       otwatch alerts normal    --db FILE ALERT-ID   mark an alert normal: it joins the baseline`

// cmdAlerts is the operator's side of alerting from the command line; the
// dashboard calls the same Engine methods.
func cmdAlerts(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintln(stderr, alertsUsage)
		return 2
	}
	fs := flag.NewFlagSet("alerts", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	db := fs.String("db", "", "state database")
	if err := fs.Parse(args[1:]); err != nil || *db == "" {
		fmt.Fprintf(stderr, "otwatch alerts: --db FILE is required\n%s\n", alertsUsage)
		return 2
	}
	st, err := store.Open(*db)
	if err != nil {
		fmt.Fprintf(stderr, "otwatch alerts: %v\n", err)
		return 2
	}
	defer st.Close()
	// the whole monitor: marking an ARP watch alert normal changes the inventory
	mon := newMonitor(baseline.Config{}, inventory.Limits{}, nil)
	engine, comps := mon.engine, mon.components()
	if err := st.Load(comps); err != nil {
		fmt.Fprintf(stderr, "otwatch alerts: %v\n", err)
		return 2
	}
	enc := json.NewEncoder(stdout)
	switch args[0] {
	case "list":
		for _, a := range engine.Recent() {
			enc.Encode(a)
		}
	case "incidents":
		for _, inc := range engine.Incidents() {
			enc.Encode(inc)
		}
	case "normal":
		if fs.NArg() != 1 {
			fmt.Fprintln(stderr, alertsUsage)
			return 2
		}
		if err := engine.MarkNormal(fs.Arg(0)); err != nil {
			fmt.Fprintf(stderr, "otwatch alerts: %v\n", err)
			return 2
		}
		if err := st.Checkpoint(comps); err != nil {
			fmt.Fprintf(stderr, "otwatch alerts: %v\n", err)
			return 2
		}
		fmt.Fprintf(stdout, "alert %s marked normal: its transaction joined the baseline\n", fs.Arg(0))
	default:
		fmt.Fprintln(stderr, alertsUsage)
		return 2
	}
	return 0
}
