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

// QueuedWrites is how many units of work wait for SQLite's writer.
func (s *Store) QueuedWrites() int { return len(s.w.reqs) }
