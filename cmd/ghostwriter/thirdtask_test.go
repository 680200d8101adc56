package main

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	goopenai "github.com/sashabaranov/go-openai"

	"github.com/ghostwriter-ai/ghostwriter/internal/fakeai"
	"github.com/ghostwriter-ai/ghostwriter/internal/poll"
	"github.com/ghostwriter-ai/ghostwriter/prompts"
	"github.com/ghostwriter-ai/ghostwriter/schemas"
)

// The README's third task: a prompt file, a schema file and a config
// block (testdata/third-task) turn into a running task with its own
// consumer and result events, with no Go code and no rebuild.
func TestThirdTaskIsConfigOnly(t *testing.T) {
	dir := t.TempDir()
	copyTree(t, prompts.Embedded, ".", dir)
	copyTree(t, os.DirFS("../../testdata/third-task/prompts"), ".", dir)

	var lint syncBuffer
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := run(ctx, []string{"prompts", "lint", "--prompts-dir", dir}, noEnv, strings.NewReader(""), &lint, &lint); err != nil {
		t.Fatalf("prompts lint: %v\n%s", err, lint.String())
	}

	ai := fakeai.New()
	defer ai.Close()
	ai.SetDefault(func(req goopenai.ChatCompletionRequest) fakeai.Reply {
		if req.ResponseFormat != nil && req.ResponseFormat.JSONSchema != nil && req.ResponseFormat.JSONSchema.Name == "summary" {
			return fakeai.Reply{Content: `{"summary":"The customer was charged twice and wants one charge back.","sentiment":"negative","confidence":0.9}`}
		}
		return fakeai.Reply{Content: fakeai.ContentFor(req)}
	})
	addr := freeAddr(t)
	runCtx, stopRun := context.WithCancel(ctx)
	var stderr syncBuffer
	done := make(chan error, 1)
	go func() {
		done <- run(runCtx, []string{"run", "--listen", addr, "--data-dir", t.TempDir(), "--log-format", "json",
			"--config", "../../testdata/third-task/ghostwriter.yaml", "--prompts-dir", dir},
			func(k string) string {
				return map[string]string{"OPENAI_BASE_URL": ai.URL(), "OPENAI_API_KEY": "sk-test"}[k]
			}, strings.NewReader(""), &syncBuffer{}, &stderr)
	}()
	defer func() {
		stopRun()
		if err := <-done; err != nil {
			t.Errorf("run returned %v\n%s", err, stderr.String())
		}
	}()
	nc := connectWhenUp(t, "nats://"+addr, &stderr)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	// run applies the topology after the server is up: publish once the
	// task's own consumer exists.
	poll.Until(t, 10*time.Second, "the ghostwriter-summary consumer", func() bool {
		_, err := js.Consumer(ctx, schemas.StreamTickets, "ghostwriter-summary")
		return err == nil
	})
	sub, err := nc.SubscribeSync("ticket.summary_ready")
	if err != nil {
		t.Fatal(err)
	}
	envelope := `{"specversion":"1.0","id":"third-1","source":"test","type":"ticket.created","time":"` + time.Now().UTC().Format(time.RFC3339) + `",` +
		`"data":{"ticket_id":"T-3","tenant_id":"acme","body":"I was charged twice this month, please refund one."}}`
	if err := nc.Publish(schemas.TypeTicketCreated, []byte(envelope)); err != nil {
		t.Fatal(err)
	}
	m, err := sub.NextMsg(20 * time.Second)
	if err != nil {
		t.Fatalf("no ticket.summary_ready: %v\n%s", err, stderr.String())
	}
	// Decode holds the event to the schema the task's output schema made.
	env, err := schemas.Decode(m.Data)
	if err != nil {
		t.Fatalf("ticket.summary_ready breaks its contract: %v\n%s", err, m.Data)
	}
	var got map[string]any
	if err := env.DecodeData(&got); err != nil {
		t.Fatal(err)
	}
	if got["task"] != "summary" || got["sentiment"] != "negative" || got["source_event_id"] != "third-1" || got["requires_review"] != false ||
		!strings.Contains(got["summary"].(string), "charged twice") {
		t.Errorf("ticket.summary_ready data = %v", got)
	}
	// The decision is logged once it is acked, just after the publish.
	poll.Until(t, 10*time.Second, "the ghostwriter-summary consumer's log line", func() bool {
		return strings.Contains(stderr.String(), `"consumer":"ghostwriter-summary"`)
	})
}

// copyTree copies the files of fsys under root into dir.
func copyTree(t *testing.T, fsys fs.FS, root, dir string) {
	t.Helper()
	err := fs.WalkDir(fsys, root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		raw, err := fs.ReadFile(fsys, path)
		if err != nil {
			return err
		}
		if err := os.MkdirAll(filepath.Join(dir, filepath.Dir(path)), 0o755); err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dir, path), raw, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// connectWhenUp connects to url once the embedded server answers.
func connectWhenUp(t *testing.T, url string, logs *syncBuffer) *nats.Conn {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		nc, err := nats.Connect(url)
		if err == nil {
			t.Cleanup(nc.Close)
			return nc
		}
		if time.Now().After(deadline) {
			t.Fatalf("embedded server never came up: %v\n%s", err, logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}
