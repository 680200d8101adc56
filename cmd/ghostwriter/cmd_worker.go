package main

import (
	"context"
	"errors"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/ghostwriter-ai/ghostwriter/consumers"
)

func runWorker(ctx context.Context, args []string, env *environ) error {
	c := newCommand("worker", "", "Draft replies to ticket.created from an external NATS server. The streams\nmust exist: run 'ghostwriter streams apply' once with a user allowed to create them.", env.stderr)
	natsURL := c.flags.String("nats-url", nats.DefaultURL, "NATS server URL (also NATS_URL)")
	lc := c.logFlags()
	wc := c.workerFlags()
	if err := c.parse(args, env.getenv); err != nil {
		return err
	}
	if c.flags.NArg() > 0 {
		return usagef("worker takes no arguments, got %q", c.flags.Args())
	}
	if err := wc.Validate(); err != nil {
		return err
	}
	log, err := lc.logger(env)
	if err != nil {
		return err
	}
	pipe, prompt, modelDesc, err := wc.build()
	if err != nil {
		return err
	}
	nc, err := connect(*natsURL, "ghostwriter-worker", log)
	if err != nil {
		return err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	log.Info("worker starting", "nats_url", nc.ConnectedUrlRedacted(), "model", modelDesc,
		"prompt_version", prompt.Version, "concurrency", wc.concurrency)
	w := &consumers.Worker{JS: js, Pipeline: pipe, Prompt: prompt, Concurrency: wc.concurrency, Logger: log}
	err = w.Run(ctx)
	if derr := nc.Drain(); derr != nil && !errors.Is(derr, nats.ErrConnectionClosed) {
		log.Warn("nats drain", "err", derr)
	}
	return err
}
