// Package ledger owns ghostwriter's Postgres cost ledger through pgx: the
// embedded migrations, one row per model call, spend per day, tenant
// budgets with their reservations, task outcomes, and feedback: the
// drafts and what humans kept of them in the replies they sent (Compare
// scores a reply against its draft). Store is the ledger over Postgres;
// Memory keeps the same books in one process. Both implement
// pipeline.Budget. It must not know about NATS: consumers feeds it.
package ledger

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/ghostwriter-ai/ghostwriter/schemas"
)

// Call is one ai.cost event as the ledger keeps it: its data, and the
// event's time, which decides the day the cost is counted in.
type Call struct {
	schemas.Cost
	At time.Time
}

// Limits are a tenant's budget in micro-dollars. Zero means no limit. A
// hard limit stops model calls that would cross it; a soft one only warns.
type Limits struct {
	DailyHardMicroUSD   int64
	DailySoftMicroUSD   int64
	MonthlyHardMicroUSD int64
	MonthlySoftMicroUSD int64
}

// Validate rejects negative limits.
func (l Limits) Validate() error {
	if l.DailyHardMicroUSD < 0 || l.DailySoftMicroUSD < 0 || l.MonthlyHardMicroUSD < 0 || l.MonthlySoftMicroUSD < 0 {
		return errors.New("budget limits must not be negative")
	}
	return nil
}

// BudgetStatus is a tenant's limits and where it stands today and this
// month (UTC). Reserved is held by calls in flight.
type BudgetStatus struct {
	Limits
	DaySpentMicroUSD      int64
	DayReservedMicroUSD   int64
	MonthSpentMicroUSD    int64
	MonthReservedMicroUSD int64
}

// RemainingMicroUSD is what is left under the tightest hard limit, spent
// and reserved money counted; ok is false when no hard limit is set.
func (b BudgetStatus) RemainingMicroUSD() (remaining int64, ok bool) {
	if b.DailyHardMicroUSD > 0 {
		remaining, ok = b.DailyHardMicroUSD-b.DaySpentMicroUSD-b.DayReservedMicroUSD, true
	}
	if b.MonthlyHardMicroUSD > 0 {
		m := b.MonthlyHardMicroUSD - b.MonthSpentMicroUSD - b.MonthReservedMicroUSD
		if !ok || m < remaining {
			remaining, ok = m, true
		}
	}
	return remaining, ok
}

// SpendRow is the spend of one day (UTC), tenant, model, task and prompt
// version.
type SpendRow struct {
	Day               time.Time
	TenantID          string
	Model             string
	Task              string
	PromptVersion     string
	Calls             int64
	InputTokens       int64
	CachedInputTokens int64
	OutputTokens      int64
	ReasoningTokens   int64
	CostMicroUSD      int64
}

// day and month are the UTC periods a budget counts in.
func day(t time.Time) time.Time {
	y, m, d := t.UTC().Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

func month(t time.Time) time.Time {
	y, m, _ := t.UTC().Date()
	return time.Date(y, m, 1, 0, 0, 0, 0, time.UTC)
}

// Validate reports what would make RecordCalls reject c for good: an
// empty call_id, no time, a negative count, or a NUL byte, which Postgres
// text cannot hold. Check it before a batch, so that one bad event cannot
// block the others.
func (c Call) Validate() error {
	switch {
	case c.CallID == "":
		return errors.New("call without call_id")
	case c.At.IsZero():
		return fmt.Errorf("call %s without a time", c.CallID)
	case c.InputTokens < 0 || c.OutputTokens < 0 || c.CachedInputTokens < 0 || c.ReasoningTokens < 0 || c.CostMicroUSD < 0 || c.LatencyMS < 0:
		return fmt.Errorf("call %s with a negative count", c.CallID)
	}
	for _, s := range []string{c.CallID, c.SourceEventID, c.Task, c.TenantID, c.Provider, c.Model, c.PromptVersion, c.Outcome} {
		if strings.ContainsRune(s, 0) {
			return fmt.Errorf("call %q with a NUL byte in a field", c.CallID)
		}
	}
	return nil
}
