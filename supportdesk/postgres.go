package supportdesk

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Postgres keeps tickets in one table of the desk's own, which Open
// creates if needed. It is safe for concurrent use, and several desks
// may share the database.
type Postgres struct {
	pool *pgxpool.Pool
}

var _ Store = (*Postgres)(nil)

// schema is the desk's whole schema; it is created under an advisory
// lock, so desks starting together do not race.
const schema = `
CREATE SEQUENCE IF NOT EXISTS supportdesk_ticket_number START 1001;
CREATE TABLE IF NOT EXISTS supportdesk_tickets (
    id            text PRIMARY KEY DEFAULT 'SD-' || nextval('supportdesk_ticket_number'),
    event_id      text        NOT NULL UNIQUE,
    tenant_id     text        NOT NULL,
    subject       text        NOT NULL DEFAULT '',
    body          text        NOT NULL,
    customer_tier text        NOT NULL DEFAULT '',
    product_area  text        NOT NULL DEFAULT '',
    channel       text        NOT NULL DEFAULT '',
    created_at    timestamptz NOT NULL,
    draft         jsonb,
    failure       jsonb,
    reply         jsonb
);
ALTER TABLE supportdesk_tickets ADD COLUMN IF NOT EXISTS triage jsonb;
CREATE INDEX IF NOT EXISTS supportdesk_tickets_created_at ON supportdesk_tickets (created_at DESC);`

// OpenPostgres connects to dsn (a postgres:// URL or key=value string)
// and creates the desk's table if it is missing. Close releases it.
func OpenPostgres(ctx context.Context, dsn string) (*Postgres, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("supportdesk.open: %w", err)
	}
	if cfg.ConnConfig.RuntimeParams["application_name"] == "" {
		cfg.ConnConfig.RuntimeParams["application_name"] = "supportdesk"
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("supportdesk.open: %w", err)
	}
	err = pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock(hashtext('supportdesk schema/' || current_schema()))"); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, schema)
		return err
	})
	if err != nil {
		pool.Close()
		return nil, fmt.Errorf("supportdesk.open %s@%s/%s: %w", cfg.ConnConfig.User, cfg.ConnConfig.Host, cfg.ConnConfig.Database, err)
	}
	return &Postgres{pool: pool}, nil
}

// Close closes the pool.
func (p *Postgres) Close() { p.pool.Close() }

const ticketColumns = `id, event_id, tenant_id, subject, body, customer_tier, product_area, channel, created_at, draft, failure, reply, triage`

func scanTicket(row pgx.Row) (Ticket, error) {
	var (
		t                             Ticket
		draft, failure, reply, triage []byte
	)
	err := row.Scan(&t.ID, &t.EventID, &t.TenantID, &t.Subject, &t.Body, &t.CustomerTier, &t.ProductArea, &t.Channel,
		&t.Created, &draft, &failure, &reply, &triage)
	if err != nil {
		return Ticket{}, err
	}
	t.Created = t.Created.UTC()
	for _, f := range []struct {
		raw []byte
		set func() any
	}{
		{draft, func() any { t.Draft = new(Draft); return t.Draft }},
		{failure, func() any { t.Failure = new(Failure); return t.Failure }},
		{reply, func() any { t.Reply = new(Reply); return t.Reply }},
		{triage, func() any { t.Triage = new(Triage); return t.Triage }},
	} {
		if f.raw != nil {
			if err := json.Unmarshal(f.raw, f.set()); err != nil {
				return Ticket{}, fmt.Errorf("ticket %s: %w", t.ID, err)
			}
		}
	}
	return t, nil
}

// Create implements Store.
func (p *Postgres) Create(ctx context.Context, t Ticket) (Ticket, error) {
	out, err := scanTicket(p.pool.QueryRow(ctx, `
		INSERT INTO supportdesk_tickets (event_id, tenant_id, subject, body, customer_tier, product_area, channel, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
		RETURNING `+ticketColumns,
		t.EventID, t.TenantID, t.Subject, t.Body, t.CustomerTier, t.ProductArea, t.Channel, t.Created.UTC()))
	if err != nil {
		return Ticket{}, fmt.Errorf("supportdesk.create: %w", err)
	}
	return out, nil
}

// Get implements Store.
func (p *Postgres) Get(ctx context.Context, id string) (Ticket, error) {
	t, err := scanTicket(p.pool.QueryRow(ctx, `SELECT `+ticketColumns+` FROM supportdesk_tickets WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return Ticket{}, fmt.Errorf("supportdesk.get %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return Ticket{}, fmt.Errorf("supportdesk.get %s: %w", id, err)
	}
	return t, nil
}

// List implements Store.
func (p *Postgres) List(ctx context.Context, limit int) ([]Ticket, error) {
	rows, err := p.pool.Query(ctx, `SELECT `+ticketColumns+` FROM supportdesk_tickets
		ORDER BY created_at DESC, length(id) DESC, id DESC LIMIT $1`, limit)
	if err != nil {
		return nil, fmt.Errorf("supportdesk.list: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Ticket, error) { return scanTicket(r) })
	if err != nil {
		return nil, fmt.Errorf("supportdesk.list: %w", err)
	}
	return out, nil
}

// SetDraft implements Store.
func (p *Postgres) SetDraft(ctx context.Context, id, eventID string, d Draft) (bool, error) {
	tag, err := p.pool.Exec(ctx, `UPDATE supportdesk_tickets SET draft = $3, failure = NULL
		WHERE id = $1 AND event_id = $2 AND draft IS NULL AND reply IS NULL`, id, eventID, d)
	if err != nil {
		return false, fmt.Errorf("supportdesk.draft %s: %w", id, err)
	}
	return tag.RowsAffected() == 1, nil
}

// SetFailure implements Store.
func (p *Postgres) SetFailure(ctx context.Context, id, eventID string, f Failure) (bool, error) {
	tag, err := p.pool.Exec(ctx, `UPDATE supportdesk_tickets SET failure = $3
		WHERE id = $1 AND event_id = $2 AND draft IS NULL AND failure IS NULL AND reply IS NULL`, id, eventID, f)
	if err != nil {
		return false, fmt.Errorf("supportdesk.failure %s: %w", id, err)
	}
	return tag.RowsAffected() == 1, nil
}

// SetTriage implements Store.
func (p *Postgres) SetTriage(ctx context.Context, id, eventID string, tr Triage) (bool, error) {
	tag, err := p.pool.Exec(ctx, `UPDATE supportdesk_tickets SET triage = $3
		WHERE id = $1 AND event_id = $2 AND triage IS NULL`, id, eventID, tr)
	if err != nil {
		return false, fmt.Errorf("supportdesk.triage %s: %w", id, err)
	}
	return tag.RowsAffected() == 1, nil
}

// SetReply implements Store.
func (p *Postgres) SetReply(ctx context.Context, id string, r Reply) (Ticket, error) {
	t, err := scanTicket(p.pool.QueryRow(ctx, `UPDATE supportdesk_tickets SET reply = $2
		WHERE id = $1 AND reply IS NULL RETURNING `+ticketColumns, id, r))
	if errors.Is(err, pgx.ErrNoRows) {
		if _, gerr := p.Get(ctx, id); gerr != nil {
			return Ticket{}, fmt.Errorf("supportdesk.reply %s: %w", id, ErrNotFound)
		}
		return Ticket{}, fmt.Errorf("supportdesk.reply %s: %w", id, ErrReplied)
	}
	if err != nil {
		return Ticket{}, fmt.Errorf("supportdesk.reply %s: %w", id, err)
	}
	return t, nil
}
