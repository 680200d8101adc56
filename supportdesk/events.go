package supportdesk

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/ghostwriter-ai/ghostwriter/schemas"
)

// ConsumerResults is the desk's durable consumer of ghostwriter's results.
const ConsumerResults = "supportdesk-results"

// SetUp creates the TICKETS stream if it is missing (it is the product's
// stream; ghostwriter adds to it) and the desk's durable consumer of
// ticket.draft_ready, ticket.draft_failed and ticket.triaged. Safe to run
// at every start.
func SetUp(ctx context.Context, js jetstream.JetStream) (jetstream.Consumer, error) {
	_, err := js.CreateStream(ctx, jetstream.StreamConfig{
		Name:        schemas.StreamTickets,
		Description: "The product's ticket events and ghostwriter's results.",
		Subjects:    []string{schemas.SubjectsTickets},
		Retention:   jetstream.LimitsPolicy,
		Storage:     jetstream.FileStorage,
		MaxAge:      30 * 24 * time.Hour,
		Duplicates:  2 * time.Minute,
	})
	if err != nil && !errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
		return nil, fmt.Errorf("supportdesk.setup %s: %w", schemas.StreamTickets, err)
	}
	c, err := js.CreateOrUpdateConsumer(ctx, schemas.StreamTickets, jetstream.ConsumerConfig{
		Durable:        ConsumerResults,
		Description:    "The support desk showing ghostwriter's drafts and triages.",
		FilterSubjects: []string{schemas.TypeDraftReady, schemas.TypeDraftFailed, schemas.TypeTriaged},
		DeliverPolicy:  jetstream.DeliverAllPolicy,
		AckPolicy:      jetstream.AckExplicitPolicy,
		AckWait:        30 * time.Second,
		MaxDeliver:     -1,
	})
	if err != nil {
		return nil, fmt.Errorf("supportdesk.setup %s: %w", ConsumerResults, err)
	}
	return c, nil
}

// publish publishes env on the subject equal to its type, with its id as
// Nats-Msg-Id, so a retried publish is stored once.
func (d *Desk) publish(ctx context.Context, env schemas.Envelope) error {
	body, err := schemas.Encode(env)
	if err != nil {
		return fmt.Errorf("supportdesk.publish: %w", err)
	}
	m := nats.NewMsg(env.Type)
	m.Data = body
	if env.TraceParent != "" {
		m.Header.Set(schemas.HeaderTraceparent, env.TraceParent)
	}
	ctx, cancel := context.WithTimeout(ctx, d.publishTimeout)
	defer cancel()
	if _, err := d.js.PublishMsg(ctx, m, jetstream.WithMsgID(env.ID)); err != nil {
		return fmt.Errorf("supportdesk.publish %s: %w", env.Type, err)
	}
	return nil
}

// ConsumeResults reads ghostwriter's results from the desk's durable
// consumer until ctx ends, stores each with its ticket and tells the
// open pages. A result is acked once stored; one for a ticket the desk
// does not have (another product's, or an older desk's) is acked and
// skipped, and one the desk cannot store now is redelivered.
func (d *Desk) ConsumeResults(ctx context.Context, cons jetstream.Consumer) error {
	iter, err := cons.Messages()
	if err != nil {
		return fmt.Errorf("supportdesk.results: %w", err)
	}
	stop := context.AfterFunc(ctx, iter.Stop)
	defer stop()
	for {
		msg, err := iter.Next()
		if errors.Is(err, jetstream.ErrMsgIteratorClosed) {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("supportdesk.results: %w", err)
		}
		if err != nil {
			d.log.Warn("results", "err", err) // the iterator recovers by itself
			continue
		}
		d.handleResult(ctx, msg)
	}
}

func (d *Desk) handleResult(ctx context.Context, msg jetstream.Msg) {
	env, err := schemas.Decode(msg.Data())
	if err != nil {
		d.log.Warn("result does not decode; skipped", "subject", msg.Subject(), "err", err)
		_ = msg.Term()
		return
	}
	var (
		ticketID, source string
		changed          bool
	)
	switch env.Type {
	case schemas.TypeDraftReady:
		var r schemas.DraftReady
		if err = env.DecodeData(&r); err == nil {
			ticketID, source = r.TicketID, r.SourceEventID
			changed, err = d.store.SetDraft(ctx, r.TicketID, r.SourceEventID, Draft{
				EventID: env.ID, Text: r.Draft, Confidence: r.Confidence, Reason: r.Reason, RequiresReview: r.RequiresReview,
				Model: r.Model, PromptVersion: r.PromptVersion, At: env.Time,
			})
		}
	case schemas.TypeTriaged:
		var r schemas.Triaged
		if err = env.DecodeData(&r); err == nil {
			ticketID, source = r.TicketID, r.SourceEventID
			changed, err = d.store.SetTriage(ctx, r.TicketID, r.SourceEventID, Triage{
				EventID: env.ID, Department: r.Department, Priority: r.Priority, Labels: r.Labels, Confidence: r.Confidence, At: env.Time,
			})
		}
	case schemas.TypeDraftFailed:
		var r schemas.DraftFailed
		if err = env.DecodeData(&r); err == nil {
			ticketID, source = r.TicketID, r.SourceEventID
			changed, err = d.store.SetFailure(ctx, r.TicketID, r.SourceEventID, Failure{
				EventID: env.ID, Code: r.ErrorCode, Detail: r.ErrorDetail, At: env.Time,
			})
		}
	}
	if err != nil {
		d.log.Warn("result not stored; redelivering", "event_id", env.ID, "ticket_id", ticketID, "err", err)
		_ = msg.NakWithDelay(2 * time.Second)
		return
	}
	if err := msg.Ack(); err != nil {
		d.log.Warn("ack", "event_id", env.ID, "err", err) // redelivered, and a no-op then
	}
	if changed {
		d.log.Info("result", "subject", env.Type, "event_id", env.ID, "ticket_id", ticketID, "source_event_id", source)
		d.hub.notify(ticketID)
	}
}
