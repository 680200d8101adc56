package consumers_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/ghostwriter-ai/ghostwriter/consumers"
	"github.com/ghostwriter-ai/ghostwriter/internal/pgtest"
	"github.com/ghostwriter-ai/ghostwriter/internal/tcpproxy"
	"github.com/ghostwriter-ai/ghostwriter/ledger"
	"github.com/ghostwriter-ai/ghostwriter/pipeline"
	"github.com/ghostwriter-ai/ghostwriter/schemas"
)

// The fake model's usage and its price: every call costs 270 µ$.
const (
	pricedModel   = "m1"
	costPerCall   = 270 // 1000 × $0.15/M + 200 × $0.60/M, in µ$
	answerPerCall = `{"draft":"Hello","confidence":0.9,"reason":"other","requires_review":false}`
)

var prices = map[string]pipeline.Price{pricedModel: {InputPerMTok: 150_000, OutputPerMTok: 600_000}}

// usageModel answers like a paid model: 1000 input and 200 output tokens.
func usageModel(delay time.Duration) *countingModel {
	return &countingModel{next: func(ctx context.Context, _ pipeline.Request) (pipeline.Response, error) {
		if delay > 0 {
			select {
			case <-time.After(delay):
			case <-ctx.Done():
				return pipeline.Response{}, ctx.Err()
			}
		}
		return pipeline.Response{Text: answerPerCall, Model: pricedModel, Provider: "fake",
			InputTokens: 1000, OutputTokens: 200, FinishReason: "stop"}, nil
	}}
}

// recorderFunc is a CostRecorder as a struct of funcs.
type recorderFunc struct {
	record func(ctx context.Context, calls []ledger.Call) (int, error)
}

func (r recorderFunc) RecordCalls(ctx context.Context, calls []ledger.Call) (int, error) {
	return r.record(ctx, calls)
}

// startLedger runs the ledger consumer until the returned stop is called.
func (h *harness) startLedger(store consumers.CostRecorder) (stop func()) {
	h.t.Helper()
	cons, err := consumers.LedgerConsumer(h.ctx, h.js)
	if err != nil {
		h.t.Fatal(err)
	}
	l := &consumers.Ledger{JS: h.js, Consumer: cons, Store: store, BatchSize: 64, MaxWait: 100 * time.Millisecond,
		WriteTimeout: 2 * time.Second, RetryMax: 200 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	ctx, cancel := context.WithCancel(h.ctx)
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := l.Run(ctx); err != nil {
			h.t.Errorf("ledger: %v", err)
		}
	})
	var once sync.Once
	stop = func() { once.Do(func() { cancel(); wg.Wait() }) }
	h.t.Cleanup(stop)
	return stop
}

// ledgerSettled waits until the ledger consumer has nothing pending.
func (h *harness) ledgerSettled(within time.Duration) {
	h.t.Helper()
	c, err := consumers.LedgerConsumer(h.ctx, h.js)
	if err != nil {
		h.t.Fatal(err)
	}
	h.waitFor("the ledger consumer to settle", within, func() bool {
		info, err := c.Info(h.ctx)
		return err == nil && info.NumPending == 0 && info.NumAckPending == 0
	})
}

// openLedger opens a migrated Store on its own schema.
func openLedger(t *testing.T, ctx context.Context, dsn string) *ledger.Store {
	t.Helper()
	s, err := ledger.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	if _, _, err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	return s
}

// totals reads the ledger's call rows and the sum of their cost, and
// checks daily_spend agrees with them.
func totals(t *testing.T, ctx context.Context, dsn string) (rows, cost int64) {
	t.Helper()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var dailyCalls, dailyCost int64
	err = conn.QueryRow(ctx, `SELECT (SELECT count(*) FROM calls), (SELECT COALESCE(sum(cost_microusd), 0) FROM calls),
		(SELECT COALESCE(sum(calls), 0) FROM daily_spend), (SELECT COALESCE(sum(cost_microusd), 0) FROM daily_spend)`).
		Scan(&rows, &cost, &dailyCalls, &dailyCost)
	if err != nil {
		t.Fatal(err)
	}
	if dailyCalls != rows || dailyCost != cost {
		t.Errorf("daily_spend has %d calls / %d µ$, calls has %d / %d", dailyCalls, dailyCost, rows, cost)
	}
	return rows, cost
}

func publishTickets(h *harness, prefix string, n int) {
	for i := range n {
		tk := refund
		tk.TicketID = fmt.Sprintf("%s-%d", prefix, i)
		h.publishTicket("", tk)
	}
}

// N tickets: ledger rows == ai.cost events == model calls, and the money
// adds up to the fake model's usage times the price table. The same events
// delivered again count nothing.
func TestLedgerRecordsEveryCallOnce(t *testing.T) {
	dsn := pgtest.DSN(t)
	h := newHarness(t)
	store := openLedger(t, h.ctx, dsn)
	model := usageModel(0)
	h.startPipeline(h.nc, &pipeline.Pipeline{Model: model, Prices: prices, CallTimeout: time.Second}, 8)
	h.startLedger(store)

	const n = 40
	publishTickets(h, "T", n)
	h.waitFor("every draft", 20*time.Second, func() bool { return len(h.terminal()) == n })
	h.settled(10 * time.Second)
	h.ledgerSettled(10 * time.Second)

	costs := h.events(schemas.StreamCosts, schemas.TypeCost)
	rows, sum := totals(t, h.ctx, dsn)
	if calls := model.calls.Load(); rows != int64(len(costs)) || rows != calls || calls != n {
		t.Fatalf("ledger rows %d, ai.cost events %d, model calls %d; want %d each", rows, len(costs), calls, n)
	}
	if sum != n*costPerCall {
		t.Errorf("SUM(cost) = %d µ$, want %d × %d", sum, n, costPerCall)
	}

	// Every cost event published again under a new Nats-Msg-Id, as a
	// replay or a confused producer would: nothing changes.
	for _, env := range costs {
		raw, err := schemas.Encode(env)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := h.js.Publish(h.ctx, schemas.TypeCost, raw, jetstream.WithMsgID("again-"+env.ID)); err != nil {
			t.Fatal(err)
		}
	}
	h.waitFor("the copies on the stream", 5*time.Second, func() bool {
		return len(h.events(schemas.StreamCosts, schemas.TypeCost)) == 2*n
	})
	h.ledgerSettled(10 * time.Second)
	if again, againSum := totals(t, h.ctx, dsn); again != rows || againSum != sum {
		t.Errorf("after redelivery: %d rows / %d µ$, want %d / %d", again, againSum, rows, sum)
	}
}

// A cost event that does not decode goes to the dead-letter stream and is
// acked; the events after it are recorded.
func TestLedgerDeadLettersBadCostEvents(t *testing.T) {
	h := newHarness(t)
	mem := ledger.NewMemory()
	h.startLedger(mem)
	h.publishRaw(schemas.TypeCost, []byte(`{"specversion":"1.0","id":"bad-cost","source":"x","type":"ai.cost","time":"2026-12-04T10:00:00Z","data":{"call_id":"c"}}`))
	// Valid against the schema, but not something the ledger can key on.
	noID, err := schemas.New(schemas.TypeCost, "test", "", schemas.Cost{SourceEventID: "e", Task: "support_draft",
		TenantID: "acme", Provider: "p", Model: "m", PromptVersion: "v1", Outcome: "ok"})
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := schemas.Encode(noID)
	h.publishRaw(schemas.TypeCost, raw)
	good, err := schemas.New(schemas.TypeCost, "test", "", schemas.Cost{CallID: "good", SourceEventID: "e", Task: "support_draft",
		TenantID: "acme", Provider: "p", Model: "m", PromptVersion: "v1", InputTokens: 1, OutputTokens: 1, CostMicroUSD: 5, Outcome: "ok"})
	if err != nil {
		t.Fatal(err)
	}
	raw, _ = schemas.Encode(good)
	h.publishRaw(schemas.TypeCost, raw)
	h.ledgerSettled(10 * time.Second)

	rows, err := mem.Spend(h.ctx, good.Time, good.Time)
	if err != nil || len(rows) != 1 || rows[0].CostMicroUSD != 5 {
		t.Errorf("spend %+v, %v; want the good event's 5 µ$", rows, err)
	}
	s, err := h.js.Stream(h.ctx, schemas.StreamDLQ)
	if err != nil {
		t.Fatal(err)
	}
	dead, err := s.GetLastMsgForSubject(h.ctx, schemas.SubjectDLQPrefix+schemas.TypeCost)
	if err != nil {
		t.Fatalf("no dead letter: %v", err)
	}
	if dead.Header.Get(schemas.HeaderReason) == "" || dead.Header.Get(schemas.HeaderSourceStream) != schemas.StreamCosts {
		t.Errorf("dead letter headers %v", dead.Header)
	}
	info, err := s.Info(h.ctx)
	if err != nil || info.State.Msgs != 2 {
		t.Errorf("dead-letter stream holds %v messages (%v), want 2", info.State.Msgs, err)
	}
}

// Postgres unreachable during a run: the ledger acks nothing and retries;
// once it is back every event is recorded once. The worker never notices.
func TestLedgerSurvivesPostgresOutage(t *testing.T) {
	dsn := pgtest.DSN(t)
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	h := newHarness(t)
	px := tcpproxy.New(t, net.JoinHostPort(cfg.Host, fmt.Sprint(cfg.Port)))
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatalf("%s must be a postgres:// URL for this test: %v", pgtest.EnvURL, err)
	}
	u.Host = px.Addr()
	q := u.Query()
	q.Set("connect_timeout", "2")
	u.RawQuery = q.Encode()
	proxied := u.String()
	store := openLedger(t, h.ctx, proxied)

	var failures atomic.Int64
	recorder := recorderFunc{func(ctx context.Context, calls []ledger.Call) (int, error) {
		n, err := store.RecordCalls(ctx, calls)
		if err != nil {
			failures.Add(1)
		}
		return n, err
	}}
	model := usageModel(0)
	h.startPipeline(h.nc, &pipeline.Pipeline{Model: model, Prices: prices, CallTimeout: time.Second}, 8)
	h.startLedger(recorder)

	const n = 30
	publishTickets(h, "before", n)
	h.waitFor("some calls in the ledger", 20*time.Second, func() bool { rows, _ := totals(t, h.ctx, dsn); return rows > 0 })

	px.Cut()
	publishTickets(h, "during", n)
	h.waitFor("every draft", 20*time.Second, func() bool { return len(h.terminal()) == 2*n })
	h.waitFor("the ledger to fail a few times", 20*time.Second, func() bool { return failures.Load() >= 3 })
	c, err := consumers.LedgerConsumer(h.ctx, h.js)
	if err != nil {
		t.Fatal(err)
	}
	info, err := c.Info(h.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.NumPending+uint64(info.NumAckPending) == 0 {
		t.Fatalf("the ledger acked everything while Postgres was unreachable: %+v", info)
	}
	px.Restore()

	h.ledgerSettled(30 * time.Second)
	costs := h.events(schemas.StreamCosts, schemas.TypeCost)
	rows, sum := totals(t, h.ctx, dsn)
	if calls := model.calls.Load(); rows != int64(len(costs)) || rows != calls || calls != 2*n {
		t.Fatalf("ledger rows %d, ai.cost events %d, model calls %d; want %d each", rows, len(costs), calls, 2*n)
	}
	if sum != 2*n*costPerCall {
		t.Errorf("SUM(cost) = %d µ$, want %d", sum, 2*n*costPerCall)
	}
	t.Logf("%d failed writes while Postgres was away", failures.Load())
}

// Several workers on one server share a tenant's hard limit in Postgres,
// each with its own pool. Work far beyond the budget: spend ends within
// one call of the limit, every other ticket fails with budget_exceeded,
// and no model call is made for them. A ticket refused only for holds in
// flight (rate_limited, retryable) is retried, so none ends that way.
func TestBudgetHoldsAcrossWorkers(t *testing.T) {
	dsn := pgtest.DSN(t)
	h := newHarness(t)
	first := openLedger(t, h.ctx, dsn)
	const (
		n       = 60
		workers = 3
		limit   = 10*costPerCall + 100
	)
	if err := first.SetLimits(h.ctx, "acme", ledger.Limits{DailyHardMicroUSD: limit}); err != nil {
		t.Fatal(err)
	}
	// A ticket refused only because of holds in flight is retried until
	// it fits or the budget is spent, however many deliveries that takes.
	tickets, err := h.js.Stream(h.ctx, schemas.StreamTickets)
	if err != nil {
		t.Fatal(err)
	}
	drafts, err := tickets.Consumer(h.ctx, schemas.ConsumerDrafts)
	if err != nil {
		t.Fatal(err)
	}
	cc := drafts.CachedInfo().Config
	cc.MaxDeliver = -1
	if _, err := tickets.UpdateConsumer(h.ctx, cc); err != nil {
		t.Fatal(err)
	}
	model := usageModel(20 * time.Millisecond)
	for range workers {
		store := openLedger(t, h.ctx, dsn)
		h.startPipeline(h.connect(), &pipeline.Pipeline{Model: model, DefaultModel: pricedModel, Prices: prices, Budget: store, CallTimeout: time.Second}, 16)
	}
	h.startLedger(first)
	publishTickets(h, "T", n)
	h.waitFor("every result", 30*time.Second, func() bool { return len(h.terminal()) == n })
	h.settled(10 * time.Second)
	h.ledgerSettled(10 * time.Second)

	ready, exceeded := 0, 0
	for id, res := range h.terminal() {
		if len(res) != 1 {
			t.Errorf("event %s: %d results", id, len(res))
			continue
		}
		switch res[0].Type {
		case schemas.TypeDraftReady:
			ready++
		case schemas.TypeDraftFailed:
			var f schemas.DraftFailed
			if err := res[0].DecodeData(&f); err != nil {
				t.Fatal(err)
			}
			if f.ErrorCode != string(pipeline.CodeBudgetExceeded) || f.Retryable {
				t.Errorf("failed %+v, want budget_exceeded", f)
			}
			exceeded++
		}
	}
	calls := model.calls.Load()
	st, _, err := first.Status(h.ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	if st.DaySpentMicroUSD > limit+costPerCall || st.DayReservedMicroUSD != 0 {
		t.Errorf("spent %d µ$ (reserved %d), limit %d plus one call %d", st.DaySpentMicroUSD, st.DayReservedMicroUSD, limit, costPerCall)
	}
	if int64(ready) != calls || ready+exceeded != n || exceeded == 0 {
		t.Errorf("%d drafts, %d budget_exceeded, %d model calls; want drafts == calls and the rest exceeded", ready, exceeded, calls)
	}
	if st.DaySpentMicroUSD != calls*costPerCall {
		t.Errorf("budget spent %d µ$, but %d calls cost %d", st.DaySpentMicroUSD, calls, calls*costPerCall)
	}
	rows, sum := totals(t, h.ctx, dsn)
	if rows != calls || sum != calls*costPerCall {
		t.Errorf("ledger %d rows / %d µ$, want %d calls / %d", rows, sum, calls, calls*costPerCall)
	}
	t.Logf("%d of %d tickets drafted for %d µ$ under a %d µ$ limit", ready, n, st.DaySpentMicroUSD, limit)
}
