package consumers

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/ghostwriter-ai/ghostwriter/ledger"
	"github.com/ghostwriter-ai/ghostwriter/pipeline"
	"github.com/ghostwriter-ai/ghostwriter/schemas"
)

// CostRecorder stores cost rows idempotently: a call_id it already holds
// changes nothing. ledger.Store and ledger.Memory implement it.
type CostRecorder interface {
	RecordCalls(ctx context.Context, calls []ledger.Call) (int, error)
}

// Ledger writes ai.cost events into the ledger in batches. It fetches up
// to BatchSize events (or what arrived within MaxWait), records them in
// one transaction and acks each only after the commit. While the store
// fails it acks nothing: it keeps the batch in progress and retries with
// backoff until the store answers or ctx ends, so cost data is never lost,
// and since recording is idempotent a redelivery never counts twice.
// Run it once per consumer instance; several instances may share the
// durable consumer.
type Ledger struct {
	// JS publishes dead letters.
	JS jetstream.JetStream
	// Consumer is the ghostwriter-ledger durable (see LedgerConsumer), or
	// any pull consumer on AI_COSTS with explicit acks.
	Consumer jetstream.Consumer
	Store    CostRecorder
	// BatchSize caps the events of one batch (default 256); keep it under
	// the consumer's MaxAckPending.
	BatchSize int
	// MaxWait is how long a fetch waits to fill a batch (default 500ms).
	MaxWait time.Duration
	// WriteTimeout bounds one write to the store (default 10s).
	WriteTimeout time.Duration
	// RetryMax caps the wait between failed writes (default 10s); keep
	// WriteTimeout + RetryMax under the consumer's AckWait.
	RetryMax time.Duration
	Logger   *slog.Logger
}

// LedgerConsumer returns the ghostwriter-ledger durable consumer, which
// Apply creates.
func LedgerConsumer(ctx context.Context, js jetstream.JetStream) (jetstream.Consumer, error) {
	c, err := js.Consumer(ctx, schemas.StreamCosts, schemas.ConsumerLedger)
	if err != nil {
		return nil, fmt.Errorf("consumers.ledger: consumer %s: %w", schemas.ConsumerLedger, err)
	}
	return c, nil
}

// Run records batches until ctx ends. A batch in flight when ctx ends is
// either committed and acked, or handed back with a nak; Run then
// returns nil.
func (l *Ledger) Run(ctx context.Context) error {
	log := logger(l.Logger)
	size := l.BatchSize
	if size <= 0 {
		size = 256
	}
	wait := l.MaxWait
	if wait <= 0 {
		wait = 500 * time.Millisecond
	}
	for ctx.Err() == nil {
		// The server ends the pull after wait; a client-side deadline
		// instead could drop messages the server had already sent, and
		// they would wait AckWait for redelivery. So shutdown may take
		// up to wait.
		batch, err := l.Consumer.Fetch(size, jetstream.FetchMaxWait(wait))
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			// The connection is down or reconnecting; try again shortly.
			log.Warn("fetch", "err", err)
			sleep(ctx, time.Second)
			continue
		}
		var msgs []jetstream.Msg
		for m := range batch.Messages() {
			msgs = append(msgs, m)
		}
		if err := batch.Error(); err != nil && !errors.Is(err, nats.ErrTimeout) {
			log.Warn("fetch", "err", err, "fetched", len(msgs))
		}
		if len(msgs) > 0 {
			l.record(ctx, msgs)
		}
	}
	return nil
}

// record decides one batch: dead letters for events that do not decode,
// one idempotent write for the rest, then the acks.
func (l *Ledger) record(ctx context.Context, msgs []jetstream.Msg) {
	log := logger(l.Logger)
	calls := make([]ledger.Call, 0, len(msgs))
	keep := make([]jetstream.Msg, 0, len(msgs))
	dead := 0
	for _, m := range msgs {
		c, err := decodeCost(m.Data())
		if err == nil {
			calls, keep = append(calls, c), append(keep, m)
			continue
		}
		if derr := publishDeadLetter(ctx, l.JS, m, string(pipeline.CodeInvalidInput), safeDetail(err), safeReason(err)); derr != nil {
			// Not recorded, not dead-lettered: let it come back.
			log.Warn("dead letter", "err", derr, "decision", "nak")
			_ = m.NakWithDelay(5 * time.Second)
			continue
		}
		keep = append(keep, m)
		dead++
	}
	added, err := l.write(ctx, calls, keep)
	if err != nil {
		// ctx ended before the store answered: hand the batch back now.
		for _, m := range keep {
			_ = m.Nak()
		}
		log.Info("batch handed back on shutdown", "events", len(keep), "decision", "nak")
		return
	}
	failed := ackAll(ctx, keep)
	attrs := []any{"events", len(msgs), "recorded", added, "duplicates", len(calls) - added,
		"dead_letters", dead, "decision", "ack"}
	if failed > 0 {
		// Redelivered later and skipped as duplicates: nothing is lost.
		log.Warn("batch recorded; some acks failed", append(attrs, "ack_failures", failed)...)
		return
	}
	log.Info("batch recorded", attrs...)
}

// heartbeatEvery spaces in-progress acks while a batch waits for the
// store; well under the ledger consumer's AckWait.
const heartbeatEvery = 5 * time.Second

// write records calls, retrying with backoff while the store fails and
// keeping msgs in progress meanwhile. It fails only when ctx ends.
func (l *Ledger) write(ctx context.Context, calls []ledger.Call, msgs []jetstream.Msg) (int, error) {
	if len(calls) == 0 {
		return 0, nil
	}
	timeout := l.WriteTimeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	retryMax := l.RetryMax
	if retryMax <= 0 {
		retryMax = 10 * time.Second
	}
	b := backoff.NewExponentialBackOff(backoff.WithInitialInterval(100*time.Millisecond),
		backoff.WithMaxInterval(retryMax), backoff.WithMaxElapsedTime(0))
	lastBeat := time.Now()
	for attempt := 1; ; attempt++ {
		wctx, cancel := context.WithTimeout(ctx, timeout)
		n, err := l.Store.RecordCalls(wctx, calls)
		cancel()
		if err == nil {
			if attempt > 1 {
				logger(l.Logger).Info("ledger store is back", "attempts", attempt)
			}
			return n, nil
		}
		if ctx.Err() != nil {
			return 0, ctx.Err()
		}
		delay := b.NextBackOff()
		logger(l.Logger).Warn("ledger store failed; retrying, nothing acked", "attempt", attempt,
			"events", len(msgs), "retry_in", delay, "err", err)
		if time.Since(lastBeat) >= heartbeatEvery {
			for _, m := range msgs {
				_ = m.InProgress() // a lost heartbeat costs a redelivery, never a loss
			}
			lastBeat = time.Now()
		}
		if !sleep(ctx, delay) {
			return 0, ctx.Err()
		}
	}
}

// ackAll double-acks msgs a few at a time and returns how many failed.
// Acks outlive ctx briefly: the batch is committed, so they are owed.
func ackAll(ctx context.Context, msgs []jetstream.Msg) int {
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		failed int
		sem    = make(chan struct{}, 32)
	)
	for _, m := range msgs {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			if err := m.DoubleAck(actx); err != nil {
				mu.Lock()
				failed++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return failed
}

// decodeCost strictly decodes an ai.cost event.
func decodeCost(raw []byte) (ledger.Call, error) {
	env, err := schemas.Decode(raw)
	if err != nil {
		return ledger.Call{}, err
	}
	if env.Type != schemas.TypeCost {
		return ledger.Call{}, &schemas.FieldError{Field: "/type", Reason: fmt.Sprintf("want %s on this subject", schemas.TypeCost)}
	}
	var c ledger.Call
	if err := env.DecodeData(&c.Cost); err != nil {
		return ledger.Call{}, err
	}
	c.At = env.Time
	if err := c.Validate(); err != nil {
		return ledger.Call{}, &schemas.FieldError{Field: "/data", Reason: err.Error()}
	}
	return c, nil
}

// sleep waits d or until ctx ends; it reports whether ctx is still alive.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
