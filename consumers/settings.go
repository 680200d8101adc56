package consumers

import (
	"context"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/ghostwriter-ai/ghostwriter/schemas"
)

// CheckSettings reads the streams and the drafts consumer and returns a
// sentence for each setting that weakens a delivery guarantee, for the
// worker to log at start-up. It changes nothing. (sync_interval is a
// server setting no client can read: see the README.)
func CheckSettings(ctx context.Context, js jetstream.JetStream, concurrency int) []string {
	var out []string
	s, err := js.Stream(ctx, schemas.StreamTickets)
	if err != nil {
		return []string{fmt.Sprintf("stream %s: %v", schemas.StreamTickets, err)}
	}
	cfg := s.CachedInfo().Config
	if cfg.Storage != jetstream.FileStorage {
		out = append(out, schemas.StreamTickets+" uses memory storage: a server restart loses tickets")
	}
	longest := DefaultBackoff[len(DefaultBackoff)-1]
	if cfg.Duplicates < 2*time.Minute {
		out = append(out, fmt.Sprintf("%s dedupes publishes for %v only; retried publishes after that are stored twice (the tasks bucket still answers them once)",
			schemas.StreamTickets, cfg.Duplicates))
	}
	if cfg.Retention == jetstream.WorkQueuePolicy {
		out = append(out, schemas.StreamTickets+" is a work queue: acked tickets are deleted, so they cannot be replayed")
	}
	c, err := js.Consumer(ctx, schemas.StreamTickets, schemas.ConsumerDrafts)
	if err != nil {
		return append(out, fmt.Sprintf("consumer %s: %v", schemas.ConsumerDrafts, err))
	}
	cc := c.CachedInfo().Config
	if cc.MaxAckPending > 0 && cc.MaxAckPending < concurrency {
		out = append(out, fmt.Sprintf("%s allows %d unacked tickets, fewer than this worker's concurrency %d", schemas.ConsumerDrafts, cc.MaxAckPending, concurrency))
	}
	if cc.AckWait < 20*time.Second {
		out = append(out, fmt.Sprintf("%s AckWait %v: a missed in-progress heartbeat soon redelivers a ticket mid-call", schemas.ConsumerDrafts, cc.AckWait))
	}
	if cc.MaxDeliver < 0 {
		out = append(out, fmt.Sprintf("%s redelivers forever: a ticket that always fails never gets its draft_failed (back-off up to %v)", schemas.ConsumerDrafts, longest))
	}
	return out
}
