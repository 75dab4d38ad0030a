package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/otwatch/otwatch/alerts"
	"github.com/otwatch/otwatch/learning/baseline"
	"github.com/otwatch/otwatch/learning/store"
)

// runState is the learning and alerting state of one `otwatch read`: in
// memory, or loaded from and saved to --db.
type runState struct {
	model   *baseline.Model
	engine  *alerts.Engine
	db      *store.Store
	alerts  *bufio.Writer
	file    *os.File
	written int
	err     error
}

func (s *runState) components() map[string]store.Component {
	return map[string]store.Component{"baseline": s.model, "alerts": s.engine}
}

func openState(o readOptions, stderr io.Writer) (*runState, error) {
	mode, err := baseline.ParseMode(o.mode)
	if err != nil {
		return nil, err
	}
	s := &runState{model: baseline.New(baseline.Config{Mode: mode, LearningPeriod: o.learningPeriod})}
	if o.alerts != "" {
		w := io.Writer(os.Stdout)
		if o.alerts != "-" {
			f, err := os.Create(o.alerts)
			if err != nil {
				return nil, err
			}
			s.file, w = f, f
		}
		s.alerts = bufio.NewWriter(w)
	}
	s.engine = alerts.NewEngine(alerts.Config{}, s.model, s.writeAlert)
	if o.db != "" {
		db, err := store.Open(o.db)
		if err != nil {
			return nil, err
		}
		s.db = db
		if err := db.Load(s.components()); err != nil {
			db.Close()
			return nil, err
		}
		s.model.SetMode(mode) // the flag rules over the mode the state was saved in
	}
	return s, nil
}

func (s *runState) writeAlert(a *alerts.Alert) {
	s.written++
	if s.alerts == nil || s.err != nil {
		return
	}
	b, err := json.Marshal(a)
	if err != nil {
		s.err = err
		return
	}
	s.alerts.Write(append(b, '\n'))
}

// finish flushes alerts and checkpoints the state.
func (s *runState) finish() error {
	if s.alerts != nil {
		if err := s.alerts.Flush(); err != nil && s.err == nil {
			s.err = err
		}
	}
	if s.err != nil {
		return fmt.Errorf("writing alerts: %w", s.err)
	}
	if s.db != nil {
		if err := s.db.Checkpoint(s.components()); err != nil {
			return fmt.Errorf("saving state to %s: %w", s.db.Path(), err)
		}
	}
	return nil
}

func (s *runState) close() {
	if s.file != nil {
		s.file.Close()
	}
	if s.db != nil {
		s.db.Close()
	}
}

func (s *runState) writeSummary(w io.Writer) {
	kinds := make([]string, 0, len(s.engine.Raised))
	for k, n := range s.engine.Raised {
		kinds = append(kinds, fmt.Sprintf("%s=%d", k, n))
	}
	sort.Strings(kinds)
	if len(kinds) == 0 {
		kinds = []string{"none"}
	}
	fmt.Fprintf(w, "  alerts        %d written (%s); %d repeats folded into them\n", s.written, strings.Join(kinds, " "), s.engine.Folded)
	fmt.Fprintf(w, "  baseline      %d assets, %d keys\n", s.model.AssetCount(), s.model.Keys())
}
