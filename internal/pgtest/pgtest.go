// Package pgtest gives each test its own empty Postgres schema in the
// database named by GHOSTWRITER_TEST_DATABASE_URL, so tests of the ledger
// run in parallel against one real server without seeing each other.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// EnvURL names the database the tests use.
const EnvURL = "GHOSTWRITER_TEST_DATABASE_URL"

var unsafe = regexp.MustCompile(`[^a-z0-9]+`)

// DSN returns EnvURL with its search_path set to a new schema, dropped
// when the test ends. Without EnvURL the test is skipped, or fails when
// CI=true: CI must never pass by skipping.
func DSN(t testing.TB) string {
	t.Helper()
	base := os.Getenv(EnvURL)
	if base == "" {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is not set, and CI=true: the Postgres tests must run in CI (.ci/run sets it)", EnvURL)
		}
		t.Skipf("%s is not set; skipping a test that needs Postgres", EnvURL)
	}
	suffix := make([]byte, 4)
	_, _ = rand.Read(suffix)
	name := strings.Trim(unsafe.ReplaceAllString(strings.ToLower(t.Name()), "_"), "_")
	if len(name) > 40 {
		name = name[len(name)-40:]
	}
	schema := "t_" + name + "_" + hex.EncodeToString(suffix)

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatalf("pgtest: connect %s: %v", EnvURL, err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+pgx.Identifier{schema}.Sanitize()); err != nil {
		t.Fatalf("pgtest: create schema: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, base)
		if err != nil {
			t.Errorf("pgtest: drop schema %s: %v", schema, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP SCHEMA "+pgx.Identifier{schema}.Sanitize()+" CASCADE"); err != nil {
			t.Errorf("pgtest: drop schema %s: %v", schema, err)
		}
	})
	return withSearchPath(t, base, schema)
}

// withSearchPath adds search_path to a URL or key=value DSN; pgx sends
// unknown settings to the server as run-time parameters.
func withSearchPath(t testing.TB, dsn, schema string) string {
	t.Helper()
	if !strings.HasPrefix(dsn, "postgres://") && !strings.HasPrefix(dsn, "postgresql://") {
		return fmt.Sprintf("%s search_path=%s", dsn, schema)
	}
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatalf("pgtest: %s: %v", EnvURL, err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}
