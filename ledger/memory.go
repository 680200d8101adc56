package ledger

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/ghostwriter-ai/ghostwriter/pipeline"
)

// Memory keeps the ledger's books in one process, with Store's semantics:
// for `ghostwriter run` without a database, and for tests. It is safe for
// concurrent use; everything is lost when the process ends.
type Memory struct {
	// Now is the clock that picks a budget's day and month; nil means
	// time.Now. Set it before use.
	Now func() time.Time

	mu      sync.Mutex
	calls   map[string]struct{}
	spend   map[spendKey]*SpendRow
	budgets map[string]*memBudget
	holds   map[string]memHold
	drafts  map[string]Draft
	replies map[string]Feedback
}

var _ pipeline.Budget = (*Memory)(nil)

type spendKey struct {
	day                                time.Time
	tenant, model, task, promptVersion string
}

type memBudget struct {
	limits                    Limits
	day, month                time.Time
	daySpent, dayReserved     int64
	monthSpent, monthReserved int64
}

type memHold struct {
	tenant     string
	day, month time.Time
	estimate   int64
}

// NewMemory returns an empty in-memory ledger.
func NewMemory() *Memory {
	return &Memory{
		calls:   map[string]struct{}{},
		spend:   map[spendKey]*SpendRow{},
		budgets: map[string]*memBudget{},
		holds:   map[string]memHold{},
		drafts:  map[string]Draft{},
		replies: map[string]Feedback{},
	}
}

func (m *Memory) now() time.Time {
	if m.Now != nil {
		return m.Now()
	}
	return time.Now()
}

// RecordCalls stores calls idempotently, as Store.RecordCalls does.
func (m *Memory) RecordCalls(_ context.Context, calls []Call) (int, error) {
	for _, c := range calls {
		if err := c.Validate(); err != nil {
			return 0, fmt.Errorf("ledger.record: %w", err)
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for _, c := range calls {
		if _, dup := m.calls[c.CallID]; dup {
			continue
		}
		m.calls[c.CallID] = struct{}{}
		n++
		k := spendKey{day(c.At), c.TenantID, c.Model, c.Task, c.PromptVersion}
		row := m.spend[k]
		if row == nil {
			row = &SpendRow{Day: k.day, TenantID: c.TenantID, Model: c.Model, Task: c.Task, PromptVersion: c.PromptVersion}
			m.spend[k] = row
		}
		row.Calls++
		row.InputTokens += int64(c.InputTokens)
		row.CachedInputTokens += int64(c.CachedInputTokens)
		row.OutputTokens += int64(c.OutputTokens)
		row.ReasoningTokens += int64(c.ReasoningTokens)
		row.CostMicroUSD += c.CostMicroUSD
	}
	return n, nil
}

// Spend returns spend rows as Store.Spend does.
func (m *Memory) Spend(_ context.Context, since, until time.Time) ([]SpendRow, error) {
	from, to := day(since), day(until)
	m.mu.Lock()
	var out []SpendRow
	for k, row := range m.spend {
		if !k.day.Before(from) && !k.day.After(to) {
			out = append(out, *row)
		}
	}
	m.mu.Unlock()
	slices.SortFunc(out, func(a, b SpendRow) int {
		return cmp.Or(a.Day.Compare(b.Day), cmp.Compare(a.TenantID, b.TenantID), cmp.Compare(a.Model, b.Model),
			cmp.Compare(a.Task, b.Task), cmp.Compare(a.PromptVersion, b.PromptVersion))
	})
	return out, nil
}

// SetLimits creates or replaces a tenant's limits, keeping what it has
// spent and reserved.
func (m *Memory) SetLimits(_ context.Context, tenantID string, l Limits) error {
	if err := l.Validate(); err != nil {
		return fmt.Errorf("ledger.limits %s: %w", tenantID, err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if b := m.budgets[tenantID]; b != nil {
		b.limits = l
		return nil
	}
	m.budgets[tenantID] = &memBudget{limits: l}
	return nil
}

// Status returns a tenant's limits and standing, as Store.Status does.
func (m *Memory) Status(_ context.Context, tenantID string) (BudgetStatus, bool, error) {
	now := m.now()
	m.mu.Lock()
	defer m.mu.Unlock()
	b := m.budgets[tenantID]
	if b == nil {
		return BudgetStatus{}, false, nil
	}
	st := BudgetStatus{Limits: b.limits}
	if !b.day.Before(day(now)) {
		st.DaySpentMicroUSD, st.DayReservedMicroUSD = b.daySpent, b.dayReserved
	}
	if !b.month.Before(month(now)) {
		st.MonthSpentMicroUSD, st.MonthReservedMicroUSD = b.monthSpent, b.monthReserved
	}
	return st, true, nil
}

// Reserve implements pipeline.Budget with Store.Reserve's semantics.
func (m *Memory) Reserve(_ context.Context, tenantID string, estimateMicroUSD int64) (pipeline.Hold, error) {
	est := max(estimateMicroUSD, 0)
	now := m.now()
	d, mo := day(now), month(now)
	m.mu.Lock()
	defer m.mu.Unlock()
	h := pipeline.Hold{TenantID: tenantID, EstimateMicroUSD: est}
	b := m.budgets[tenantID]
	if b == nil {
		return h, nil
	}
	if b.day.Before(d) {
		b.day, b.daySpent, b.dayReserved = d, 0, 0
	}
	if b.month.Before(mo) {
		b.month, b.monthSpent, b.monthReserved = mo, 0, 0
	}
	l := b.limits
	fits := func(daySpent, monthSpent int64) bool {
		return (l.DailyHardMicroUSD == 0 || daySpent+est <= l.DailyHardMicroUSD) &&
			(l.MonthlyHardMicroUSD == 0 || monthSpent+est <= l.MonthlyHardMicroUSD)
	}
	switch {
	case !fits(b.daySpent, b.monthSpent):
		return pipeline.Hold{}, fmt.Errorf("ledger.reserve %s: %w", tenantID, pipeline.ErrBudgetExceeded)
	case !fits(b.daySpent+b.dayReserved, b.monthSpent+b.monthReserved):
		return pipeline.Hold{}, fmt.Errorf("ledger.reserve %s: %w", tenantID, pipeline.ErrBudgetBusy)
	}
	b.dayReserved += est
	b.monthReserved += est
	h.ID = uuid.NewString()
	h.Soft = (l.DailySoftMicroUSD > 0 && b.daySpent+b.dayReserved > l.DailySoftMicroUSD) ||
		(l.MonthlySoftMicroUSD > 0 && b.monthSpent+b.monthReserved > l.MonthlySoftMicroUSD)
	m.holds[h.ID] = memHold{tenant: tenantID, day: b.day, month: b.month, estimate: est}
	return h, nil
}

// Settle implements pipeline.Budget with Store.Settle's semantics.
func (m *Memory) Settle(_ context.Context, h pipeline.Hold, actualMicroUSD int64) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	hold, ok := m.holds[h.ID]
	if !ok {
		return nil
	}
	delete(m.holds, h.ID)
	b := m.budgets[hold.tenant]
	if b == nil {
		return nil
	}
	actual := max(actualMicroUSD, 0)
	if b.day.Equal(hold.day) {
		b.dayReserved = max(b.dayReserved-hold.estimate, 0)
	}
	if b.month.Equal(hold.month) {
		b.monthReserved = max(b.monthReserved-hold.estimate, 0)
	}
	b.daySpent += actual
	b.monthSpent += actual
	return nil
}
