package consumers_test

import (
	"strings"
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/ghostwriter-ai/ghostwriter/consumers"
	"github.com/ghostwriter-ai/ghostwriter/internal/embednats"
	"github.com/ghostwriter-ai/ghostwriter/schemas"
)

func TestCheckSettings(t *testing.T) {
	h := newHarness(t) // AckWait 2s: short on purpose
	names := []string{schemas.TaskSupportDraft.Consumer, schemas.TaskTriage.Consumer}
	warnings := strings.Join(consumers.CheckSettings(h.ctx, h.js, names, 1000), "\n")
	for _, want := range []string{"ghostwriter-drafts AckWait 2s", "ghostwriter-triage AckWait 2s",
		"ghostwriter-triage allows 256 unacked tickets, fewer than this worker's concurrency 1000"} {
		if !strings.Contains(warnings, want) {
			t.Errorf("warnings lack %q:\n%s", want, warnings)
		}
	}

	srv := embednats.StartTest(t)
	nc, err := nats.Connect(srv.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	if err := consumers.Apply(h.ctx, js, consumers.DefaultTopology()); err != nil {
		t.Fatal(err)
	}
	if w := consumers.CheckSettings(h.ctx, js, names, 8); len(w) != 0 {
		t.Errorf("the default topology draws warnings: %v", w)
	}
}
