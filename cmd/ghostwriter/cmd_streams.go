package main

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/ghostwriter-ai/ghostwriter/consumers"
)

func runStreams(ctx context.Context, args []string, env *environ) error {
	if len(args) == 0 || args[0] != "apply" {
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help") {
			fmt.Fprintln(env.stderr, "Usage: ghostwriter streams apply [flags]")
			return errHelp
		}
		return usagef("usage: ghostwriter streams apply [flags]")
	}
	c := newCommand("streams apply", "", "Create or update ghostwriter's streams, consumers and bucket. Never deletes;\ncreates the product's TICKETS stream only if it is absent.", env.stderr)
	natsCfg := c.natsFlags()
	topo := c.topologyFlags()
	if err := c.parse(args[1:], env.getenv); err != nil {
		return err
	}
	if c.flags.NArg() > 0 {
		return usagef("streams apply takes no arguments, got %q", c.flags.Args())
	}
	tasks, err := readTasks(c.configPath)
	if err != nil {
		return err
	}
	topo.Tasks = tasks
	nc, js, err := connect(*natsCfg, "ghostwriter-streams", slog.Default())
	if err != nil {
		return err
	}
	defer nc.Close()
	if err := consumers.Apply(ctx, js, *topo); err != nil {
		return err
	}
	fmt.Fprintln(env.stdout, "streams, consumers and buckets are up to date")
	return nil
}
