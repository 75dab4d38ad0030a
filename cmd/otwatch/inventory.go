package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"

	"github.com/otwatch/otwatch/cmd/otwatch/config"
	"github.com/otwatch/otwatch/learning/advisories"
	"github.com/otwatch/otwatch/learning/inventory"
	"github.com/otwatch/otwatch/learning/store"
	"github.com/otwatch/otwatch/learning/zones"
)

const inventoryUsage = "usage: otwatch inventory export [--format json|csv] [--zones FILE] --db FILE"

// cmdInventory exports the saved inventory: otwatch inventory export --format json|csv --db FILE.
func cmdInventory(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "export" {
		fmt.Fprintln(stderr, inventoryUsage)
		return 2
	}
	fs := flag.NewFlagSet("inventory", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	db := fs.String("db", "", "state database")
	format := fs.String("format", "json", "json or csv")
	zonesFile := fs.String("zones", "", "zones and conduits file (or the daemon's configuration): each asset's zone")
	if err := fs.Parse(args[1:]); err != nil || *db == "" || (*format != "json" && *format != "csv") {
		fmt.Fprintln(stderr, inventoryUsage)
		return 2
	}
	st, err := store.Open(*db)
	if err != nil {
		fmt.Fprintf(stderr, "otwatch inventory: %v\n", err)
		return 2
	}
	defer st.Close()
	inv := inventory.New(inventory.Limits{})
	var policy *zones.Policy
	if *zonesFile != "" {
		seg, err := config.LoadSegmentation(*zonesFile)
		if err != nil {
			fmt.Fprintf(stderr, "otwatch inventory: %v\n", err)
			return 2
		}
		policy, err = seg.Policy()
		if err != nil {
			fmt.Fprintf(stderr, "otwatch inventory: %v\n", err)
			return 2
		}
		inv.ZoneOf = zoneLookup(policy)
	}
	if err := st.Load(map[string]store.Component{"inventory": inv}); err != nil {
		fmt.Fprintf(stderr, "otwatch inventory: %v\n", err)
		return 2
	}
	doc := inv.Document()
	patch, err := patchFirst(st, inv, policy)
	if err != nil {
		fmt.Fprintf(stderr, "otwatch inventory: %v\n", err)
		return 2
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
		fmt.Fprintf(stderr, "otwatch inventory: %v\n", err)
		return 2
	}
	return 0
}
