package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/otwatch/otwatch/cmd/otwatch/config"
	"github.com/otwatch/otwatch/ui"
)

// cmdUser adds a dashboard user (the alternative to the first-start setup
// token): otwatch user add NAME [--role admin|viewer] [--config FILE];
// the password is read from standard input, never from the command line.
func cmdUser(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	const usage = "usage: otwatch user add NAME [--role admin|viewer] [--config FILE]  (password on standard input)"
	if len(args) < 2 || args[0] != "add" {
		fmt.Fprintln(stderr, usage)
		return 2
	}
	name := args[1]
	fs := flag.NewFlagSet("user", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	role := fs.String("role", "admin", "admin or viewer")
	path := fs.String("config", "/etc/otwatch/otwatch.conf", "configuration file (its database folder holds the users)")
	if err := fs.Parse(args[2:]); err != nil {
		fmt.Fprintln(stderr, usage)
		return 2
	}
	cfg, err := config.Load(*path)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	fmt.Fprintf(stderr, "password for %s: ", name)
	line, err := bufio.NewReader(stdin).ReadString('\n')
	if err != nil && line == "" {
		fmt.Fprintln(stderr, "\notwatch user: no password given")
		return 2
	}
	password := strings.TrimRight(line, "\r\n")
	dir := filepath.Join(filepath.Dir(cfg.Database.Path), "dashboard")
	if err := ui.AddUser(dir, name, password, *role); err != nil {
		fmt.Fprintf(stderr, "\notwatch user: %v\n", err)
		return 2
	}
	fmt.Fprintf(stdout, "\nuser %s (%s) added\n", name, *role)
	return 0
}
