package consumers_test

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"testing/fstest"
	"time"

	"github.com/ghostwriter-ai/ghostwriter/consumers"
	"github.com/ghostwriter-ai/ghostwriter/pipeline"
	"github.com/ghostwriter-ai/ghostwriter/pipeline/rules"
	"github.com/ghostwriter-ai/ghostwriter/prompts"
	"github.com/ghostwriter-ai/ghostwriter/schemas"
)

// outage is a model that is down (a permanent error, so tickets fail on
// their first delivery) for tickets whose body says so, until fixed.
func outage(broken *atomic.Bool) *countingModel {
	return &countingModel{next: func(ctx context.Context, req pipeline.Request) (pipeline.Response, error) {
		if broken.Load() && strings.Contains(req.Input, "fails") {
			return pipeline.Response{}, &pipeline.ModelError{Code: pipeline.CodeInternal, Status: 401, Detail: "provider rejected: invalid_api_key"}
		}
		return rules.Model{}.Complete(ctx, req)
	}}
}

func publishMany(h *harness, n int, body func(i int) string) []string {
	ids := make([]string, n)
	for i := range ids {
		tk := refund
		tk.TicketID, tk.Body = fmt.Sprintf("T-%d", i), body(i)
		ids[i] = h.publishTicket("", tk)
	}
	return ids
}

// byReplay counts the results that carry a replay id, by subject.
func (h *harness) byReplay(stream, subject, replayID string) map[string]int {
	h.t.Helper()
	out := map[string]int{}
	for _, env := range h.events(stream, subject) {
		var d struct {
			SourceEventID string `json:"source_event_id"`
			ReplayID      string `json:"replay_id"`
		}
		if err := env.DecodeData(&d); err != nil {
			h.t.Fatal(err)
		}
		if d.ReplayID == replayID {
			out[d.SourceEventID]++
		}
	}
	return out
}

func TestReplayFailedOnlyAfterAnOutage(t *testing.T) {
	h := newHarness(t)
	var broken atomic.Bool
	broken.Store(true)
	model := outage(&broken)
	h.startWorker(model, 8)
	const n, failing = 300, 200
	ids := publishMany(h, n, func(i int) string {
		if i < failing {
			return "I was charged twice and the page fails"
		}
		return "I was charged twice"
	})
	h.waitFor("every ticket decided", 30*time.Second, func() bool { return len(h.terminal()) == n })
	created := len(h.events(schemas.StreamTickets, schemas.TypeTicketCreated))

	broken.Store(false)
	before := model.calls.Load()
	st, err := (&consumers.Replayer{JS: h.js}).Start(h.ctx, consumers.ReplaySpec{ID: "after-outage", Task: "support_draft", FailedOnly: true}, false)
	if err != nil || st.Status != consumers.ReplayDone || st.Fed != failing {
		t.Fatalf("replay: %+v, %v; want done with %d fed", st, err, failing)
	}
	h.waitFor("the replayed drafts", 30*time.Second, func() bool {
		return len(h.byReplay(schemas.StreamTickets, schemas.TypeDraftReady, "after-outage")) == failing
	})
	replayed := h.byReplay(schemas.StreamTickets, schemas.TypeDraftReady, "after-outage")
	for i, id := range ids {
		if got := replayed[id]; (i < failing) != (got == 1) || got > 1 {
			t.Fatalf("ticket %d: %d replayed drafts", i, got)
		}
	}
	if got := len(h.events(schemas.StreamTickets, schemas.TypeTicketCreated)); got != created {
		t.Errorf("ticket.created went from %d to %d: a replay must not write the product's events", created, got)
	}
	if calls := model.calls.Load() - before; calls != failing {
		t.Errorf("the replay made %d model calls, want %d (none for tickets that had succeeded)", calls, failing)
	}
	// The same replay id again does nothing.
	if _, err := (&consumers.Replayer{JS: h.js}).Start(h.ctx, consumers.ReplaySpec{ID: "after-outage", FailedOnly: true}, false); err == nil {
		t.Error("a replay id was used twice")
	}
}

func TestShadowReplayWithAnotherPromptVersion(t *testing.T) {
	h := newHarness(t)
	v1, err := prompts.Embedded.ReadFile("support_draft/v1.md")
	if err != nil {
		t.Fatal(err)
	}
	v2 := strings.Replace(string(v1), "version: v1", "version: v2", 1)
	if h.prompts, err = prompts.Load(fstest.MapFS{
		"support_draft/v1.md": {Data: v1}, "support_draft/v2.md": {Data: []byte(v2)},
	}); err != nil {
		t.Fatal(err)
	}
	h.startWorker(&countingModel{}, 4)
	const n = 20
	ids := publishMany(h, n, func(int) string { return "My parcel is late" })
	h.waitFor("the live drafts", 10*time.Second, func() bool { return len(h.terminal()) == n })
	live := len(h.events(schemas.StreamTickets, schemas.TypeDraftReady))

	st, err := (&consumers.Replayer{JS: h.js}).Start(h.ctx, consumers.ReplaySpec{ID: "ab-v2", PromptVersion: "v2", Shadow: true}, false)
	if err != nil || st.Fed != n {
		t.Fatalf("replay %+v, %v", st, err)
	}
	h.waitFor("the shadow results", 10*time.Second, func() bool {
		return len(h.byReplay(schemas.StreamShadow, schemas.SubjectShadowPrefix+schemas.TypeDraftReady, "ab-v2")) == n
	})
	h.settled(5 * time.Second)
	if got := len(h.events(schemas.StreamTickets, schemas.TypeDraftReady)); got != live {
		t.Errorf("ticket.draft_ready went from %d to %d: a shadow replay reached the product", live, got)
	}
	for _, env := range h.events(schemas.StreamShadow, schemas.SubjectShadowPrefix+schemas.TypeDraftReady) {
		var d schemas.DraftReady
		if err := env.DecodeData(&d); err != nil || d.PromptVersion != "v2" {
			t.Errorf("shadow result prompt %q (%v), want v2", d.PromptVersion, err)
		}
	}
	rows, err := consumers.ReplayDiff(h.ctx, h.js, "ab-v2")
	if err != nil || len(rows) != n {
		t.Fatalf("diff rows %d, %v; want %d", len(rows), err, n)
	}
	for _, r := range rows {
		if !slicesContain(ids, r.SourceEventID) || r.Original.Reason == "" || r.Replayed.Reason == "" || r.DraftSimilarity != 1 {
			t.Errorf("diff row %+v", r)
		}
	}
}

func slicesContain(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

func TestReplayResumesCapsAndDryRuns(t *testing.T) {
	h := newHarness(t)
	model := &countingModel{}
	h.startWorker(model, 8)
	const n = 40
	publishMany(h, n, func(int) string { return "refund please" })
	h.waitFor("the live drafts", 10*time.Second, func() bool { return len(h.terminal()) == n })

	// Dry run: counts and estimates, publishes nothing.
	estimate := func(schemas.TicketCreated) int64 { return 100 }
	st, err := (&consumers.Replayer{JS: h.js, Estimate: estimate}).Start(h.ctx, consumers.ReplaySpec{ID: "dry"}, true)
	if err != nil || st.Fed != n || st.EstimatedMicroUSD != 100*n || len(st.Sample) == 0 {
		t.Fatalf("dry run %+v, %v", st, err)
	}
	if s, err := h.js.Stream(h.ctx, schemas.StreamReplay); err != nil || s.CachedInfo().State.Msgs != 0 {
		t.Errorf("a dry run fed events (%v)", err)
	}

	// A cap stops the feed before the estimate crosses it.
	st, err = (&consumers.Replayer{JS: h.js, Estimate: estimate}).Start(h.ctx, consumers.ReplaySpec{ID: "capped", Shadow: true, MaxCostMicroUSD: 1050}, false)
	if err != nil || st.Status != consumers.ReplayCapped || st.Fed != 10 {
		t.Fatalf("capped replay %+v, %v; want capped after 10", st, err)
	}

	// Interrupted half-way, then resumed: each ticket replayed once.
	ctx, cancel := context.WithCancel(h.ctx)
	var fed atomic.Int64
	r := &consumers.Replayer{JS: h.js, Progress: func(s consumers.ReplayState) {
		if fed.Store(int64(s.Fed)); s.Fed >= n/2 {
			cancel()
		}
	}}
	_, err = r.Start(ctx, consumers.ReplaySpec{ID: "resumed", Shadow: true, RatePerSec: 200}, false)
	if err == nil {
		t.Fatal("the interrupted replay finished; the test proves nothing")
	}
	mid, err := consumers.ReplayStatus(h.ctx, h.js, "resumed")
	if err != nil || mid.Status != consumers.ReplayRunning || mid.Fed == 0 || mid.Fed >= n {
		t.Fatalf("after the interruption %+v, %v", mid, err)
	}
	st, err = (&consumers.Replayer{JS: h.js}).Resume(h.ctx, "resumed")
	if err != nil || st.Status != consumers.ReplayDone || st.Fed != n {
		t.Fatalf("resumed %+v, %v; want done with %d fed in all", st, err, n)
	}
	h.waitFor("every resumed result", 10*time.Second, func() bool {
		return len(h.byReplay(schemas.StreamShadow, schemas.SubjectShadowPrefix+schemas.TypeDraftReady, "resumed")) == n
	})
	h.settled(5 * time.Second)
	for id, c := range h.byReplay(schemas.StreamShadow, schemas.SubjectShadowPrefix+schemas.TypeDraftReady, "resumed") {
		if c != 1 {
			t.Errorf("%s replayed %d times", id, c)
		}
	}
	list, err := consumers.Replays(h.ctx, h.js)
	if err != nil || len(list) != 2 { // capped and resumed; a dry run leaves no state
		t.Errorf("replays %d, %v", len(list), err)
	}
}

// Tickets the broker or a bug lost (here: terminated without a result)
// are found by the reconciler and end with exactly one result; the ones
// already answered are left alone.
func TestReconcileFindsLostTickets(t *testing.T) {
	h := newHarness(t)
	const n, lost = 10, 4
	ids := publishMany(h, n, func(int) string { return "refund please" })
	cons, err := h.js.Consumer(h.ctx, schemas.StreamTickets, schemas.ConsumerDrafts)
	if err != nil {
		t.Fatal(err)
	}
	batch, err := cons.Fetch(lost)
	if err != nil {
		t.Fatal(err)
	}
	for m := range batch.Messages() {
		if err := m.Term(); err != nil {
			t.Fatal(err)
		}
	}
	model := &countingModel{}
	h.startWorker(model, 4)
	h.waitFor("the tickets that were not lost", 10*time.Second, func() bool { return len(h.terminal()) == n-lost })
	h.settled(5 * time.Second)

	dry, err := (&consumers.Replayer{JS: h.js}).Start(h.ctx, consumers.ReplaySpec{ID: "rc-dry", Reconcile: true}, true)
	if err != nil || dry.Fed != lost {
		t.Fatalf("dry run %+v, %v; want %d unanswered", dry, err, lost)
	}
	st, err := (&consumers.Replayer{JS: h.js}).Start(h.ctx, consumers.ReplaySpec{ID: "rc", Reconcile: true}, false)
	if err != nil || st.Fed != lost {
		t.Fatalf("reconcile %+v, %v", st, err)
	}
	h.waitFor("every ticket answered", 10*time.Second, func() bool { return len(h.terminal()) == n })
	h.settled(5 * time.Second)
	results := h.terminal()
	for _, id := range ids {
		if len(results[id]) != 1 {
			t.Errorf("%s has %d results, want 1", id, len(results[id]))
		}
	}
	if calls := model.calls.Load(); calls != n {
		t.Errorf("model calls %d, want %d", calls, n)
	}
}
