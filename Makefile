# otwatch — passive OT/ICS network monitor. `make help` lists the targets.
GO       ?= go
VERSION  ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
LDFLAGS  := -s -w -X main.version=$(VERSION)
FUZZTIME ?= 30s
PKGS     := ./...

.PHONY: help build test test-full cross bench fuzz lint demo conformance eval image image-test clean

help:
	@echo "build        otwatch for this machine (./otwatch)"
	@echo "test         lint + the fast tests (a few minutes), then a summary of what was skipped and why"
	@echo "test-full    lint + every test: corpus sweeps, the namespace plant, browsers, qemu (what CI runs)"
	@echo "cross        static dist/otwatch-linux-{amd64,arm64,armv7} (CGO_ENABLED=0)"
	@echo "bench        benchmarks, incl. 1M-packet Modbus run against tshark"
	@echo "fuzz         run every fuzz target for FUZZTIME (default $(FUZZTIME))"
	@echo "lint         gofmt + go vet"
	@echo "demo         dissect the embedded real capture"
	@echo "conformance  agreement with tshark over ../shared/corpus, per protocol"
	@echo "eval         detection recall and false alerts on the labelled corpus captures"
	@echo "image        flashable appliance images dist/otwatch-{arm64,armv7}.img (firmware/README.md)"
	@echo "image-test   boot both images under qemu: healthz, replay, inventory, reboot (firmware/boottest)"

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o otwatch ./cmd/otwatch

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)

# Both end with one summary of every skipped test and its reason
# (cmd/testsum); tools that are not installed skip what needs them.
test: lint
	GO=$(GO) $(GO) run ./cmd/testsum -short -count=1 -timeout 15m $(PKGS)

test-full: lint
	GO=$(GO) $(GO) run ./cmd/testsum -count=1 -timeout 20m $(PKGS)

cross:
	mkdir -p dist
	CGO_ENABLED=0 GOOS=linux GOARCH=amd64 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o dist/otwatch-linux-amd64 ./cmd/otwatch
	CGO_ENABLED=0 GOOS=linux GOARCH=arm64 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o dist/otwatch-linux-arm64 ./cmd/otwatch
	CGO_ENABLED=0 GOOS=linux GOARCH=arm GOARM=7 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o dist/otwatch-linux-armv7 ./cmd/otwatch

bench:
	$(GO) test -run '^$$' -bench Pipeline -benchtime 1x -timeout 30m ./protocols/pipeline/
	$(GO) test -run '^$$' -bench . -benchmem ./protocols/capture/ ./protocols/frame/ ./protocols/modbus/ \
	  ./protocols/dnp3/ ./protocols/s7comm/ ./protocols/opcua/ ./learning/baseline/ ./learning/inventory/ ./learning/scan/

# Each fuzz target on its own: go test accepts one -fuzz pattern per package.
fuzz:
	@for pkg in $$($(GO) list ./...); do \
	  for target in $$($(GO) test -list '^Fuzz' $$pkg 2>/dev/null | grep '^Fuzz'); do \
	    echo "== $$pkg $$target"; \
	    $(GO) test -run '^$$' -fuzz "^$$target$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
	  done; \
	done

demo: build
	./otwatch demo

conformance: build
	@for p in modbus dnp3 s7comm s7comm-plus opcua; do \
	  python3 ../shared/tools/conformance.py --bin ./otwatch --proto $$p | tail -1; \
	done

eval:
	$(GO) test -count=1 -run '^TestEvaluation$$' -v ./alerts/ | grep -E '^\s+\||FAIL|ok'

image:
	VERSION=$(VERSION) GO=$(GO) firmware/build-image.sh

image-test: image
	OTWATCH_IMAGE_TEST=1 $(GO) test -count=1 -v -timeout 20m ./firmware/boottest/

clean:
	rm -rf otwatch dist
