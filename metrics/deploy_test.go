package metrics_test

import (
	"encoding/json"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"go.yaml.in/yaml/v3"

	"github.com/ghostwriter-ai/ghostwriter/metrics"
)

var metricName = regexp.MustCompile(`ghostwriter_[a-z_]+`)

// The alert rules and the dashboard name only metrics that exist, so a
// rename cannot silently blind them.
func TestDeployedQueriesNameRealMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := metrics.New(reg)
	m.Task("t", "draft_ready", "", 0) // vectors appear once used
	m.QueueWait("t", 0)
	m.ModelCall("t", "m", "ok", 0, 1, 1, 1)
	m.Retry("in_process", "timeout", 1)
	m.CircuitState("p", 0)
	m.DeadLetter("c", "invalid_json")
	m.Redelivered("c")
	known := map[string]bool{
		// scrape-time collectors, described but not gathered here
		"ghostwriter_consumer_pending_messages": true, "ghostwriter_consumer_ack_pending_messages": true,
		"ghostwriter_consumer_redelivered_messages": true, "ghostwriter_consumer_info_up": true,
		"ghostwriter_budget_remaining_usd": true,
	}
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fams {
		known[f.GetName()] = true
		if f.GetType().String() == "HISTOGRAM" {
			for _, s := range []string{"_bucket", "_sum", "_count"} {
				known[f.GetName()+s] = true
			}
		}
	}

	var rules struct {
		Groups []struct {
			Rules []struct {
				Alert string `yaml:"alert"`
				Expr  string `yaml:"expr"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	raw, err := os.ReadFile("../deploy/prometheus/alerts.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(raw, &rules); err != nil {
		t.Fatal(err)
	}
	var exprs []string
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			exprs = append(exprs, r.Expr)
		}
	}
	var dash struct {
		Panels []struct {
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	raw, err = os.ReadFile("../deploy/grafana/ghostwriter.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &dash); err != nil {
		t.Fatal(err)
	}
	for _, p := range dash.Panels {
		for _, tg := range p.Targets {
			exprs = append(exprs, tg.Expr)
		}
	}
	if len(exprs) < 10 {
		t.Fatalf("only %d queries found", len(exprs))
	}
	for _, e := range exprs {
		for _, name := range metricName.FindAllString(e, -1) {
			if !known[name] {
				t.Errorf("query names unknown metric %s: %s", name, strings.TrimSpace(e))
			}
		}
	}
}
