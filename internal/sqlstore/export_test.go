package sqlstore

import (
	"context"
	"io/fs"

	"github.com/pressly/goose/v3"
)

// MigrateDownAll undoes every migration (tests of the down migrations).
func (s *Store) MigrateDownAll(ctx context.Context) error {
	sub, err := fs.Sub(migrations, "migrations/"+string(s.dialect))
	if err != nil {
		return err
	}
	gd := goose.DialectSQLite3
	if s.dialect == Postgres {
		gd = goose.DialectPostgres
	}
	p, err := goose.NewProvider(gd, s.write, sub)
	if err != nil {
		return err
	}
	_, err = p.DownTo(ctx, 0)
	return err
}
