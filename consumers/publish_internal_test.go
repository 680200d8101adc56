package consumers

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/ghostwriter-ai/ghostwriter/internal/embednats"
	"github.com/ghostwriter-ai/ghostwriter/schemas"
)

// A PubAck that never comes (here: a subscriber that swallows the publish;
// in the chaos suite, a server killed after it stored the event) ends the
// wait after brokerWait, not after the task's whole timeout.
func TestPublishAllGivesUpOnALostPubAck(t *testing.T) {
	defer func(d time.Duration) { brokerWait = d }(brokerWait)
	brokerWait = 300 * time.Millisecond
	srv := embednats.StartTest(t)
	nc, err := nats.Connect(srv.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	sub, err := nc.SubscribeSync("lost.ack")
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	env, err := schemas.New(schemas.TypeCost, "test", "c1", schemas.Cost{CallID: "c1", SourceEventID: "e", Task: "support_draft",
		TenantID: "acme", Provider: "p", Model: "m", PromptVersion: "v1", Outcome: "ok"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	start := time.Now()
	err = publishAll(ctx, js, []outgoing{{subject: "lost.ack", env: env, msgID: "c1"}})
	if err == nil {
		t.Fatal("publishAll returned nil without a PubAck")
	}
	if ctx.Err() != nil {
		t.Fatalf("publishAll waited for the task's whole context (%v): %v", time.Since(start), err)
	}
}
