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

// QueuedWrites is how many units of work have been handed to SQLite's
// writer loop and not yet answered.
func (s *Store) QueuedWrites() int { return int(s.w.queued.Load()) }
