package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/otwatch/otwatch/protocols"
	_ "github.com/otwatch/otwatch/protocols/all"
	"github.com/otwatch/otwatch/protocols/capture"
	"github.com/otwatch/otwatch/protocols/pipeline"
)

// readOptions are the flags of `otwatch read` (RECORDS.md).
type readOptions struct {
	records, alerts, inventory, db, mode string
	learningPeriod                       time.Duration
	quiet, mergeVLANs                    bool
	zones                                string
	captures                             []string
}

func parseReadFlags(args []string, stdout, stderr io.Writer) (readOptions, error) {
	var o readOptions
	fs := newFlags("read")
	fs.StringVar(&o.records, "records", "", "write transactions as JSON Lines to `FILE` (- for stdout)")
	fs.StringVar(&o.alerts, "alerts", "", "write alerts as JSON Lines to `FILE` (- for stdout)")
	fs.StringVar(&o.inventory, "inventory", "", "write the inventory document to `FILE` (- for stdout)")
	fs.StringVar(&o.db, "db", "", "state `FILE` (bbolt) loaded before and saved after, so runs continue each other")
	fs.StringVar(&o.mode, "mode", "auto", "`MODE` is learn, detect, or auto (each asset learns for --learning-period, then detects)")
	fs.BoolVar(&o.quiet, "quiet", false, "no summary and no progress bar on stderr")
	fs.StringVar(&o.zones, "zones", "", "YAML `FILE` of zones and conduits (as in the daemon's configuration): place assets, alert zone violations")
	fs.BoolVar(&o.mergeVLANs, "merge-vlans", false, "key flows without their VLAN: a routed packet mirrored on two VLANs is counted once")
	fs.DurationVar(&o.learningPeriod, "learning-period", time.Hour, "auto mode: each asset learns at least this `DURATION` of packet time")
	captures, err := parseFlags(fs, "read", args, stdout, stderr, true)
	if err != nil {
		return o, err
	}
	o.captures = captures
	var problem string
	switch {
	case len(o.captures) == 0:
		problem = "no capture file given"
	case o.mode != "learn" && o.mode != "detect" && o.mode != "auto":
		problem = fmt.Sprintf("--mode %q: want learn, detect or auto", o.mode)
	}
	if problem != "" {
		usageError(stderr, "read", fs, problem, true)
		return o, errUsage
	}
	return o, nil
}

func cmdRead(args []string, stdout, stderr io.Writer) int {
	o, err := parseReadFlags(args, stdout, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		return 2
	}
	// Open every capture first: a file that is not a capture means nothing can be done.
	readers := make([]*capture.Reader, 0, len(o.captures))
	var total int64
	for _, path := range o.captures {
		r, err := capture.Open(path)
		if err != nil {
			fmt.Fprintf(stderr, "otwatch read: %v\n", err)
			return 2
		}
		defer r.Close()
		if st, err := os.Stat(path); err == nil {
			total += st.Size()
		}
		readers = append(readers, r)
	}
	var out *bufio.Writer
	if o.records != "" {
		w := stdout
		if o.records != "-" {
			f, err := os.Create(o.records)
			if err != nil {
				fmt.Fprintf(stderr, "otwatch read: %v\n", err)
				return 2
			}
			defer f.Close()
			w = f
		}
		out = bufio.NewWriterSize(w, 1<<16)
	}
	startProfiles()
	defer stopProfiles()
	state, err := openState(o, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "otwatch read: %v\n", err)
		return 2
	}
	defer state.close()
	var line []byte
	sink := func(t *protocols.Transaction) {
		if out != nil {
			line = append(t.AppendJSON(line[:0]), '\n')
			out.Write(line)
		}
		state.observe(t)
	}
	p := pipeline.New(pipeline.DefaultLimits(), sink)
	p.MergeVLANs = o.mergeVLANs
	p.RecycleTransactions = true // nothing keeps a transaction past sink (alerts clone theirs)
	state.attach(p)
	if readPipelineHook != nil {
		readPipelineHook(p)
	}
	progress := newProgress(stderr, total, o.quiet)
	state.logf = func(format string, args ...any) { // internal errors: never silent, even with --quiet
		progress.clear()
		fmt.Fprintf(stderr, "otwatch read: "+format+"\n", args...)
	}
	started := time.Now()
	status := 0
	var done int64
	for i, r := range readers {
		frames, err := p.ReadFrom(r, func() { progress.update(done + r.FileOffset()) })
		switch {
		case err != nil:
			progress.clear()
			fmt.Fprintf(stderr, "otwatch read: %v; everything before it was processed\n", err)
			status = 1
		case frames == 0:
			// not an error, but never silent, even with --quiet: the
			// capture stopped before its first packet (a capture filter that
			// matched nothing, a tcpdump killed at once)
			progress.clear()
			fmt.Fprintf(stderr, "otwatch read: %s: no packets in this capture, only its header\n", o.captures[i])
		}
		done += r.FileOffset()
	}
	p.Flush()
	state.engine.Flush()
	if state.panics > 0 { // the flows the flush closed emit too
		status = 1
	}
	writeHeapProfile()
	progress.clear()
	if err := state.finish(o.inventory); err != nil {
		fmt.Fprintf(stderr, "otwatch read: %v\n", err)
		return 2
	}
	if out != nil {
		if err := out.Flush(); err != nil {
			fmt.Fprintf(stderr, "otwatch read: writing records: %v\n", err)
			return 2
		}
	}
	if !o.quiet {
		p.Stats.WriteSummary(stderr, time.Since(started))
		state.writeSummary(stderr)
	}
	return status
}

// readPipelineHook, when set (tests), is given each read's pipeline before
// its first frame.
var readPipelineHook func(*pipeline.Pipeline)

// progress draws a one-line bar on stderr when it is a terminal, updated
// every pipeline.ProgressEvery frames.
type progress struct {
	w     io.Writer
	total int64
	on    bool
	last  time.Time
}

func newProgress(w io.Writer, total int64, quiet bool) *progress {
	p := &progress{w: w, total: total}
	if f, ok := w.(*os.File); ok && !quiet && total > 0 {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			p.on = true
		}
	}
	return p
}

func (p *progress) update(done int64) {
	if !p.on {
		return
	}
	if now := time.Now(); now.Sub(p.last) >= 200*time.Millisecond {
		p.last = now
		const width = 40
		n := int(done * width / p.total)
		if n > width {
			n = width
		}
		bar := make([]byte, width)
		for i := range bar {
			bar[i] = ' '
			if i < n {
				bar[i] = '#'
			}
		}
		fmt.Fprintf(p.w, "\r[%s] %3d%%", bar, done*100/p.total)
	}
}

func (p *progress) clear() {
	if p.on && !p.last.IsZero() {
		fmt.Fprintf(p.w, "\r%60s\r", "")
	}
}
