package pipeline

import (
	"errors"
	"fmt"
	"sort"
	"time"
)

// RulesAlias and RulesProvider name the offline rules model, which every
// configuration has without declaring it.
const (
	RulesAlias    = "rules"
	RulesProvider = "rules"
)

// ModelsConfig is the models part of the configuration file: providers,
// the models they serve, the routes that choose among them, and the retry
// policy. cmd/ghostwriter reads it; Build turns it into endpoints and
// routes.
type ModelsConfig struct {
	Providers map[string]ProviderConfig `yaml:"providers"`
	// Models by alias: the name routes use.
	Models map[string]ModelConfig `yaml:"models"`
	// Routes are tried in order; the last should match everything.
	Routes []RouteConfig `yaml:"routes"`
	Retry  RetryConfig   `yaml:"retry"`
}

// ProviderConfig is one OpenAI-compatible endpoint. Keys never sit in the
// file: name an environment variable or a file that holds one.
type ProviderConfig struct {
	BaseURL    string        `yaml:"base_url"`
	APIKeyEnv  string        `yaml:"api_key_env"`
	APIKeyFile string        `yaml:"api_key_file"`
	Timeout    time.Duration `yaml:"timeout"`
	Breaker    BreakerConfig `yaml:"breaker"`
}

// BreakerConfig sets a provider's circuit breaker.
type BreakerConfig struct {
	// Failures in a row that open the circuit (default 5).
	Failures uint32 `yaml:"failures"`
	// OpenFor is how long calls are skipped before a trial (default 30s).
	OpenFor time.Duration `yaml:"open_for"`
}

// ModelConfig is one model at one provider.
type ModelConfig struct {
	Provider string `yaml:"provider"`
	// Name is the provider's model name; default: the alias.
	Name              string `yaml:"name"`
	RequestsPerMinute int    `yaml:"requests_per_minute"`
	TokensPerMinute   int    `yaml:"tokens_per_minute"`
}

// RouteConfig is a Route as written in the file.
type RouteConfig struct {
	Name  string   `yaml:"name"`
	When  Match    `yaml:"when"`
	Chain []string `yaml:"chain"`
}

// RetryConfig is a RetryPolicy as written in the file; zero fields keep
// DefaultRetry's values.
type RetryConfig struct {
	MaxAttempts int           `yaml:"max_attempts"`
	Initial     time.Duration `yaml:"initial"`
	Max         time.Duration `yaml:"max"`
	Budget      time.Duration `yaml:"budget"`
}

// Policy returns the retry policy with defaults filled in.
func (r RetryConfig) Policy() RetryPolicy {
	p := DefaultRetry
	if r.MaxAttempts > 0 {
		p.MaxAttempts = r.MaxAttempts
	}
	if r.Initial > 0 {
		p.Initial = r.Initial
	}
	if r.Max > 0 {
		p.Max = r.Max
	}
	if r.Budget > 0 {
		p.Budget = r.Budget
	}
	return p
}

// Validate checks that every name refers to something declared, so a
// typo fails at start-up and not on the first ticket.
func (c ModelsConfig) Validate() error {
	var errs []error
	for name, p := range c.Providers {
		if name == RulesProvider {
			errs = append(errs, fmt.Errorf("provider %q is reserved for the offline rules model", name))
		}
		if p.BaseURL == "" {
			errs = append(errs, fmt.Errorf("provider %s: base_url is required", name))
		}
		if p.APIKeyEnv != "" && p.APIKeyFile != "" {
			errs = append(errs, fmt.Errorf("provider %s: give api_key_env or api_key_file, not both", name))
		}
	}
	for alias, m := range c.Models {
		if _, ok := c.Providers[m.Provider]; !ok && m.Provider != RulesProvider {
			errs = append(errs, fmt.Errorf("model %s: unknown provider %q", alias, m.Provider))
		}
		if m.RequestsPerMinute < 0 || m.TokensPerMinute < 0 {
			errs = append(errs, fmt.Errorf("model %s: rate limits must not be negative", alias))
		}
	}
	if len(c.Routes) == 0 {
		errs = append(errs, errors.New("routes: at least one route is required"))
	}
	for i, r := range c.Routes {
		if r.Name == "" {
			errs = append(errs, fmt.Errorf("routes[%d]: name is required", i))
		}
		if len(r.Chain) == 0 {
			errs = append(errs, fmt.Errorf("route %s: chain is empty", r.Name))
		}
		for _, alias := range r.Chain {
			if _, ok := c.Models[alias]; !ok && alias != RulesAlias {
				errs = append(errs, fmt.Errorf("route %s: unknown model %q", r.Name, alias))
			}
		}
	}
	return errors.Join(errs...)
}

// ModelFactory makes the Model for a provider; cmd/ghostwriter supplies it
// (go-openai for configured providers, the rules model for "rules").
type ModelFactory func(provider string, p ProviderConfig) (Model, error)

// Build validates c and returns the endpoints and routes it describes:
// one model per provider, one breaker per provider, one limiter per model.
// onBreaker, when set, hears every breaker state change.
func (c ModelsConfig) Build(factory ModelFactory, onBreaker func(provider string, from, to BreakerState)) (map[string]*Endpoint, []Route, error) {
	if err := c.Validate(); err != nil {
		return nil, nil, fmt.Errorf("pipeline.config: %w", err)
	}
	models := map[string]Model{}
	breakers := map[string]*Breaker{}
	providers := make([]string, 0, len(c.Providers))
	for name := range c.Providers {
		providers = append(providers, name)
	}
	sort.Strings(providers)
	for _, name := range providers {
		p := c.Providers[name]
		m, err := factory(name, p)
		if err != nil {
			return nil, nil, fmt.Errorf("pipeline.config: provider %s: %w", name, err)
		}
		models[name] = m
		openFor := p.Breaker.OpenFor
		if openFor <= 0 {
			openFor = 30 * time.Second
		}
		breakers[name] = NewBreaker(name, p.Breaker.Failures, openFor, onBreaker)
	}
	rulesModel, err := factory(RulesProvider, ProviderConfig{})
	if err != nil {
		return nil, nil, fmt.Errorf("pipeline.config: rules: %w", err)
	}
	endpoints := map[string]*Endpoint{
		RulesAlias: NewEndpoint(EndpointConfig{Alias: RulesAlias, Name: RulesAlias, Provider: RulesProvider, Offline: true, Model: rulesModel}),
	}
	for alias, m := range c.Models {
		name := m.Name
		if name == "" {
			name = alias
		}
		if m.Provider == RulesProvider {
			endpoints[alias] = NewEndpoint(EndpointConfig{Alias: alias, Name: RulesAlias, Provider: RulesProvider, Offline: true, Model: rulesModel})
			continue
		}
		endpoints[alias] = NewEndpoint(EndpointConfig{
			Alias: alias, Name: name, Provider: m.Provider, Model: models[m.Provider], Breaker: breakers[m.Provider],
			RequestsPerMinute: m.RequestsPerMinute, TokensPerMinute: m.TokensPerMinute,
		})
	}
	routes := make([]Route, len(c.Routes))
	for i, r := range c.Routes {
		routes[i] = Route{Name: r.Name, When: r.When, Chain: r.Chain}
	}
	return endpoints, routes, nil
}
