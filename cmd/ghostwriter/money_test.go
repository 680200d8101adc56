package main

import (
	"testing"

	"github.com/ghostwriter-ai/ghostwriter/ledger"
	"github.com/ghostwriter-ai/ghostwriter/pipeline"
)

func TestParseUSD(t *testing.T) {
	tests := []struct {
		in      string
		want    int64
		wantErr bool
	}{
		{"0.15", 150_000, false},
		{"10", 10_000_000, false},
		{"2.50", 2_500_000, false},
		{"0.000001", 1, false},
		{".5", 500_000, false},
		{"0.0000001", 0, true},
		{"1e-7", 0, true},
		{"-1", 0, true},
		{"ten", 0, true},
		{"", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := parseUSD(tt.in)
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Errorf("parseUSD(%q) = %d, %v; want %d, error %v", tt.in, got, err, tt.want, tt.wantErr)
			}
		})
	}
	if got := formatUSD(10_800); got != "0.010800" {
		t.Errorf("formatUSD = %q", got)
	}
}

// The shipped price file parses, and a config's budgets become limits.
func TestReadMoney(t *testing.T) {
	m, err := readMoney("../../deploy/prices.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if got := m.prices["gpt-4o-mini"]; got != (pipeline.Price{InputPerMTok: 150_000, CachedInputPerMTok: 75_000, OutputPerMTok: 600_000}) {
		t.Errorf("gpt-4o-mini = %+v", got)
	}
	if _, ok := m.prices["rules"]; !ok || m.pricesSource == "" || len(m.prices) != 4 {
		t.Errorf("prices %v, source %q", m.prices, m.pricesSource)
	}

	dir := t.TempDir()
	good := dir + "/good.yaml"
	if err := writeFile(good, "concurrency: 2\nbudgets:\n  acme:\n    daily_hard_usd: 5\n    monthly_soft_usd: 100.5\n"); err != nil {
		t.Fatal(err)
	}
	m, err = readMoney(good)
	if err != nil {
		t.Fatal(err)
	}
	if got := m.budgets["acme"]; got != (ledger.Limits{DailyHardMicroUSD: 5_000_000, MonthlySoftMicroUSD: 100_500_000}) {
		t.Errorf("acme = %+v", got)
	}
	for name, text := range map[string]string{
		"unknown price key":  "prices:\n  m:\n    input_per_mtok_usd: 1\n    output_per_mtok_usd: 1\n    inptu: 2\n",
		"missing output":     "prices:\n  m:\n    input_per_mtok_usd: 1\n",
		"float budget":       "budgets:\n  acme:\n    daily_hard_usd: 1e3\n",
		"unknown budget key": "budgets:\n  acme:\n    weekly_usd: 3\n",
	} {
		path := dir + "/bad.yaml"
		if err := writeFile(path, text); err != nil {
			t.Fatal(err)
		}
		if _, err := readMoney(path); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}
