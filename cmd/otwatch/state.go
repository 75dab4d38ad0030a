package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"

	"github.com/otwatch/otwatch/alerts"
	"github.com/otwatch/otwatch/cmd/otwatch/config"
	"github.com/otwatch/otwatch/learning/baseline"
	"github.com/otwatch/otwatch/learning/inventory"
	"github.com/otwatch/otwatch/learning/store"
)

// runState is the learning and alerting state of one `otwatch read`: in
// memory, or loaded from and saved to --db.
type runState struct {
	*monitor
	db     *store.Store
	alerts *bufio.Writer
	file   *os.File
	raised int    // alerts the engine gave the sink
	line   []byte // the alert record being written, its room kept
	err    error
}

func openState(o readOptions, stderr io.Writer) (*runState, error) {
	mode, err := baseline.ParseMode(o.mode)
	if err != nil {
		return nil, err
	}
	s := &runState{}
	s.monitor = newMonitor(baseline.Config{Mode: mode, LearningPeriod: o.learningPeriod}, inventory.Limits{}, s.writeAlert)
	if o.zones != "" {
		seg, err := config.LoadSegmentation(o.zones)
		if err != nil {
			return nil, err
		}
		policy, err := seg.Policy()
		if err != nil {
			return nil, err
		}
		s.setZones(policy)
	}
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
		if err := s.loadFeed(db); err != nil {
			db.Close()
			return nil, err
		}
		s.model.SetMode(mode) // the flag rules over the mode the state was saved in
	}
	return s, nil
}

func (s *runState) writeAlert(a *alerts.Alert) {
	s.raised++
	if s.alerts == nil || s.err != nil {
		return
	}
	s.line = append(a.AppendJSON(s.line[:0]), '\n')
	s.alerts.Write(s.line)
}

// finish flushes alerts, writes the inventory document and checkpoints the state.
func (s *runState) finish(inventoryPath string) error {
	s.checkVulns(s.model.LastSeen()) // vulnerable_asset, at the end of the capture
	if s.alerts != nil {
		if err := s.alerts.Flush(); err != nil && s.err == nil {
			s.err = err
		}
	}
	if s.err != nil {
		return fmt.Errorf("writing alerts: %w", s.err)
	}
	if inventoryPath != "" {
		b, err := json.MarshalIndent(s.inv.Document(), "", "  ")
		if err != nil {
			return err
		}
		if err := writeFileOrStdout(inventoryPath, append(b, '\n')); err != nil {
			return fmt.Errorf("writing the inventory: %w", err)
		}
	}
	if s.db != nil {
		if err := s.db.Checkpoint(s.components()); err != nil {
			return fmt.Errorf("saving state to %s: %w", s.db.Path(), err)
		}
		// no capture waits here: the journals that outgrew their share
		// are folded in to the end
		if err := s.db.Fold(); err != nil {
			return err
		}
	}
	return nil
}

func writeFileOrStdout(path string, b []byte) error {
	if path == "-" {
		_, err := os.Stdout.Write(b)
		return err
	}
	return os.WriteFile(path, b, 0o644)
}

func (s *runState) close() {
	if s.file != nil {
		s.file.Close()
	}
	if s.db != nil {
		s.db.Close()
	}
}

func (s *runState) writeSummary(w io.Writer) { io.WriteString(w, s.summary(s.raised)) }
