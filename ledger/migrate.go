package ledger

import (
	"context"
	"embed"
	"fmt"
	"hash/fnv"
	"io/fs"

	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

//go:embed migrations/*.sql
var migrations embed.FS

// versionTable is goose's record of applied migrations.
const versionTable = "ledger_migrations"

// Migration is one migration applied by Migrate.
type Migration struct {
	Name    string
	Version int64
}

// Migrate applies the embedded migrations that the database lacks and
// returns them in order, with the schema's version after the run. It
// holds a Postgres session advisory lock (keyed by the current schema)
// while it runs, so any number of processes may call it at start-up.
func (s *Store) Migrate(ctx context.Context) (applied []Migration, version int64, err error) {
	var schema string
	if err := s.pool.QueryRow(ctx, "SELECT current_schema()").Scan(&schema); err != nil {
		return nil, 0, fmt.Errorf("ledger.migrate: %w", err)
	}
	h := fnv.New64a()
	h.Write([]byte("ghostwriter-ledger/" + schema))
	locker, err := lock.NewPostgresSessionLocker(lock.WithLockID(int64(h.Sum64())), lock.WithLockTimeout(1, 300))
	if err != nil {
		return nil, 0, fmt.Errorf("ledger.migrate: %w", err)
	}
	sub, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return nil, 0, fmt.Errorf("ledger.migrate: %w", err)
	}
	db := stdlib.OpenDBFromPool(s.pool)
	defer db.Close()
	p, err := goose.NewProvider(goose.DialectPostgres, db, sub,
		goose.WithSessionLocker(locker), goose.WithTableName(versionTable), goose.WithDisableGlobalRegistry(true))
	if err != nil {
		return nil, 0, fmt.Errorf("ledger.migrate: %w", err)
	}
	results, err := p.Up(ctx)
	if err != nil {
		return nil, 0, fmt.Errorf("ledger.migrate: %w", err)
	}
	for _, r := range results {
		applied = append(applied, Migration{Name: r.Source.Path, Version: r.Source.Version})
	}
	version, err = p.GetDBVersion(ctx)
	if err != nil {
		return applied, 0, fmt.Errorf("ledger.migrate: %w", err)
	}
	return applied, version, nil
}
