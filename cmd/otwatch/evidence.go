package main

import (
	"fmt"
	"io"

	"github.com/otwatch/otwatch/alerts/evidence"
)

// cmdEvidence checks the chain of custody: otwatch evidence verify DIR.
// Exit 0: every file and log entry intact; 1: tampering found (each
// problem named); 2: the directory cannot be read.
func cmdEvidence(args []string, stdout, stderr io.Writer) int {
	return dispatchGroup("evidence", args, stdout, stderr, map[string]func([]string) int{
		"verify": func(a []string) int { return evidenceVerify(a, stdout, stderr) },
	})
}

func evidenceVerify(args []string, stdout, stderr io.Writer) int {
	pos, code, ok := noFlags("evidence verify", args, 1, stdout, stderr)
	if !ok {
		return code
	}
	dir := pos[0]
	problems, err := evidence.Verify(dir)
	if err != nil {
		fmt.Fprintf(stderr, "otwatch evidence verify: %v\n", err)
		return 2
	}
	if len(problems) == 0 {
		fmt.Fprintf(stdout, "%s: custody log and evidence files intact\n", dir)
		return 0
	}
	for _, p := range problems {
		where := p.File
		if p.Line > 0 {
			where = fmt.Sprintf("custody.log:%d", p.Line)
			if p.File != "" {
				where += " (" + p.File + ")"
			}
		}
		fmt.Fprintf(stdout, "%s: %s: %s\n", where, p.Kind, p.Detail)
	}
	return 1
}
