// Package consumers holds ghostwriter's thin JetStream adapters: the
// streams, consumers and buckets it needs (Apply), the shared consume loop
// (bounded concurrency, in-progress acks, nak with delay, drain), and one
// handler per consumer. Business rules live in pipeline; handlers only
// decode, call it, publish its results and decide the ack.
package consumers

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/ghostwriter-ai/ghostwriter/schemas"
)

// Topology is what Apply creates. DefaultTopology gives production values.
type Topology struct {
	// Replicas of every stream and bucket: 1 on one server, 3 in a cluster.
	Replicas int
	// TicketsMaxAge bounds TICKETS when ghostwriter creates it.
	TicketsMaxAge time.Duration
	// CostsMaxAge bounds AI_COSTS; analytics must read within it.
	CostsMaxAge time.Duration
	// DuplicateWindow is how long Nats-Msg-Id dedupes a publish.
	DuplicateWindow time.Duration
	// TasksTTL is how long a finished task is remembered in the bucket.
	TasksTTL time.Duration
	// CacheTTL is how long a cached draft may answer identical input.
	CacheTTL time.Duration
	// Drafts is the ghostwriter-drafts consumer.
	Drafts ConsumerSettings
	// Ledger is the ghostwriter-ledger consumer. Cost data is never given
	// up on: MaxDeliver -1.
	Ledger ConsumerSettings
	// Feedback is the ghostwriter-feedback consumer of drafts and replies;
	// like cost data, feedback outlives a store outage: MaxDeliver -1.
	Feedback ConsumerSettings
}

// ConsumerSettings are the delivery settings of a durable pull consumer.
type ConsumerSettings struct {
	// AckWait is how long a delivery may go without an ack or an
	// in-progress before the server redelivers it.
	AckWait time.Duration
	// MaxDeliver caps deliveries of one message.
	MaxDeliver int
	// MaxAckPending caps unacknowledged messages across all workers.
	MaxAckPending int
}

// DefaultTopology returns the settings DESIGN.md and the reliability
// notes call for.
func DefaultTopology() Topology {
	return Topology{
		Replicas:        1,
		TicketsMaxAge:   30 * 24 * time.Hour,
		CostsMaxAge:     90 * 24 * time.Hour,
		DuplicateWindow: 2 * time.Minute,
		TasksTTL:        30 * 24 * time.Hour,
		CacheTTL:        24 * time.Hour,
		Drafts:          ConsumerSettings{AckWait: 60 * time.Second, MaxDeliver: 5, MaxAckPending: 256},
		Ledger:          ConsumerSettings{AckWait: 30 * time.Second, MaxDeliver: -1, MaxAckPending: 1024},
		Feedback:        ConsumerSettings{AckWait: 30 * time.Second, MaxDeliver: -1, MaxAckPending: 256},
	}
}

// Apply creates or updates ghostwriter's streams, consumers and bucket. It
// never deletes anything, and it creates TICKETS only if absent: that
// stream belongs to the product. An existing TICKETS that does not capture
// ghostwriter's result subjects is an error, since results would be lost.
// Safe to run any number of times, from any number of processes.
func Apply(ctx context.Context, js jetstream.JetStream, t Topology) error {
	tickets := jetstream.StreamConfig{
		Name:        schemas.StreamTickets,
		Description: "The product's ticket events and ghostwriter's results.",
		Subjects:    []string{schemas.SubjectsTickets},
		Retention:   jetstream.LimitsPolicy,
		Storage:     jetstream.FileStorage,
		MaxAge:      t.TicketsMaxAge,
		Duplicates:  t.DuplicateWindow,
		Replicas:    t.Replicas,
	}
	s, err := js.CreateStream(ctx, tickets)
	switch {
	case errors.Is(err, jetstream.ErrStreamNameAlreadyInUse):
		s, err = js.Stream(ctx, schemas.StreamTickets)
		if err != nil {
			return fmt.Errorf("consumers.apply %s: %w", schemas.StreamTickets, err)
		}
		if err := capturesResults(s.CachedInfo().Config.Subjects); err != nil {
			return fmt.Errorf("consumers.apply %s: %w", schemas.StreamTickets, err)
		}
	case err != nil:
		return fmt.Errorf("consumers.apply %s: %w", schemas.StreamTickets, err)
	}

	own := []jetstream.StreamConfig{
		{Name: schemas.StreamCosts, Description: "One ai.cost event per model call.",
			Subjects: []string{schemas.SubjectsCosts}, Retention: jetstream.LimitsPolicy, MaxAge: t.CostsMaxAge},
		{Name: schemas.StreamReplay, Description: "Events a replay feeds to the workers.",
			Subjects: []string{schemas.SubjectsReplay}, Retention: jetstream.WorkQueuePolicy},
		{Name: schemas.StreamDLQ, Description: "Messages that could not be parsed, with the reason in headers.",
			Subjects: []string{schemas.SubjectsDLQ}, Retention: jetstream.LimitsPolicy, MaxAge: t.TicketsMaxAge},
		{Name: schemas.StreamShadow, Description: "Results of shadow replays; the product never reads them.",
			Subjects: []string{schemas.SubjectsShadow}, Retention: jetstream.LimitsPolicy, MaxAge: t.TicketsMaxAge},
	}
	for _, cfg := range own {
		cfg.Storage, cfg.Duplicates, cfg.Replicas = jetstream.FileStorage, t.DuplicateWindow, t.Replicas
		if _, err := js.CreateOrUpdateStream(ctx, cfg); err != nil {
			return fmt.Errorf("consumers.apply %s: %w", cfg.Name, err)
		}
	}

	if _, err := s.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{
		Durable:       schemas.ConsumerDrafts,
		Description:   "ghostwriter workers drafting replies to new tickets.",
		FilterSubject: schemas.TypeTicketCreated,
		DeliverPolicy: jetstream.DeliverAllPolicy,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       t.Drafts.AckWait,
		MaxDeliver:    t.Drafts.MaxDeliver,
		MaxAckPending: t.Drafts.MaxAckPending,
	}); err != nil {
		return fmt.Errorf("consumers.apply %s: %w", schemas.ConsumerDrafts, err)
	}

	if _, err := s.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{
		Durable:        schemas.ConsumerFeedback,
		Description:    "ghostwriter feedback: drafts, and the replies humans sent from them.",
		FilterSubjects: []string{schemas.TypeDraftReady, schemas.TypeReplySent},
		DeliverPolicy:  jetstream.DeliverAllPolicy,
		AckPolicy:      jetstream.AckExplicitPolicy,
		AckWait:        t.Feedback.AckWait,
		MaxDeliver:     t.Feedback.MaxDeliver,
		MaxAckPending:  t.Feedback.MaxAckPending,
	}); err != nil {
		return fmt.Errorf("consumers.apply %s: %w", schemas.ConsumerFeedback, err)
	}

	if _, err := js.CreateOrUpdateConsumer(ctx, schemas.StreamCosts, jetstream.ConsumerConfig{
		Durable:       schemas.ConsumerLedger,
		Description:   "ghostwriter ledger writing ai.cost events into Postgres.",
		DeliverPolicy: jetstream.DeliverAllPolicy,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       t.Ledger.AckWait,
		MaxDeliver:    t.Ledger.MaxDeliver,
		MaxAckPending: t.Ledger.MaxAckPending,
	}); err != nil {
		return fmt.Errorf("consumers.apply %s: %w", schemas.ConsumerLedger, err)
	}

	for _, kv := range []jetstream.KeyValueConfig{
		{Bucket: schemas.BucketTasks, Description: "Terminal status per task, prompt version and source event.", TTL: t.TasksTTL},
		{Bucket: schemas.BucketCache, Description: "Cached drafts by prompt version, model and input.", TTL: t.CacheTTL},
	} {
		kv.History, kv.Storage, kv.Replicas = 1, jetstream.FileStorage, t.Replicas
		if _, err := js.CreateOrUpdateKeyValue(ctx, kv); err != nil {
			return fmt.Errorf("consumers.apply %s: %w", kv.Bucket, err)
		}
	}
	return nil
}

// capturesResults checks that a product-made TICKETS stream stores the
// subjects ghostwriter publishes to.
func capturesResults(subjects []string) error {
	if slices.Contains(subjects, ">") || slices.Contains(subjects, schemas.SubjectsTickets) {
		return nil
	}
	for _, want := range []string{schemas.TypeTicketCreated, schemas.TypeDraftReady, schemas.TypeDraftFailed, schemas.TypeReplySent} {
		if !slices.Contains(subjects, want) {
			return fmt.Errorf("stream subjects %v do not capture %s; add %q", subjects, want, schemas.SubjectsTickets)
		}
	}
	return nil
}
