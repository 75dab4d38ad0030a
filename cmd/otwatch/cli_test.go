package main

import (
	"bytes"
	"sort"
	"strings"
	"testing"

	"github.com/otwatch/otwatch/alerts"
	"github.com/otwatch/otwatch/alerts/syslog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// commandFlags is every command and sub-command with the flags its help
// must list ("" for a group, whose help lists its sub-commands).
var commandFlags = map[string][]string{
	"run":               {"config"},
	"config":            nil,
	"config check":      {},
	"read":              {"records", "alerts", "inventory", "db", "mode", "quiet", "zones", "merge-vlans", "learning-period"},
	"alerts":            nil,
	"alerts list":       {"db", "config"},
	"alerts incidents":  {"db", "config"},
	"alerts normal":     {"db", "config"},
	"evidence":          nil,
	"evidence verify":   {},
	"user":              nil,
	"user add":          {"role", "config"},
	"inventory":         nil,
	"inventory export":  {"db", "config", "format", "zones"},
	"baseline":          nil,
	"baseline export":   {"db", "config", "out"},
	"baseline import":   {"db", "config"},
	"baseline diff":     {"db", "config"},
	"advisories":        nil,
	"advisories import": {"db", "config", "keyring"},
	"advisories list":   {"db", "config", "zones", "format"},
	"db":                nil,
	"db compact":        {"db", "config"},
	"update":            {"url", "token-file", "fingerprint", "ca", "insecure", "pubkey", "allow-downgrade", "wait", "status"},
	"demo":              {"listen", "records"},
	"protocols":         {},
	"version":           {},
	"help":              {},
}

func runArgs(args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := runWith(args, strings.NewReader(""), &out, &errb)
	return code, out.String(), errb.String()
}

// Every command and sub-command answers --help (and `otwatch help ...`)
// with its usage, its flags with their defaults, and an example.
func TestHelpForEveryCommand(t *testing.T) {
	var names []string
	for name := range commands {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			flags, known := commandFlags[name]
			require.True(t, known, "the test's table lacks %q", name)
			args := append(strings.Fields(name), "--help")
			code, out, errb := runArgs(args...)
			require.Equal(t, 0, code, errb)
			assert.Empty(t, errb)
			_, viaHelp, _ := runArgs(append([]string{"help"}, strings.Fields(name)...)...)
			assert.Equal(t, out, viaHelp, "otwatch help %s is otwatch %s --help", name, name)
			_, viaH, _ := runArgs(append(strings.Fields(name), "-h")...)
			assert.Equal(t, out, viaH, "-h is --help")
			if flags == nil { // a group: its sub-commands with what they do
				assert.True(t, strings.HasPrefix(out, "usage: otwatch "+name+" COMMAND"), out)
				for _, sub := range subcommands(name) {
					assert.Contains(t, out, "\n  "+sub+" ", "the %s group lists %s", name, sub)
				}
				return
			}
			assert.True(t, strings.HasPrefix(out, "usage: otwatch "+commands[name].usage+"\n"), out)
			assert.Contains(t, out, "\nexamples:\n  otwatch ", "an example")
			for _, f := range flags {
				assert.Regexp(t, `\n  --`+f+`[ \n]`, out, "flag --%s listed", f)
			}
			if len(flags) == 0 {
				assert.NotContains(t, out, "\nflags:")
			}
		})
	}
	// defaults are shown
	_, out, _ := runArgs("read", "--help")
	assert.Regexp(t, `--mode MODE +.*\(default auto\)`, out)
	assert.Regexp(t, `--learning-period DURATION +.*\(default 1h\)`, out)
	_, out, _ = runArgs("run", "--help")
	assert.Regexp(t, `--config FILE +.*\(default /etc/otwatch/otwatch.conf\)`, out)
}

// An unknown flag is a usage error that prints the usage: with the flag
// list, except for read, whose contract is one line on stderr (RECORDS.md).
func TestUnknownFlagPrintsUsage(t *testing.T) {
	for name, flags := range commandFlags {
		if flags == nil || name == "help" { // help takes command names, not flags
			continue
		}
		args := append(strings.Fields(name), "--no-such-flag")
		code, out, errb := runArgs(args...)
		assert.Equal(t, 2, code, name)
		assert.Empty(t, out, name)
		assert.Contains(t, errb, "otwatch "+name+": unknown flag --no-such-flag", name)
		assert.Contains(t, errb, "usage: otwatch "+commands[name].usage, name)
		if name == "read" {
			assert.Equal(t, 1, strings.Count(errb, "\n"), "read: one line: %q", errb)
		} else if len(flags) > 0 {
			assert.Contains(t, errb, "\nflags:\n", name)
		}
	}
}

func TestUnknownCommands(t *testing.T) {
	code, _, errb := runArgs("frobnicate")
	assert.Equal(t, 2, code)
	assert.Contains(t, errb, `otwatch: unknown command "frobnicate"`)
	assert.Contains(t, errb, "\ncommands:\n")
	code, _, errb = runArgs("baseline", "--bogus")
	assert.Equal(t, 2, code)
	assert.Contains(t, errb, `otwatch baseline: unknown command "--bogus"`)
	assert.Contains(t, errb, "  diff ")
	code, _, errb = runArgs("help", "frobnicate")
	assert.Equal(t, 2, code)
	assert.Contains(t, errb, `no command "frobnicate"`)
	code, _, errb = runArgs()
	assert.Equal(t, 2, code)
	assert.Contains(t, errb, "usage: otwatch COMMAND")
	code, out, _ := runArgs("help")
	assert.Equal(t, 0, code)
	for _, name := range topOrder {
		assert.Contains(t, out, "\n  "+name+" ")
	}
}

// Flags may follow the positional arguments; "--" ends them.
func TestFlagsAnywhere(t *testing.T) {
	code, out, errb := runArgs("read", golden, "--records", "-", "--quiet")
	require.Equal(t, 0, code, errb)
	assert.Equal(t, 24, strings.Count(out, "\n"))
	assert.Empty(t, errb, "--quiet after the capture was understood")
	code, _, errb = runArgs("read", "--quiet", "--", "--records")
	assert.Equal(t, 2, code)
	assert.Contains(t, errb, "--records", "after --, a file name")
}

// otwatch version prints the version the SIEM sees in CEF and LEEF headers.
func TestVersion(t *testing.T) {
	defer func(v string) { version = v }(version)
	version = "1.4.2-7-gabc1234"
	code, out, _ := runArgs("version")
	assert.Equal(t, 0, code)
	assert.Equal(t, "otwatch 1.4.2-7-gabc1234\n", out)
	assert.Equal(t, version, syslog.ProductVersion)
	a := &alerts.Alert{ID: "x", Kind: "plc_stop", Severity: 10}
	assert.True(t, strings.HasPrefix(syslog.FormatCEF(a), "CEF:0|otwatch|otwatch|1.4.2-7-gabc1234|plc_stop|"), syslog.FormatCEF(a))
	assert.True(t, strings.HasPrefix(syslog.FormatLEEF(a), "LEEF:2.0|otwatch|otwatch|1.4.2-7-gabc1234|plc_stop|"), syslog.FormatLEEF(a))
}
