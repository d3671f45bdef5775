# Developer entry points. `make test` is the command README.md and CI run.
GO ?= go
PKGS ?= ./...

.PHONY: build test verify generate bench fuzz

build:
	$(GO) build -o bin/meso ./cmd/meso

test:
	$(GO) test -race -timeout 20m $(PKGS)

verify:
	@test -z "$$(gofmt -l $$(git ls-files '*.go' | grep -v '\.pb\.go$$'))" || (gofmt -l . ; exit 1)
	$(GO) vet $(PKGS)
	$(GO) mod tidy -diff

generate:
	$(GO) generate ./api/...

bench:
	$(GO) test -run '^$$' -bench . -benchmem $(PKGS)
