package main

import (
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/ghostwriter-ai/ghostwriter/ledger"
	"github.com/ghostwriter-ai/ghostwriter/pipeline"
	"github.com/ghostwriter-ai/ghostwriter/pipeline/rules"
)

// money is what the config file says about cost: the price table and the
// tenants' budgets. Dollars in the file become integer micro-dollars here
// without passing through a float.
type money struct {
	prices       map[string]pipeline.Price
	pricesSource string
	budgets      map[string]ledger.Limits
}

// moneyFile is the part of the config file read by readMoney. Values are
// kept as written, as strings, and parsed as decimals.
type moneyFile struct {
	Prices       map[string]map[string]string `yaml:"prices"`
	PricesSource string                       `yaml:"prices_source"`
	Budgets      map[string]map[string]string `yaml:"budgets"`
}

// readMoney reads prices: and budgets: from the config file at path (none
// when path is empty). The offline rules model is always free.
func readMoney(path string) (money, error) {
	m := money{prices: map[string]pipeline.Price{rules.Name: {}}, budgets: map[string]ledger.Limits{}}
	if path == "" {
		return m, nil
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		return m, err
	}
	var f moneyFile
	if err := yaml.Unmarshal(raw, &f); err != nil {
		return m, fmt.Errorf("config %s: %w", path, err)
	}
	m.pricesSource = f.PricesSource
	for _, model := range sortedKeys(f.Prices) {
		var p pipeline.Price
		err := fields(f.Prices[model], map[string]*int64{
			"input_per_mtok_usd":        &p.InputPerMTok,
			"cached_input_per_mtok_usd": &p.CachedInputPerMTok,
			"output_per_mtok_usd":       &p.OutputPerMTok,
		}, "input_per_mtok_usd", "output_per_mtok_usd")
		if err != nil {
			return m, fmt.Errorf("config %s: prices.%s: %w", path, model, err)
		}
		m.prices[model] = p
	}
	for _, tenant := range sortedKeys(f.Budgets) {
		var l ledger.Limits
		err := fields(f.Budgets[tenant], map[string]*int64{
			"daily_hard_usd":   &l.DailyHardMicroUSD,
			"daily_soft_usd":   &l.DailySoftMicroUSD,
			"monthly_hard_usd": &l.MonthlyHardMicroUSD,
			"monthly_soft_usd": &l.MonthlySoftMicroUSD,
		})
		if err != nil {
			return m, fmt.Errorf("config %s: budgets.%s: %w", path, tenant, err)
		}
		m.budgets[tenant] = l
	}
	return m, nil
}

// fields parses each dollar value of in into its target, rejecting keys
// it does not know and missing required ones.
func fields(in map[string]string, targets map[string]*int64, required ...string) error {
	for _, k := range sortedKeys(in) {
		dst, ok := targets[k]
		if !ok {
			return fmt.Errorf("unknown key %q (want one of %s)", k, strings.Join(sortedKeys(targets), ", "))
		}
		v, err := parseUSD(in[k])
		if err != nil {
			return fmt.Errorf("%s: %w", k, err)
		}
		*dst = v
	}
	for _, k := range required {
		if _, ok := in[k]; !ok {
			return fmt.Errorf("missing %s", k)
		}
	}
	return nil
}

// parseUSD turns a plain decimal number of dollars ("0.15", "10") into
// micro-dollars exactly; more than six decimals, a sign or an exponent is
// an error.
func parseUSD(s string) (int64, error) {
	s = strings.TrimSpace(s)
	if s == "" || s == "." {
		return 0, fmt.Errorf("%q: want dollars as a plain decimal", s)
	}
	whole, frac, _ := strings.Cut(s, ".")
	if whole == "" {
		whole = "0"
	}
	if len(frac) > 6 || strings.ContainsAny(whole+frac, "+-eE") {
		return 0, fmt.Errorf("%q: want dollars as a plain decimal with at most 6 decimals", s)
	}
	w, err := strconv.ParseUint(whole, 10, 63)
	if err != nil || w > 9_000_000_000_000 {
		return 0, fmt.Errorf("%q: want dollars as a plain decimal", s)
	}
	f := uint64(0)
	if frac != "" {
		if f, err = strconv.ParseUint(frac+strings.Repeat("0", 6-len(frac)), 10, 63); err != nil {
			return 0, fmt.Errorf("%q: want dollars as a plain decimal", s)
		}
	}
	return int64(w*1_000_000 + f), nil
}

// formatUSD prints micro-dollars as dollars with six decimals.
func formatUSD(micro int64) string {
	sign := ""
	if micro < 0 {
		sign, micro = "-", -micro
	}
	return fmt.Sprintf("%s%d.%06d", sign, micro/1_000_000, micro%1_000_000)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
