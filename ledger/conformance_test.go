package ledger_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ghostwriter-ai/ghostwriter/internal/pgtest"
	"github.com/ghostwriter-ai/ghostwriter/ledger"
	"github.com/ghostwriter-ai/ghostwriter/pipeline"
	"github.com/ghostwriter-ai/ghostwriter/schemas"
)

// books is what Store and Memory both offer; every test in this file runs
// against both, so run without a database keeps the same books as
// production.
type books interface {
	pipeline.Budget
	RecordCalls(ctx context.Context, calls []ledger.Call) (int, error)
	Spend(ctx context.Context, since, until time.Time) ([]ledger.SpendRow, error)
	SetLimits(ctx context.Context, tenantID string, l ledger.Limits) error
	Status(ctx context.Context, tenantID string) (ledger.BudgetStatus, bool, error)
}

// clock is a settable time for the budget periods.
type clock struct{ ns atomic.Int64 }

func newClock(t time.Time) *clock {
	c := &clock{}
	c.set(t)
	return c
}
func (c *clock) set(t time.Time)     { c.ns.Store(t.UnixNano()) }
func (c *clock) now() time.Time      { return time.Unix(0, c.ns.Load()).UTC() }
func (c *clock) add(d time.Duration) { c.ns.Add(int64(d)) }

// implementation opens books; calling open again gives another handle on
// the same books (another pool on the same schema, for Store), as a
// second worker would have.
type implementation struct {
	name string
	new  func(t *testing.T, c *clock) (open func() books)
}

var implementations = []implementation{
	{"memory", func(t *testing.T, c *clock) func() books {
		m := ledger.NewMemory()
		m.Now = c.now
		return func() books { return m }
	}},
	{"postgres", func(t *testing.T, c *clock) func() books {
		dsn := pgtest.DSN(t)
		migrated := false
		return func() books {
			s := openStore(t, dsn)
			s.Now = c.now
			if !migrated {
				if _, _, err := s.Migrate(testContext(t)); err != nil {
					t.Fatalf("migrate: %v", err)
				}
				migrated = true
			}
			return s
		}
	}},
}

func openStore(t *testing.T, dsn string) *ledger.Store {
	t.Helper()
	s, err := ledger.Open(testContext(t), dsn)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(s.Close)
	return s
}

func testContext(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// forEach runs test against every implementation, in parallel.
func forEach(t *testing.T, test func(t *testing.T, c *clock, open func() books)) {
	for _, impl := range implementations {
		t.Run(impl.name, func(t *testing.T) {
			t.Parallel()
			c := newClock(time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC))
			test(t, c, impl.new(t, c))
		})
	}
}

var day1 = time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)

func call(id, tenant, model string, at time.Time, in, out int, cost int64) ledger.Call {
	return ledger.Call{At: at, Cost: schemas.Cost{
		CallID: id, SourceEventID: "evt-" + id, Task: "support_draft", TenantID: tenant, Provider: "openai",
		Model: model, PromptVersion: "v1", InputTokens: in, OutputTokens: out, CostMicroUSD: cost, LatencyMS: 12, Outcome: "ok",
	}}
}

func TestRecordCallsIsIdempotent(t *testing.T) {
	t.Parallel()
	forEach(t, func(t *testing.T, _ *clock, open func() books) {
		ctx, b := testContext(t), open()
		first := []ledger.Call{
			call("c1", "acme", "gpt-4o-mini", day1, 1000, 200, 270),
			call("c2", "acme", "gpt-4o-mini", day1, 1000, 200, 270),
			call("c3", "acme", "gpt-4o", day1, 500, 100, 2250),
		}
		if n, err := b.RecordCalls(ctx, first); err != nil || n != 3 {
			t.Fatalf("first batch: %d new, %v; want 3", n, err)
		}
		cached := call("c4", "acme", "gpt-4o-mini", day1, 1000, 200, 233)
		cached.CachedInputTokens, cached.ReasoningTokens = 500, 50
		// Redelivered events, a new one, and the new one twice in a batch.
		again := append(first, cached, cached)
		if n, err := b.RecordCalls(ctx, again); err != nil || n != 1 {
			t.Fatalf("second batch: %d new, %v; want 1", n, err)
		}
		if n, err := b.RecordCalls(ctx, again); err != nil || n != 0 {
			t.Fatalf("third batch: %d new, %v; want 0", n, err)
		}
		rows, err := b.Spend(ctx, day1, day1)
		if err != nil {
			t.Fatal(err)
		}
		want := []ledger.SpendRow{
			{Day: time.Date(2026, 12, 4, 0, 0, 0, 0, time.UTC), TenantID: "acme", Model: "gpt-4o", Task: "support_draft", PromptVersion: "v1",
				Calls: 1, InputTokens: 500, OutputTokens: 100, CostMicroUSD: 2250},
			{Day: time.Date(2026, 12, 4, 0, 0, 0, 0, time.UTC), TenantID: "acme", Model: "gpt-4o-mini", Task: "support_draft", PromptVersion: "v1",
				Calls: 3, InputTokens: 3000, CachedInputTokens: 500, OutputTokens: 600, ReasoningTokens: 50, CostMicroUSD: 773},
		}
		assertRows(t, rows, want)
	})
}

func assertRows(t *testing.T, got, want []ledger.SpendRow) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d rows %+v, want %d %+v", len(got), got, len(want), want)
	}
	for i := range want {
		if !got[i].Day.Equal(want[i].Day) {
			t.Errorf("row %d day %v, want %v", i, got[i].Day, want[i].Day)
		}
		g, w := got[i], want[i]
		g.Day, w.Day = time.Time{}, time.Time{}
		if g != w {
			t.Errorf("row %d = %+v, want %+v", i, g, w)
		}
	}
}

func TestRecordCallsRejectsBadCalls(t *testing.T) {
	t.Parallel()
	forEach(t, func(t *testing.T, _ *clock, open func() books) {
		ctx, b := testContext(t), open()
		good := call("ok-1", "acme", "m", day1, 1, 1, 1)
		noID := call("", "acme", "m", day1, 1, 1, 1)
		noTime := call("t-1", "acme", "m", time.Time{}, 1, 1, 1)
		nul := call("n-1", "ac\x00me", "m", day1, 1, 1, 1)
		for name, batch := range map[string][]ledger.Call{"no call_id": {good, noID}, "no time": {good, noTime}, "NUL byte": {good, nul}} {
			if _, err := b.RecordCalls(ctx, batch); err == nil {
				t.Errorf("%s: no error", name)
			}
		}
		// Nothing of a rejected batch is stored.
		if rows, err := b.Spend(ctx, day1, day1); err != nil || len(rows) != 0 {
			t.Errorf("spend after rejected batches: %+v, %v", rows, err)
		}
	})
}

func TestSpendByDay(t *testing.T) {
	t.Parallel()
	forEach(t, func(t *testing.T, _ *clock, open func() books) {
		ctx, b := testContext(t), open()
		late := time.Date(2026, 12, 4, 23, 59, 59, 0, time.FixedZone("CET", 3600)) // 22:59 UTC on the 4th
		calls := []ledger.Call{
			call("a", "acme", "m", day1.AddDate(0, 0, -1), 10, 1, 5),
			call("b", "acme", "m", day1, 10, 1, 7),
			call("c", "globex", "m", late, 10, 1, 11),
			call("d", "acme", "m", day1.AddDate(0, 0, 1), 10, 1, 13),
		}
		if _, err := b.RecordCalls(ctx, calls); err != nil {
			t.Fatal(err)
		}
		tests := []struct {
			name         string
			since, until time.Time
			wantCosts    []int64
		}{
			{"one day", day1, day1, []int64{7, 11}},
			{"inclusive range", day1.AddDate(0, 0, -1), day1.AddDate(0, 0, 1), []int64{5, 7, 11, 13}},
			{"times inside the days count", day1.Add(13 * time.Hour), day1.Add(13 * time.Hour), []int64{7, 11}},
			{"empty", day1.AddDate(0, 1, 0), day1.AddDate(0, 2, 0), nil},
		}
		for _, tt := range tests {
			rows, err := b.Spend(ctx, tt.since, tt.until)
			if err != nil {
				t.Fatal(err)
			}
			var costs []int64
			for _, r := range rows {
				costs = append(costs, r.CostMicroUSD)
			}
			if fmt.Sprint(costs) != fmt.Sprint(tt.wantCosts) {
				t.Errorf("%s: costs %v, want %v", tt.name, costs, tt.wantCosts)
			}
		}
	})
}

// step is one operation on a tenant's budget and what it must give.
type step struct {
	advance  time.Duration // move the clock first
	limits   *ledger.Limits
	reserve  int64
	wantErr  error
	wantSoft bool
	settle   int64 // when >= 0 after a successful reserve: settle with this
	twice    bool  // settle the same hold again
	want     ledger.BudgetStatus
}

func TestReserveAndSettle(t *testing.T) {
	t.Parallel()
	lim := func(dh, ds, mh, ms int64) *ledger.Limits {
		return &ledger.Limits{DailyHardMicroUSD: dh, DailySoftMicroUSD: ds, MonthlyHardMicroUSD: mh, MonthlySoftMicroUSD: ms}
	}
	st := func(l *ledger.Limits, ds, dr, ms, mr int64) ledger.BudgetStatus {
		return ledger.BudgetStatus{Limits: *l, DaySpentMicroUSD: ds, DayReservedMicroUSD: dr, MonthSpentMicroUSD: ms, MonthReservedMicroUSD: mr}
	}
	daily := lim(1000, 0, 0, 0)
	tests := []struct {
		name  string
		steps []step
	}{
		{"reserve holds, settle moves the actual cost", []step{
			{limits: daily, reserve: 400, settle: -1, want: st(daily, 0, 400, 0, 400)},
			{reserve: 300, settle: 250, want: st(daily, 250, 400, 250, 400)},
		}},
		{"up to the limit exactly", []step{
			{limits: daily, reserve: 1000, settle: 1000, want: st(daily, 1000, 0, 1000, 0)},
			{reserve: 1, wantErr: pipeline.ErrBudgetExceeded, want: st(daily, 1000, 0, 1000, 0)},
			{reserve: 0, settle: 0, want: st(daily, 1000, 0, 1000, 0)},
		}},
		{"reservations count before they settle", []step{
			{limits: daily, reserve: 600, settle: -1, want: st(daily, 0, 600, 0, 600)},
			{reserve: 600, wantErr: pipeline.ErrBudgetBusy, want: st(daily, 0, 600, 0, 600)},
			{reserve: 400, settle: 400, want: st(daily, 400, 600, 400, 600)},
			{reserve: 700, wantErr: pipeline.ErrBudgetExceeded, want: st(daily, 400, 600, 400, 600)},
		}},
		{"settling twice counts once", []step{
			{limits: daily, reserve: 500, settle: 300, twice: true, want: st(daily, 300, 0, 300, 0)},
		}},
		{"a failed call settles 0 and frees the hold", []step{
			{limits: daily, reserve: 900, settle: 0, want: st(daily, 0, 0, 0, 0)},
			{reserve: 900, settle: -1, want: st(daily, 0, 900, 0, 900)},
		}},
		{"monthly hard limit across days", []step{
			{limits: lim(0, 0, 1500, 0), reserve: 1000, settle: 1000, want: st(lim(0, 0, 1500, 0), 1000, 0, 1000, 0)},
			{advance: 24 * time.Hour, reserve: 600, wantErr: pipeline.ErrBudgetExceeded, want: st(lim(0, 0, 1500, 0), 0, 0, 1000, 0)},
			{reserve: 500, settle: 500, want: st(lim(0, 0, 1500, 0), 500, 0, 1500, 0)},
		}},
		{"a new day frees the daily limit", []step{
			{limits: daily, reserve: 1000, settle: 1000, want: st(daily, 1000, 0, 1000, 0)},
			{advance: 24 * time.Hour, reserve: 1000, settle: 900, want: st(daily, 900, 0, 1900, 0)},
		}},
		{"a new month frees the monthly limit", []step{
			{limits: lim(0, 0, 1000, 0), reserve: 1000, settle: 1000, want: st(lim(0, 0, 1000, 0), 1000, 0, 1000, 0)},
			{advance: 31 * 24 * time.Hour, reserve: 1000, settle: 10, want: st(lim(0, 0, 1000, 0), 10, 0, 10, 0)},
		}},
		{"soft limits warn and do not stop", []step{
			{limits: lim(0, 500, 0, 0), reserve: 500, settle: 500, want: st(lim(0, 500, 0, 0), 500, 0, 500, 0)},
			{reserve: 1, wantSoft: true, settle: 1, want: st(lim(0, 500, 0, 0), 501, 0, 501, 0)},
		}},
		{"monthly soft limit", []step{
			{limits: lim(0, 0, 0, 100), reserve: 101, wantSoft: true, settle: 101, want: st(lim(0, 0, 0, 100), 101, 0, 101, 0)},
		}},
		{"new limits keep the spend", []step{
			{limits: daily, reserve: 800, settle: 800, want: st(daily, 800, 0, 800, 0)},
			{limits: lim(700, 0, 0, 0), reserve: 1, wantErr: pipeline.ErrBudgetExceeded, want: st(lim(700, 0, 0, 0), 800, 0, 800, 0)},
			{limits: lim(0, 0, 0, 0), reserve: 5000, settle: 5000, want: st(lim(0, 0, 0, 0), 5800, 0, 5800, 0)},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			forEach(t, func(t *testing.T, c *clock, open func() books) {
				ctx, b := testContext(t), open()
				for i, s := range tt.steps {
					c.add(s.advance)
					if s.limits != nil {
						if err := b.SetLimits(ctx, "acme", *s.limits); err != nil {
							t.Fatal(err)
						}
					}
					h, err := b.Reserve(ctx, "acme", s.reserve)
					if !errors.Is(err, s.wantErr) || (err != nil && s.wantErr == nil) {
						t.Fatalf("step %d: reserve %d: %v, want %v", i, s.reserve, err, s.wantErr)
					}
					if err == nil {
						if h.ID == "" || h.TenantID != "acme" || h.EstimateMicroUSD != s.reserve || h.Soft != s.wantSoft {
							t.Errorf("step %d: hold %+v, want an id, estimate %d, soft %v", i, h, s.reserve, s.wantSoft)
						}
						if s.settle >= 0 {
							if err := b.Settle(ctx, h, s.settle); err != nil {
								t.Fatal(err)
							}
							if s.twice {
								if err := b.Settle(ctx, h, s.settle); err != nil {
									t.Fatal(err)
								}
							}
						}
					}
					got, ok, err := b.Status(ctx, "acme")
					if err != nil || !ok {
						t.Fatalf("step %d: status %v %v", i, ok, err)
					}
					if got != s.want {
						t.Errorf("step %d: status %+v, want %+v", i, got, s.want)
					}
				}
			})
		})
	}
}

func TestTenantWithoutBudgetIsUnlimited(t *testing.T) {
	t.Parallel()
	forEach(t, func(t *testing.T, _ *clock, open func() books) {
		ctx, b := testContext(t), open()
		h, err := b.Reserve(ctx, "nobody", 1<<40)
		if err != nil || h.Soft {
			t.Fatalf("reserve: %+v, %v", h, err)
		}
		if err := b.Settle(ctx, h, 1<<40); err != nil {
			t.Fatal(err)
		}
		if _, ok, err := b.Status(ctx, "nobody"); ok || err != nil {
			t.Errorf("status: budget %v, %v; want none", ok, err)
		}
	})
}

// Many goroutines on two handles (two pools for Postgres, as two workers
// would have) hammer one tenant. Spend never passes the hard limit by more
// than one call, nothing stays reserved, and every settled cost is counted.
func TestBudgetRace(t *testing.T) {
	t.Parallel()
	const (
		limit      = 20_000
		estimate   = 300
		goroutines = 16
		attempts   = 40 // per goroutine: far more work than the budget
	)
	forEach(t, func(t *testing.T, _ *clock, open func() books) {
		ctx := testContext(t)
		handles := []books{open(), open()}
		if err := handles[0].SetLimits(ctx, "acme", ledger.Limits{DailyHardMicroUSD: limit, MonthlyHardMicroUSD: 3 * limit}); err != nil {
			t.Fatal(err)
		}
		var settled, exceeded, maxCall atomic.Int64
		var wg sync.WaitGroup
		for g := range goroutines {
			b := handles[g%len(handles)]
			wg.Go(func() {
				for range attempts {
					h, err := b.Reserve(ctx, "acme", estimate)
					if errors.Is(err, pipeline.ErrBudgetExceeded) || errors.Is(err, pipeline.ErrBudgetBusy) {
						exceeded.Add(1)
						continue
					}
					if err != nil {
						t.Error(err)
						return
					}
					actual := int64(rand.IntN(estimate + 1)) // a call costs at most its estimate
					for {
						m := maxCall.Load()
						if actual <= m || maxCall.CompareAndSwap(m, actual) {
							break
						}
					}
					if err := b.Settle(ctx, h, actual); err != nil {
						t.Error(err)
						return
					}
					settled.Add(actual)
				}
			})
		}
		wg.Wait()
		st, _, err := handles[1].Status(ctx, "acme")
		if err != nil {
			t.Fatal(err)
		}
		if st.DaySpentMicroUSD > limit+maxCall.Load() {
			t.Errorf("spent %d µ$, over the limit %d plus one call (%d)", st.DaySpentMicroUSD, limit, maxCall.Load())
		}
		if st.DaySpentMicroUSD != settled.Load() || st.MonthSpentMicroUSD != settled.Load() {
			t.Errorf("spent day %d month %d, but settled %d: lost updates", st.DaySpentMicroUSD, st.MonthSpentMicroUSD, settled.Load())
		}
		if st.DayReservedMicroUSD != 0 || st.MonthReservedMicroUSD != 0 {
			t.Errorf("reserved %d/%d after every hold settled", st.DayReservedMicroUSD, st.MonthReservedMicroUSD)
		}
		if exceeded.Load() == 0 || st.DaySpentMicroUSD < limit/2 {
			t.Errorf("exceeded %d times, spent %d: the test did not reach the limit", exceeded.Load(), st.DaySpentMicroUSD)
		}
		t.Logf("spent %d of %d µ$, %d reservations refused", st.DaySpentMicroUSD, limit, exceeded.Load())
	})
}
