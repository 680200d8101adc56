# ghostwriter — everything a newcomer needs: `make run` and `make test`.
GO       ?= go
BIN      := bin/ghostwriter
DATA_DIR ?= ./data

.PHONY: run build test lint fuzz deps clean

## run: everything in one process on an embedded NATS server; publishes the saved tickets
run: build
	./$(BIN) run --demo --data-dir $(DATA_DIR)

## build: the ghostwriter binary in ./bin
build: deps
	$(GO) build -o $(BIN) ./cmd/ghostwriter

## test: lint, then every test with the race detector (real in-process JetStream, real HTTP)
test: deps lint
	$(GO) test -race -count=1 -timeout 10m ./...

## fuzz: run each fuzz target for 30 s (make test already runs their seed corpora)
fuzz: deps
	$(GO) test -run '^$$' -fuzz '^FuzzCleanBody$$' -fuzztime 30s ./pipeline
	$(GO) test -run '^$$' -fuzz '^FuzzMask$$' -fuzztime 30s ./pipeline
	$(GO) test -run '^$$' -fuzz '^FuzzDecode$$' -fuzztime 30s ./schemas

## lint: gofmt check and go vet
lint: deps
	@out=$$(gofmt -l .); \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

deps:
	$(GO) mod download

clean:
	rm -rf bin $(DATA_DIR)
