package consumers

import (
	"context"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/ghostwriter-ai/ghostwriter/schemas"
)

// CheckSettings reads the streams and the task consumers and returns a
// sentence for each setting that weakens a delivery guarantee, for the
// worker to log at start-up. It changes nothing. (sync_interval is a
// server setting no client can read: see the README.)
//
// A least-privilege worker may not read stream info; then only the
// consumers are checked. The whole check takes at most a few seconds.
func CheckSettings(ctx context.Context, js jetstream.JetStream, consumers []string, concurrency int) []string {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	var out []string
	if s, err := js.Stream(ctx, schemas.StreamTickets); err != nil {
		out = append(out, fmt.Sprintf("stream %s settings not checked (this user may not read stream info): %v", schemas.StreamTickets, err))
	} else {
		out = append(out, streamWarnings(s.CachedInfo().Config)...)
	}
	for _, name := range consumers {
		out = append(out, consumerWarnings(ctx, js, name, concurrency)...)
	}
	return out
}

// consumerWarnings are the settings of one task consumer that weaken a
// guarantee.
func consumerWarnings(ctx context.Context, js jetstream.JetStream, name string, concurrency int) []string {
	c, err := js.Consumer(ctx, schemas.StreamTickets, name)
	if err != nil {
		return []string{fmt.Sprintf("consumer %s: %v", name, err)}
	}
	var out []string
	cc := c.CachedInfo().Config
	if cc.MaxAckPending > 0 && cc.MaxAckPending < concurrency {
		out = append(out, fmt.Sprintf("%s allows %d unacked tickets, fewer than this worker's concurrency %d", name, cc.MaxAckPending, concurrency))
	}
	if cc.AckWait < 20*time.Second {
		out = append(out, fmt.Sprintf("%s AckWait %v: a missed in-progress heartbeat soon redelivers a ticket mid-call", name, cc.AckWait))
	}
	if cc.MaxDeliver < 0 {
		out = append(out, fmt.Sprintf("%s redelivers forever: a ticket that always fails never gets its failed event (back-off up to %v)",
			name, DefaultBackoff[len(DefaultBackoff)-1]))
	}
	return out
}

// streamWarnings are the TICKETS settings that weaken a guarantee.
func streamWarnings(cfg jetstream.StreamConfig) []string {
	var out []string
	if cfg.Storage != jetstream.FileStorage {
		out = append(out, schemas.StreamTickets+" uses memory storage: a server restart loses tickets")
	}
	if cfg.Duplicates < 2*time.Minute {
		out = append(out, fmt.Sprintf("%s dedupes publishes for %v only; retried publishes after that are stored twice (the tasks bucket still answers them once)",
			schemas.StreamTickets, cfg.Duplicates))
	}
	if cfg.Retention == jetstream.WorkQueuePolicy {
		out = append(out, schemas.StreamTickets+" is a work queue: acked tickets are deleted, so they cannot be replayed")
	}
	return out
}
