package main

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestBenchUsageErrors(t *testing.T) {
	for name, args := range map[string][]string{
		"argument":         {"bench", "extra"},
		"bad rates":        {"bench", "--rates", "1000,fast"},
		"unknown scenario": {"bench", "--scenarios", "nope", "--tickets-dir", "../../testdata/tickets"},
		"no tickets":       {"bench", "--tickets-dir", t.TempDir() + "/missing"},
	} {
		t.Run(name, func(t *testing.T) {
			err := run(t.Context(), args, noEnv, strings.NewReader(""), &syncBuffer{}, &syncBuffer{})
			var ue usageError
			if !errors.As(err, &ue) {
				t.Errorf("err = %v, want a usage error", err)
			}
		})
	}
}

// The wiring only: two throughput scenarios at a tiny size, the table on
// stdout and the figures in --json-out. bench's own tests cover the rest.
func TestBenchWritesTableAndJSON(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	out := filepath.Join(t.TempDir(), "bench.json")
	var stdout, stderr syncBuffer
	err := run(ctx, []string{"bench", "--quick", "--scenarios", "ceiling,instant", "--n", "2000", "--concurrency", "4",
		"--tickets-dir", "../../testdata/tickets", "--json-out", out}, noEnv, strings.NewReader(""), &stdout, &stderr)
	if err != nil {
		t.Fatalf("bench: %v\n%s", err, stderr.String())
	}
	for _, want := range []string{"ceiling", "rules model", "× ceiling"} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, stdout.String())
		}
	}
	raw, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var fig struct {
		Ratio *float64 `json:"instant_ratio"`
		HTTP  *float64 `json:"http_per_s"`
	}
	if err := json.Unmarshal(raw, &fig); err != nil {
		t.Fatal(err)
	}
	if fig.Ratio == nil || *fig.Ratio <= 0 || fig.HTTP != nil {
		t.Errorf("instant_ratio = %v, http_per_s = %v; want a ratio, and no figure for a scenario not run", fig.Ratio, fig.HTTP)
	}
}
