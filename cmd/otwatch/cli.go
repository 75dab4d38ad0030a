package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"
)

// helpText documents one command or sub-command: `otwatch X --help` and
// `otwatch help X` print it with the command's flags and their defaults,
// a usage error prints its usage line.
type helpText struct {
	usage    string // after "otwatch ": "read [flags] CAPTURE..."
	summary  string // one line, for the command lists
	about    string // what it does, a short paragraph
	examples []string
}

// commands is every command and sub-command ("alerts list"). A command
// with sub-commands lists them (groups); the sub-commands hold the flags.
var commands = map[string]helpText{
	"run": {usage: "run [--config FILE]", summary: "the appliance daemon: live passive capture, learning, alerts, dashboard",
		about: "Captures the configured monitor interfaces passively, learns and detects, checkpoints the state to the\n" +
			"database, sends alerts to syslog and serves /healthz, /metrics and the dashboard. SIGHUP reloads the\n" +
			"learning, syslog and evidence settings; SIGTERM saves the state and stops.",
		examples: []string{"otwatch config check /etc/otwatch/otwatch.conf && otwatch run --config /etc/otwatch/otwatch.conf"}},
	"config": {usage: "config COMMAND", summary: "check a configuration file"},
	"config check": {usage: "config check FILE", summary: "check a configuration file as run would read it",
		about: "Reports every problem of the file at once, each with its line and key, and what run would refuse on this\n" +
			"machine (a loopback or addressed monitor interface). Exit status 0: the file is good; 2: it is not.",
		examples: []string{"otwatch config check /etc/otwatch/otwatch.conf"}},
	"read": {usage: "read [flags] CAPTURE...", summary: "dissect capture files: records, alerts, inventory, summary",
		about: "Reads pcap and pcapng files (gzip-compressed too) as one stream, in the order given, through the same\n" +
			"pipeline, inventory, learning and alerts as the daemon, and prints a summary on stderr. Exit status 0: done;\n" +
			"1: done, but a capture was damaged (everything readable was processed) or otwatch hit an internal error\n" +
			"and went on (each named on stderr, even with --quiet); 2: nothing could be done.",
		examples: []string{"otwatch read --records - plant.pcapng",
			"otwatch read --mode learn --db state.db monday.pcap && otwatch read --mode detect --db state.db --alerts alerts.jsonl tuesday.pcap"}},
	"alerts": {usage: "alerts COMMAND", summary: "list alerts and incidents, mark an alert normal"},
	"alerts list": {usage: "alerts list [--db FILE | --config FILE]", summary: "recent alerts as JSON lines, oldest first",
		about: stateAbout, examples: []string{"otwatch alerts list --db /var/lib/otwatch/state.db", "otwatch alerts list   # on the appliance: the database of /etc/otwatch/otwatch.conf"}},
	"alerts incidents": {usage: "alerts incidents [--db FILE | --config FILE]", summary: "incidents with their narratives, newest first",
		about: stateAbout, examples: []string{"otwatch alerts incidents --db state.db"}},
	"alerts normal": {usage: "alerts normal [--db FILE | --config FILE] ALERT-ID", summary: "mark an alert normal: its transaction joins the baseline",
		about: "Writes to the state file, so the daemon must not hold it: on a running appliance mark alerts normal on\n" +
			"the dashboard instead.",
		examples: []string{"otwatch alerts normal --db state.db 3f9a1c0d2b4e5f60"}},
	"evidence": {usage: "evidence COMMAND", summary: "check the evidence chain of custody"},
	"evidence verify": {usage: "evidence verify DIR", summary: "check every evidence file against the custody log",
		about:    "Exit status 0: every file and log entry intact; 1: tampering found, each problem named; 2: DIR unreadable.",
		examples: []string{"otwatch evidence verify /var/lib/otwatch/evidence"}},
	"user": {usage: "user COMMAND", summary: "manage dashboard users"},
	"user add": {usage: "user add NAME [--role admin|viewer] [--config FILE]", summary: "add a dashboard user (password on standard input)",
		about:    "The password is read from standard input, never from the command line. The users live beside the\ndatabase named in the configuration.",
		examples: []string{"otwatch user add alice --role viewer --config /etc/otwatch/otwatch.conf"}},
	"inventory": {usage: "inventory COMMAND", summary: "export the asset inventory"},
	"inventory export": {usage: "inventory export [--format json|csv] [--zones FILE] [--db FILE | --config FILE]", summary: "the asset inventory as JSON or CSV",
		about: stateAbout, examples: []string{"otwatch inventory export --format csv --db state.db > assets.csv"}},
	"baseline": {usage: "baseline COMMAND", summary: "review the learned baseline as a file"},
	"baseline export": {usage: "baseline export [--db FILE | --config FILE] [--out FILE]", summary: "the learned baseline as a stable, sorted JSON document",
		about: stateAbout, examples: []string{"otwatch baseline export --db state.db --out approved.json"}},
	"baseline import": {usage: "baseline import [--db FILE | --config FILE] BASELINE.json", summary: "replace the learned baseline with a reviewed one",
		about:    "Validates the whole file first and names what is wrong; writes to the state file, so the daemon must be stopped.",
		examples: []string{"otwatch baseline import --db state.db approved.json"}},
	"baseline diff": {usage: "baseline diff ([--db FILE | --config FILE] B.json | A.json B.json)", summary: "what changed between two baselines, one line per difference",
		about:    "Lines start with + (in B, not in A) or - (in A, not in B); with --db, A is the learned baseline.\nNo difference: one line saying so.",
		examples: []string{"otwatch baseline diff --db state.db approved.json", "otwatch baseline diff monday.json tuesday.json"}},
	"advisories": {usage: "advisories COMMAND", summary: "import security advisories and list the assets to patch first"},
	"advisories import": {usage: "advisories import [--keyring FILE] [--db FILE | --config FILE] FILE|DIR...", summary: "import CSAF 2.0 advisories and CISA's KEV catalog (JSON, or .zip/.tar.gz of them)",
		about: "Reads every document first and names each one refused; writes to the state file, so the daemon must be\n" +
			"stopped (on a running appliance upload them on the dashboard's Patch first page). Exit status 0: all imported;\n" +
			"1: some refused; 2: nothing imported.",
		examples: []string{"otwatch advisories import --db state.db csaf/ known_exploited_vulnerabilities.json"}},
	"advisories list": {usage: "advisories list [--zones FILE] [--format text|json] [--db FILE | --config FILE]", summary: "the assets to patch first, ranked, with CVEs, exposure and attack paths",
		about: stateAbout, examples: []string{"otwatch advisories list --db state.db", "otwatch advisories list --format json --config /etc/otwatch/otwatch.conf"}},
	"db": {usage: "db COMMAND", summary: "maintain the state file"},
	"db compact": {usage: "db compact [--db FILE | --config FILE]", summary: "rewrite the state file to what is live, giving freed space back",
		about: "The file never shrinks by itself (freed pages are reused, not returned): after a state that was once much\n" +
			"larger, or a file from an older release, this rewrites it. The daemon must be stopped.",
		examples: []string{"otwatch db compact --db /var/lib/otwatch/state.db"}},
	"update": {usage: "update [flags] BUNDLE.otwb | update --status [flags]", summary: "install a signed update bundle on an appliance through its dashboard API",
		about: "Uploads the bundle to the appliance, which verifies it, writes its other root slot and reboots into it on\n" +
			"trial: back to the running version by itself if the new one does not come up healthy.",
		examples: []string{"otwatch update --url https://10.0.0.5:8443 --token-file admin.token --fingerprint 3f9a... otwatch-arm64.otwb",
			"otwatch update --status --url https://10.0.0.5:8443 --token-file admin.token --insecure"}},
	"demo": {usage: "demo [--listen ADDR] [--records]", summary: "replay the embedded real capture and serve the dashboard on localhost",
		about:    "Replays a real Modbus capture through the whole appliance into a temporary state and serves the dashboard\nuntil Ctrl-C; the one-time setup token that creates the admin is logged.",
		examples: []string{"otwatch demo", "otwatch demo --records | head"}},
	"protocols": {usage: "protocols", summary: "list the protocols this build dissects: record proto, transports, ports",
		about: "One line per record proto value (RECORDS.md), from the dissectors' registry: the name conduits and\n" +
			"records use, the transports and the server ports that order the probes (content decides).",
		examples: []string{"otwatch protocols", "otwatch protocols | cut -f1"}},
	"version": {usage: "version", summary: "print the version (also in the SIEM's CEF and LEEF headers)", examples: []string{"otwatch version"}},
	"help":    {usage: "help [COMMAND [SUB-COMMAND]]", summary: "this help, or a command's", examples: []string{"otwatch help read", "otwatch help alerts list"}},
}

// stateAbout explains where the read-only commands find the state.
const stateAbout = "Reads the state file given by --db, or the database.path of --config. While otwatch run holds that\n" +
	"file, the command asks the running daemon over its local socket (the file's path + \".sock\") instead, so\n" +
	"it works on a live appliance."

// topOrder is the order of the top-level command list.
var topOrder = []string{"run", "config", "read", "alerts", "inventory", "baseline", "advisories", "evidence", "user", "db", "update", "demo", "protocols", "version", "help"}

// subcommands lists a group's sub-commands, sorted.
func subcommands(group string) []string {
	var out []string
	for name := range commands {
		if g, sub, ok := strings.Cut(name, " "); ok && g == group {
			out = append(out, sub)
		}
	}
	sort.Strings(out)
	return out
}

// usage is the top-level help.
func usage() string {
	var b strings.Builder
	b.WriteString("usage: otwatch COMMAND [flags]\n\notwatch is a passive OT/ICS network monitor.\n\ncommands:\n")
	for _, name := range topOrder {
		fmt.Fprintf(&b, "  %-10s %s\n", name, commands[name].summary)
	}
	b.WriteString("\n`otwatch help COMMAND` or `otwatch COMMAND --help` shows a command's flags, defaults and examples.\n")
	return b.String()
}

// groupHelp lists a group's sub-commands.
func groupHelp(group string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "usage: otwatch %s COMMAND [flags]\n\n%s.\n\ncommands:\n", group, capitalize(commands[group].summary))
	for _, sub := range subcommands(group) {
		fmt.Fprintf(&b, "  %-10s %s\n", sub, commands[group+" "+sub].summary)
	}
	fmt.Fprintf(&b, "\n`otwatch %s COMMAND --help` shows its flags, defaults and examples.\n", group)
	return b.String()
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// dispatchGroup runs a command that has sub-commands: --help lists them,
// anything else unknown is a usage error.
func dispatchGroup(group string, args []string, stdout, stderr io.Writer, subs map[string]func([]string) int) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, groupHelp(group))
		return 2
	}
	if isHelp(args[0]) {
		fmt.Fprint(stdout, groupHelp(group))
		return 0
	}
	f, ok := subs[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "otwatch %s: unknown command %q\n\n%s", group, args[0], groupHelp(group))
		return 2
	}
	return f(args[1:])
}

func isHelp(a string) bool { return a == "-h" || a == "-help" || a == "--help" || a == "help" }

// newFlags returns the flag set of a command; parseFlags prints its help.
func newFlags(name string) *flag.FlagSet {
	fs := flag.NewFlagSet("otwatch "+name, flag.ContinueOnError)
	fs.SetOutput(io.Discard) // parseFlags prints errors and help in our words
	return fs
}

// errUsage says a usage error was already printed.
var errUsage = errors.New("usage error")

// parseFlags parses args with flags anywhere among the positional
// arguments ("--" ends the flags) and returns the positional ones. --help
// prints the command's help on stdout and returns flag.ErrHelp; a bad flag
// prints the error with the usage on stderr and returns errUsage. oneLine
// keeps a usage error to one line (otwatch read's contract, RECORDS.md).
func parseFlags(fs *flag.FlagSet, name string, args []string, stdout, stderr io.Writer, oneLine bool) ([]string, error) {
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				writeHelp(stdout, name, fs)
				return nil, flag.ErrHelp
			}
			msg := err.Error()
			if f, ok := strings.CutPrefix(msg, "flag provided but not defined: -"); ok {
				msg = "unknown flag --" + f
			}
			usageError(stderr, name, fs, msg, oneLine)
			return nil, errUsage
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return positional, nil
		}
		if len(args) > 0 && len(rest) < len(args) && args[len(args)-len(rest)-1] == "--" {
			return append(positional, rest...), nil // everything after "--" is positional
		}
		positional = append(positional, rest[0])
		args = rest[1:]
	}
}

// usageError prints "otwatch NAME: MSG" and the usage (with the flags,
// unless oneLine).
func usageError(stderr io.Writer, name string, fs *flag.FlagSet, msg string, oneLine bool) {
	if oneLine {
		fmt.Fprintf(stderr, "otwatch %s: %s (usage: otwatch %s; otwatch %s --help lists the flags)\n", name, msg, commands[name].usage, name)
		return
	}
	fmt.Fprintf(stderr, "otwatch %s: %s\n\n", name, msg)
	writeUsage(stderr, name, fs)
}

// writeUsage prints the usage line and the flags.
func writeUsage(w io.Writer, name string, fs *flag.FlagSet) {
	fmt.Fprintf(w, "usage: otwatch %s\n", commands[name].usage)
	if fs == nil {
		return
	}
	var lines [][2]string
	width := 0
	fs.VisitAll(func(f *flag.Flag) {
		arg, text := flag.UnquoteUsage(f)
		left := "--" + f.Name
		if arg != "" {
			left += " " + arg
		}
		if d := f.DefValue; d != "" && d != "false" && d != "0" && d != "0s" {
			if _, err := time.ParseDuration(d); err == nil { // 1h0m0s reads 1h
				d = strings.TrimSuffix(strings.TrimSuffix(d, "0s"), "0m")
			}
			text += " (default " + d + ")"
		}
		lines = append(lines, [2]string{left, text})
		width = max(width, len(left))
	})
	if len(lines) == 0 {
		return
	}
	fmt.Fprintln(w, "\nflags:")
	for _, l := range lines {
		fmt.Fprintf(w, "  %-*s  %s\n", width, l[0], l[1])
	}
}

// writeHelp is a command's whole help: usage, what it does, flags, examples.
func writeHelp(w io.Writer, name string, fs *flag.FlagSet) {
	h := commands[name]
	fmt.Fprintf(w, "usage: otwatch %s\n\n%s.\n", h.usage, capitalize(h.summary))
	if h.about != "" {
		fmt.Fprintf(w, "\n%s\n", h.about)
	}
	if fs != nil {
		var b strings.Builder
		writeUsage(&b, name, fs)
		if _, flags, ok := strings.Cut(b.String(), "\nflags:\n"); ok {
			fmt.Fprintf(w, "\nflags:\n%s", flags)
		}
	}
	if len(h.examples) > 0 {
		fmt.Fprintln(w, "\nexamples:")
		for _, e := range h.examples {
			fmt.Fprintf(w, "  %s\n", e)
		}
	}
}

// noFlags parses a command that takes only positional arguments (so that
// --help and a stray flag are still understood) and checks their number.
func noFlags(name string, args []string, want int, stdout, stderr io.Writer) ([]string, int, bool) {
	return noFlagsWith(newFlags(name), name, args, want, stdout, stderr)
}

// noFlagsWith is noFlags for a command with flags of its own in fs.
func noFlagsWith(fs *flag.FlagSet, name string, args []string, want int, stdout, stderr io.Writer) ([]string, int, bool) {
	pos, err := parseFlags(fs, name, args, stdout, stderr, false)
	switch {
	case errors.Is(err, flag.ErrHelp):
		return nil, 0, false
	case err != nil:
		return nil, 2, false
	case len(pos) != want:
		usageError(stderr, name, fs, fmt.Sprintf("want %s, got %d", plural(want, "argument", "arguments"), len(pos)), false)
		return nil, 2, false
	}
	return pos, 0, true
}
