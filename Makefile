# ghostwriter — everything a newcomer needs: `make run` and `make test`.
GO       ?= go
BIN      := bin/ghostwriter
DESK     := bin/supportdesk
DATA_DIR ?= ./data
# CONFIG holds the price table (and budgets, if you add them).
CONFIG   ?= deploy/prices.yaml
# ARTIFACTS keeps what tests leave to look at, such as the support desk's screenshot.
ARTIFACTS ?= $(CURDIR)/artifacts

# BENCH_N is how many tickets the throughput scenarios drain (ghostwriter bench
# alone drains 200000; 50000 keeps make bench under 5 minutes on 2 cores);
# BENCH_JSON where the figures go as JSON; BENCH_FLAGS any other bench flags.
BENCH_N     ?= 50000
BENCH_JSON  ?= bin/bench.json
BENCH_FLAGS ?=

.PHONY: run build test chaos bench eval lint fuzz deps clean

## run: ghostwriter on an embedded NATS server (drafting the saved tickets too) and the support
## desk beside it; prints the desk's URL, Ctrl-C stops both. The ledger is in memory unless
## GHOSTWRITER_DATABASE_URL names a Postgres database; the desk's tickets unless SUPPORTDESK_DATABASE_URL does.
run: build
	scripts/run --demo --data-dir $(DATA_DIR) --config $(CONFIG)

## build: the ghostwriter and supportdesk binaries in ./bin
build: deps
	$(GO) build -o $(BIN) ./cmd/ghostwriter
	$(GO) build -o $(DESK) ./cmd/supportdesk

## test: lint, then every test with the race detector (real in-process JetStream, real HTTP,
## real Postgres named by GHOSTWRITER_TEST_DATABASE_URL, else the local one scripts/test-database starts,
## and headless Chromium for the support desk; screenshots land in $(ARTIFACTS)).
## The eval gate is one of them: cmd/ghostwriter's TestEvalGate runs `ghostwriter eval` on
## testdata/eval/<task> for every built-in task against the recorded answers, and fails on any
## unexpected result.
## So is the chaos suite's short version (chaos/, about a minute): see make chaos.
test: deps lint
	GHOSTWRITER_TEST_DATABASE_URL="$${GHOSTWRITER_TEST_DATABASE_URL:-$$(scripts/test-database)}" \
	GHOSTWRITER_ARTIFACTS="$${GHOSTWRITER_ARTIFACTS:-$(ARTIFACTS)}" \
		$(GO) test -race -count=1 -timeout 10m ./...

## chaos: the full chaos suite (build tag chaos, about 5 minutes on 2 cores): workers and the
## ledger as child processes, SIGKILLed, crashed after a PubAck, cut off from NATS (one node or a
## 3-node R3 cluster), from Postgres and from the model; after each scenario the invariants are
## checked and one row of figures printed, the whole table at the end; a failed scenario's
## child logs are kept in $(ARTIFACTS)/chaos. make test runs the same scenarios smaller.
chaos: deps
	GHOSTWRITER_TEST_DATABASE_URL="$${GHOSTWRITER_TEST_DATABASE_URL:-$$(scripts/test-database)}" \
	GHOSTWRITER_ARTIFACTS="$${GHOSTWRITER_ARTIFACTS:-$(ARTIFACTS)}" \
		$(GO) test -tags chaos -count=1 -timeout 60m -v -run '^TestChaos$$' ./chaos

## eval: each task's saved examples against the recorded answers, as the gate runs them, with the pass tables
EVAL_TASKS ?= support_draft triage
eval: deps
	@for task in $(EVAL_TASKS); do $(GO) run ./cmd/ghostwriter eval --task $$task --config $(CONFIG) || exit 1; done

## fuzz: run each fuzz target for 30 s (make test already runs their seed corpora)
fuzz: deps
	$(GO) test -run '^$$' -fuzz '^FuzzCleanBody$$' -fuzztime 30s ./pipeline
	$(GO) test -run '^$$' -fuzz '^FuzzMask$$' -fuzztime 30s ./pipeline
	$(GO) test -run '^$$' -fuzz '^FuzzDecode$$' -fuzztime 30s ./schemas

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
	rm -rf bin $(DATA_DIR) $(ARTIFACTS)
