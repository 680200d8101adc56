package main

import "context"

func runWorker(ctx context.Context, args []string, env *environ) error {
	c := newCommand("worker", "", "Draft replies to ticket.created from an external NATS server. The streams\nmust exist: run 'ghostwriter streams apply' once with a user allowed to create them.", env.stderr)
	natsCfg := c.natsFlags()
	lc := c.logFlags()
	wc := c.workerFlags()
	obs := c.observerFlags()
	databaseURL := c.databaseFlag()
	d, err := c.parseDrafter(args, env, lc, wc, obs)
	if err != nil {
		return err
	}
	releaseBudgets, err := d.withBudgetStore(ctx, *databaseURL)
	if err != nil {
		return err
	}
	defer releaseBudgets()
	nc, js, err := connect(*natsCfg, "ghostwriter-worker", d.log)
	if err != nil {
		return err
	}
	defer nc.Close()
	d.log.Info("worker starting", "nats_url", nc.ConnectedUrlRedacted(), "model", d.model,
		"tasks", d.versions(), "concurrency", d.concurrency)
	return d.run(ctx, nc, js)
}
