package ledger_test

import (
	"context"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ghostwriter-ai/ghostwriter/internal/pgtest"
	"github.com/ghostwriter-ai/ghostwriter/internal/poll"
	"github.com/ghostwriter-ai/ghostwriter/ledger"
)

// Several processes starting at once apply each migration once; a later
// start applies nothing.
func TestMigrateConcurrentlyAndAgain(t *testing.T) {
	t.Parallel()
	dsn := pgtest.DSN(t)
	ctx := testContext(t)
	files, err := filepath.Glob("migrations/*.sql")
	if err != nil || len(files) == 0 {
		t.Fatalf("migrations: %v, %v", files, err)
	}
	latest := int64(len(files)) // numbered 00001 on, without gaps
	const n = 3
	applied := make([][]ledger.Migration, n)
	versions := make([]int64, n)
	var wg sync.WaitGroup
	for i := range n {
		s := openStore(t, dsn)
		wg.Go(func() {
			var err error
			applied[i], versions[i], err = s.Migrate(ctx)
			if err != nil {
				t.Errorf("migrate %d: %v", i, err)
			}
		})
	}
	wg.Wait()
	total := 0
	for i := range n {
		total += len(applied[i])
		if versions[i] != latest {
			t.Errorf("process %d sees version %d, want %d", i, versions[i], latest)
		}
	}
	if total != len(files) {
		t.Errorf("%d migrations applied in all, want each of %d once: %v", total, len(files), applied)
	}
	again, version, err := openStore(t, dsn).Migrate(ctx)
	if err != nil || len(again) != 0 || version != latest {
		t.Errorf("second run applied %v (version %d, %v), want nothing", again, version, err)
	}
}

// Postgres ending every ledger connection (a restart, a failover) costs
// the calls in flight an error, and the pool reconnects by itself.
func TestPoolRecoversWithoutRestart(t *testing.T) {
	t.Parallel()
	// A name of its own, so that only this test's pool is cut.
	dsn := pgtest.DSN(t) + "&application_name=ledger-recovery-test"
	ctx := testContext(t)
	s := openStore(t, dsn)
	if _, _, err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := s.RecordCalls(ctx, []ledger.Call{call("before", "acme", "m", day1, 1, 1, 1)}); err != nil {
		t.Fatal(err)
	}
	admin, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	killed := 0
	if err := admin.QueryRow(ctx, `
		SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
		WHERE datname = current_database() AND pid <> pg_backend_pid() AND application_name = 'ledger-recovery-test'`).Scan(&killed); err != nil {
		t.Fatal(err)
	}
	if killed == 0 {
		t.Fatal("no ledger connection to end")
	}
	poll.Until(t, 10*time.Second, "the pool to recover", func() bool {
		_, err := s.RecordCalls(ctx, []ledger.Call{call("after", "acme", "m", day1, 1, 1, 1)})
		return err == nil
	})
	rows, err := s.Spend(ctx, day1, day1)
	if err != nil || len(rows) != 1 || rows[0].Calls != 2 {
		t.Errorf("spend after recovery: %+v, %v; want 2 calls", rows, err)
	}
}

func TestOpenFailsFastWithoutPostgres(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := ledger.Open(ctx, "postgres://postgres@127.0.0.1:1/nothing?connect_timeout=2"); err == nil {
		t.Fatal("open succeeded without a server")
	}
	if _, err := ledger.Open(ctx, "not a url ://"); err == nil {
		t.Fatal("open accepted a bad dsn")
	}
}
