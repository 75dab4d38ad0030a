package main

import (
	"errors"
	"fmt"
	"io"

	"github.com/otwatch/otwatch/learning/store"
)

// cmdDB is `otwatch db compact`: the state file rewritten to what is live.
func cmdDB(args []string, stdout, stderr io.Writer) int {
	return dispatchGroup("db", args, stdout, stderr, map[string]func([]string) int{
		"compact": func(args []string) int {
			const name = "db compact"
			fs := newFlags(name)
			sf := addStateFlags(fs)
			if _, code, ok := noFlagsWith(fs, name, args, 0, stdout, stderr); !ok {
				return code
			}
			path, err := sf.path()
			if err != nil {
				fmt.Fprintf(stderr, "otwatch %s: %v\n", name, err)
				return 2
			}
			before, after, err := store.Compact(path)
			if err != nil {
				if errors.Is(err, store.ErrInUse) {
					err = fmt.Errorf("%w: stop the daemon first (systemctl stop otwatch)", err)
				}
				fmt.Fprintf(stderr, "otwatch %s: %v\n", name, err)
				return 2
			}
			fmt.Fprintf(stdout, "%s: %.1f MiB → %.1f MiB\n", path, float64(before)/(1<<20), float64(after)/(1<<20))
			return 0
		},
	})
}
