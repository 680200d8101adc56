package main

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/ghostwriter-ai/ghostwriter/consumers"
	"github.com/ghostwriter-ai/ghostwriter/ledger"
	"github.com/ghostwriter-ai/ghostwriter/schemas"
)

// databaseFlag adds --database-url and --database-url-file: the URL holds
// a password, so it is a secret.
func (c *command) databaseFlag() *string {
	url := new(string)
	c.secretVar(url, "database-url", "Postgres `URL` of the cost ledger, e.g. postgres://user@localhost:5432/ghostwriter (also GHOSTWRITER_DATABASE_URL)")
	return url
}

// openLedger opens the Postgres ledger, applies its migrations under the
// advisory lock, and writes the config file's budgets.
func openLedger(ctx context.Context, url string, m money, log *slog.Logger) (*ledger.Store, error) {
	store, err := openStore(ctx, url)
	if err != nil {
		return nil, err
	}
	applied, version, err := store.Migrate(ctx)
	if err != nil {
		store.Close()
		return nil, err
	}
	for _, a := range applied {
		log.Info("ledger migration applied", "migration", a.Name)
	}
	log.Info("ledger schema is up to date", "version", version)
	if err := writeBudgets(ctx, store, m.budgets, log); err != nil {
		store.Close()
		return nil, err
	}
	return store, nil
}

type limitSetter interface {
	SetLimits(ctx context.Context, tenantID string, l ledger.Limits) error
}

// writeBudgets upserts the config file's budgets; a tenant it does not
// name keeps whatever budget it had (none: unlimited).
func writeBudgets(ctx context.Context, s limitSetter, budgets map[string]ledger.Limits, log *slog.Logger) error {
	for _, tenant := range sortedKeys(budgets) {
		l := budgets[tenant]
		if err := s.SetLimits(ctx, tenant, l); err != nil {
			return err
		}
		log.Info("budget set", "tenant_id", tenant,
			"daily_hard_usd", formatUSD(l.DailyHardMicroUSD), "daily_soft_usd", formatUSD(l.DailySoftMicroUSD),
			"monthly_hard_usd", formatUSD(l.MonthlyHardMicroUSD), "monthly_soft_usd", formatUSD(l.MonthlySoftMicroUSD))
	}
	return nil
}

// withLedger gives `run` its books. With a database URL: the Postgres
// ledger, migrated, its budgets guarding the pipeline and its consumers
// (costs and feedback) running in this process. Without: a ledger.Memory
// with the same semantics, guarding budgets and counting this process's
// cost events and feedback from ephemeral consumers (the durable
// ghostwriter-ledger and ghostwriter-feedback are left for a real ledger
// to catch up). The returned func releases it.
func (d *drafter) withLedger(ctx context.Context, js jetstream.JetStream, databaseURL string) (func(), error) {
	if databaseURL != "" {
		store, err := openLedger(ctx, databaseURL, d.money, d.log)
		if err != nil {
			return nil, err
		}
		cons, err := consumers.LedgerConsumer(ctx, js)
		if err != nil {
			store.Close()
			return nil, err
		}
		fcons, err := consumers.FeedbackConsumer(ctx, js)
		if err != nil {
			store.Close()
			return nil, err
		}
		d.pipe.Budget, d.ping = store, store.Ping
		d.obs.watchBudgets(sortedKeys(d.money.budgets), store)
		d.also = append(d.also, (&consumers.Ledger{JS: js, Consumer: cons, Store: store,
			Logger: d.log.With("consumer", schemas.ConsumerLedger)}).Run,
			(&consumers.Feedback{JS: js, Consumer: fcons, Store: store,
				Logger: d.log.With("consumer", schemas.ConsumerFeedback)}).Run)
		d.log.Info("ledger: Postgres", "budgets", len(d.money.budgets))
		return store.Close, nil
	}
	mem := ledger.NewMemory()
	if err := writeBudgets(ctx, mem, d.money.budgets, d.log); err != nil {
		return nil, err
	}
	cons, err := js.CreateConsumer(ctx, schemas.StreamCosts, jetstream.ConsumerConfig{
		Description:       "ghostwriter run: the in-memory ledger of one process",
		DeliverPolicy:     jetstream.DeliverNewPolicy,
		AckPolicy:         jetstream.AckExplicitPolicy,
		InactiveThreshold: time.Minute,
	})
	if err != nil {
		return nil, fmt.Errorf("in-memory ledger consumer: %w", err)
	}
	fcons, err := js.CreateConsumer(ctx, schemas.StreamTickets, jetstream.ConsumerConfig{
		Description:       "ghostwriter run: feedback into the in-memory ledger of one process",
		FilterSubjects:    []string{schemas.TypeDraftReady, schemas.TypeReplySent},
		DeliverPolicy:     jetstream.DeliverNewPolicy,
		AckPolicy:         jetstream.AckExplicitPolicy,
		AckWait:           30 * time.Second,
		InactiveThreshold: time.Minute,
	})
	if err != nil {
		return nil, fmt.Errorf("in-memory feedback consumer: %w", err)
	}
	d.pipe.Budget = mem
	d.obs.watchBudgets(sortedKeys(d.money.budgets), mem)
	d.also = append(d.also, (&consumers.Ledger{JS: js, Consumer: cons, Store: mem,
		Logger: d.log.With("consumer", "in-memory-ledger")}).Run,
		(&consumers.Feedback{JS: js, Consumer: fcons, Store: mem,
			Logger: d.log.With("consumer", "in-memory-feedback")}).Run)
	d.log.Info("ledger: in memory (set --database-url or GHOSTWRITER_DATABASE_URL for Postgres)", "budgets", len(d.money.budgets))
	return func() {
		rows, _ := mem.Spend(context.Background(), time.Unix(0, 0), time.Now().AddDate(0, 0, 1))
		var calls, cost int64
		for _, r := range rows {
			calls, cost = calls+r.Calls, cost+r.CostMicroUSD
		}
		d.log.Info("in-memory ledger totals for this run", "calls", calls, "cost_microusd", cost, "cost_usd", formatUSD(cost))
		quality, _ := mem.Quality(context.Background(), time.Unix(0, 0), time.Now().AddDate(0, 0, 1))
		var total ledger.QualityRow
		for _, q := range quality {
			total.Drafts, total.Replies, total.Accepted = total.Drafts+q.Drafts, total.Replies+q.Replies, total.Accepted+q.Accepted
			total.LightlyEdited, total.Rewritten, total.NotUsed = total.LightlyEdited+q.LightlyEdited, total.Rewritten+q.Rewritten, total.NotUsed+q.NotUsed
		}
		if total.Replies > 0 {
			d.log.Info("in-memory feedback for this run", "drafts", total.Drafts, "replies", total.Replies,
				"accepted", total.Accepted, "lightly_edited", total.LightlyEdited, "rewritten", total.Rewritten, "not_used", total.NotUsed)
		}
	}, nil
}

// withBudgetStore lets a worker share tenants' budgets through Postgres.
// It neither migrates nor writes budgets: `ghostwriter ledger` does.
func (d *drafter) withBudgetStore(ctx context.Context, databaseURL string) (func(), error) {
	if databaseURL == "" {
		if len(d.money.budgets) > 0 {
			d.log.Warn("budgets are configured but not enforced: a worker needs --database-url to share them")
		}
		return func() {}, nil
	}
	store, err := openStore(ctx, databaseURL)
	if err != nil {
		return nil, err
	}
	d.pipe.Budget, d.ping = store, store.Ping
	d.obs.watchBudgets(sortedKeys(d.money.budgets), store)
	return store.Close, nil
}
