package consumers

import (
	"bytes"
	"context"
	"encoding/json"
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

// The intent record is spliced together from the encoded events; it must
// read back as a taskStatus whose events are those bytes, unchanged.
func TestIntentRecordReadsBack(t *testing.T) {
	cost, err := schemas.New(schemas.TypeCost, "test", "c1", schemas.Cost{CallID: "c1", SourceEventID: "e<1>", Task: "support_draft",
		TenantID: "acme", Provider: "p", Model: "m", PromptVersion: "v1", Outcome: "ok"})
	if err != nil {
		t.Fatal(err)
	}
	cost.TraceParent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
	pubs := []outgoing{
		{subject: schemas.TypeCost, env: cost, msgID: "c1", source: "e<1>"},
		{subject: "shadow." + schemas.TypeCost, env: cost, msgID: "c\"2", source: "e<1>", replay: "r1"},
	}
	if err := encodeAll(pubs); err != nil {
		t.Fatal(err)
	}
	meta := &jetstream.MsgMetadata{Sequence: jetstream.SequencePair{Stream: 42}, NumDelivered: 3}
	raw := intentRecord(meta, pubs)
	var st taskStatus
	if err := json.Unmarshal(raw, &st); err != nil {
		t.Fatalf("intent record is not JSON: %v\n%s", err, raw)
	}
	if st.Status != statusPublishing || st.StreamSeq != 42 || st.Delivered != 3 || st.At.IsZero() {
		t.Fatalf("record head = %+v", st)
	}
	back, err := restore(st.Events)
	if err != nil {
		t.Fatal(err)
	}
	if len(back) != len(pubs) {
		t.Fatalf("restored %d events, want %d", len(back), len(pubs))
	}
	for i, p := range pubs {
		b := back[i]
		if b.subject != p.subject || b.msgID != p.msgID || b.source != p.source || b.replay != p.replay {
			t.Errorf("event %d: restored %+v, want %+v", i, b, p)
		}
		if !bytes.Equal(b.body, p.body) {
			t.Errorf("event %d: body changed in the record:\n got %s\nwant %s", i, b.body, p.body)
		}
		if b.env.ID != p.env.ID || b.env.TraceParent != p.env.TraceParent {
			t.Errorf("event %d: envelope id/traceparent %q %q, want %q %q", i, b.env.ID, b.env.TraceParent, p.env.ID, p.env.TraceParent)
		}
	}
}
