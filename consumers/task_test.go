package consumers_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/ghostwriter-ai/ghostwriter/consumers"
	"github.com/ghostwriter-ai/ghostwriter/pipeline"
	"github.com/ghostwriter-ai/ghostwriter/prompts"
	"github.com/ghostwriter-ai/ghostwriter/schemas"
)

// Both built-in tasks run from one worker, each on its own durable
// consumer: every ticket gets a draft and a triage, one model call each;
// a duplicate costs nothing; a shadow replay of triage reaches only the
// shadow subjects, and only the triage handler.
func TestTwoTasksFromOneWorker(t *testing.T) {
	h := newHarness(t)
	set, err := prompts.Load(prompts.Embedded)
	if err != nil {
		t.Fatal(err)
	}
	var tasks []consumers.Task
	for _, spec := range schemas.BuiltinTasks() {
		p, err := set.Get(spec.Name, "")
		if err != nil {
			t.Fatal(err)
		}
		tasks = append(tasks, consumers.Task{Spec: spec, Prompt: p})
	}
	model := &countingModel{}
	w := &consumers.Worker{
		JS: h.js, Tasks: tasks, Prompts: set, Concurrency: 4, Backoff: []time.Duration{50 * time.Millisecond},
		Pipeline: &pipeline.Pipeline{Model: model, CallTimeout: time.Second, Retry: testRetry},
		Logger:   slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	ctx, cancel := context.WithCancel(h.ctx)
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := w.Run(ctx); err != nil {
			t.Errorf("worker: %v", err)
		}
	})
	defer func() { cancel(); wg.Wait() }()

	const n = 20
	bodies := map[string][2]string{ // body → department, priority (the rules model's triage)
		"I was charged twice this month, please refund one charge.": {"billing", "high"},
		"The export crashes with error 500 every time I click it.":  {"technical", "normal"},
	}
	want := map[string][2]string{}
	i := 0
	for i < n {
		for body, triage := range bodies {
			id := fmt.Sprintf("two-tasks-%02d", i)
			h.publishTicket(id, schemas.TicketCreated{TicketID: fmt.Sprintf("T-%02d", i), TenantID: "acme", Body: body})
			want[id] = triage
			i++
		}
	}
	h.waitFor("a draft and a triage per ticket", 30*time.Second, func() bool {
		return len(h.events(schemas.StreamTickets, schemas.TypeDraftReady)) == n &&
			len(h.events(schemas.StreamTickets, schemas.TaskTriage.Ready)) == n
	})
	for _, env := range h.events(schemas.StreamTickets, schemas.TaskTriage.Ready) {
		var got map[string]any
		if err := env.DecodeData(&got); err != nil {
			t.Fatal(err)
		}
		w := want[got["source_event_id"].(string)]
		if got["department"] != w[0] || got["priority"] != w[1] || got["task"] != "triage" || got["model"] != "rules" {
			t.Errorf("ticket.triaged for %v = %v, want department %s priority %s", got["source_event_id"], got, w[0], w[1])
		}
	}
	if calls := model.calls.Load(); calls != 2*n {
		t.Errorf("model calls = %d, want %d: one per ticket and task", calls, 2*n)
	}
	for _, c := range []string{schemas.TaskSupportDraft.Consumer, schemas.TaskTriage.Consumer} {
		cons, err := h.js.Consumer(h.ctx, schemas.StreamTickets, c)
		if err != nil {
			t.Fatal(err)
		}
		h.waitFor(c+" to settle", 10*time.Second, func() bool {
			info, err := cons.Info(h.ctx)
			return err == nil && info.NumPending == 0 && info.NumAckPending == 0 && info.Delivered.Consumer == n
		})
	}

	// The product publishes a ticket twice: neither task calls again.
	h.publishTicket("two-tasks-00", schemas.TicketCreated{TicketID: "T-00", TenantID: "acme", Body: "again"})
	h.settled(10 * time.Second)
	if calls := model.calls.Load(); calls != 2*n {
		t.Errorf("model calls after a duplicate = %d, want %d", calls, 2*n)
	}

	// A shadow replay of triage: n shadow triages, no shadow drafts.
	spec := consumers.ReplaySpec{ID: "triage-shadow", Task: "triage", Ready: schemas.TaskTriage.Ready, Failed: schemas.TaskTriage.Failed,
		Shadow: true, Tickets: []string{"T-00", "T-01", "T-02", "T-03"}}
	if _, err := (&consumers.Replayer{JS: h.js}).Start(h.ctx, spec, false); err != nil {
		t.Fatal(err)
	}
	h.waitFor("the shadow triages", 20*time.Second, func() bool {
		return len(h.events(schemas.StreamShadow, schemas.SubjectShadowPrefix+schemas.TaskTriage.Ready)) == 4
	})
	if got := len(h.events(schemas.StreamShadow, schemas.SubjectShadowPrefix+schemas.TypeDraftReady)); got != 0 {
		t.Errorf("a triage replay made %d shadow drafts", got)
	}
	if got := len(h.events(schemas.StreamTickets, schemas.TaskTriage.Ready)); got != n {
		t.Errorf("ticket.triaged holds %d events after a shadow replay, want %d", got, n)
	}
}
