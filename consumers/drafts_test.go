package consumers_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ghostwriter-ai/ghostwriter/pipeline"
	"github.com/ghostwriter-ai/ghostwriter/pipeline/rules"
	"github.com/ghostwriter-ai/ghostwriter/schemas"
)

var refund = schemas.TicketCreated{TicketID: "T-1", TenantID: "acme", Subject: "Refund", Body: "I was charged twice, please refund."}

func TestTicketBecomesOneDraftAndOneCost(t *testing.T) {
	h := newHarness(t)
	model := &countingModel{}
	h.startWorker(model, 4)
	id := h.publishTicket("", refund)

	h.waitFor("a draft", 5*time.Second, func() bool { return len(h.terminal()[id]) > 0 })
	h.settled(5 * time.Second)

	results := h.terminal()[id]
	if len(results) != 1 || results[0].Type != schemas.TypeDraftReady {
		t.Fatalf("got %d results (%v), want one %s", len(results), results, schemas.TypeDraftReady)
	}
	var d schemas.DraftReady
	if err := results[0].DecodeData(&d); err != nil {
		t.Fatal(err)
	}
	if d.TicketID != "T-1" || d.TenantID != "acme" || d.SourceEventID != id || d.Task != "support_draft" ||
		d.PromptVersion != "v1" || !strings.HasPrefix(d.PromptHash, "sha256:") || d.Reason != rules.ReasonBillingRefund || d.Model != rules.Name || d.Provider != rules.Name ||
		d.Draft == "" || d.Attempts != 1 || d.Fallback != schemas.FallbackNone {
		t.Errorf("draft_ready = %+v", d)
	}
	if results[0].Subject != "T-1" || results[0].TraceParent == "" {
		t.Errorf("envelope subject %q traceparent %q", results[0].Subject, results[0].TraceParent)
	}
	costs := h.events(schemas.StreamCosts, schemas.TypeCost)
	if len(costs) != 1 {
		t.Fatalf("got %d ai.cost events, want 1", len(costs))
	}
	var c schemas.Cost
	if err := costs[0].DecodeData(&c); err != nil {
		t.Fatal(err)
	}
	if c.SourceEventID != id || c.TenantID != "acme" || c.Model != rules.Name || c.Outcome != "ok" || c.CallID == "" || c.PromptHash != d.PromptHash {
		t.Errorf("ai.cost = %+v", c)
	}
	if n := model.calls.Load(); n != 1 {
		t.Errorf("model calls = %d, want 1", n)
	}
}

func TestBadInputNeverStopsTheStream(t *testing.T) {
	h := newHarness(t)
	h.startWorker(&countingModel{}, 2)

	// Readable ticket and tenant, but no body: a failed event.
	h.publishRaw(schemas.TypeTicketCreated, []byte(`{"specversion":"1.0","id":"bad-1","source":"test",
		"type":"ticket.created","time":"2026-12-04T10:00:00Z","data":{"ticket_id":"T-9","tenant_id":"acme"}}`))
	// Nothing attributable: a dead letter.
	h.publishRaw(schemas.TypeTicketCreated, []byte("\xff not json at all"))
	// Then a good one, which must still be drafted.
	good := h.publishTicket("", refund)

	h.waitFor("the good ticket's draft", 5*time.Second, func() bool { return len(h.terminal()[good]) == 1 })
	h.waitFor("the failed event", 5*time.Second, func() bool { return len(h.terminal()["bad-1"]) == 1 })
	h.settled(5 * time.Second)

	failed := h.terminal()["bad-1"][0]
	var f schemas.DraftFailed
	if err := failed.DecodeData(&f); err != nil {
		t.Fatal(err)
	}
	if failed.Type != schemas.TypeDraftFailed || f.ErrorCode != string(pipeline.CodeInvalidInput) || f.Retryable ||
		f.TicketID != "T-9" || f.TenantID != "acme" || f.ErrorDetail == "" || f.PromptHash == "" {
		t.Errorf("failed event = %s %+v", failed.Type, f)
	}

	s, err := h.js.Stream(h.ctx, schemas.StreamDLQ)
	if err != nil {
		t.Fatal(err)
	}
	dead, err := s.GetLastMsgForSubject(h.ctx, schemas.SubjectDLQPrefix+schemas.TypeTicketCreated)
	if err != nil {
		t.Fatalf("no dead letter: %v", err)
	}
	if dead.Header.Get(schemas.HeaderReason) == "" || dead.Header.Get(schemas.HeaderSourceSeq) == "" ||
		dead.Header.Get(schemas.HeaderErrorCode) != string(pipeline.CodeInvalidInput) || string(dead.Data) != "\xff not json at all" {
		t.Errorf("dead letter headers %v data %q", dead.Header, dead.Data)
	}
}

func TestSameEventTwiceIsOneDraftOneCall(t *testing.T) {
	h := newHarness(t)
	model := &countingModel{}
	id := h.publishTicket("evt-dup", refund)
	h.publishTicket("evt-dup", refund) // the product published it again
	h.startWorker(model, 4)            // both copies may run at once

	h.waitFor("a draft", 5*time.Second, func() bool { return len(h.terminal()[id]) > 0 })
	h.settled(10 * time.Second)
	if n := len(h.terminal()[id]); n != 1 {
		t.Errorf("results = %d, want 1", n)
	}
	if n := model.calls.Load(); n != 1 {
		t.Errorf("model calls = %d, want 1", n)
	}
	if n := len(h.events(schemas.StreamCosts, schemas.TypeCost)); n != 1 {
		t.Errorf("ai.cost events = %d, want 1", n)
	}
}

func TestRetryableFailureIsRetriedThenReported(t *testing.T) {
	h := newHarness(t)
	model := &countingModel{next: func(context.Context, pipeline.Request) (pipeline.Response, error) {
		return pipeline.Response{}, &pipeline.ModelError{Code: pipeline.CodeProviderUnavailable, Status: 503, Detail: "provider returned 503"}
	}}
	h.startWorker(model, 1)
	id := h.publishTicket("", refund)

	h.waitFor("a failed event", 10*time.Second, func() bool { return len(h.terminal()[id]) > 0 })
	h.settled(5 * time.Second)
	res := h.terminal()[id]
	var f schemas.DraftFailed
	if err := res[0].DecodeData(&f); err != nil {
		t.Fatal(err)
	}
	calls := h.topo.Drafts.MaxDeliver * testRetry.MaxAttempts
	if len(res) != 1 || f.ErrorCode != string(pipeline.CodeProviderUnavailable) || !f.Retryable || f.Attempts != calls {
		t.Errorf("results %d, failed = %+v; want one provider_unavailable after %d attempts", len(res), f, calls)
	}
	if n := model.calls.Load(); n != int64(calls) {
		t.Errorf("model calls = %d, want %d a delivery × %d deliveries", n, testRetry.MaxAttempts, h.topo.Drafts.MaxDeliver)
	}
	if n := len(h.events(schemas.StreamCosts, schemas.TypeCost)); n != calls {
		t.Errorf("ai.cost events = %d, want one per call (%d)", n, calls)
	}
}

func TestWorkerStoppedMidStreamLosesNothing(t *testing.T) {
	h := newHarness(t)
	slow := &countingModel{next: func(ctx context.Context, req pipeline.Request) (pipeline.Response, error) {
		select {
		case <-time.After(50 * time.Millisecond):
		case <-ctx.Done():
			return pipeline.Response{}, ctx.Err()
		}
		return rules.Model{}.Complete(ctx, req)
	}}
	const n = 60
	ids := make([]string, n)
	for i := range ids {
		tk := refund
		tk.TicketID = fmt.Sprintf("T-%d", i)
		ids[i] = h.publishTicket("", tk)
	}
	stop := h.startWorker(slow, 2)
	h.waitFor("some drafts", 5*time.Second, func() bool { return len(h.terminal()) >= 5 })
	stop()
	if got := len(h.terminal()); got == n {
		t.Fatalf("all %d tickets finished before the stop; the test proves nothing", n)
	}
	h.startWorker(slow, 4)
	h.waitFor("every draft", 20*time.Second, func() bool { return len(h.terminal()) == n })
	h.settled(10 * time.Second)
	results := h.terminal()
	for _, id := range ids {
		if len(results[id]) != 1 {
			t.Errorf("event %s has %d terminal events, want 1", id, len(results[id]))
		}
	}
}

// A worker whose connection dies mid-call (as in a crash) leaves its
// tickets unacked; the server redelivers them to another worker, which
// takes the stale claims over. Every ticket still ends with one result.
func TestCrashedWorkerClaimsAreTakenOver(t *testing.T) {
	h := newHarness(t)
	inCall := make(chan struct{}, 16)
	hang := &countingModel{next: func(ctx context.Context, _ pipeline.Request) (pipeline.Response, error) {
		inCall <- struct{}{}
		<-ctx.Done()
		return pipeline.Response{}, ctx.Err()
	}}
	const n = 3
	ids := make([]string, n)
	for i := range ids {
		tk := refund
		tk.TicketID = fmt.Sprintf("T-%d", i)
		ids[i] = h.publishTicket("", tk)
	}
	crashed := h.connect()
	stopCrashed := h.startWorkerOn(crashed, hang, n)
	for range n {
		select {
		case <-inCall:
		case <-h.ctx.Done():
			t.Fatal("the first worker never called the model")
		}
	}
	crashed.Close() // no drain, no acks: what a SIGKILL leaves behind
	defer stopCrashed()

	model := &countingModel{}
	h.startWorker(model, 2)
	h.waitFor("every draft", 15*time.Second, func() bool { return len(h.terminal()) == n })
	h.settled(10 * time.Second)
	for _, id := range ids {
		if res := h.terminal()[id]; len(res) != 1 || res[0].Type != schemas.TypeDraftReady {
			t.Errorf("event %s: %d results, want one draft_ready", id, len(res))
		}
	}
	if got := model.calls.Load(); got != n {
		t.Errorf("second worker made %d model calls, want %d", got, n)
	}
}
