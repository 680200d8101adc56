package consumers

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/ghostwriter-ai/ghostwriter/schemas"
)

// brokerWait bounds each round trip of a task to the broker: the wait
// for its PubAcks and every read or write of the tasks bucket. Without
// it, a reply lost with a server that was killed kept the ticket in
// progress for the whole task timeout (2 minutes), and the republish that
// followed fell outside the duplicate window and was stored twice (chaos
// scenario 4: first for a PubAck, then, after that was bounded, for a
// tasks-bucket write).
var brokerWait = 10 * time.Second

// bounded is ctx limited to brokerWait, for one round trip.
func bounded(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, brokerWait)
}

// The tasks bucket's operations, each bounded by brokerWait.

func (d *TaskHandler) create(ctx context.Context, key string, value []byte) (uint64, error) {
	ctx, cancel := bounded(ctx)
	defer cancel()
	return d.Tasks.Create(ctx, key, value)
}

func (d *TaskHandler) get(ctx context.Context, key string) (jetstream.KeyValueEntry, error) {
	ctx, cancel := bounded(ctx)
	defer cancel()
	return d.Tasks.Get(ctx, key)
}

func (d *TaskHandler) update(ctx context.Context, key string, value []byte, rev uint64) (uint64, error) {
	ctx, cancel := bounded(ctx)
	defer cancel()
	return d.Tasks.Update(ctx, key, value, rev)
}

// statusPublishing marks a task whose outputs are decided and kept in the
// tasks bucket, but not yet known to be published.
const statusPublishing = "publishing"

// storedEvent is one output kept in the tasks bucket between the decision
// and its PubAck. Event is the event exactly as published.
type storedEvent struct {
	Subject string          `json:"subject"`
	MsgID   string          `json:"msg_id"`
	Source  string          `json:"source,omitempty"`
	Replay  string          `json:"replay,omitempty"`
	Event   json.RawMessage `json:"event,omitempty"`
}

// intentRecord is the tasks-bucket entry of outputs decided and encoded
// (encodeAll) but not yet known to be published: a taskStatus whose events
// hold the encoded bodies as they are. Splicing them in instead of
// marshalling a taskStatus spares encoding/json re-validating and
// re-compacting every event it already encoded once (make bench).
func intentRecord(meta *jetstream.MsgMetadata, pubs []outgoing) []byte {
	head, _ := json.Marshal(taskStatus{Status: statusPublishing, At: time.Now().UTC(),
		StreamSeq: meta.Sequence.Stream, Delivered: meta.NumDelivered})
	n := len(head) + 16
	for _, p := range pubs {
		n += len(p.body) + 128
	}
	b := make([]byte, 0, n)
	b = append(b, head[:len(head)-1]...)
	b = append(b, `,"events":[`...)
	for i, p := range pubs {
		if i > 0 {
			b = append(b, ',')
		}
		e, _ := json.Marshal(storedEvent{Subject: p.subject, MsgID: p.msgID, Source: p.source, Replay: p.replay})
		b = append(b, e[:len(e)-1]...)
		b = append(b, `,"event":`...)
		b = append(b, p.body...)
		b = append(b, '}')
	}
	return append(b, "]}"...)
}

// restore reads back the outputs an intent record holds.
func restore(events []storedEvent) ([]outgoing, error) {
	if len(events) == 0 {
		return nil, nil
	}
	out := make([]outgoing, len(events))
	for i, e := range events {
		var env schemas.Envelope
		if err := json.Unmarshal(e.Event, &env); err != nil {
			return nil, fmt.Errorf("stored %s event: %w", e.Subject, err)
		}
		out[i] = outgoing{subject: e.Subject, env: env, body: e.Event, msgID: e.MsgID, source: e.Source, replay: e.Replay}
	}
	return out, nil
}

// intend records a finished task's outputs (its cost events, then its
// result) in the tasks bucket before they are published. A process that
// dies between the PubAck and the ack leaves this record; the redelivery
// takes it over and publishes the same events under the same Nats-Msg-Id
// (the stream drops them as duplicates) instead of calling the model
// again. It reports whether the record was written; if not, the task goes
// on as before and only that window stays open. pubs are encoded
// (encodeAll).
func (d *TaskHandler) intend(ctx context.Context, key string, c claimed, meta *jetstream.MsgMetadata, pubs []outgoing) (claimed, bool) {
	rev, err := d.update(ctx, key, intentRecord(meta, pubs), c.rev)
	if err != nil {
		return c, false
	}
	c.rev = rev
	return c, true
}

// finish publishes outputs an interrupted delivery had decided on, marks
// the task done and acks. No model call: the calls were made and their
// cost events are among the outputs.
func (d *TaskHandler) finish(ctx context.Context, key string, c claimed, pubs []outgoing, meta *jetstream.MsgMetadata, attrs []slog.Attr, reason string) Decision {
	if err := publishAll(ctx, d.JS, pubs); err != nil {
		return Decision{Action: Nak, Delay: d.delay(meta.NumDelivered, 0), Reason: "publish: " + err.Error(), Attrs: attrs}
	}
	result := pubs[len(pubs)-1]
	st, _ := json.Marshal(taskStatus{Status: result.subject, EventID: result.env.ID, At: time.Now().UTC()})
	if _, err := d.update(ctx, key, st, c.rev); err != nil {
		return Decision{Action: Nak, Delay: d.delay(meta.NumDelivered, 0), Reason: "tasks bucket: " + err.Error(), Attrs: attrs}
	}
	return Decision{Action: Ack, Reason: reason, Attrs: attrs}
}
