package consumers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/ghostwriter-ai/ghostwriter/schemas"
)

// Publish publishes an event on the subject equal to its type, with its id
// as Nats-Msg-Id so a retried publish is stored once, and its traceparent
// as a header. It returns the PubAck: Duplicate is true when the stream
// already held the event.
func Publish(ctx context.Context, js jetstream.JetStream, env schemas.Envelope) (*jetstream.PubAck, error) {
	body, err := schemas.Encode(env)
	if err != nil {
		return nil, fmt.Errorf("consumers.publish: %w", err)
	}
	m := nats.NewMsg(env.Type)
	m.Data = body
	if env.TraceParent != "" {
		m.Header.Set(schemas.HeaderTraceparent, env.TraceParent)
	}
	ack, err := js.PublishMsg(ctx, m, jetstream.WithMsgID(env.ID))
	if err != nil {
		return nil, fmt.Errorf("consumers.publish %s: %w", env.Type, err)
	}
	return ack, nil
}

// AwaitResult waits until ctx ends for the ticket.draft_ready or
// ticket.draft_failed that answers sourceEventID, reading TICKETS from
// stream sequence fromSeq on (0: from the start). It returns the event as
// stored.
func AwaitResult(ctx context.Context, js jetstream.JetStream, sourceEventID string, fromSeq uint64) ([]byte, error) {
	cfg := jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{schemas.TypeDraftReady, schemas.TypeDraftFailed},
		DeliverPolicy:  jetstream.DeliverAllPolicy,
	}
	if fromSeq > 0 {
		cfg.DeliverPolicy, cfg.OptStartSeq = jetstream.DeliverByStartSequencePolicy, fromSeq
	}
	cons, err := js.OrderedConsumer(ctx, schemas.StreamTickets, cfg)
	if err != nil {
		return nil, fmt.Errorf("consumers.await: %w", err)
	}
	iter, err := cons.Messages()
	if err != nil {
		return nil, fmt.Errorf("consumers.await: %w", err)
	}
	defer iter.Stop()
	for {
		msg, err := iter.Next(jetstream.NextContext(ctx))
		if err != nil {
			if ctx.Err() != nil {
				return nil, fmt.Errorf("consumers.await %s: %w", sourceEventID, ctx.Err())
			}
			if errors.Is(err, jetstream.ErrMsgIteratorClosed) {
				return nil, fmt.Errorf("consumers.await %s: %w", sourceEventID, err)
			}
			continue
		}
		if h := msg.Headers().Get(schemas.HeaderSourceEventID); h != "" && h != sourceEventID {
			continue
		}
		var probe struct {
			Data struct {
				SourceEventID string `json:"source_event_id"`
			} `json:"data"`
		}
		if json.Unmarshal(msg.Data(), &probe) == nil && probe.Data.SourceEventID == sourceEventID {
			return msg.Data(), nil
		}
	}
}
