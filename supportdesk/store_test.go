package supportdesk_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/ghostwriter-ai/ghostwriter/internal/pgtest"
	"github.com/ghostwriter-ai/ghostwriter/supportdesk"
)

func testContext(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// stores runs test against every Store, in parallel: what the desk does
// in memory it does in Postgres.
func stores(t *testing.T, test func(t *testing.T, s supportdesk.Store)) {
	impls := []struct {
		name string
		open func(t *testing.T) supportdesk.Store
	}{
		{"memory", func(*testing.T) supportdesk.Store { return supportdesk.NewMemory() }},
		{"postgres", func(t *testing.T) supportdesk.Store {
			p, err := supportdesk.OpenPostgres(testContext(t), pgtest.DSN(t))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(p.Close)
			return p
		}},
	}
	for _, impl := range impls {
		t.Run(impl.name, func(t *testing.T) {
			t.Parallel()
			test(t, impl.open(t))
		})
	}
}

var created = time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)

func newTicket(event string, at time.Time) supportdesk.Ticket {
	return supportdesk.Ticket{EventID: event, TenantID: "acme", Subject: "Charged twice", Body: "Please refund\nthe second charge.",
		CustomerTier: "pro", ProductArea: "billing", Channel: "web", Created: at}
}

func TestStoreTicketLifecycle(t *testing.T) {
	t.Parallel()
	stores(t, func(t *testing.T, s supportdesk.Store) {
		ctx := testContext(t)
		first, err := s.Create(ctx, newTicket("evt-1", created))
		if err != nil {
			t.Fatal(err)
		}
		second, err := s.Create(ctx, newTicket("evt-2", created.Add(time.Second)))
		if err != nil {
			t.Fatal(err)
		}
		if first.ID != "SD-1001" || second.ID != "SD-1002" {
			t.Errorf("ids %s, %s; want SD-1001, SD-1002", first.ID, second.ID)
		}
		if _, err := s.Create(ctx, newTicket("evt-1", created)); err == nil {
			t.Error("a second ticket with the same event id was saved")
		}
		list, err := s.List(ctx, 10)
		if err != nil || len(list) != 2 || list[0].ID != second.ID {
			t.Fatalf("list = %+v, %v; want newest first", list, err)
		}
		if got, _ := s.List(ctx, 1); len(got) != 1 {
			t.Errorf("limit 1 gave %d tickets", len(got))
		}

		draft := supportdesk.Draft{EventID: "d-1", Text: "We refunded you.", Confidence: 0.8, Reason: "billing_refund",
			RequiresReview: true, Model: "rules", PromptVersion: "v1", At: created.Add(time.Second)}
		steps := []struct {
			name string
			do   func() (bool, error)
			want bool
		}{
			{"a result for another ticket's event", func() (bool, error) { return s.SetDraft(ctx, first.ID, "evt-2", draft) }, false},
			{"a result for no ticket", func() (bool, error) { return s.SetDraft(ctx, "SD-9", "evt-1", draft) }, false},
			{"the failure", func() (bool, error) {
				return s.SetFailure(ctx, first.ID, "evt-1", supportdesk.Failure{EventID: "f-1", Code: "timeout", At: created})
			}, true},
			{"a second failure", func() (bool, error) {
				return s.SetFailure(ctx, first.ID, "evt-1", supportdesk.Failure{EventID: "f-2", Code: "internal", At: created})
			}, false},
			{"a draft after a failure (a redrive)", func() (bool, error) { return s.SetDraft(ctx, first.ID, "evt-1", draft) }, true},
			{"the same draft again", func() (bool, error) { return s.SetDraft(ctx, first.ID, "evt-1", draft) }, false},
			{"a failure after the draft", func() (bool, error) {
				return s.SetFailure(ctx, first.ID, "evt-1", supportdesk.Failure{Code: "timeout", At: created})
			}, false},
		}
		for _, st := range steps {
			if changed, err := st.do(); err != nil || changed != st.want {
				t.Errorf("%s: changed %v, %v; want %v", st.name, changed, err, st.want)
			}
		}
		got, err := s.Get(ctx, first.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Draft == nil || *got.Draft != draft || got.Failure != nil {
			t.Errorf("draft %+v, failure %+v; want %+v and none", got.Draft, got.Failure, draft)
		}
		if got.Body != "Please refund\nthe second charge." || !got.Created.Equal(created) || got.CustomerTier != "pro" {
			t.Errorf("ticket came back as %+v", got)
		}

		triage := supportdesk.Triage{EventID: "t-1", Department: "billing", Priority: "high", Labels: []string{"refund"}, Confidence: 0.8, At: created}
		for _, st := range []struct {
			name      string
			id, event string
			want      bool
		}{
			{"a triage for another ticket's event", first.ID, "evt-2", false},
			{"the triage", first.ID, "evt-1", true},
			{"a second triage", first.ID, "evt-1", false},
		} {
			if changed, err := s.SetTriage(ctx, st.id, st.event, triage); err != nil || changed != st.want {
				t.Errorf("%s: changed %v, %v; want %v", st.name, changed, err, st.want)
			}
		}
		if got, err := s.Get(ctx, first.ID); err != nil || got.Triage == nil || got.Triage.Department != "billing" ||
			len(got.Triage.Labels) != 1 || got.Triage.Labels[0] != "refund" || got.Draft == nil {
			t.Errorf("after the triage: %+v, %v", got.Triage, err)
		}

		reply := supportdesk.Reply{EventID: "r-1", Text: "Refunded.", DraftEventID: "d-1", At: created.Add(time.Minute)}
		replied, err := s.SetReply(ctx, first.ID, reply)
		if err != nil || replied.Reply == nil || *replied.Reply != reply {
			t.Fatalf("reply: %+v, %v", replied.Reply, err)
		}
		if _, err := s.SetReply(ctx, first.ID, reply); !errors.Is(err, supportdesk.ErrReplied) {
			t.Errorf("second reply: %v, want ErrReplied", err)
		}
		if _, err := s.SetReply(ctx, "SD-9", reply); !errors.Is(err, supportdesk.ErrNotFound) {
			t.Errorf("reply to no ticket: %v, want ErrNotFound", err)
		}
		if changed, err := s.SetFailure(ctx, second.ID, "evt-2", supportdesk.Failure{Code: "timeout", At: created}); err != nil || !changed {
			t.Errorf("failure of the second ticket: %v, %v", changed, err)
		}
		if _, err := s.Get(ctx, "SD-9"); !errors.Is(err, supportdesk.ErrNotFound) {
			t.Errorf("get no ticket: %v, want ErrNotFound", err)
		}
	})
}

// Desks starting together on one database create its table once.
func TestPostgresOpensConcurrently(t *testing.T) {
	t.Parallel()
	dsn := pgtest.DSN(t)
	ctx := testContext(t)
	var wg sync.WaitGroup
	for range 3 {
		wg.Go(func() {
			p, err := supportdesk.OpenPostgres(ctx, dsn)
			if err != nil {
				t.Errorf("open: %v", err)
				return
			}
			p.Close()
		})
	}
	wg.Wait()
}

func TestDraftState(t *testing.T) {
	t.Parallel()
	timeout := 30 * time.Second
	tk := newTicket("e", created)
	withDraft, withFailure := tk, tk
	withDraft.Draft = &supportdesk.Draft{EventID: "d"}
	withFailure.Failure = &supportdesk.Failure{Code: "timeout"}
	tests := []struct {
		name   string
		ticket supportdesk.Ticket
		now    time.Time
		want   supportdesk.State
	}{
		{"just created", tk, created.Add(time.Second), supportdesk.StateDrafting},
		{"past the timeout", tk, created.Add(timeout), supportdesk.StateTimedOut},
		{"a draft, even late", withDraft, created.Add(time.Hour), supportdesk.StateReady},
		{"a failure", withFailure, created.Add(time.Second), supportdesk.StateFailed},
	}
	for _, tt := range tests {
		if got := tt.ticket.DraftState(tt.now, timeout); got != tt.want {
			t.Errorf("%s: %s, want %s", tt.name, got, tt.want)
		}
	}
}
