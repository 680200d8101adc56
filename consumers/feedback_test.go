package consumers_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/ghostwriter-ai/ghostwriter/consumers"
	"github.com/ghostwriter-ai/ghostwriter/ledger"
	"github.com/ghostwriter-ai/ghostwriter/pipeline/rules"
	"github.com/ghostwriter-ai/ghostwriter/schemas"
)

// feedbackSpy is the in-memory ledger, remembering each feedback row it
// added by reply event id.
type feedbackSpy struct {
	*ledger.Memory
	mu   sync.Mutex
	rows map[string]ledger.Feedback
}

func (s *feedbackSpy) RecordFeedback(ctx context.Context, f ledger.Feedback) (bool, error) {
	added, err := s.Memory.RecordFeedback(ctx, f)
	if added {
		s.mu.Lock()
		s.rows[f.ReplyEventID] = f
		s.mu.Unlock()
	}
	return added, err
}

func (s *feedbackSpy) row(id string) (ledger.Feedback, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f, ok := s.rows[id]
	return f, ok
}

// startFeedback runs the feedback consumer until the test ends; a reply
// naming an unknown draft gets unknownDeliveries deliveries, 10ms apart.
func (h *harness) startFeedback(store consumers.FeedbackStore, unknownDeliveries int) {
	h.t.Helper()
	cons, err := consumers.FeedbackConsumer(h.ctx, h.js)
	if err != nil {
		h.t.Fatal(err)
	}
	f := &consumers.Feedback{JS: h.js, Consumer: cons, Store: store, UnknownDraftDeliveries: unknownDeliveries,
		Backoff: []time.Duration{10 * time.Millisecond}, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	ctx, cancel := context.WithCancel(h.ctx)
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := f.Run(ctx); err != nil {
			h.t.Errorf("feedback: %v", err)
		}
	})
	h.t.Cleanup(func() { cancel(); wg.Wait() })
}

// draftFor waits for the draft of a ticket event and returns its event id
// and text.
func (h *harness) draftFor(eventID string) (string, string) {
	h.t.Helper()
	var env schemas.Envelope
	h.waitFor("the draft of "+eventID, 10*time.Second, func() bool {
		got := h.terminal()[eventID]
		if len(got) == 1 {
			env = got[0]
		}
		return len(got) == 1
	})
	var d schemas.DraftReady
	if env.Type != schemas.TypeDraftReady || env.DecodeData(&d) != nil {
		h.t.Fatalf("%s: %s, want a draft", eventID, env.Type)
	}
	return env.ID, d.Draft
}

// publishReply publishes a ticket.reply_sent and returns its stream
// sequence.
func (h *harness) publishReply(id string, r schemas.ReplySent) uint64 {
	h.t.Helper()
	env, err := schemas.New(schemas.TypeReplySent, "test", id, r)
	if err != nil {
		h.t.Fatal(err)
	}
	ack, err := consumers.Publish(h.ctx, h.js, env)
	if err != nil {
		h.t.Fatal(err)
	}
	return ack.Sequence
}

func TestFeedbackScoresReplies(t *testing.T) {
	h := newHarness(t)
	h.startWorker(rules.Model{}, 2)
	spy := &feedbackSpy{Memory: ledger.NewMemory(), rows: map[string]ledger.Feedback{}}
	h.startFeedback(spy, 2)

	ticket := func(id, body string) schemas.TicketCreated {
		return schemas.TicketCreated{TicketID: id, TenantID: "acme", Body: body}
	}
	refund, refundText := h.draftFor(h.publishTicket("evt-refund", ticket("T-1", "I was charged twice, please refund")))
	parcel, parcelText := h.draftFor(h.publishTicket("evt-parcel", ticket("T-2", "My parcel never arrived")))

	tests := []struct {
		name      string
		reply     schemas.ReplySent
		wantClass ledger.Class
		wantDraft string // the draft the reply is scored against
	}{
		{"sent as drafted", schemas.ReplySent{TicketID: "T-1", TenantID: "acme", FinalText: refundText, DraftEventID: refund},
			ledger.ClassAccepted, refund},
		{"a greeting and a signature", schemas.ReplySent{TicketID: "T-1", TenantID: "acme",
			FinalText: "Hi Maria,\n\n" + refundText + "\n\nSam", DraftEventID: refund}, ledger.ClassLightlyEdited, refund},
		{"written anew", schemas.ReplySent{TicketID: "T-2", TenantID: "acme",
			FinalText: "Your parcel is at the depot; pick it up any day.", DraftEventID: parcel}, ledger.ClassRewritten, parcel},
		{"not started from the draft it had", schemas.ReplySent{TicketID: "T-2", TenantID: "acme", FinalText: parcelText},
			ledger.ClassNotUsed, parcel},
		{"no draft at all", schemas.ReplySent{TicketID: "T-3", TenantID: "acme", FinalText: "Done."}, ledger.ClassNotUsed, ""},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id := "reply-" + string(rune('a'+i))
			h.publishReply(id, tt.reply)
			var got ledger.Feedback
			h.waitFor("feedback on "+id, 10*time.Second, func() bool {
				var ok bool
				got, ok = spy.row(id)
				return ok
			})
			if got.Class != tt.wantClass || got.DraftEventID != tt.wantDraft {
				t.Errorf("class %s against draft %q, want %s against %q", got.Class, got.DraftEventID, tt.wantClass, tt.wantDraft)
			}
			if tt.wantDraft != "" && (got.PromptVersion != "v1" || got.Model != rules.Name || got.Task != "support_draft") {
				t.Errorf("scored under %s/%s/%s, want the draft's support_draft/v1/%s", got.Task, got.PromptVersion, got.Model, rules.Name)
			}
		})
	}

	// Redelivered and re-published replies count once.
	h.publishReply("reply-a", tests[0].reply)
	m := nats.NewMsg(schemas.TypeReplySent)
	env, _ := schemas.New(schemas.TypeReplySent, "test", "reply-a", tests[0].reply)
	m.Data, _ = schemas.Encode(env)
	if _, err := h.js.PublishMsg(h.ctx, m, jetstream.WithMsgID("another-msg-id")); err != nil {
		t.Fatal(err)
	}
	// A reply naming a draft no one made is given up; one naming another
	// ticket's draft, and one that does not decode, are dead letters.
	h.publishReply("reply-unknown", schemas.ReplySent{TicketID: "T-1", TenantID: "acme", FinalText: "x", DraftEventID: "no-such-draft"})
	h.publishReply("reply-crossed", schemas.ReplySent{TicketID: "T-2", TenantID: "acme", FinalText: "x", DraftEventID: refund})
	ack, err := h.js.Publish(h.ctx, schemas.TypeReplySent, []byte(`{"specversion":"1.0","id":"bad","type":"ticket.reply_sent"}`))
	if err != nil {
		t.Fatal(err)
	}
	h.feedbackSettled(ack.Sequence, 10*time.Second)

	for _, id := range []string{"reply-unknown", "reply-crossed"} {
		if f, ok := spy.row(id); ok {
			t.Errorf("%s was scored: %+v", id, f)
		}
	}
	if dl := h.deadLetters(); dl["invalid_field:draft_event_id"] != 1 || dl[schemas.KindNotCloudEvent] != 1 {
		t.Errorf("dead letters %v, want one crossed draft and one broken event", dl)
	}
	rows, err := spy.Quality(h.ctx, time.Now().Add(-time.Hour), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	var replies, drafts int64
	for _, r := range rows {
		replies, drafts = replies+r.Replies, drafts+r.Drafts
	}
	if replies != int64(len(tests)) || drafts != 2 {
		t.Errorf("quality counts %d replies and %d drafts, want %d and 2: %+v", replies, drafts, len(tests), rows)
	}
}

// feedbackSettled waits until the feedback consumer has decided every
// message up to stream sequence seq. (Its pending count alone may lag a
// publish that was just acknowledged.)
func (h *harness) feedbackSettled(seq uint64, within time.Duration) {
	h.t.Helper()
	c, err := consumers.FeedbackConsumer(h.ctx, h.js)
	if err != nil {
		h.t.Fatal(err)
	}
	var last *jetstream.ConsumerInfo
	h.t.Cleanup(func() {
		if h.t.Failed() && last != nil {
			h.t.Logf("feedback consumer: want ack floor %d; pending=%d ack_pending=%d redelivered=%d delivered=%d ack_floor=%d waiting=%d",
				seq, last.NumPending, last.NumAckPending, last.NumRedelivered, last.Delivered.Stream, last.AckFloor.Stream, last.NumWaiting)
		}
	})
	h.waitFor("the feedback consumer to settle", within, func() bool {
		info, err := c.Info(h.ctx)
		if err == nil {
			last = info
		}
		return err == nil && info.AckFloor.Stream >= seq && info.NumAckPending == 0
	})
}

// A store that fails holds every message back; nothing is lost.
func TestFeedbackRetriesWhileTheStoreFails(t *testing.T) {
	h := newHarness(t)
	h.startWorker(rules.Model{}, 1)
	mem := ledger.NewMemory()
	var mu sync.Mutex
	down := true
	failing := &flakyFeedback{Memory: mem, down: func() bool { mu.Lock(); defer mu.Unlock(); return down }}
	// A reply may overtake its draft while the draft waits for a retry;
	// here it never gives up on it.
	h.startFeedback(failing, 1<<30)
	draft, text := h.draftFor(h.publishTicket("evt-1", schemas.TicketCreated{TicketID: "T-1", TenantID: "acme", Body: "refund please"}))
	seq := h.publishReply("reply-1", schemas.ReplySent{TicketID: "T-1", TenantID: "acme", FinalText: text + "\n", DraftEventID: draft})
	h.waitFor("a few failed attempts", 10*time.Second, func() bool { return failing.attempts() >= 3 })
	mu.Lock()
	down = false
	mu.Unlock()
	h.feedbackSettled(seq, 10*time.Second)
	rows, err := mem.Quality(h.ctx, time.Now().Add(-time.Hour), time.Now())
	if err != nil || len(rows) != 1 || rows[0].Drafts != 1 || rows[0].Accepted != 1 {
		t.Errorf("after the outage: %+v, %v; want one draft, accepted", rows, err)
	}
}

// flakyFeedback fails every call while down says so, as a store whose
// database is away does.
type flakyFeedback struct {
	*ledger.Memory
	down func() bool
	mu   sync.Mutex
	n    int
}

func (f *flakyFeedback) attempts() int { f.mu.Lock(); defer f.mu.Unlock(); return f.n }

func (f *flakyFeedback) fail() error {
	f.mu.Lock()
	f.n++
	f.mu.Unlock()
	if f.down() {
		return errStoreDown
	}
	return nil
}

var errStoreDown = errors.New("store down")

func (f *flakyFeedback) RecordDraft(ctx context.Context, d ledger.Draft) (bool, error) {
	if err := f.fail(); err != nil {
		return false, err
	}
	return f.Memory.RecordDraft(ctx, d)
}

func (f *flakyFeedback) Draft(ctx context.Context, id string) (ledger.Draft, bool, error) {
	if err := f.fail(); err != nil {
		return ledger.Draft{}, false, err
	}
	return f.Memory.Draft(ctx, id)
}

func (f *flakyFeedback) RecordFeedback(ctx context.Context, fb ledger.Feedback) (bool, error) {
	if err := f.fail(); err != nil {
		return false, err
	}
	return f.Memory.RecordFeedback(ctx, fb)
}
