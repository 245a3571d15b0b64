package sqlstore

import "context"

// MigrateDownAll undoes every migration (tests of the down migrations).
func (s *Store) MigrateDownAll(ctx context.Context) error {
	p, err := s.migrations()
	if err != nil {
		return err
	}
	_, err = p.DownTo(ctx, 0)
	return err
}

// MigrateDownTo undoes the migrations after version.
func (s *Store) MigrateDownTo(ctx context.Context, version int64) error {
	p, err := s.migrations()
	if err != nil {
		return err
	}
	_, err = p.DownTo(ctx, version)
	return err
}

// PendingWrites is how many units of work SQLite's writer has, running
// or queued.
func (s *Store) PendingWrites() int { return int(s.w.busy.Load()) }
