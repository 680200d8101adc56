package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/google/uuid"

	"github.com/ghostwriter-ai/ghostwriter/consumers"
	"github.com/ghostwriter-ai/ghostwriter/schemas"
)

func runPublish(ctx context.Context, args []string, env *environ) error {
	c := newCommand("publish", "[FILE|-]", "Publish an event. FILE (or stdin) holds a whole CloudEvents envelope, the data\nobject of --type, or plain text, which becomes the body of a ticket.created.\nWith --wait, print the resulting ticket.draft_ready or ticket.draft_failed on stdout.", env.stderr)
	natsCfg := c.natsFlags()
	typ := c.flags.String("type", schemas.TypeTicketCreated, "event type of a data object")
	source := c.flags.String("source", "ghostwriter-cli", "CloudEvents source of the event")
	ticketID := c.flags.String("ticket-id", "", "ticket id for a plain-text body (default: a new one)")
	tenantID := c.flags.String("tenant-id", "demo", "tenant id for a plain-text body")
	wait := c.flags.Bool("wait", false, "wait for the draft and print it on stdout")
	waitTimeout := c.flags.Duration("wait-timeout", 60*time.Second, "how long --wait waits")
	if err := c.parse(args, env.getenv); err != nil {
		return err
	}
	if c.flags.NArg() > 1 {
		return usagef("publish takes one FILE, got %q", c.flags.Args())
	}
	var in io.Reader = env.stdin
	if name := c.flags.Arg(0); name != "" && name != "-" {
		f, err := os.Open(name)
		if err != nil {
			return usageError{err}
		}
		defer f.Close()
		in = f
	}
	raw, err := io.ReadAll(io.LimitReader(in, schemas.MaxEventBytes+1))
	if err != nil {
		return fmt.Errorf("read input: %w", err)
	}
	if *ticketID == "" {
		*ticketID = "T-" + uuid.NewString()[:8]
	}
	event, err := schemas.Wrap(raw, *typ, *source, schemas.TicketCreated{TicketID: *ticketID, TenantID: *tenantID})
	if err != nil {
		return usageError{err}
	}
	if *wait && event.Type != schemas.TypeTicketCreated {
		return usagef("--wait needs a %s event, this is %s", schemas.TypeTicketCreated, event.Type)
	}
	if event.TraceParent == "" {
		event.TraceParent = schemas.NewTraceparent()
	}

	nc, js, err := connect(*natsCfg, "ghostwriter-publish", slog.Default())
	if err != nil {
		return err
	}
	defer nc.Close()
	ack, err := consumers.Publish(ctx, js, event)
	if err != nil {
		return err
	}
	fmt.Fprintf(env.stderr, "published %s id=%s stream=%s seq=%d duplicate=%v\n", event.Type, event.ID, ack.Stream, ack.Sequence, ack.Duplicate)
	if !*wait {
		return nil
	}
	from := ack.Sequence + 1
	if ack.Duplicate {
		from = 0 // published before: its result may already be there
	}
	wctx, cancel := context.WithTimeout(ctx, *waitTimeout)
	defer cancel()
	result, err := consumers.AwaitResult(wctx, js, event.ID, from)
	if err != nil {
		return fmt.Errorf("no result for %s within %v (is a worker running?): %w", event.ID, *waitTimeout, err)
	}
	_, err = fmt.Fprintf(env.stdout, "%s\n", result)
	return err
}
