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
	// Tasks are the AI tasks: each gets a durable consumer of its trigger
	// on TICKETS (DefaultTopology: schemas.BuiltinTasks).
	Tasks []schemas.Task
	// Drafts are the settings of every task's consumer (ghostwriter-drafts
	// and the others) and of the replay consumer.
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
		Tasks:           schemas.BuiltinTasks(),
		Drafts:          ConsumerSettings{AckWait: 60 * time.Second, MaxDeliver: 5, MaxAckPending: 256},
		Ledger:          ConsumerSettings{AckWait: 30 * time.Second, MaxDeliver: -1, MaxAckPending: 1024},
		Feedback:        ConsumerSettings{AckWait: 30 * time.Second, MaxDeliver: -1, MaxAckPending: 256},
	}
}

// ConsumerSpec is a durable consumer and the stream it reads.
type ConsumerSpec struct {
	Stream string
	Config jetstream.ConsumerConfig
}

// Streams returns the streams Apply creates, TICKETS first. It is the one
// definition that Apply, deploy/nats/streams and the NACK resources share.
func (t Topology) Streams() []jetstream.StreamConfig {
	streams := []jetstream.StreamConfig{
		{Name: schemas.StreamTickets, Description: "The product's ticket events and ghostwriter's results.",
			Subjects: []string{schemas.SubjectsTickets}, Retention: jetstream.LimitsPolicy, MaxAge: t.TicketsMaxAge},
		{Name: schemas.StreamCosts, Description: "One ai.cost event per model call.",
			Subjects: []string{schemas.SubjectsCosts}, Retention: jetstream.LimitsPolicy, MaxAge: t.CostsMaxAge},
		{Name: schemas.StreamReplay, Description: "Events a replay feeds to the workers.",
			Subjects: []string{schemas.SubjectsReplay}, Retention: jetstream.WorkQueuePolicy},
		{Name: schemas.StreamDLQ, Description: "Messages that could not be parsed, with the reason in headers.",
			Subjects: []string{schemas.SubjectsDLQ}, Retention: jetstream.LimitsPolicy, MaxAge: t.TicketsMaxAge},
		{Name: schemas.StreamShadow, Description: "Results of shadow replays; the product never reads them.",
			Subjects: []string{schemas.SubjectsShadow}, Retention: jetstream.LimitsPolicy, MaxAge: t.TicketsMaxAge},
	}
	for i := range streams {
		streams[i].Storage, streams[i].Duplicates, streams[i].Replicas = jetstream.FileStorage, t.DuplicateWindow, t.Replicas
	}
	return streams
}

// Consumers returns the durable pull consumers Apply creates or updates.
func (t Topology) Consumers() []ConsumerSpec {
	var specs []ConsumerSpec
	for _, task := range t.Tasks {
		specs = append(specs, ConsumerSpec{Stream: schemas.StreamTickets, Config: jetstream.ConsumerConfig{
			Durable:       task.Consumer,
			Description:   taskDescription(task),
			FilterSubject: task.Trigger,
			DeliverPolicy: jetstream.DeliverAllPolicy,
			AckPolicy:     jetstream.AckExplicitPolicy,
			AckWait:       t.Drafts.AckWait,
			MaxDeliver:    t.Drafts.MaxDeliver,
			MaxAckPending: t.Drafts.MaxAckPending,
		}})
	}
	return append(specs, []ConsumerSpec{
		{Stream: schemas.StreamTickets, Config: jetstream.ConsumerConfig{
			Durable:        schemas.ConsumerFeedback,
			Description:    "ghostwriter feedback: drafts, and the replies humans sent from them.",
			FilterSubjects: []string{schemas.TypeDraftReady, schemas.TypeReplySent},
			DeliverPolicy:  jetstream.DeliverAllPolicy,
			AckPolicy:      jetstream.AckExplicitPolicy,
			AckWait:        t.Feedback.AckWait,
			MaxDeliver:     t.Feedback.MaxDeliver,
			MaxAckPending:  t.Feedback.MaxAckPending,
		}},
		{Stream: schemas.StreamReplay, Config: jetstream.ConsumerConfig{
			Durable:       schemas.ConsumerReplay,
			Description:   "ghostwriter workers reprocessing what replays select.",
			DeliverPolicy: jetstream.DeliverAllPolicy,
			AckPolicy:     jetstream.AckExplicitPolicy,
			AckWait:       t.Drafts.AckWait,
			MaxDeliver:    t.Drafts.MaxDeliver,
			MaxAckPending: t.Drafts.MaxAckPending,
		}},
		{Stream: schemas.StreamCosts, Config: jetstream.ConsumerConfig{
			Durable:       schemas.ConsumerLedger,
			Description:   "ghostwriter ledger writing ai.cost events into Postgres.",
			DeliverPolicy: jetstream.DeliverAllPolicy,
			AckPolicy:     jetstream.AckExplicitPolicy,
			AckWait:       t.Ledger.AckWait,
			MaxDeliver:    t.Ledger.MaxDeliver,
			MaxAckPending: t.Ledger.MaxAckPending,
		}},
	}...)
}

// taskDescription describes a task's consumer.
func taskDescription(task schemas.Task) string {
	if task.Name == schemas.TaskSupportDraft.Name {
		return "ghostwriter workers drafting replies to new tickets."
	}
	return "ghostwriter workers running the " + task.Name + " task on " + task.Trigger + "."
}

// Buckets returns the key-value buckets Apply creates or updates.
func (t Topology) Buckets() []jetstream.KeyValueConfig {
	buckets := []jetstream.KeyValueConfig{
		{Bucket: schemas.BucketTasks, Description: "Terminal status per task, prompt version and source event.", TTL: t.TasksTTL},
		{Bucket: schemas.BucketCache, Description: "Cached drafts by prompt version, model and input.", TTL: t.CacheTTL},
		{Bucket: schemas.BucketReplays, Description: "Each replay's selection and progress.", TTL: t.TasksTTL},
	}
	for i := range buckets {
		buckets[i].History, buckets[i].Storage, buckets[i].Replicas = 1, jetstream.FileStorage, t.Replicas
	}
	return buckets
}

// Apply creates or updates ghostwriter's streams, consumers and buckets. It
// never deletes anything, and it creates TICKETS only if absent: that
// stream belongs to the product. An existing TICKETS that does not capture
// ghostwriter's result subjects is an error, since results would be lost.
// Safe to run any number of times, from any number of processes.
func Apply(ctx context.Context, js jetstream.JetStream, t Topology) error {
	if err := schemas.ValidateTasks(t.Tasks); err != nil {
		return fmt.Errorf("consumers.apply: %w", err)
	}
	streams := t.Streams()
	_, err := js.CreateStream(ctx, streams[0])
	switch {
	case errors.Is(err, jetstream.ErrStreamNameAlreadyInUse):
		s, err := js.Stream(ctx, schemas.StreamTickets)
		if err != nil {
			return fmt.Errorf("consumers.apply %s: %w", schemas.StreamTickets, err)
		}
		if err := capturesResults(s.CachedInfo().Config.Subjects, t.Tasks); err != nil {
			return fmt.Errorf("consumers.apply %s: %w", schemas.StreamTickets, err)
		}
	case err != nil:
		return fmt.Errorf("consumers.apply %s: %w", schemas.StreamTickets, err)
	}
	for _, cfg := range streams[1:] {
		if _, err := js.CreateOrUpdateStream(ctx, cfg); err != nil {
			return fmt.Errorf("consumers.apply %s: %w", cfg.Name, err)
		}
	}
	for _, c := range t.Consumers() {
		if _, err := js.CreateOrUpdateConsumer(ctx, c.Stream, c.Config); err != nil {
			return fmt.Errorf("consumers.apply %s: %w", c.Config.Durable, err)
		}
	}
	for _, kv := range t.Buckets() {
		if _, err := js.CreateOrUpdateKeyValue(ctx, kv); err != nil {
			return fmt.Errorf("consumers.apply %s: %w", kv.Bucket, err)
		}
	}
	return nil
}

// capturesResults checks that a product-made TICKETS stream stores the
// subjects ghostwriter publishes to.
func capturesResults(subjects []string, tasks []schemas.Task) error {
	if slices.Contains(subjects, ">") || slices.Contains(subjects, schemas.SubjectsTickets) {
		return nil
	}
	want := []string{schemas.TypeTicketCreated, schemas.TypeReplySent}
	for _, t := range tasks {
		want = append(want, t.Ready, t.Failed)
	}
	for _, want := range want {
		if !slices.Contains(subjects, want) {
			return fmt.Errorf("stream subjects %v do not capture %s; add %q", subjects, want, schemas.SubjectsTickets)
		}
	}
	return nil
}
