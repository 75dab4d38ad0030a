package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/otwatch/otwatch/learning/advisories"
	"github.com/otwatch/otwatch/learning/conversations"
	"github.com/otwatch/otwatch/learning/inventory"
	"github.com/otwatch/otwatch/learning/store"
)

// cmdInventory exports the saved inventory: otwatch inventory export --format json|csv --db FILE.
func cmdInventory(args []string, stdout, stderr io.Writer) int {
	return dispatchGroup("inventory", args, stdout, stderr, map[string]func([]string) int{
		"export": func(a []string) int { return inventoryExport(a, stdout, stderr) },
	})
}

func inventoryExport(args []string, stdout, stderr io.Writer) int {
	const name = "inventory export"
	fs := newFlags(name)
	sf := addStateFlags(fs)
	format := fs.String("format", "json", "json, or csv (one row per asset)")
	zonesFile := fs.String("zones", "", "zones and conduits `FILE` (or the daemon's configuration): each asset's zone")
	pos, err := parseFlags(fs, name, args, stdout, stderr, false)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		return 2
	}
	switch {
	case len(pos) > 0:
		usageError(stderr, name, fs, fmt.Sprintf("unexpected argument %q", pos[0]), false)
		return 2
	case *format != "json" && *format != "csv":
		usageError(stderr, name, fs, fmt.Sprintf("--format %q: want json or csv", *format), false)
		return 2
	}
	path, err := sf.path()
	if err != nil {
		fmt.Fprintf(stderr, "otwatch %s: %v\n", name, err)
		return 2
	}
	inv := inventory.New(inventory.Limits{})
	convs := conversations.New(0)
	policy, err := zonesFor(inv, *zonesFile)
	if err != nil {
		fmt.Fprintf(stderr, "otwatch %s: %v\n", name, err)
		return 2
	}
	if _, err := loadState(path, map[string]store.Component{"inventory": inv, "conversations": convs}); err != nil {
		fmt.Fprintf(stderr, "otwatch %s: %v\n", name, err)
		return 2
	}
	doc := inv.Document()
	// the imported advisories' patch-first list rides along
	patch, err := patchFirstOf(path, inv, convs, policy)
	if err != nil {
		fmt.Fprintf(stderr, "otwatch %s: %v\n", name, err)
		return 2
	}
	if patch.Feed.Advisories == 0 {
		patch = nil
	}
	if *format == "csv" {
		err = inventory.WriteCSV(stdout, doc)
		if err == nil && patch != nil {
			err = writePatchCSV(stdout, *patch)
		}
	} else {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if patch != nil { // the imported advisories' patch-first list rides along
			err = enc.Encode(struct {
				inventory.Document
				PatchFirst []advisories.Risk `json:"patch_first"`
			}{doc, patch.PatchFirst})
		} else {
			err = enc.Encode(doc)
		}
	}
	if err != nil {
		fmt.Fprintf(stderr, "otwatch %s: %v\n", name, err)
		return 2
	}
	return 0
}
