package main

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/ghostwriter-ai/ghostwriter/consumers"
)

// runReconcile is the backstop for anything the broker or a bug lost: it
// finds ticket.created events with no result after their deadline and
// feeds them to the workers again as live work.
func runReconcile(ctx context.Context, args []string, env *environ) error {
	c := newCommand("reconcile", "", "Find ticket.created events with no result for a task (for support_draft:\nticket.draft_ready or ticket.draft_failed) after their deadline, and re-drive\nthem (or only report them with --dry-run).", env.stderr)
	natsCfg := c.natsFlags()
	since := c.flags.String("since", "24h", "look at events from this time (RFC 3339, or a duration ago)")
	deadline := c.flags.Duration("deadline", 10*time.Minute, "an event younger than this may still be in flight: leave it")
	task := c.flags.String("task", "support_draft", "task whose results count")
	dryRun := c.flags.Bool("dry-run", false, "report what is missing; re-drive nothing")
	if err := c.parse(args, env.getenv); err != nil {
		return err
	}
	now := time.Now()
	from, err := parseWhen(*since, now)
	if err != nil {
		return usagef("--since: %v", err)
	}
	nc, js, err := connect(*natsCfg, "ghostwriter-reconcile", slog.Default())
	if err != nil {
		return err
	}
	defer nc.Close()
	spec := consumers.ReplaySpec{ID: "reconcile-" + now.UTC().Format("20060102-150405"), Task: *task,
		Since: from, Until: now.Add(-*deadline), Reconcile: true}
	if err := withResultTypes(c.configPath, &spec); err != nil {
		return err
	}
	st, err := (&consumers.Replayer{JS: js}).Start(ctx, spec, *dryRun)
	if err != nil {
		return err
	}
	verb := "re-drove"
	if *dryRun {
		verb = "would re-drive"
	}
	fmt.Fprintf(env.stdout, "%s %d tickets with no result (of %d looked at); sample %v\n", verb, st.Fed, st.Fed+st.Skipped, st.Sample)
	return nil
}
