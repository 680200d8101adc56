package main

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"text/tabwriter"

	"github.com/ghostwriter-ai/ghostwriter/consumers"
)

func runDLQ(ctx context.Context, args []string, env *environ) error {
	usage := "usage: ghostwriter dlq list [--from SEQ] [--limit N] | ghostwriter dlq redrive SEQ..."
	if len(args) == 0 || (args[0] != "list" && args[0] != "redrive") {
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help") {
			fmt.Fprintln(env.stderr, usage)
			return errHelp
		}
		return usagef("%s", usage)
	}
	c := newCommand("dlq "+args[0], "", "Inspect and re-drive dead letters in GHOSTWRITER_DLQ.", env.stderr)
	natsCfg := c.natsFlags()
	from := c.flags.Uint64("from", 0, "list from this sequence of GHOSTWRITER_DLQ")
	limit := c.flags.Int("limit", 50, "list at most this many")
	if err := c.parse(args[1:], env.getenv); err != nil {
		return err
	}
	var seqs []uint64
	for _, a := range c.flags.Args() {
		n, err := strconv.ParseUint(a, 10, 64)
		if err != nil || args[0] != "redrive" {
			return usagef("%s", usage)
		}
		seqs = append(seqs, n)
	}
	if args[0] == "redrive" && len(seqs) == 0 {
		return usagef("%s", usage)
	}
	nc, js, err := connect(*natsCfg, "ghostwriter-dlq", slog.Default())
	if err != nil {
		return err
	}
	defer nc.Close()
	if args[0] == "redrive" {
		for _, seq := range seqs {
			if err := consumers.Redrive(ctx, js, seq); err != nil {
				return err
			}
			fmt.Fprintf(env.stdout, "re-drove dead letter %d\n", seq)
		}
		return nil
	}
	letters, err := consumers.DeadLetters(ctx, js, *from, *limit)
	if err != nil {
		return err
	}
	w := tabwriter.NewWriter(env.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "SEQ\tTIME\tSUBJECT\tSOURCE\tDETAIL\tREASON\tBYTES")
	for _, d := range letters {
		fmt.Fprintf(w, "%d\t%s\t%s\t%s/%s\t%s\t%s\t%d\n", d.Seq, d.Time.UTC().Format("2006-01-02T15:04:05Z"),
			d.Subject, d.SourceStream, d.SourceSeq, d.Detail, d.Reason, d.Size)
	}
	return w.Flush()
}
