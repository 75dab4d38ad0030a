// Command otwatch is the passive OT/ICS network monitor. This file only
// wires: sub-commands parse flags and call into protocols/, learning/, alerts/.
// Every command's help (flags, defaults, examples) is in cli.go.
package main

import (
	"fmt"
	"io"
	"os"

	"github.com/otwatch/otwatch/alerts/syslog"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	return runWith(args, os.Stdin, os.Stdout, os.Stderr)
}

func runWith(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	// the SIEM sees the same version as `otwatch version` (CEF and LEEF headers)
	syslog.ProductVersion = version
	if len(args) == 0 {
		fmt.Fprint(stderr, usage())
		return 2
	}
	switch args[0] {
	case "read":
		return cmdRead(args[1:], stdout, stderr)
	case "run":
		return cmdRun(args[1:], stdout, stderr)
	case "config":
		return cmdConfig(args[1:], stdout, stderr)
	case "alerts":
		return cmdAlerts(args[1:], stdout, stderr)
	case "evidence":
		return cmdEvidence(args[1:], stdout, stderr)
	case "user":
		return cmdUser(args[1:], stdin, stdout, stderr)
	case "inventory":
		return cmdInventory(args[1:], stdout, stderr)
	case "baseline":
		return cmdBaseline(args[1:], stdout, stderr)
	case "advisories":
		return cmdAdvisories(args[1:], stdout, stderr)
	case "update":
		return cmdUpdate(args[1:], stdout, stderr)
	case "db":
		return cmdDB(args[1:], stdout, stderr)
	case "demo":
		return cmdDemo(args[1:], stdout, stderr)
	case "protocols":
		return cmdProtocols(args[1:], stdout, stderr)
	case "version", "--version":
		if len(args) > 1 {
			if _, code, ok := noFlags("version", args[1:], 0, stdout, stderr); !ok {
				return code
			}
		}
		fmt.Fprintln(stdout, "otwatch", version)
		return 0
	case "help", "-h", "-help", "--help":
		return cmdHelp(args[1:], stdin, stdout, stderr)
	}
	fmt.Fprintf(stderr, "otwatch: unknown command %q\n\n%s", args[0], usage())
	return 2
}

// cmdHelp: `otwatch help [COMMAND [SUB-COMMAND]]` is COMMAND's --help.
func cmdHelp(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stdout, usage())
		return 0
	}
	name := args[0]
	if len(args) > 1 {
		name += " " + args[1]
	}
	if name == "help" || isHelp(args[0]) {
		writeHelp(stdout, "help", nil)
		return 0
	}
	if _, ok := commands[name]; !ok || len(args) > 2 {
		fmt.Fprintf(stderr, "otwatch help: no command %q\n\n%s", name, usage())
		return 2
	}
	return runWith(append(args[:len(args):len(args)], "--help"), stdin, stdout, stderr)
}
