# Developer entry points. `make test` is the command README.md and CI run.
GO ?= go
PKGS ?= ./...

.PHONY: build test verify generate bench fuzz

# meso-executor, the lean executor, goes beside meso: agents find it there
# (--launcher_dir) and run command tasks in it. Static: no C library needed.
build:
	$(GO) build -o bin/meso ./cmd/meso
	CGO_ENABLED=0 $(GO) build -o bin/meso-executor ./cmd/meso-executor

# The end-to-end tests run after the rest, alone: they start real clusters
# whose timing should not compete with the other packages' tests for the
# CPU (go test runs packages in parallel).
test:
	$(GO) test -race -timeout 20m $$($(GO) list $(PKGS) | grep -v '/e2e$$')
	$(GO) test -race -timeout 20m ./e2e

verify:
	@test -z "$$(gofmt -l $$(git ls-files '*.go' | grep -v '\.pb\.go$$'))" || (gofmt -l . ; exit 1)
	$(GO) vet $(PKGS)
	$(GO) mod tidy -diff

generate:
	$(GO) generate ./api/...

bench:
	$(GO) test -run '^$$' -bench . -benchmem $(PKGS)

# Every fuzz target of PKGS in turn, FUZZTIME each (docs/ARCHITECTURE.md,
# "Fuzzing"). FUZZ=regexp picks targets by name.
FUZZTIME ?= 30s
FUZZMINIMIZETIME ?= 5s
fuzz:
	GO=$(GO) FUZZTIME=$(FUZZTIME) FUZZMINIMIZETIME=$(FUZZMINIMIZETIME) scripts/fuzz.sh $(PKGS)
