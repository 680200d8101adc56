package pipeline

import (
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/ghostwriter-ai/ghostwriter/schemas"
)

// Route picks a fallback chain for the tickets it matches.
type Route struct {
	Name string
	When Match
	// Chain lists endpoint aliases, tried in order while a provider is
	// down, rate limited past the retry budget, or its circuit is open.
	Chain []string
}

// Match is a route's condition. Empty fields match anything; a route with
// an empty Match is a catch-all.
type Match struct {
	// Tasks names the tasks the route is for, e.g. a cheaper chain for
	// triage than for drafts.
	Tasks         []string `yaml:"task"`
	CustomerTiers []string `yaml:"customer_tier"`
	ProductAreas  []string `yaml:"product_area"`
	Languages     []string `yaml:"language"`
	// MinTokens and MaxTokens bound the cleaned ticket's estimated tokens;
	// zero means no bound.
	MinTokens int `yaml:"min_tokens"`
	MaxTokens int `yaml:"max_tokens"`
}

// matches reports whether the task's ticket fits and, if so, why, for the
// logs.
func (m Match) matches(task string, t schemas.TicketCreated, tokens int) (bool, string) {
	var why []string
	for _, c := range []struct {
		field, value string
		allowed      []string
	}{
		{"task", task, m.Tasks},
		{"customer_tier", t.CustomerTier, m.CustomerTiers},
		{"product_area", t.ProductArea, m.ProductAreas},
		{"language", t.Language, m.Languages},
	} {
		if len(c.allowed) == 0 {
			continue
		}
		if !slices.ContainsFunc(c.allowed, func(a string) bool { return strings.EqualFold(a, c.value) }) {
			return false, ""
		}
		why = append(why, c.field+"="+c.value)
	}
	if m.MinTokens > 0 {
		if tokens < m.MinTokens {
			return false, ""
		}
		why = append(why, fmt.Sprintf("tokens>=%d", m.MinTokens))
	}
	if m.MaxTokens > 0 {
		if tokens > m.MaxTokens {
			return false, ""
		}
		why = append(why, fmt.Sprintf("tokens<=%d", m.MaxTokens))
	}
	if len(why) == 0 {
		return true, "catch-all"
	}
	return true, strings.Join(why, ",")
}

// EstimateTokens is a provider-neutral estimate of text's tokens: about
// four characters a token. Good enough for routing, budgets and rate
// limits; bills come from the provider's own usage figures.
func EstimateTokens(text string) int {
	return (utf8.RuneCountInString(text) + 3) / 4
}
