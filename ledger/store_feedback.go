package ledger

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// RecordDraft keeps a draft for comparing its reply later. It is
// idempotent: a draft whose event id the ledger holds changes nothing,
// and added is false.
func (s *Store) RecordDraft(ctx context.Context, d Draft) (added bool, err error) {
	if err := d.Validate(); err != nil {
		return false, fmt.Errorf("ledger.draft: %w", err)
	}
	tag, err := s.pool.Exec(ctx, `
		INSERT INTO drafts (event_id, ticket_id, tenant_id, source_event_id, task, prompt_version, model, replay_id, draft, drafted_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
		ON CONFLICT (event_id) DO NOTHING`,
		d.EventID, d.TicketID, d.TenantID, d.SourceEventID, d.Task, d.PromptVersion, d.Model, d.ReplayID, d.Text, d.At.UTC())
	if err != nil {
		return false, fmt.Errorf("ledger.draft %s: %w", d.EventID, err)
	}
	return tag.RowsAffected() == 1, nil
}

const draftColumns = `event_id, ticket_id, tenant_id, source_event_id, task, prompt_version, model, replay_id, draft, drafted_at`

func scanDraft(row pgx.Row) (Draft, bool, error) {
	var d Draft
	err := row.Scan(&d.EventID, &d.TicketID, &d.TenantID, &d.SourceEventID, &d.Task, &d.PromptVersion, &d.Model,
		&d.ReplayID, &d.Text, &d.At)
	if errors.Is(err, pgx.ErrNoRows) {
		return Draft{}, false, nil
	}
	d.At = d.At.UTC()
	return d, err == nil, err
}

// Draft returns the draft of event id eventID; ok is false when the
// ledger has not seen it.
func (s *Store) Draft(ctx context.Context, eventID string) (d Draft, ok bool, err error) {
	d, ok, err = scanDraft(s.pool.QueryRow(ctx, `SELECT `+draftColumns+` FROM drafts WHERE event_id = $1`, eventID))
	if err != nil {
		return Draft{}, false, fmt.Errorf("ledger.draft %s: %w", eventID, err)
	}
	return d, ok, nil
}

// LatestDraft returns the newest live (not replayed) draft of a ticket;
// ok is false when there is none.
func (s *Store) LatestDraft(ctx context.Context, tenantID, ticketID string) (d Draft, ok bool, err error) {
	d, ok, err = scanDraft(s.pool.QueryRow(ctx, `SELECT `+draftColumns+` FROM drafts
		WHERE tenant_id = $1 AND ticket_id = $2 AND replay_id = ''
		ORDER BY drafted_at DESC, event_id DESC LIMIT 1`, tenantID, ticketID))
	if err != nil {
		return Draft{}, false, fmt.Errorf("ledger.latest_draft %s/%s: %w", tenantID, ticketID, err)
	}
	return d, ok, nil
}

// RecordFeedback stores one reply's feedback. It is idempotent: a reply
// event id the ledger holds changes nothing, and added is false.
func (s *Store) RecordFeedback(ctx context.Context, f Feedback) (added bool, err error) {
	if err := f.Validate(); err != nil {
		return false, fmt.Errorf("ledger.feedback: %w", err)
	}
	var dist *float64
	if f.Class != ClassNotUsed {
		dist = &f.Distance
	}
	tag, err := s.pool.Exec(ctx, `
		INSERT INTO feedback (reply_event_id, ticket_id, tenant_id, draft_event_id, task, prompt_version, model,
			class, distance, draft_chars, final_chars, replied_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
		ON CONFLICT (reply_event_id) DO NOTHING`,
		f.ReplyEventID, f.TicketID, f.TenantID, f.DraftEventID, f.Task, f.PromptVersion, f.Model,
		string(f.Class), dist, f.DraftChars, f.FinalChars, f.At.UTC())
	if err != nil {
		return false, fmt.Errorf("ledger.feedback %s: %w", f.ReplyEventID, err)
	}
	return tag.RowsAffected() == 1, nil
}

// Quality returns, per task, prompt version and model, the drafts made
// and the replies sent from since through until (UTC dates, both
// included) by class, beside the spend of the same days. Rows are in
// task, prompt version, model order.
func (s *Store) Quality(ctx context.Context, since, until time.Time) ([]QualityRow, error) {
	from, to := day(since), day(until)
	rows, err := s.pool.Query(ctx, `
		WITH d AS (
			SELECT task, prompt_version, model, count(*) AS drafts
			FROM drafts WHERE drafted_at >= $1 AND drafted_at < $2 AND replay_id = ''
			GROUP BY 1, 2, 3
		), f AS (
			SELECT task, prompt_version, model, count(*) AS replies,
				count(*) FILTER (WHERE class = 'accepted') AS accepted,
				count(*) FILTER (WHERE class = 'lightly_edited') AS lightly_edited,
				count(*) FILTER (WHERE class = 'rewritten') AS rewritten,
				count(*) FILTER (WHERE class = 'not_used') AS not_used,
				COALESCE(avg(distance), 0) AS mean_distance
			FROM feedback WHERE replied_at >= $1 AND replied_at < $2
			GROUP BY 1, 2, 3
		), c AS (
			SELECT task, prompt_version, model, sum(cost_microusd) AS cost
			FROM daily_spend WHERE day BETWEEN $3 AND $4
			GROUP BY 1, 2, 3
		)
		SELECT task, prompt_version, model, COALESCE(d.drafts, 0), COALESCE(f.replies, 0), COALESCE(f.accepted, 0),
			COALESCE(f.lightly_edited, 0), COALESCE(f.rewritten, 0), COALESCE(f.not_used, 0),
			COALESCE(f.mean_distance, 0), COALESCE(c.cost, 0)::bigint
		FROM d FULL JOIN f USING (task, prompt_version, model) LEFT JOIN c USING (task, prompt_version, model)
		ORDER BY 1, 2, 3`, from, to.AddDate(0, 0, 1), from, to)
	if err != nil {
		return nil, fmt.Errorf("ledger.quality: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (QualityRow, error) {
		var q QualityRow
		err := r.Scan(&q.Task, &q.PromptVersion, &q.Model, &q.Drafts, &q.Replies, &q.Accepted, &q.LightlyEdited,
			&q.Rewritten, &q.NotUsed, &q.MeanDistance, &q.CostMicroUSD)
		return q, err
	})
	if err != nil {
		return nil, fmt.Errorf("ledger.quality: %w", err)
	}
	return out, nil
}
