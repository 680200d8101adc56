package ledger

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"
)

// RecordDraft keeps a draft, as Store.RecordDraft does.
func (m *Memory) RecordDraft(_ context.Context, d Draft) (bool, error) {
	if err := d.Validate(); err != nil {
		return false, fmt.Errorf("ledger.draft: %w", err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, dup := m.drafts[d.EventID]; dup {
		return false, nil
	}
	d.At = d.At.UTC()
	m.drafts[d.EventID] = d
	return true, nil
}

// Draft returns a draft by event id, as Store.Draft does.
func (m *Memory) Draft(_ context.Context, eventID string) (Draft, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	d, ok := m.drafts[eventID]
	return d, ok, nil
}

// LatestDraft returns a ticket's newest live draft, as Store.LatestDraft
// does.
func (m *Memory) LatestDraft(_ context.Context, tenantID, ticketID string) (Draft, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var latest Draft
	found := false
	for _, d := range m.drafts {
		if d.TenantID != tenantID || d.TicketID != ticketID || d.ReplayID != "" {
			continue
		}
		if !found || cmp.Or(d.At.Compare(latest.At), cmp.Compare(d.EventID, latest.EventID)) > 0 {
			latest, found = d, true
		}
	}
	return latest, found, nil
}

// RecordFeedback stores a reply's feedback, as Store.RecordFeedback does.
func (m *Memory) RecordFeedback(_ context.Context, f Feedback) (bool, error) {
	if err := f.Validate(); err != nil {
		return false, fmt.Errorf("ledger.feedback: %w", err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, dup := m.replies[f.ReplyEventID]; dup {
		return false, nil
	}
	if f.Class == ClassNotUsed {
		f.Distance = 0
	}
	f.At = f.At.UTC()
	m.replies[f.ReplyEventID] = f
	return true, nil
}

// Quality returns quality rows, as Store.Quality does.
func (m *Memory) Quality(_ context.Context, since, until time.Time) ([]QualityRow, error) {
	from, end := day(since), day(until).AddDate(0, 0, 1)
	in := func(t time.Time) bool { return !t.Before(from) && t.Before(end) }
	type key struct{ task, version, model string }
	rows := map[key]*QualityRow{}
	sums := map[key]float64{}
	row := func(k key) *QualityRow {
		if rows[k] == nil {
			rows[k] = &QualityRow{Task: k.task, PromptVersion: k.version, Model: k.model}
		}
		return rows[k]
	}
	m.mu.Lock()
	for _, d := range m.drafts {
		if d.ReplayID == "" && in(d.At) {
			row(key{d.Task, d.PromptVersion, d.Model}).Drafts++
		}
	}
	for _, f := range m.replies {
		if !in(f.At) {
			continue
		}
		k := key{f.Task, f.PromptVersion, f.Model}
		r := row(k)
		r.Replies++
		switch f.Class {
		case ClassAccepted:
			r.Accepted++
		case ClassLightlyEdited:
			r.LightlyEdited++
		case ClassRewritten:
			r.Rewritten++
		case ClassNotUsed:
			r.NotUsed++
			continue
		}
		sums[k] += f.Distance
	}
	for sk, s := range m.spend {
		if r := rows[key{sk.task, sk.promptVersion, sk.model}]; r != nil && in(sk.day) {
			r.CostMicroUSD += s.CostMicroUSD
		}
	}
	m.mu.Unlock()
	out := make([]QualityRow, 0, len(rows))
	for k, r := range rows {
		if used := r.Replies - r.NotUsed; used > 0 {
			r.MeanDistance = sums[k] / float64(used)
		}
		out = append(out, *r)
	}
	slices.SortFunc(out, func(a, b QualityRow) int {
		return cmp.Or(cmp.Compare(a.Task, b.Task), cmp.Compare(a.PromptVersion, b.PromptVersion), cmp.Compare(a.Model, b.Model))
	})
	return out, nil
}
