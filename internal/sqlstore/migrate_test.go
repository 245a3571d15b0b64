package sqlstore_test

import (
	"context"
	"testing"

	"usher/internal/sqlstore/storetest"
)

// TestMigrationsDownAndUp undoes every migration and applies them again,
// on both engines: each down migration must undo its up migration.
func TestMigrationsDownAndUp(t *testing.T) {
	storetest.Each(t, func(t *testing.T, e storetest.Engine) {
		s := storetest.Open(t, e)
		ctx := context.Background()
		if err := s.MigrateDownAll(ctx); err != nil {
			t.Fatalf("down: %v", err)
		}
		if err := s.Migrate(ctx); err != nil {
			t.Fatalf("up again: %v", err)
		}
	})
}
