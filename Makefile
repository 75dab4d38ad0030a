# otwatch — passive OT/ICS network monitor. `make help` lists the targets.
GO       ?= go
VERSION  ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
LDFLAGS  := -s -w -X main.version=$(VERSION)
FUZZTIME ?= 30s
PKGS     := ./...

.PHONY: help build test test-full cross bench bench-scale pgo fuzz lint demo conformance eval image image-test image-powercut clean

help:
	@echo "build        otwatch for this machine (./otwatch)"
	@echo "test         lint + the fast tests (a few minutes), then a summary of what was skipped and why;"
	@echo "             with CI=true the exhaustive set (what .ci/run runs)"
	@echo "test-full    lint + every test: corpus sweeps, the namespace plant, browsers, qemu (what CI runs)"
	@echo "cross        static dist/otwatch-linux-{amd64,arm64,armv7} (CGO_ENABLED=0)"
	@echo "bench        benchmarks, incl. the ~123k-packet pipeline input of each protocol against tshark"
	@echo "pgo          refresh cmd/otwatch/default.pgo, the CPU profile go build optimizes otwatch with"
	@echo "bench-scale  1M-key learned state: read --db time and RSS, restart, checkpoints, kill -9, armv7 (minutes)"
	@echo "fuzz         run every fuzz target for FUZZTIME (default $(FUZZTIME))"
	@echo "lint         gofmt + go vet"
	@echo "demo         dissect the embedded real capture"
	@echo "conformance  agreement with tshark over ../shared/corpus, per protocol"
	@echo "eval         detection recall and false alerts on the labelled corpus captures, and the plant"
	@echo "             evaluation: every benign capture learned on its first 60% and detected on the rest"
	@echo "image        flashable appliance images dist/otwatch-{arm64,armv7,rpi-arm64}.img and update bundles (firmware/README.md)"
	@echo "image-test   boot the images under qemu (virt, raspi3b): replay, inventory, reboot; A/B update, tamper,"
	@echo "             rollback; $(POWER_CUTS) power cuts (firmware/boottest)"
	@echo "image-powercut  50 power cuts at random moments, during updates too (about 25 minutes)"

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o otwatch ./cmd/otwatch

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)

# Both end with one summary of every skipped test and its reason
# (cmd/testsum); tools that are not installed skip what needs them.
# make test is the fast set, except under CI (CI=true, as .ci/run sets),
# where it is the exhaustive one: the README's one test command is CI's.
SHORT := $(if $(filter true 1,$(CI)),,-short)
test: lint
	GO=$(GO) $(GO) run ./cmd/testsum $(SHORT) -count=1 -timeout 20m $(PKGS)

test-full: lint
	GO=$(GO) $(GO) run ./cmd/testsum -count=1 -timeout 20m $(PKGS)

cross:
	mkdir -p dist
	CGO_ENABLED=0 GOOS=linux GOARCH=amd64 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o dist/otwatch-linux-amd64 ./cmd/otwatch
	CGO_ENABLED=0 GOOS=linux GOARCH=arm64 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o dist/otwatch-linux-arm64 ./cmd/otwatch
	CGO_ENABLED=0 GOOS=linux GOARCH=arm GOARM=7 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o dist/otwatch-linux-armv7 ./cmd/otwatch

# The per-protocol throughput inputs, built into a temporary directory (removed
# when the recipe ends) by the pipeline benchmarks, which time them.
THROUGHPUT_INPUTS = dir=$$(mktemp -d) && trap 'rm -rf "$$dir"' EXIT && \
	OTWATCH_THROUGHPUT_DIR=$$dir $(GO) test -run '^$$' -bench Pipeline -benchtime 1x -timeout 30m ./protocols/pipeline/

# The warm whole-read passes (BenchmarkReadWarm) read the same inputs.
bench:
	$(THROUGHPUT_INPUTS) && \
	  OTWATCH_THROUGHPUT_DIR=$$dir $(GO) test -run '^$$' -bench ReadWarm -benchtime 5x -timeout 30m ./cmd/otwatch/
	$(GO) test -run '^$$' -bench . -benchmem $$($(GO) list ./protocols/... | grep -v '/protocols/pipeline$$') ./learning/baseline/ ./learning/inventory/ ./learning/scan/ ./learning/advisories/ ./ui/series/

# Profile-guided optimization: go build and go test use cmd/otwatch/default.pgo
# by themselves. The profile is otwatch's own CPU time on the per-protocol
# throughput inputs (copies of real corpus captures, as make bench uses):
# warm passes of otwatch read, and whole runs with --db for the store. It
# steers inlining and devirtualization to the hot path every plant runs
# (flows, reassembly, dissectors, learning); refresh it after a large change.
# Three rounds are merged: which call sites a profile finds hot enough to
# inline varies from one sampling to the next (one round left the S7comm
# decoder's item loop out of line in one profile of two), and a larger
# sample varies less.
pgo:
	$(THROUGHPUT_INPUTS) >/dev/null && \
	  $(GO) test -c -pgo=off -o $$dir/cmd.test ./cmd/otwatch/ && \
	  CGO_ENABLED=0 $(GO) build -pgo=off -o $$dir/otwatch ./cmd/otwatch && \
	  for round in 1 2 3; do \
	    OTWATCH_THROUGHPUT_DIR=$$dir $$dir/cmd.test -test.run '^$$' -test.bench ReadWarm -test.benchtime 40x -test.cpuprofile $$dir/warm$$round.pprof && \
	    for f in $$dir/*.pcap; do OTWATCH_CPUPROFILE=$$f.$$round.db.pprof $$dir/otwatch read --quiet --db $$dir/x.db $$f && rm -f $$dir/x.db || exit 1; done || exit 1; \
	  done && \
	  $(GO) tool pprof -proto $$dir/warm*.pprof $$dir/*.db.pprof > $$dir/default.pgo && \
	  mv $$dir/default.pgo cmd/otwatch/default.pgo && ls -l cmd/otwatch/default.pgo

bench-scale:
	OTWATCH_SCALE=1 $(GO) test -count=1 -run '^TestScale$$' -v -timeout 60m ./cmd/otwatch/ | grep -E 'scale_test|^(---|ok|FAIL)'

# The protocol packages and the conformance list come from the registry
# (`otwatch protocols`): a new protocol folder needs no edit here.

# Each fuzz target on its own: go test accepts one -fuzz pattern per package.
# A new interesting input is minimized in at most 50 runs: with go test's
# default (60 s each) the workers spent most of a short FUZZTIME minimizing,
# 0 executions a second for tens of seconds.
# Go 1.26's fuzz coordinator can race its own -fuzztime deadline and fail a
# target with "context deadline exceeded" and no failing input
# (go.dev/issue/75804, fixed in Go 1.27). A finding always writes its input
# to testdata/fuzz/TARGET, so such a failure, and only such, is reported and
# passed over.
fuzz:
	@for p in $$($(GO) list -f '{{.ImportPath}}={{.Dir}}' ./...); do \
	  pkg=$${p%%=*}; dir=$${p#*=}; \
	  for target in $$($(GO) test -list '^Fuzz' $$pkg 2>/dev/null | grep '^Fuzz'); do \
	    echo "== $$pkg $$target"; \
	    before=$$(ls "$$dir/testdata/fuzz/$$target" 2>/dev/null | wc -l); \
	    log=$$(mktemp); \
	    $(GO) test -run '^$$' -fuzz "^$$target$$" -fuzztime $(FUZZTIME) -fuzzminimizetime 50x $$pkg >$$log 2>&1; rc=$$?; \
	    cat $$log; \
	    after=$$(ls "$$dir/testdata/fuzz/$$target" 2>/dev/null | wc -l); \
	    if [ $$rc -ne 0 ]; then \
	      if [ "$$after" -eq "$$before" ] && grep -q 'context deadline exceeded' $$log; then \
	        echo "   no failing input written: go.dev/issue/75804 (the coordinator's deadline race), not a finding"; \
	      else rm -f $$log; exit 1; fi; \
	    fi; \
	    rm -f $$log; \
	  done; \
	done

demo: build
	./otwatch demo

conformance: build
	@for p in $$(./otwatch protocols | cut -f1); do \
	  python3 ../shared/tools/conformance.py --bin ./otwatch --proto $$p | tail -1; \
	done

eval:
	$(GO) test -count=1 -run '^TestEvaluation$$' -v ./alerts/ | grep -E '^\s+\||FAIL|ok'
	@# the plant evaluation fails make eval on any false alert or missed attack
	@out=$$(OTWATCH_EVAL_TABLE=$(CURDIR)/testdata/eval/plant.md $(GO) test -count=1 -timeout 30m -run '^TestPlantEvaluation$$' -v ./cmd/otwatch/ 2>&1); status=$$?; \
	  echo "$$out" | grep -E '^\s+(\||[0-9]+ (benign|labelled)|baseline deviations)|false alert|no alert|listed finding|README|FAIL|^ok'; exit $$status

image:
	VERSION=$(VERSION) GO=$(GO) firmware/build-image.sh

# CI cuts the power POWER_CUTS times; image-powercut is the long run.
POWER_CUTS ?= 3
image-test: image
	OTWATCH_IMAGE_TEST=1 OTWATCH_IMAGE_ARCHES="arm64 armv7 rpi" OTWATCH_POWER_CUTS=$(POWER_CUTS) \
	  $(GO) test -count=1 -v -timeout 60m ./firmware/boottest/

image-powercut: image
	OTWATCH_IMAGE_TEST=1 OTWATCH_POWER_CUTS=50 $(GO) test -count=1 -v -run TestPowerCuts -timeout 120m ./firmware/boottest/

clean:
	rm -rf otwatch dist
