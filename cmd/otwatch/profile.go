package main

import (
	"os"
	"runtime"
	"runtime/pprof"
)

// Profiles for engineers measuring otwatch read: OTWATCH_CPUPROFILE=FILE
// writes a CPU profile of the run, OTWATCH_MEMPROFILE=FILE a heap profile
// taken at the end, before the state is saved (go tool pprof reads both).
var cpuProfile *os.File

func startProfiles() {
	if path := os.Getenv("OTWATCH_CPUPROFILE"); path != "" {
		if f, err := os.Create(path); err == nil && pprof.StartCPUProfile(f) == nil {
			cpuProfile = f
		}
	}
}

func writeHeapProfile() {
	if path := os.Getenv("OTWATCH_MEMPROFILE"); path != "" {
		if f, err := os.Create(path); err == nil {
			runtime.GC()
			pprof.WriteHeapProfile(f)
			f.Close()
		}
	}
}

func stopProfiles() {
	if cpuProfile != nil {
		pprof.StopCPUProfile()
		cpuProfile.Close()
		cpuProfile = nil
	}
}
