package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/ghostwriter-ai/ghostwriter/internal/devsecrets"
)

// natsUsers are the users of deploy/nats/accounts.conf; the server reads
// the public key of each from NKEY_<NAME>.
var natsUsers = []string{"product", "worker", "ledger", "ops", "analytics"}

// runDevSecrets is a hidden subcommand that makes throwaway credentials
// for trying the production shape (deploy/compose.yaml runs it first):
// TLS for NATS, an nkey seed per NATS user, a Postgres password and the
// database URL holding it, and nats.env with what nats-server reads from
// its environment. It keeps what an earlier run made unless --force.
func runDevSecrets(_ context.Context, args []string, env *environ) error {
	c := newCommand("devsecrets", "", "Write throwaway TLS certificates, NATS nkeys and a Postgres password for\ntrying deploy/compose.yaml (development only).", env.stderr)
	out := c.flags.String("out", "./secrets", "folder to write into")
	hosts := c.flags.String("hosts", "nats,localhost,127.0.0.1", "comma-separated names and addresses of the NATS server, for its certificate")
	pgHost := c.flags.String("postgres-host", "postgres:5432", "Postgres host:port in the database URL")
	force := c.flags.Bool("force", false, "replace secrets an earlier run made")
	if err := c.parse(args, env.getenv); err != nil {
		return err
	}
	if c.flags.NArg() > 0 {
		return usagef("devsecrets takes no arguments, got %q", c.flags.Args())
	}
	dir, err := filepath.Abs(*out)
	if err != nil {
		return usageError{err}
	}
	// nats.env is written last, so it marks a complete set.
	envFile := filepath.Join(dir, "nats.env")
	if _, err := os.Stat(envFile); err == nil && !*force {
		fmt.Fprintf(env.stdout, "kept the secrets in %s (--force replaces them)\n", dir)
		return nil
	} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}

	var names []string
	for _, h := range strings.Split(*hosts, ",") {
		if h = strings.TrimSpace(h); h != "" {
			names = append(names, h)
		}
	}
	tls, err := devsecrets.WriteTLS(filepath.Join(dir, "tls"), names)
	if err != nil {
		return err
	}
	users, err := devsecrets.WriteUsers(filepath.Join(dir, "nkeys"), natsUsers)
	if err != nil {
		return err
	}
	pw := devsecrets.Password(16)
	// Postgres reads its password file as the postgres user after
	// dropping root, so that one file is world-readable. Development only.
	if err := writeSecret(filepath.Join(dir, "postgres-password"), pw, 0o644); err != nil {
		return err
	}
	url := "postgres://ghostwriter:" + pw + "@" + *pgHost + "/ghostwriter?sslmode=disable"
	if err := writeSecret(filepath.Join(dir, "database-url"), url, 0o600); err != nil {
		return err
	}
	var b strings.Builder
	b.WriteString("# What nats-server reads from its environment (deploy/nats/*.conf). Public keys only.\n")
	fmt.Fprintf(&b, "export NATS_TLS_CERT=%s\nexport NATS_TLS_KEY=%s\nexport NATS_TLS_CA=%s\n", tls.Cert, tls.Key, tls.CA)
	for _, u := range users {
		fmt.Fprintf(&b, "export NKEY_%s=%s\n", strings.ToUpper(u.Name), u.Public)
	}
	if err := writeSecret(envFile, b.String(), 0o644); err != nil {
		return err
	}
	fmt.Fprintf(env.stdout, "wrote TLS, nkeys for %s, and a Postgres password into %s\n", strings.Join(natsUsers, ", "), dir)
	return nil
}

func writeSecret(path, value string, mode os.FileMode) error {
	_ = os.Remove(path)
	if err := os.WriteFile(path, []byte(value+"\n"), mode); err != nil {
		return fmt.Errorf("devsecrets: %w", err)
	}
	return nil
}
