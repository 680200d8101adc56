package main

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/ghostwriter-ai/ghostwriter/consumers"
	"github.com/ghostwriter-ai/ghostwriter/schemas"
)

func runLedger(ctx context.Context, args []string, env *environ) error {
	c := newCommand("ledger", "", "Write ai.cost events, drafts and reply feedback into the Postgres ledger. Applies the ledger's migrations\n(under an advisory lock) and the config file's budgets at start-up. The streams\nmust exist: run 'ghostwriter streams apply' once.", env.stderr)
	natsCfg := c.natsFlags()
	databaseURL := c.databaseFlag()
	lc := c.logFlags()
	if err := c.parse(args, env.getenv); err != nil {
		return err
	}
	if c.flags.NArg() > 0 {
		return usagef("ledger takes no arguments, got %q", c.flags.Args())
	}
	if *databaseURL == "" {
		return usagef("ledger needs --database-url (or GHOSTWRITER_DATABASE_URL)")
	}
	log, err := lc.logger(env)
	if err != nil {
		return err
	}
	m, err := readMoney(c.configPath)
	if err != nil {
		return usageError{err}
	}
	store, err := openLedger(ctx, *databaseURL, m, log)
	if err != nil {
		return err
	}
	defer store.Close()
	nc, js, err := connect(*natsCfg, "ghostwriter-ledger", log)
	if err != nil {
		return err
	}
	defer nc.Close()
	cons, err := consumers.LedgerConsumer(ctx, js)
	if errors.Is(err, jetstream.ErrConsumerNotFound) {
		return fmt.Errorf("%w (run 'ghostwriter streams apply' first)", err)
	}
	if err != nil {
		return err
	}
	fcons, err := consumers.FeedbackConsumer(ctx, js)
	if errors.Is(err, jetstream.ErrConsumerNotFound) {
		return fmt.Errorf("%w (run 'ghostwriter streams apply' first)", err)
	}
	if err != nil {
		return err
	}
	log.Info("ledger starting", "nats_url", nc.ConnectedUrlRedacted())
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	var ferr error
	wg.Go(func() {
		ferr = (&consumers.Feedback{JS: js, Consumer: fcons, Store: store,
			Logger: log.With("consumer", schemas.ConsumerFeedback)}).Run(ctx)
		cancel()
	})
	err = (&consumers.Ledger{JS: js, Consumer: cons, Store: store, Logger: log.With("consumer", schemas.ConsumerLedger)}).Run(ctx)
	cancel()
	wg.Wait()
	err = errors.Join(err, ferr)
	if derr := nc.Drain(); derr != nil && !errors.Is(derr, nats.ErrConnectionClosed) {
		log.Warn("nats drain", "err", derr)
	}
	log.Info("stopped")
	return err
}
