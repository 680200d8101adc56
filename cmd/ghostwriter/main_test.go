package main

import (
	"bytes"
	"context"
	"errors"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ghostwriter-ai/ghostwriter/internal/fakeai"
	"github.com/ghostwriter-ai/ghostwriter/internal/poll"
	"github.com/ghostwriter-ai/ghostwriter/schemas"
)

// syncBuffer is a bytes.Buffer safe for the concurrent writes of a running
// subcommand and the reads of a test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func noEnv(string) string { return "" }

// The whole `run` wiring, with go-openai pointed at a local server that
// speaks the OpenAI chat completions API: a plain core-NATS publish (what
// `nats pub` does) and `ghostwriter publish --wait` are both drafted and
// triaged, each task on its own consumer, from one process.
func TestRunEndToEndThroughOpenAIAPI(t *testing.T) {
	ai := fakeai.New()
	defer ai.Close()
	addr := freeAddr(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	runCtx, stopRun := context.WithCancel(ctx)

	var stderr syncBuffer
	done := make(chan error, 1)
	go func() {
		done <- run(runCtx, []string{"run", "--listen", addr, "--data-dir", t.TempDir(), "--log-format", "json"},
			func(k string) string {
				if k == "OPENAI_BASE_URL" {
					return ai.URL()
				}
				if k == "OPENAI_API_KEY" {
					return "sk-canary-never-logged"
				}
				return ""
			}, strings.NewReader(""), &syncBuffer{}, &stderr)
	}()
	defer func() {
		stopRun()
		if err := <-done; err != nil {
			t.Errorf("run returned %v", err)
		}
		if strings.Contains(stderr.String(), "sk-canary-never-logged") {
			t.Error("the API key reached the log")
		}
	}()

	url := "nats://" + addr
	nc := connectWhenUp(t, url, &stderr)

	// `ghostwriter publish --wait` with a plain-text body.
	var out syncBuffer
	err := run(ctx, []string{"publish", "--nats-url", url, "--wait", "--wait-timeout", "20s", "--ticket-id", "T-77", "-"},
		noEnv, strings.NewReader("I can't log in since yesterday"), &out, &syncBuffer{})
	if err != nil {
		t.Fatalf("publish --wait: %v\n%s", err, stderr.String())
	}
	env, err := schemas.Decode(bytes.TrimSpace([]byte(out.String())))
	if err != nil {
		t.Fatalf("publish --wait printed %q: %v", out.String(), err)
	}
	var ready schemas.DraftReady
	if err := env.DecodeData(&ready); err != nil || env.Type != schemas.TypeDraftReady {
		t.Fatalf("result %s: %v", env.Type, err)
	}
	if ready.TicketID != "T-77" || ready.Model != "gpt-4o-mini" || ready.Provider != "openai" || ready.Usage.InputTokens == 0 {
		t.Errorf("draft_ready = %+v; want the fake OpenAI server's answer", ready)
	}

	// A core-NATS publish of a whole envelope, as `nats pub` sends it.
	envelope := `{"specversion":"1.0","id":"core-1","source":"nats-cli","type":"ticket.created","time":"` + time.Now().UTC().Format(time.RFC3339) + `",` +
		`"data":{"ticket_id":"T-78","tenant_id":"acme","body":"Where is my parcel?"}}`
	sub, err := nc.SubscribeSync("ticket.*")
	if err != nil {
		t.Fatal(err)
	}
	if err := nc.Publish(schemas.TypeTicketCreated, []byte(envelope)); err != nil {
		t.Fatal(err)
	}
	results := map[string]schemas.Envelope{}
	for len(results) < 2 {
		m, err := sub.NextMsg(10 * time.Second)
		if err != nil {
			t.Fatalf("no draft and triage for the core-NATS publish (have %v): %v", results, err)
		}
		if env, err := schemas.Decode(m.Data); err == nil && strings.Contains(string(env.Data), `"source_event_id":"core-1"`) {
			results[env.Type] = env
		}
	}
	var triaged map[string]any
	if env, ok := results[schemas.TaskTriage.Ready]; !ok || env.DecodeData(&triaged) != nil {
		t.Fatalf("results for core-1: %v, want ticket.draft_ready and ticket.triaged", results)
	}
	if triaged["department"] != "general" || triaged["priority"] != "normal" || triaged["task"] != "triage" || triaged["model"] != "gpt-4o-mini" {
		t.Errorf("ticket.triaged = %v; want the fake OpenAI server's triage", triaged)
	}
	// Two tickets, two tasks: four calls, one each.
	poll.Until(t, 10*time.Second, "a model call per ticket and task", func() bool { return ai.Calls() >= 4 })
	if calls := ai.Calls(); calls != 4 {
		t.Errorf("fake OpenAI server saw %d calls, want 4", calls)
	}

	// An operator replays both tickets in shadow and compares.
	var dry syncBuffer
	if err := run(ctx, []string{"replay", "--nats-url", url, "--dry-run"}, noEnv, strings.NewReader(""), &dry, &syncBuffer{}); err != nil ||
		!strings.Contains(dry.String(), "2 events selected") {
		t.Fatalf("replay --dry-run: %v\n%s", err, dry.String())
	}
	if err := run(ctx, []string{"replay", "--nats-url", url, "--shadow", "--id", "e2e"}, noEnv, strings.NewReader(""), &syncBuffer{}, &syncBuffer{}); err != nil {
		t.Fatalf("replay: %v", err)
	}
	var diff syncBuffer
	defer func() {
		if t.Failed() {
			t.Logf("diff:\n%s\nlogs:\n%s", diff.String(), stderr.String())
		}
	}()
	poll.Until(t, 10*time.Second, "the replay diff", func() bool {
		diff = syncBuffer{}
		return run(ctx, []string{"replay", "diff", "e2e", "--nats-url", url}, noEnv, strings.NewReader(""), &diff, &syncBuffer{}) == nil &&
			strings.Contains(diff.String(), "2 tickets")
	})
	reqs := ai.Requests()
	if len(reqs) == 0 || reqs[0].ResponseFormat == nil || !strings.Contains(reqs[0].Messages[1].Content, "<ticket_data>") {
		t.Errorf("request lacks structured output or delimited ticket: %+v", reqs)
	}
}

func TestExitCodes(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	tests := []struct {
		name    string
		args    []string
		want    int
		wantErr string
	}{
		{"no subcommand", nil, 2, "missing subcommand"},
		{"unknown subcommand", []string{"dance"}, 2, "unknown subcommand"},
		{"help", []string{"run", "--help"}, 0, ""},
		{"bad flag", []string{"worker", "--no-such-flag"}, 2, "no-such-flag"},
		{"bad concurrency", []string{"worker", "--concurrency", "0"}, 2, "concurrency"},
		{"explicit listen taken", []string{"run", "--listen", taken.Addr().String(), "--data-dir", t.TempDir()}, 2, taken.Addr().String()},
		{"nothing to publish", []string{"publish", "--nats-url", "nats://127.0.0.1:1"}, 2, "empty input"},
		{"no server", []string{"worker", "--nats-url", "nats://127.0.0.1:1"}, 1, "connect"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stderr syncBuffer
			err := run(ctx, tt.args, noEnv, strings.NewReader(""), &syncBuffer{}, &stderr)
			if got := exitCode(err, &stderr); got != tt.want {
				t.Errorf("exit code %d (err %v), want %d", got, err, tt.want)
			}
			if tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Errorf("error %v, want it to mention %q", err, tt.wantErr)
			}
		})
	}
}

func TestFlagPrecedence(t *testing.T) {
	cfg := t.TempDir() + "/gw.yaml"
	if err := writeFile(cfg, "concurrency: 3\nmodel: from-file\nmodel-timeout: 5s\n"); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"GHOSTWRITER_CONFIG": cfg, "GHOSTWRITER_MODEL": "from-env", "NATS_URL": "nats://alias:4222"}
	c := newCommand("worker", "", "", &syncBuffer{})
	natsURL := c.flags.String("nats-url", "nats://default:4222", "")
	wc := c.workerFlags()
	if err := c.parse([]string{"--model-timeout", "7s"}, func(k string) string { return env[k] }); err != nil {
		t.Fatal(err)
	}
	if wc.modelTimeout != 7*time.Second || wc.model != "from-env" || wc.concurrency != 3 || *natsURL != "nats://alias:4222" {
		t.Errorf("timeout %v (flag), model %q (env), concurrency %d (file), nats %q (alias)", wc.modelTimeout, wc.model, wc.concurrency, *natsURL)
	}
	if !errors.Is(c.parse([]string{"-h"}, noEnv), errHelp) {
		t.Error("-h is not help")
	}
}

func writeFile(path, text string) error { return os.WriteFile(path, []byte(text), 0o600) }
