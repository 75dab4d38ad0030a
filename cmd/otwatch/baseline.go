package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/otwatch/otwatch/learning/baseline"
	"github.com/otwatch/otwatch/learning/store"
)

// cmdBaseline reviews the learned baseline as a file: export it, import an
// approved one, or diff two.
func cmdBaseline(args []string, stdout, stderr io.Writer) int {
	sub := func(name string, f func(pos []string, sf *stateFlags, out string) error) func([]string) int {
		return func(args []string) int {
			fs := newFlags(name)
			sf := addStateFlags(fs)
			var out *string
			if name == "baseline export" {
				out = fs.String("out", "-", "write the document to `FILE` (- for stdout)")
			}
			pos, err := parseFlags(fs, name, args, stdout, stderr, false)
			if errors.Is(err, flag.ErrHelp) {
				return 0
			}
			if err != nil {
				return 2
			}
			o := ""
			if out != nil {
				o = *out
			}
			if err := f(pos, sf, o); err != nil {
				if errors.Is(err, errUsage) {
					usageError(stderr, name, fs, strings.TrimSuffix(err.Error(), ": "+errUsage.Error()), false)
				} else {
					fmt.Fprintf(stderr, "otwatch %s: %v\n", name, err)
				}
				return 2
			}
			return 0
		}
	}
	return dispatchGroup("baseline", args, stdout, stderr, map[string]func([]string) int{
		"export": sub("baseline export", func(pos []string, sf *stateFlags, out string) error {
			if len(pos) > 0 {
				return fmt.Errorf("unexpected argument %q: %w", pos[0], errUsage)
			}
			model, err := readModel(sf)
			if err != nil {
				return err
			}
			return writeDoc(model.Export(exportTime(model)), out, stdout)
		}),
		"import": sub("baseline import", func(pos []string, sf *stateFlags, _ string) error {
			if len(pos) != 1 {
				return fmt.Errorf("import takes one baseline file: %w", errUsage)
			}
			doc, err := readDoc(pos[0])
			if err != nil {
				return err
			}
			path, err := sf.path()
			if err != nil {
				return err
			}
			const stopFirst = "stop otwatch before importing a baseline (systemctl stop otwatch), then start it again"
			if daemonAnswers(path) {
				return fmt.Errorf("%s: %w (the daemon): %s", path, store.ErrInUse, stopFirst)
			}
			st, err := store.Open(path)
			if errors.Is(err, store.ErrInUse) {
				return fmt.Errorf("%w: %s", err, stopFirst)
			}
			if err != nil {
				return err
			}
			defer st.Close()
			model := baseline.New(baseline.Config{})
			if err := st.Load(map[string]store.Component{"baseline": model}); err != nil {
				return err
			}
			if err := model.Import(doc); err != nil {
				return fmt.Errorf("%s: %w", pos[0], err)
			}
			return st.Checkpoint(map[string]store.Component{"baseline": model})
		}),
		"diff": sub("baseline diff", func(pos []string, sf *stateFlags, _ string) error {
			var a, b baseline.Document
			var aName, bName string
			var err error
			switch {
			case len(pos) == 1:
				path, err := sf.path()
				if err != nil {
					return err
				}
				model, err := readModel(sf)
				if err != nil {
					return err
				}
				a, aName = model.Export(exportTime(model)), "the baseline learned in "+path
				if b, err = readDoc(pos[0]); err != nil {
					return err
				}
				bName = pos[0]
			case len(pos) == 2:
				if a, err = readDoc(pos[0]); err != nil {
					return err
				}
				if b, err = readDoc(pos[1]); err != nil {
					return err
				}
				aName, bName = pos[0], pos[1]
			default:
				return fmt.Errorf("diff takes --db and one file, or two files: %w", errUsage)
			}
			lines := baseline.Diff(a, b)
			if len(lines) == 0 {
				fmt.Fprintf(stdout, "no difference: %s and %s hold the same baseline\n", aName, bName)
			}
			for _, line := range lines {
				fmt.Fprintln(stdout, line)
			}
			return nil
		}),
	})
}

// readModel loads the learned baseline, from the state file or the daemon.
func readModel(sf *stateFlags) (*baseline.Model, error) {
	path, err := sf.path()
	if err != nil {
		return nil, err
	}
	model := baseline.New(baseline.Config{})
	if _, err := loadState(path, map[string]store.Component{"baseline": model}); err != nil {
		return nil, err
	}
	return model, nil
}

// exportTime: the state's own latest time, so an export is reproducible.
func exportTime(m *baseline.Model) time.Time { return m.LastSeen() }

func readDoc(path string) (baseline.Document, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return baseline.Document{}, err
	}
	doc, err := baseline.DecodeDocument(b)
	if err != nil {
		return doc, fmt.Errorf("%s: %w", path, err)
	}
	return doc, nil
}

func writeDoc(doc baseline.Document, path string, stdout io.Writer) error {
	b, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return err
	}
	b = append(b, '\n')
	if path == "-" {
		_, err = stdout.Write(b)
		return err
	}
	return os.WriteFile(path, b, 0o644)
}
