package invite

import (
	"context"
	"errors"
	"time"
)

// sweepChunk bounds how many invitations one sweep transaction handles.
const sweepChunk = 200

// ExpireDue records the expiry of every pending invitation whose time ran
// out (it already reads as expired everywhere; this writes the event).
// Safe to run on several instances at once: each change is version-checked.
func (s *Service) ExpireDue(ctx context.Context) (int, error) {
	total := 0
	for {
		var due []*Invitation
		err := s.store.View(ctx, func(tx Tx) error {
			var err error
			due, err = tx.DueForExpiry(ctx, s.Now(), sweepChunk)
			return err
		})
		if err != nil || len(due) == 0 {
			return total, err
		}
		n := 0
		err = s.store.InTx(ctx, func(tx Tx) error {
			n = 0
			for _, inv := range due {
				err := s.recordExpiry(ctx, tx, inv)
				if errors.Is(err, ErrConflict) {
					// Changed meanwhile (renewed, accepted, another sweep): skip.
					continue
				}
				if err != nil {
					return err
				}
				n++
			}
			return nil
		})
		if err != nil {
			return total, err
		}
		total += n
		for range n {
			s.transitioned(StatusPending, StatusExpired)
		}
		if len(due) < sweepChunk || n == 0 {
			return total, nil
		}
	}
}

// RemindDue queues the reminders whose time has come: for each pending
// invitation, the next step of its organization's schedule once that many
// seconds passed since sending. A step is taken at most once (the step
// counter is written in the same transaction as the reminder, with a
// version check), and steps that were missed while usher was down are
// folded into one reminder, not sent in a burst.
func (s *Service) RemindDue(ctx context.Context) (int, error) {
	total := 0
	after := ""
	for {
		var due []*Invitation
		schedules := map[string][]time.Duration{}
		err := s.store.View(ctx, func(tx Tx) error {
			var err error
			due, err = tx.DueForReminder(ctx, s.Now(), time.Minute, sweepChunk, after)
			if err != nil {
				return err
			}
			for _, inv := range due {
				if _, ok := schedules[inv.OrgID]; !ok {
					org, err := tx.OrgByID(ctx, inv.OrgID)
					if err != nil {
						return err
					}
					schedules[inv.OrgID] = org.Settings.ReminderSchedule
				}
			}
			return nil
		})
		if err != nil || len(due) == 0 {
			return total, err
		}
		after = due[len(due)-1].ID
		now := s.Now()
		err = s.store.InTx(ctx, func(tx Tx) error {
			for _, inv := range due {
				sched := schedules[inv.OrgID]
				step := inv.RemindedSteps
				for step < len(sched) && !now.Before(inv.SentAt.Add(sched[step])) {
					step++
				}
				if step == inv.RemindedSteps || inv.StatusAt(now) != StatusPending {
					continue
				}
				inv.RemindedSteps, inv.UpdatedAt = step, now
				inv.DeliveryStatus, inv.DeliveryError = DeliveryQueued, ""
				err := tx.UpdateInvitation(ctx, inv)
				if errors.Is(err, ErrConflict) {
					continue
				}
				if err != nil {
					return err
				}
				if err := s.enqueueInvitationMail(ctx, tx, inv, MailReminder); err != nil {
					return err
				}
				if err := s.event(ctx, tx, inv, "reminded", inv.Status, System, ""); err != nil {
					return err
				}
				total++
			}
			return nil
		})
		if err != nil || len(due) < sweepChunk {
			return total, err
		}
	}
}
