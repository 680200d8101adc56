package main

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	goopenai "github.com/sashabaranov/go-openai"

	"github.com/ghostwriter-ai/ghostwriter/consumers"
	"github.com/ghostwriter-ai/ghostwriter/internal/embednats"
	"github.com/ghostwriter-ai/ghostwriter/internal/fakeai"
	"github.com/ghostwriter-ai/ghostwriter/internal/poll"
)

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// A worker against an external NATS: its metrics move as tickets are
// drafted, and readiness follows a NATS outage and the recovery. Logs at
// debug level hold no secret, ticket text or draft.
func TestWorkerMetricsReadinessAndLogs(t *testing.T) {
	const (
		apiKey    = "sk-canary-api-key-0001"
		bodyText  = "canary-body-text my card 4111 1111 1111 1111 and mail jane@example.com"
		draftText = "canary-draft-text we will help"
	)
	ai := fakeai.New()
	defer ai.Close()
	ai.SetDefault(func(goopenai.ChatCompletionRequest) fakeai.Reply {
		return fakeai.Reply{Content: `{"draft":"` + draftText + `","confidence":0.9,"reason":"other","requires_review":false}`}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	natsAddr, storeDir := freeAddr(t), t.TempDir()
	srv, err := embednats.Start(embednats.Options{Listen: natsAddr, StoreDir: storeDir})
	if err != nil {
		t.Fatal(err)
	}
	url := "nats://" + natsAddr
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	js, _ := jetstream.New(nc)
	if err := consumers.Apply(ctx, js, consumers.DefaultTopology()); err != nil {
		t.Fatal(err)
	}
	nc.Close()

	metricsAddr := freeAddr(t)
	var stderr syncBuffer
	runCtx, stopRun := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- run(runCtx, []string{"worker", "--nats-url", url, "--metrics-addr", metricsAddr, "--log-level", "debug", "--log-format", "json", "--run-tasks", "support_draft"},
			func(k string) string {
				return map[string]string{"OPENAI_BASE_URL": ai.URL(), "OPENAI_API_KEY": apiKey}[k]
			}, strings.NewReader(""), &syncBuffer{}, &stderr)
	}()
	stopped := false
	defer func() {
		stopRun()
		<-done
		if !stopped {
			srv.Shutdown()
			srv.WaitForShutdown()
		}
	}()
	base := "http://" + metricsAddr
	poll.Until(t, 10*time.Second, "readiness", func() bool { code, _ := get(t, base+"/readyz"); return code == 200 })
	if code, _ := get(t, base+"/healthz"); code != 200 {
		t.Fatalf("/healthz %d", code)
	}

	var out syncBuffer
	if err := run(ctx, []string{"publish", "--nats-url", url, "--wait", "--wait-timeout", "20s", "-"}, noEnv,
		strings.NewReader(bodyText), &out, &syncBuffer{}); err != nil {
		t.Fatalf("publish --wait: %v", err)
	}
	// The draft is published before its ack and its count: wait for it.
	var m string
	poll.Until(t, 5*time.Second, "the task to be counted", func() bool {
		_, m = get(t, base+"/metrics")
		return strings.Contains(m, `ghostwriter_tasks_in_flight 0`) && strings.Contains(m, `outcome="draft_ready"`)
	})
	for _, want := range []string{
		`ghostwriter_tasks_total{error_code="",outcome="draft_ready",task="support_draft"} 1`,
		`ghostwriter_model_call_duration_seconds_count{model="gpt-4o-mini",outcome="ok"} 1`,
		`ghostwriter_model_tokens_total{kind="input",model="gpt-4o-mini",task="support_draft"}`,
		`ghostwriter_consumer_pending_messages{consumer="ghostwriter-drafts"} 0`,
		`ghostwriter_consumer_info_up{consumer="ghostwriter-drafts"} 1`,
		`ghostwriter_tasks_in_flight 0`,
	} {
		if !strings.Contains(m, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}

	// The live view reads the same endpoint.
	var view syncBuffer
	if err := run(ctx, []string{"top", "--metrics-url", base + "/metrics", "--once", "--interval", "100ms"}, noEnv,
		strings.NewReader(""), &view, &syncBuffer{}); err != nil {
		t.Fatalf("top: %v", err)
	}
	if !strings.Contains(view.String(), "throughput") || !strings.Contains(view.String(), "ghostwriter-drafts") {
		t.Errorf("top printed:\n%s", view.String())
	}

	// NATS goes away: readiness turns false within seconds...
	srv.Shutdown()
	srv.WaitForShutdown()
	stopped = true
	poll.Until(t, 10*time.Second, "readiness to turn false", func() bool { code, _ := get(t, base+"/readyz"); return code == 503 })
	// ...and true again once it is back.
	srv, err = embednats.Start(embednats.Options{Listen: natsAddr, StoreDir: storeDir})
	if err != nil {
		t.Fatal(err)
	}
	stopped = false
	poll.Until(t, 20*time.Second, "readiness after NATS came back", func() bool { code, _ := get(t, base+"/readyz"); return code == 200 })

	logs := stderr.String()
	if !strings.Contains(logs, `"msg":"handled"`) || !strings.Contains(logs, `"outcome":"draft_ready"`) {
		t.Fatalf("no task log line in:\n%s", logs)
	}
	for _, canary := range []string{apiKey, "canary-body-text", "4111", "jane@example.com", draftText} {
		if strings.Contains(logs, canary) {
			t.Errorf("the logs hold %q", canary)
		}
	}
}
