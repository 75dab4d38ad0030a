//go:build !linux

// Command init is PID 1 of the otwatch appliance; it runs on Linux only.
package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Fprintln(os.Stderr, "otwatch init: Linux only")
	os.Exit(2)
}
