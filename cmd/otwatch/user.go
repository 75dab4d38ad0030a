package main

import (
	"bufio"
	"errors"
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
	return dispatchGroup("user", args, stdout, stderr, map[string]func([]string) int{
		"add": func(a []string) int { return userAdd(a, stdin, stdout, stderr) },
	})
}

func userAdd(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	const cmd = "user add"
	fs := newFlags(cmd)
	role := fs.String("role", "admin", "admin (may change settings and mark alerts) or viewer")
	path := fs.String("config", "/etc/otwatch/otwatch.conf", "configuration `FILE` (the users live beside its database)")
	pos, err := parseFlags(fs, cmd, args, stdout, stderr, false)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		return 2
	}
	if len(pos) != 1 {
		usageError(stderr, cmd, fs, "give one user name", false)
		return 2
	}
	name := pos[0]
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
