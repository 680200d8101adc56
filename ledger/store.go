package ledger

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ghostwriter-ai/ghostwriter/pipeline"
)

// ApplicationName is the application_name of the Store's connections
// unless the DSN names another; operators find them in pg_stat_activity.
const ApplicationName = "ghostwriter-ledger"

// Store is the ledger over Postgres. It is safe for concurrent use, and
// several processes may share one database: every write is one atomic
// statement. The pool reconnects by itself after Postgres restarts.
type Store struct {
	pool *pgxpool.Pool
	// Now is the clock that picks a budget's day and month; nil means
	// time.Now. Set it before use.
	Now func() time.Time
}

var _ pipeline.Budget = (*Store)(nil)

// Open connects a pool to dsn (a postgres:// URL or key=value string; pool
// settings such as pool_max_conns may ride along) and checks that
// Postgres answers. Close releases it.
func Open(ctx context.Context, dsn string) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("ledger.open: %w", err)
	}
	if cfg.ConnConfig.RuntimeParams["application_name"] == "" {
		cfg.ConnConfig.RuntimeParams["application_name"] = ApplicationName
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("ledger.open: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("ledger.open %s@%s:%d/%s: %w", cfg.ConnConfig.User, cfg.ConnConfig.Host, cfg.ConnConfig.Port, cfg.ConnConfig.Database, err)
	}
	return &Store{pool: pool}, nil
}

// Close waits for connections in use and closes the pool.
func (s *Store) Close() { s.pool.Close() }

// Ping reports whether Postgres answers, for readiness checks.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.pool.Ping(ctx); err != nil {
		return fmt.Errorf("ledger.ping: %w", err)
	}
	return nil
}

func (s *Store) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// recordCalls inserts the calls that are not there yet and adds exactly
// those to daily_spend, in one statement: a call_id seen before, in an
// earlier batch or earlier in this one, changes nothing.
const recordCalls = `
WITH input AS (
	SELECT DISTINCT ON (call_id) *
	FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
		$8::bigint[], $9::bigint[], $10::bigint[], $11::bigint[], $12::bigint[], $13::bigint[], $14::text[], $15::timestamptz[])
		AS t(call_id, source_event_id, task, tenant_id, provider, model, prompt_version,
			input_tokens, cached_input_tokens, output_tokens, reasoning_tokens, cost_microusd, latency_ms, outcome, called_at)
	ORDER BY call_id
), inserted AS (
	INSERT INTO calls (call_id, source_event_id, task, tenant_id, provider, model, prompt_version,
		input_tokens, cached_input_tokens, output_tokens, reasoning_tokens, cost_microusd, latency_ms, outcome, called_at)
	SELECT * FROM input
	ON CONFLICT (call_id) DO NOTHING
	RETURNING *
), spend AS (
	INSERT INTO daily_spend AS d (day, tenant_id, model, task, prompt_version, calls,
		input_tokens, cached_input_tokens, output_tokens, reasoning_tokens, cost_microusd)
	SELECT (called_at AT TIME ZONE 'UTC')::date, tenant_id, model, task, prompt_version, count(*),
		sum(input_tokens), sum(cached_input_tokens), sum(output_tokens), sum(reasoning_tokens), sum(cost_microusd)
	FROM inserted
	GROUP BY 1, 2, 3, 4, 5
	ORDER BY 1, 2, 3, 4, 5
	ON CONFLICT (day, tenant_id, model, task, prompt_version) DO UPDATE SET
		calls = d.calls + excluded.calls,
		input_tokens = d.input_tokens + excluded.input_tokens,
		cached_input_tokens = d.cached_input_tokens + excluded.cached_input_tokens,
		output_tokens = d.output_tokens + excluded.output_tokens,
		reasoning_tokens = d.reasoning_tokens + excluded.reasoning_tokens,
		cost_microusd = d.cost_microusd + excluded.cost_microusd
	RETURNING 1
)
SELECT (SELECT count(*) FROM inserted), (SELECT count(*) FROM spend)`

// RecordCalls stores calls idempotently and atomically: all of them or,
// on error, none. It returns how many were new; calls whose call_id the
// ledger already holds are skipped and never counted twice. The caller
// may ack their events once it returns nil.
func (s *Store) RecordCalls(ctx context.Context, calls []Call) (int, error) {
	if len(calls) == 0 {
		return 0, nil
	}
	n := len(calls)
	var (
		ids, sources, tasks, tenants, providers, models, versions, outcomes = make([]string, n), make([]string, n),
			make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		in, cached, out, reasoning, cost, latency = make([]int64, n), make([]int64, n), make([]int64, n),
			make([]int64, n), make([]int64, n), make([]int64, n)
		at = make([]time.Time, n)
	)
	for i, c := range calls {
		if err := c.Validate(); err != nil {
			return 0, fmt.Errorf("ledger.record: %w", err)
		}
		ids[i], sources[i], tasks[i], tenants[i] = c.CallID, c.SourceEventID, c.Task, c.TenantID
		providers[i], models[i], versions[i], outcomes[i] = c.Provider, c.Model, c.PromptVersion, c.Outcome
		in[i], cached[i], out[i], reasoning[i] = int64(c.InputTokens), int64(c.CachedInputTokens), int64(c.OutputTokens), int64(c.ReasoningTokens)
		cost[i], latency[i], at[i] = c.CostMicroUSD, c.LatencyMS, c.At.UTC()
	}
	var inserted, groups int64
	err := s.pool.QueryRow(ctx, recordCalls, ids, sources, tasks, tenants, providers, models, versions,
		in, cached, out, reasoning, cost, latency, outcomes, at).Scan(&inserted, &groups)
	if err != nil {
		return 0, fmt.Errorf("ledger.record %d calls: %w", n, err)
	}
	return int(inserted), nil
}

// Spend returns the spend of each day from since through until (UTC
// dates, both included), by tenant, model, task and prompt version, in
// that order.
func (s *Store) Spend(ctx context.Context, since, until time.Time) ([]SpendRow, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT day, tenant_id, model, task, prompt_version, calls, input_tokens, cached_input_tokens,
			output_tokens, reasoning_tokens, cost_microusd
		FROM daily_spend
		WHERE day BETWEEN $1 AND $2
		ORDER BY day, tenant_id, model, task, prompt_version`, day(since), day(until))
	if err != nil {
		return nil, fmt.Errorf("ledger.spend: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (SpendRow, error) {
		var sr SpendRow
		err := r.Scan(&sr.Day, &sr.TenantID, &sr.Model, &sr.Task, &sr.PromptVersion, &sr.Calls, &sr.InputTokens,
			&sr.CachedInputTokens, &sr.OutputTokens, &sr.ReasoningTokens, &sr.CostMicroUSD)
		sr.Day = sr.Day.UTC()
		return sr, err
	})
	if err != nil {
		return nil, fmt.Errorf("ledger.spend: %w", err)
	}
	return out, nil
}

// SetLimits creates or replaces a tenant's limits, keeping what it has
// spent and reserved.
func (s *Store) SetLimits(ctx context.Context, tenantID string, l Limits) error {
	if err := l.Validate(); err != nil {
		return fmt.Errorf("ledger.limits %s: %w", tenantID, err)
	}
	_, err := s.pool.Exec(ctx, `
		INSERT INTO budgets (tenant_id, daily_hard_microusd, daily_soft_microusd, monthly_hard_microusd, monthly_soft_microusd)
		VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (tenant_id) DO UPDATE SET
			daily_hard_microusd = excluded.daily_hard_microusd, daily_soft_microusd = excluded.daily_soft_microusd,
			monthly_hard_microusd = excluded.monthly_hard_microusd, monthly_soft_microusd = excluded.monthly_soft_microusd,
			updated_at = now()`,
		tenantID, l.DailyHardMicroUSD, l.DailySoftMicroUSD, l.MonthlyHardMicroUSD, l.MonthlySoftMicroUSD)
	if err != nil {
		return fmt.Errorf("ledger.limits %s: %w", tenantID, err)
	}
	return nil
}

// Status returns a tenant's limits and its spend and reservations today
// and this month; ok is false for a tenant without a budget.
func (s *Store) Status(ctx context.Context, tenantID string) (st BudgetStatus, ok bool, err error) {
	now := s.now()
	err = s.pool.QueryRow(ctx, `
		SELECT daily_hard_microusd, daily_soft_microusd, monthly_hard_microusd, monthly_soft_microusd,
			CASE WHEN day >= $2 THEN day_spent_microusd ELSE 0 END,
			CASE WHEN day >= $2 THEN day_reserved_microusd ELSE 0 END,
			CASE WHEN month >= $3 THEN month_spent_microusd ELSE 0 END,
			CASE WHEN month >= $3 THEN month_reserved_microusd ELSE 0 END
		FROM budgets WHERE tenant_id = $1`, tenantID, day(now), month(now)).Scan(
		&st.DailyHardMicroUSD, &st.DailySoftMicroUSD, &st.MonthlyHardMicroUSD, &st.MonthlySoftMicroUSD,
		&st.DaySpentMicroUSD, &st.DayReservedMicroUSD, &st.MonthSpentMicroUSD, &st.MonthReservedMicroUSD)
	if errors.Is(err, pgx.ErrNoRows) {
		return BudgetStatus{}, false, nil
	}
	if err != nil {
		return BudgetStatus{}, false, fmt.Errorf("ledger.status %s: %w", tenantID, err)
	}
	return st, true, nil
}

// reserve is one atomic statement: it rolls the tenant's day and month
// forward when they have passed (never back, should a worker's clock
// lag), adds the estimate to both reservations only when neither hard
// limit would be crossed, and records the hold. Postgres's row lock makes
// concurrent reservations of one tenant take turns, each seeing the last.
const reserve = `
WITH budget AS (
	-- Whether the estimate fits beside what is spent, holds aside: if
	-- so, a refusal is only for holds in flight.
	SELECT (daily_hard_microusd = 0 OR
			CASE WHEN day >= $2 THEN day_spent_microusd ELSE 0 END + $4 <= daily_hard_microusd)
		AND (monthly_hard_microusd = 0 OR
			CASE WHEN month >= $3 THEN month_spent_microusd ELSE 0 END + $4 <= monthly_hard_microusd) AS fits_spent
	FROM budgets WHERE tenant_id = $1
), updated AS (
	UPDATE budgets SET
		day_spent_microusd = CASE WHEN day >= $2 THEN day_spent_microusd ELSE 0 END,
		day_reserved_microusd = CASE WHEN day >= $2 THEN day_reserved_microusd ELSE 0 END + $4,
		day = GREATEST(day, $2),
		month_spent_microusd = CASE WHEN month >= $3 THEN month_spent_microusd ELSE 0 END,
		month_reserved_microusd = CASE WHEN month >= $3 THEN month_reserved_microusd ELSE 0 END + $4,
		month = GREATEST(month, $3),
		updated_at = now()
	WHERE tenant_id = $1
		AND (daily_hard_microusd = 0 OR
			CASE WHEN day >= $2 THEN day_spent_microusd + day_reserved_microusd ELSE 0 END + $4 <= daily_hard_microusd)
		AND (monthly_hard_microusd = 0 OR
			CASE WHEN month >= $3 THEN month_spent_microusd + month_reserved_microusd ELSE 0 END + $4 <= monthly_hard_microusd)
	RETURNING day, month,
		(daily_soft_microusd > 0 AND day_spent_microusd + day_reserved_microusd > daily_soft_microusd) OR
		(monthly_soft_microusd > 0 AND month_spent_microusd + month_reserved_microusd > monthly_soft_microusd) AS soft
), hold AS (
	INSERT INTO budget_holds (tenant_id, day, month, estimate_microusd)
	SELECT $1, day, month, $4 FROM updated
	RETURNING hold_id
)
SELECT EXISTS (SELECT 1 FROM budget), COALESCE((SELECT fits_spent FROM budget), true),
	(SELECT hold_id::text FROM hold), COALESCE((SELECT soft FROM updated), false)`

// Reserve implements pipeline.Budget: it holds estimateMicroUSD of the
// tenant's day and month unless that would cross a hard limit, in which
// case it holds nothing and returns pipeline.ErrBudgetExceeded, or
// pipeline.ErrBudgetBusy when the estimate would fit beside what is spent
// and only other holds stand in the way. Whatever
// the number of workers, spend passes a hard limit by no more than what
// calls cost beyond their estimates. A tenant without a budget is
// unlimited: its hold has no ID and settling it does nothing.
func (s *Store) Reserve(ctx context.Context, tenantID string, estimateMicroUSD int64) (pipeline.Hold, error) {
	estimateMicroUSD = max(estimateMicroUSD, 0)
	now := s.now()
	var (
		exists, fitsSpent bool
		holdID            *string
		soft              bool
	)
	err := s.pool.QueryRow(ctx, reserve, tenantID, day(now), month(now), estimateMicroUSD).Scan(&exists, &fitsSpent, &holdID, &soft)
	if err != nil {
		return pipeline.Hold{}, fmt.Errorf("ledger.reserve %s: %w", tenantID, err)
	}
	h := pipeline.Hold{TenantID: tenantID, EstimateMicroUSD: estimateMicroUSD, Soft: soft}
	switch {
	case !exists:
		return h, nil
	case holdID == nil && fitsSpent:
		return pipeline.Hold{}, fmt.Errorf("ledger.reserve %s: %w", tenantID, pipeline.ErrBudgetBusy)
	case holdID == nil:
		return pipeline.Hold{}, fmt.Errorf("ledger.reserve %s: %w", tenantID, pipeline.ErrBudgetExceeded)
	}
	h.ID = *holdID
	return h, nil
}

// settle removes the hold and moves its estimate out of the reservations
// of the periods it was made in, and the actual cost into the current
// spend. A hold already settled matches no row: nothing changes.
const settle = `
WITH hold AS (
	DELETE FROM budget_holds WHERE hold_id = $1 RETURNING tenant_id, day, month, estimate_microusd
)
UPDATE budgets b SET
	day_reserved_microusd = CASE WHEN b.day = hold.day
		THEN GREATEST(b.day_reserved_microusd - hold.estimate_microusd, 0) ELSE b.day_reserved_microusd END,
	day_spent_microusd = b.day_spent_microusd + $2,
	month_reserved_microusd = CASE WHEN b.month = hold.month
		THEN GREATEST(b.month_reserved_microusd - hold.estimate_microusd, 0) ELSE b.month_reserved_microusd END,
	month_spent_microusd = b.month_spent_microusd + $2,
	updated_at = now()
FROM hold
WHERE b.tenant_id = hold.tenant_id`

// Settle implements pipeline.Budget: the hold's estimate leaves the
// reservations and actualMicroUSD joins the spend. Should the day or
// month have turned since Reserve, the cost counts in the new one.
// Settling a hold twice, or a hold without an ID, changes nothing.
func (s *Store) Settle(ctx context.Context, h pipeline.Hold, actualMicroUSD int64) error {
	if h.ID == "" {
		return nil
	}
	if _, err := s.pool.Exec(ctx, settle, h.ID, max(actualMicroUSD, 0)); err != nil {
		return fmt.Errorf("ledger.settle %s: %w", h.ID, err)
	}
	return nil
}
