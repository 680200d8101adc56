package main

import (
	"context"
	"fmt"
)

func runMigrate(ctx context.Context, args []string, env *environ) error {
	c := newCommand("migrate", "", "Apply the ledger's Postgres migrations that the database lacks, under an\nadvisory lock, and print what was applied.", env.stderr)
	databaseURL := c.databaseFlag()
	if err := c.parse(args, env.getenv); err != nil {
		return err
	}
	if c.flags.NArg() > 0 {
		return usagef("migrate takes no arguments, got %q", c.flags.Args())
	}
	if *databaseURL == "" {
		return usagef("migrate needs --database-url (or GHOSTWRITER_DATABASE_URL)")
	}
	store, err := openStore(ctx, *databaseURL)
	if err != nil {
		return err
	}
	defer store.Close()
	applied, version, err := store.Migrate(ctx)
	for _, a := range applied {
		fmt.Fprintf(env.stdout, "applied %s\n", a.Name)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(env.stdout, "ledger schema at version %d (%d migration(s) applied now)\n", version, len(applied))
	return nil
}
