package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/ghostwriter-ai/ghostwriter/internal/embednats"
	"github.com/ghostwriter-ai/ghostwriter/schemas"
)

// --tasks-ttl reaches the tasks bucket, and a second apply changes it:
// the tasks bucket's index is what grows on the broker with every ticket.
func TestStreamsApplyTasksTTL(t *testing.T) {
	srv := embednats.StartTest(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	nc, err := nats.Connect(srv.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	for _, ttl := range []time.Duration{30 * 24 * time.Hour, 72 * time.Hour} {
		args := []string{"streams", "apply", "--nats-url", srv.ClientURL()}
		if ttl != 30*24*time.Hour {
			args = append(args, "--tasks-ttl", ttl.String())
		}
		var out syncBuffer
		if err := run(ctx, args, noEnv, strings.NewReader(""), &out, &out); err != nil {
			t.Fatalf("%v: %v\n%s", args, err, out.String())
		}
		kv, err := js.KeyValue(ctx, schemas.BucketTasks)
		if err != nil {
			t.Fatal(err)
		}
		st, err := kv.Status(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if st.TTL() != ttl {
			t.Errorf("after %v the tasks bucket's TTL is %v, want %v", args, st.TTL(), ttl)
		}
	}
}
