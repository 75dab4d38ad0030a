// Command otwatch is the passive OT/ICS network monitor. This file only
// wires: sub-commands parse flags and call into protocols/, learning/, alerts/.
package main

import (
	"fmt"
	"os"
)

const usage = `usage: otwatch <command> [flags]

commands:
  run      the appliance daemon: otwatch run --config FILE (live passive capture)
  config   check a configuration file: otwatch config check FILE
  read     dissect capture files: otwatch read [--records FILE] [--alerts FILE]
           [--inventory FILE] [--db FILE] [--mode learn|detect|auto] CAPTURE...
  alerts   list recent alerts and incidents, mark an alert normal: otwatch alerts list|incidents|normal --db FILE
  evidence check the evidence chain of custody: otwatch evidence verify DIR
  user     add a dashboard user: otwatch user add NAME [--role admin|viewer] --config FILE
  inventory export the asset inventory: otwatch inventory export --format json|csv --db FILE
  baseline review the learned baseline: otwatch baseline export|import|diff --db FILE
  advisories import security advisories (CSAF 2.0, CISA KEV) and list the assets to patch first:
           otwatch advisories import|list --db FILE
  update   install a signed bundle on an appliance: otwatch update [--url URL] [--fingerprint HEX] BUNDLE.otwb
  demo     replay the embedded real capture and serve the dashboard on localhost:
           otwatch demo [--listen 127.0.0.1:8443] [--records]
  version  print the version
`

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	if len(args) == 0 {
		fmt.Fprint(os.Stderr, usage)
		return 2
	}
	switch args[0] {
	case "read":
		return cmdRead(args[1:], os.Stdout, os.Stderr)
	case "run":
		return cmdRun(args[1:], os.Stdout, os.Stderr)
	case "config":
		return cmdConfig(args[1:], os.Stdout, os.Stderr)
	case "alerts":
		return cmdAlerts(args[1:], os.Stdout, os.Stderr)
	case "evidence":
		return cmdEvidence(args[1:], os.Stdout, os.Stderr)
	case "user":
		return cmdUser(args[1:], os.Stdin, os.Stdout, os.Stderr)
	case "inventory":
		return cmdInventory(args[1:], os.Stdout, os.Stderr)
	case "baseline":
		return cmdBaseline(args[1:], os.Stdout, os.Stderr)
	case "advisories":
		return cmdAdvisories(args[1:], os.Stdout, os.Stderr)
	case "demo":
		return cmdDemo(args[1:], os.Stdout, os.Stderr)
	case "update":
		return cmdUpdate(args[1:], os.Stdout, os.Stderr)
	case "version", "--version":
		fmt.Println("otwatch", version)
		return 0
	case "help", "-h", "--help":
		fmt.Print(usage)
		return 0
	}
	fmt.Fprintf(os.Stderr, "otwatch: unknown command %q (try otwatch help)\n", args[0])
	return 2
}
