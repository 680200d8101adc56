package consumers

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/ghostwriter-ai/ghostwriter/ledger"
	"github.com/ghostwriter-ai/ghostwriter/pipeline"
	"github.com/ghostwriter-ai/ghostwriter/schemas"
)

// FeedbackStore keeps drafts and the feedback on replies, idempotently.
// ledger.Store and ledger.Memory implement it.
type FeedbackStore interface {
	RecordDraft(ctx context.Context, d ledger.Draft) (bool, error)
	Draft(ctx context.Context, eventID string) (ledger.Draft, bool, error)
	LatestDraft(ctx context.Context, tenantID, ticketID string) (ledger.Draft, bool, error)
	RecordFeedback(ctx context.Context, f ledger.Feedback) (bool, error)
}

// Feedback scores the replies humans send against ghostwriter's drafts.
// It reads ticket.draft_ready and ticket.reply_sent from TICKETS, about
// in stream order (two at a time). Each draft is kept in the ledger, so
// that when the product publishes ticket.reply_sent naming the draft's
// event id, the reply is compared with the draft's text (ledger.Compare)
// and one feedback row is recorded per reply, under the draft's task,
// prompt version and model. A reply that names no draft counts as not used
// against the ticket's latest draft, if it had one.
//
// The product publishes a reply only after it saw the draft, so the
// draft is earlier in the stream and already kept; a reply whose draft
// the ledger does not know is retried a few times (another instance may
// hold the draft in flight) and then given up, with a warning. While the
// store fails nothing is acked and every message is retried: feedback is
// not dropped for an outage. Run it once per instance; several instances
// may share the durable consumer.
type Feedback struct {
	// JS publishes dead letters.
	JS jetstream.JetStream
	// Consumer is the ghostwriter-feedback durable (FeedbackConsumer),
	// or any pull consumer with explicit acks on TICKETS filtered to
	// ticket.draft_ready and ticket.reply_sent.
	Consumer jetstream.Consumer
	Store    FeedbackStore
	// UnknownDraftDeliveries is how many deliveries a reply naming an
	// unknown draft gets before it is given up (default 5).
	UnknownDraftDeliveries int
	// Backoff spaces redeliveries; the last value repeats. Default 1s,
	// 5s, 30s.
	Backoff []time.Duration
	// Timeout bounds the store's work on one message (default 10s).
	Timeout time.Duration
	Logger  *slog.Logger
}

// FeedbackConsumer returns the ghostwriter-feedback durable consumer,
// which Apply creates.
func FeedbackConsumer(ctx context.Context, js jetstream.JetStream) (jetstream.Consumer, error) {
	c, err := js.Consumer(ctx, schemas.StreamTickets, schemas.ConsumerFeedback)
	if err != nil {
		return nil, fmt.Errorf("consumers.feedback: consumer %s: %w", schemas.ConsumerFeedback, err)
	}
	return c, nil
}

// Run consumes until ctx ends; see Loop.Run for shutdown.
func (f *Feedback) Run(ctx context.Context) error {
	every := 5 * time.Second
	if info := f.Consumer.CachedInfo(); info != nil && info.Config.AckWait > 0 {
		every = info.Config.AckWait / 4
	}
	// Two at a time: stream order mostly holds (a reply handled beside
	// its own draft is retried), and a one-message pull that is nak'd
	// with short delays was seen to stall for many seconds.
	loop := &Loop{Consumer: f.Consumer, Handler: f.Handle, Concurrency: 2, InProgressEvery: every, Logger: f.Logger}
	return loop.Run(ctx)
}

// Handle decides one ticket.draft_ready or ticket.reply_sent delivery.
// What cannot be decoded becomes a dead letter and is termed.
func (f *Feedback) Handle(ctx context.Context, msg jetstream.Msg) Decision {
	timeout := f.Timeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	meta, err := msg.Metadata()
	if err != nil {
		return Decision{Action: Term, Reason: "not a JetStream message"}
	}
	env, err := schemas.Decode(msg.Data())
	if err == nil && env.Type != msg.Subject() {
		err = &schemas.FieldError{Kind: schemas.KindInvalidField, Field: "/type", Reason: "type differs from the subject " + msg.Subject()}
	}
	if err != nil {
		return f.deadLetter(ctx, msg, meta, safeDetail(err), safeReason(err), nil)
	}
	attrs := []slog.Attr{slog.String("event_id", env.ID), slog.String("subject", env.Type)}
	switch env.Type {
	case schemas.TypeDraftReady:
		return f.draft(ctx, env, meta, attrs)
	case schemas.TypeReplySent:
		return f.reply(ctx, msg, env, meta, attrs)
	}
	return Decision{Action: Ack, Reason: "not a feedback subject", Attrs: attrs}
}

func (f *Feedback) draft(ctx context.Context, env schemas.Envelope, meta *jetstream.MsgMetadata, attrs []slog.Attr) Decision {
	var d schemas.DraftReady
	if err := env.DecodeData(&d); err != nil {
		return Decision{Action: Term, Reason: "draft data: " + err.Error(), Attrs: attrs}
	}
	attrs = append(attrs, slog.String("ticket_id", d.TicketID), slog.String("tenant_id", d.TenantID),
		slog.String("prompt_version", d.PromptVersion), slog.String("model", d.Model))
	added, err := f.Store.RecordDraft(ctx, ledger.Draft{
		EventID: env.ID, TicketID: d.TicketID, TenantID: d.TenantID, SourceEventID: d.SourceEventID, Task: d.Task,
		PromptVersion: d.PromptVersion, Model: d.Model, ReplayID: d.ReplayID, Text: d.Draft, At: env.Time,
	})
	if err != nil {
		return Decision{Action: Nak, Delay: f.delay(meta.NumDelivered), Reason: "store: " + err.Error(), Attrs: attrs}
	}
	return Decision{Action: Ack, Reason: recorded(added, "draft kept"), Attrs: attrs}
}

func (f *Feedback) reply(ctx context.Context, msg jetstream.Msg, env schemas.Envelope, meta *jetstream.MsgMetadata, attrs []slog.Attr) Decision {
	var r schemas.ReplySent
	if err := env.DecodeData(&r); err != nil {
		return Decision{Action: Term, Reason: "reply data: " + err.Error(), Attrs: attrs}
	}
	attrs = append(attrs, slog.String("ticket_id", r.TicketID), slog.String("tenant_id", r.TenantID))
	var (
		d   ledger.Draft
		ok  bool
		err error
	)
	if r.DraftEventID != "" {
		d, ok, err = f.Store.Draft(ctx, r.DraftEventID)
	} else {
		d, ok, err = f.Store.LatestDraft(ctx, r.TenantID, r.TicketID)
	}
	if err != nil {
		return Decision{Action: Nak, Delay: f.delay(meta.NumDelivered), Reason: "store: " + err.Error(), Attrs: attrs}
	}
	switch {
	case r.DraftEventID != "" && !ok:
		attrs = append(attrs, slog.String("draft_event_id", r.DraftEventID))
		if int(meta.NumDelivered) < f.unknownDraftDeliveries() {
			return Decision{Action: Nak, Delay: f.delay(meta.NumDelivered), Reason: "draft not seen yet", Attrs: attrs}
		}
		return Decision{Action: Term, Reason: "draft unknown to the ledger; reply not scored", Attrs: attrs, Warn: true}
	case ok && (d.TicketID != r.TicketID || d.TenantID != r.TenantID):
		return f.deadLetter(ctx, msg, meta, "invalid_field:draft_event_id", "/data/draft_event_id: names a draft of another ticket", attrs)
	}
	var draft *ledger.Draft
	if ok {
		draft = &d
	}
	fb := ledger.NewFeedback(env.ID, r.TicketID, r.TenantID, r.FinalText, env.Time, draft, r.DraftEventID != "")
	attrs = append(attrs, slog.String("draft_event_id", fb.DraftEventID), slog.String("prompt_version", fb.PromptVersion),
		slog.String("model", fb.Model), slog.String("class", string(fb.Class)))
	if fb.Class != ledger.ClassNotUsed {
		attrs = append(attrs, slog.Float64("distance", fb.Distance))
	}
	added, err := f.Store.RecordFeedback(ctx, fb)
	if err != nil {
		return Decision{Action: Nak, Delay: f.delay(meta.NumDelivered), Reason: "store: " + err.Error(), Attrs: attrs}
	}
	return Decision{Action: Ack, Reason: recorded(added, "feedback recorded"), Attrs: attrs}
}

// deadLetter moves an event the feedback consumer cannot use to the
// dead-letter stream, then terms it; if that publish fails it is retried.
func (f *Feedback) deadLetter(ctx context.Context, msg jetstream.Msg, meta *jetstream.MsgMetadata, detail, reason string, attrs []slog.Attr) Decision {
	attrs = append(attrs, slog.String("error_detail", detail))
	if err := publishDeadLetter(ctx, f.JS, msg, string(pipeline.CodeInvalidInput), detail, reason); err != nil {
		return Decision{Action: Nak, Delay: f.delay(meta.NumDelivered), Reason: "dead letter: " + err.Error(), Attrs: attrs}
	}
	return Decision{Action: Term, Reason: "dead-lettered: " + detail, Attrs: attrs, Warn: true}
}

func recorded(added bool, what string) string {
	if added {
		return what
	}
	return what + " before (a redelivery)"
}

func (f *Feedback) unknownDraftDeliveries() int {
	if f.UnknownDraftDeliveries <= 0 {
		return 5
	}
	return f.UnknownDraftDeliveries
}

func (f *Feedback) delay(delivered uint64) time.Duration {
	b := f.Backoff
	if len(b) == 0 {
		b = []time.Duration{time.Second, 5 * time.Second, 30 * time.Second}
	}
	return b[min(max(int(delivered), 1), len(b))-1]
}
