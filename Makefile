# ghostwriter — everything a newcomer needs: `make run` and `make test`.
GO       ?= go
BIN      := bin/ghostwriter
DATA_DIR ?= ./data
# CONFIG holds the price table (and budgets, if you add them).
CONFIG   ?= deploy/prices.yaml

.PHONY: run build test eval lint fuzz deps clean

## run: everything in one process on an embedded NATS server; publishes the saved tickets.
## The ledger is in memory unless GHOSTWRITER_DATABASE_URL names a Postgres database.
run: build
	./$(BIN) run --demo --data-dir $(DATA_DIR) --config $(CONFIG)

## build: the ghostwriter binary in ./bin
build: deps
	$(GO) build -o $(BIN) ./cmd/ghostwriter

## test: lint, then every test with the race detector (real in-process JetStream, real HTTP,
## real Postgres named by GHOSTWRITER_TEST_DATABASE_URL, else the local one scripts/test-database starts).
## The eval gate is one of them: cmd/ghostwriter's TestEvalGate runs `ghostwriter eval` on
## testdata/eval/support_draft against the recorded answers, and fails on any unexpected result.
test: deps lint
	GHOSTWRITER_TEST_DATABASE_URL="$${GHOSTWRITER_TEST_DATABASE_URL:-$$(scripts/test-database)}" \
		$(GO) test -race -count=1 -timeout 10m ./...

## eval: the saved examples against the recorded answers, as the gate runs them, with the pass table
eval: deps
	$(GO) run ./cmd/ghostwriter eval --task support_draft --config $(CONFIG)

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
