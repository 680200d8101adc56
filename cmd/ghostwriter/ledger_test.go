package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	goopenai "github.com/sashabaranov/go-openai"

	"github.com/ghostwriter-ai/ghostwriter/internal/fakeai"
	"github.com/ghostwriter-ai/ghostwriter/internal/pgtest"
	"github.com/ghostwriter-ai/ghostwriter/internal/poll"
	"github.com/ghostwriter-ai/ghostwriter/schemas"
)

// `run` with a database URL keeps the Postgres ledger: priced calls are
// recorded, a tenant over its hard budget gets budget_exceeded without a
// model call, and `costs` and `migrate` read the same database.
func TestRunWithLedgerThenCosts(t *testing.T) {
	dsn := pgtest.DSN(t)
	ai := fakeai.New()
	defer ai.Close()
	// 1000 input tokens (400 cached) and 200 output: 240 µ$ at gpt-4o-mini's price.
	ai.SetDefault(func(goopenai.ChatCompletionRequest) fakeai.Reply {
		return fakeai.Reply{Content: fakeai.DefaultContent, InputTokens: 1000, CachedInputTokens: 400, OutputTokens: 200}
	})
	cfg := t.TempDir() + "/gw.yaml"
	if err := writeFile(cfg, `prices:
  gpt-4o-mini: {input_per_mtok_usd: 0.15, cached_input_per_mtok_usd: 0.075, output_per_mtok_usd: 0.60}
budgets:
  capped: {daily_hard_usd: 0.0003}
`); err != nil {
		t.Fatal(err)
	}
	getenv := func(k string) string {
		return map[string]string{"OPENAI_BASE_URL": ai.URL(), "OPENAI_API_KEY": "sk-test", "GHOSTWRITER_DATABASE_URL": dsn}[k]
	}
	addr := freeAddr(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	runCtx, stopRun := context.WithCancel(ctx)
	var stderr syncBuffer
	done := make(chan error, 1)
	go func() {
		done <- run(runCtx, []string{"run", "--listen", addr, "--data-dir", t.TempDir(), "--log-format", "json", "--config", cfg, "--run-tasks", "support_draft"},
			getenv, strings.NewReader(""), &syncBuffer{}, &stderr)
	}()
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			stopRun()
			if err := <-done; err != nil {
				t.Errorf("run returned %v", err)
			}
		}
	}
	defer stop()
	url := "nats://" + addr
	poll.Until(t, 10*time.Second, "the embedded server", func() bool { return strings.Contains(stderr.String(), "embedded NATS with JetStream is up") })

	publish := func(tenant, body string) map[string]any {
		var out syncBuffer
		err := run(ctx, []string{"publish", "--nats-url", url, "--wait", "--wait-timeout", "20s", "--tenant-id", tenant, "-"},
			noEnv, strings.NewReader(body), &out, &syncBuffer{})
		if err != nil {
			t.Fatalf("publish: %v\n%s", err, stderr.String())
		}
		env, err := schemas.Decode(bytes.TrimSpace([]byte(out.String())))
		if err != nil {
			t.Fatal(err)
		}
		var data map[string]any
		if err := json.Unmarshal(env.Data, &data); err != nil {
			t.Fatal(err)
		}
		data["type"], data["id"] = env.Type, env.ID
		return data
	}
	var drafts []map[string]any
	for _, body := range []string{"I was charged twice", "Where is my parcel?"} {
		d := publish("acme", body)
		if d["type"] != schemas.TypeDraftReady || d["cost_microusd"] != 240.0 {
			t.Errorf("acme: %v, want draft_ready costing 240 µ$", d)
		}
		drafts = append(drafts, d)
	}
	before := ai.Calls()
	if d := publish("capped", "Please help"); d["type"] != schemas.TypeDraftFailed || d["error_code"] != "budget_exceeded" {
		t.Errorf("capped: %v, want budget_exceeded", d)
	}
	if ai.Calls() != before {
		t.Errorf("a model call was made for a tenant over its hard budget")
	}

	costs := func(format string) string {
		var out syncBuffer
		if err := run(ctx, []string{"costs", "--format", format}, getenv, strings.NewReader(""), &out, &syncBuffer{}); err != nil {
			t.Fatalf("costs: %v", err)
		}
		return out.String()
	}
	var rows []costJSON
	poll.Until(t, 10*time.Second, "both calls in the ledger", func() bool {
		rows = nil
		return json.Unmarshal([]byte(costs("json")), &rows) == nil && len(rows) == 1 && rows[0].Calls == 2
	})
	today := time.Now().UTC().Format(dateLayout)
	want := costJSON{Day: today, TenantID: "acme", Model: "gpt-4o-mini", Task: "support_draft", PromptVersion: "v1", Calls: 2,
		InputTokens: 2000, CachedInputTokens: 800, OutputTokens: 400, CostMicroUSD: 480, CostUSD: "0.000480"}
	if rows[0] != want {
		t.Errorf("costs row %+v, want %+v", rows[0], want)
	}

	// A human sends the first draft as it is: the feedback consumer in
	// `run` scores it, and `quality` shows it beside the drafts' cost.
	reply, _ := json.Marshal(schemas.ReplySent{TicketID: drafts[0]["ticket_id"].(string), TenantID: "acme",
		FinalText: drafts[0]["draft"].(string), DraftEventID: drafts[0]["id"].(string)})
	if err := run(ctx, []string{"publish", "--nats-url", url, "--type", schemas.TypeReplySent, "-"},
		noEnv, strings.NewReader(string(reply)), &syncBuffer{}, &syncBuffer{}); err != nil {
		t.Fatalf("publish reply: %v", err)
	}
	quality := func(format string) string {
		var out syncBuffer
		if err := run(ctx, []string{"quality", "--format", format}, getenv, strings.NewReader(""), &out, &syncBuffer{}); err != nil {
			t.Fatalf("quality: %v", err)
		}
		return out.String()
	}
	var q []qualityJSON
	poll.Until(t, 10*time.Second, "the reply's feedback in the ledger", func() bool {
		q = nil
		return json.Unmarshal([]byte(quality("json")), &q) == nil && len(q) == 1 && q[0].Replies == 1
	})
	wantQ := qualityJSON{Task: "support_draft", PromptVersion: "v1", Model: "gpt-4o-mini", Drafts: 2, Replies: 1, Accepted: 1,
		AcceptedRate: 1, KeptRate: 1, CostPerDraftMicroUSD: 240, CostMicroUSD: 480}
	if q[0] != wantQ {
		t.Errorf("quality row %+v, want %+v", q[0], wantQ)
	}
	stop()
	if table := quality("table"); !strings.Contains(table, "ACCEPTED%") || !strings.Contains(table, "100%") {
		t.Errorf("quality table:\n%s", table)
	}

	table := costs("table")
	if !strings.Contains(table, "gpt-4o-mini") || !strings.Contains(table, "TOTAL") || !strings.Contains(table, "0.000480") {
		t.Errorf("table:\n%s", table)
	}
	if csv := costs("csv"); !strings.HasPrefix(csv, "day,tenant_id,") || !strings.Contains(csv, today+",acme,gpt-4o-mini,support_draft,v1,2,2000,800,400,0,480,0.000480") {
		t.Errorf("csv:\n%s", csv)
	}
	var out syncBuffer
	if err := run(ctx, []string{"migrate"}, getenv, strings.NewReader(""), &out, &syncBuffer{}); err != nil || !strings.Contains(out.String(), "(0 migration(s) applied now)") {
		t.Errorf("migrate: %v\n%s", err, out.String())
	}
}

func TestLedgerCommandsUsage(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	tests := []struct {
		name    string
		args    []string
		want    int
		wantErr string
	}{
		{"ledger without a database", []string{"ledger"}, 2, "database-url"},
		{"migrate without a database", []string{"migrate"}, 2, "database-url"},
		{"costs without a database", []string{"costs"}, 2, "database-url"},
		{"costs bad format", []string{"costs", "--database-url", "postgres://x", "--format", "xml"}, 2, "format"},
		{"costs bad date", []string{"costs", "--database-url", "postgres://x", "--since", "yesterday"}, 2, "since"},
		{"quality without a database", []string{"quality"}, 2, "database-url"},
		{"quality bad format", []string{"quality", "--database-url", "postgres://x", "--format", "xml"}, 2, "format"},
		{"costs reversed", []string{"costs", "--database-url", "postgres://x", "--since", "2026-12-05", "--until", "2026-12-04"}, 2, "after"},
		{"no postgres", []string{"migrate", "--database-url", "postgres://postgres@127.0.0.1:1/x?connect_timeout=2"}, 1, "ledger.open"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stderr syncBuffer
			err := run(ctx, tt.args, noEnv, strings.NewReader(""), &syncBuffer{}, &stderr)
			if got := exitCode(err, &stderr); got != tt.want {
				t.Errorf("exit code %d (err %v), want %d", got, err, tt.want)
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error %v, want it to mention %q", err, tt.wantErr)
			}
		})
	}
}
