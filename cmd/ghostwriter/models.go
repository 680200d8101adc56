package main

import (
	"fmt"
	"log/slog"
	"os"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/ghostwriter-ai/ghostwriter/metrics"
	"github.com/ghostwriter-ai/ghostwriter/pipeline"
	"github.com/ghostwriter-ai/ghostwriter/pipeline/openai"
	"github.com/ghostwriter-ai/ghostwriter/pipeline/rules"
	"github.com/ghostwriter-ai/ghostwriter/prompts"
)

// flagProvider names the provider that --openai-base-url and
// OPENAI_API_KEY describe when the config file has no models section.
const flagProvider = "openai"

// loadPrompts loads every prompt: from --prompts-dir, or the built-in copy.
func (wc *workerConfig) loadPrompts() (*prompts.Set, error) {
	return prompts.Load(promptsFS(wc.promptsDir))
}

// modelsConfig is the models section of the config file when it has one;
// otherwise what the flags say: one OpenAI-compatible model with the rules
// model behind it, or the rules model alone.
func (wc *workerConfig) modelsConfig(configPath string, prompt *prompts.Prompt) (pipeline.ModelsConfig, error) {
	if configPath != "" {
		raw, err := os.ReadFile(configPath)
		if err != nil {
			return pipeline.ModelsConfig{}, usagef("config: %v", err)
		}
		var file struct {
			Models *pipeline.ModelsConfig `yaml:"models"`
		}
		if err := yaml.Unmarshal(raw, &file); err != nil {
			return pipeline.ModelsConfig{}, usagef("config %s: %v", configPath, err)
		}
		if file.Models != nil {
			return *file.Models, nil
		}
	}
	if wc.openAIBaseURL == "" && wc.apiKey == "" {
		return pipeline.ModelsConfig{Routes: []pipeline.RouteConfig{{Name: "default", Chain: []string{pipeline.RulesAlias}}}}, nil
	}
	base := wc.openAIBaseURL
	if base == "" {
		base = "https://api.openai.com/v1"
	}
	model := wc.model
	if model == "" {
		model = prompt.Model.Name
	}
	return pipeline.ModelsConfig{
		Providers: map[string]pipeline.ProviderConfig{flagProvider: {BaseURL: base, Timeout: wc.modelTimeout}},
		Models:    map[string]pipeline.ModelConfig{model: {Provider: flagProvider}},
		Routes:    []pipeline.RouteConfig{{Name: "default", Chain: []string{model, pipeline.RulesAlias}}},
	}, nil
}

// buildPipeline turns the models configuration into a pipeline, and
// describes its routes for the start-up log line.
func (wc *workerConfig) buildPipeline(configPath string, getenv func(string) string, prompt *prompts.Prompt, log *slog.Logger, m *metrics.Metrics) (*pipeline.Pipeline, string, error) {
	mc, err := wc.modelsConfig(configPath, prompt)
	if err != nil {
		return nil, "", err
	}
	if wc.onlyModel != "" {
		mc.Routes = []pipeline.RouteConfig{{Name: "only-" + wc.onlyModel, Chain: []string{wc.onlyModel}}}
	}
	factory := func(name string, p pipeline.ProviderConfig) (pipeline.Model, error) {
		m, err := wc.newModel(name, p, getenv)
		if err == nil && wc.wrapModel != nil {
			m = wc.wrapModel(m)
		}
		return m, err
	}
	onBreaker := func(provider string, from, to pipeline.BreakerState) {
		log.Warn("circuit breaker", "provider", provider, "from", from.String(), "to", to.String())
		m.CircuitState(provider, int(to)) // gobreaker: 0 closed, 1 half-open, 2 open
	}
	endpoints, routes, err := mc.Build(factory, onBreaker)
	if err != nil {
		return nil, "", usageError{err}
	}
	p := wc.basePipeline()
	p.Endpoints, p.Routes, p.Retry = endpoints, routes, mc.Retry.Policy()
	desc := make([]string, len(routes))
	for i, r := range routes {
		desc[i] = r.Name + ": " + strings.Join(r.Chain, " → ")
	}
	return p, strings.Join(desc, "; "), nil
}

// newModel makes the model of one provider: go-openai for a configured
// one, the rules model for "rules".
func (wc *workerConfig) newModel(name string, p pipeline.ProviderConfig, getenv func(string) string) (pipeline.Model, error) {
	if name == pipeline.RulesProvider {
		return rules.Model{}, nil
	}
	key, err := providerKey(name, p, wc.apiKey, getenv)
	if err != nil {
		return nil, err
	}
	timeout := p.Timeout
	if timeout <= 0 {
		timeout = wc.modelTimeout
	}
	return openai.New(openai.Config{BaseURL: p.BaseURL, APIKey: openai.Secret(key), Timeout: timeout, Provider: name})
}

// basePipeline is a pipeline with the settings that do not depend on the
// models: the review threshold, the input limits and the link policy.
func (wc *workerConfig) basePipeline() *pipeline.Pipeline {
	p := &pipeline.Pipeline{
		CallTimeout: wc.modelTimeout, ReviewBelow: 0.5,
		MaxAge: wc.maxAge, MaxBodyBytes: wc.maxBodyBytes,
		FailUnknownLinks: wc.failUnknownLinks,
	}
	for _, h := range strings.Split(wc.allowedLinks, ",") {
		if h = strings.TrimSpace(h); h != "" {
			p.AllowedLinkHosts = append(p.AllowedLinkHosts, h)
		}
	}
	return p
}

// providerKey finds a provider's API key: its file, its environment
// variable, or for the provider the flags describe, the flag's key.
func providerKey(name string, p pipeline.ProviderConfig, flagKey string, getenv func(string) string) (string, error) {
	switch {
	case p.APIKeyFile != "":
		raw, err := os.ReadFile(p.APIKeyFile)
		if err != nil {
			return "", fmt.Errorf("provider %s api_key_file: %w", name, err)
		}
		return strings.TrimSpace(string(raw)), nil
	case p.APIKeyEnv != "":
		key := getenv(p.APIKeyEnv)
		if key == "" {
			return "", fmt.Errorf("provider %s: environment variable %s is empty", name, p.APIKeyEnv)
		}
		return key, nil
	case name == flagProvider:
		return flagKey, nil
	}
	return "", nil // Ollama, vLLM and llama.cpp need none
}
