# ghostwriter — everything a newcomer needs: `make run` and `make test`.
GO       ?= go
BIN      := bin/ghostwriter
DATA_DIR ?= ./data
# CONFIG holds the price table (and budgets, if you add them).
CONFIG   ?= deploy/prices.yaml

# BENCH_N is how many tickets the throughput scenarios drain (ghostwriter bench
# alone drains 200000; 50000 keeps make bench under 5 minutes on 2 cores);
# BENCH_JSON where the figures go as JSON; BENCH_FLAGS any other bench flags.
BENCH_N     ?= 50000
BENCH_JSON  ?= bin/bench.json
BENCH_FLAGS ?=

.PHONY: run build test bench lint deps clean

## run: everything in one process on an embedded NATS server; publishes the saved tickets.
## The ledger is in memory unless GHOSTWRITER_DATABASE_URL names a Postgres database.
run: build
	./$(BIN) run --demo --data-dir $(DATA_DIR) --config $(CONFIG)

## build: the ghostwriter binary in ./bin
build: deps
	$(GO) build -o $(BIN) ./cmd/ghostwriter

## test: lint, then every test with the race detector (real in-process JetStream, real HTTP,
## real Postgres named by GHOSTWRITER_TEST_DATABASE_URL, else the local one scripts/test-database starts)
test: deps lint
	GHOSTWRITER_TEST_DATABASE_URL="$${GHOSTWRITER_TEST_DATABASE_URL:-$$(scripts/test-database)}" \
		$(GO) test -race -count=1 -timeout 10m ./...

## bench: throughput, latency and memory against the broker's own ceiling, on an
## embedded file-storage JetStream server; a table on stdout, the figures in $(BENCH_JSON).
bench: build
	./$(BIN) bench --n $(BENCH_N) --json-out $(BENCH_JSON) \
		--commit "$$(git rev-parse --short=12 HEAD)$$(git diff --quiet HEAD || echo -dirty)" $(BENCH_FLAGS)

## lint: gofmt check and go vet
lint: deps
	@out=$$(gofmt -l .); \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

deps:
	$(GO) mod download

clean:
	rm -rf bin $(DATA_DIR)
