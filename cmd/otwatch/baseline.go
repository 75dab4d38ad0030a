package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/otwatch/otwatch/learning/baseline"
	"github.com/otwatch/otwatch/learning/store"
)

const baselineUsage = `usage: otwatch baseline export --db FILE [--out FILE]
       otwatch baseline import --db FILE BASELINE.json
       otwatch baseline diff   (--db FILE | A.json) B.json`

// cmdBaseline reviews the learned baseline as a file: export it, import an
// approved one, or diff two.
func cmdBaseline(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintln(stderr, baselineUsage)
		return 2
	}
	fs := flag.NewFlagSet("baseline", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	db := fs.String("db", "", "state database")
	out := fs.String("out", "-", "export: where to write")
	if err := fs.Parse(args[1:]); err != nil {
		fmt.Fprintf(stderr, "otwatch baseline: %v\n", err)
		return 2
	}
	err := func() error {
		switch args[0] {
		case "export":
			model, st, err := loadModel(*db)
			if err != nil {
				return err
			}
			st.Close()
			return writeDoc(model.Export(exportTime(model)), *out, stdout)
		case "import":
			if fs.NArg() != 1 {
				return errors.New("import takes one baseline file")
			}
			doc, err := readDoc(fs.Arg(0))
			if err != nil {
				return err
			}
			model, st, err := loadModel(*db)
			if err != nil {
				return err
			}
			defer st.Close()
			if err := model.Import(doc); err != nil {
				return fmt.Errorf("%s: %w", fs.Arg(0), err)
			}
			return st.Checkpoint(map[string]store.Component{"baseline": model})
		case "diff":
			var a, b baseline.Document
			var err error
			switch {
			case *db != "" && fs.NArg() == 1:
				model, st, err := loadModel(*db)
				if err != nil {
					return err
				}
				st.Close()
				a = model.Export(exportTime(model))
				b, err = readDoc(fs.Arg(0))
				if err != nil {
					return err
				}
			case fs.NArg() == 2:
				if a, err = readDoc(fs.Arg(0)); err != nil {
					return err
				}
				if b, err = readDoc(fs.Arg(1)); err != nil {
					return err
				}
			default:
				return errors.New("diff takes --db and one file, or two files")
			}
			for _, line := range baseline.Diff(a, b) {
				fmt.Fprintln(stdout, line)
			}
			return nil
		}
		return fmt.Errorf("unknown baseline command %q", args[0])
	}()
	if err != nil {
		fmt.Fprintf(stderr, "otwatch baseline: %v\n", err)
		return 2
	}
	return 0
}

func loadModel(db string) (*baseline.Model, *store.Store, error) {
	if db == "" {
		return nil, nil, errors.New("--db FILE is required")
	}
	st, err := store.Open(db)
	if err != nil {
		return nil, nil, err
	}
	model := baseline.New(baseline.Config{})
	if err := st.Load(map[string]store.Component{"baseline": model}); err != nil {
		st.Close()
		return nil, nil, err
	}
	return model, st, nil
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
