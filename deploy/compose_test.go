package deploy_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"

	"github.com/ghostwriter-ai/ghostwriter/internal/embednats"
)

// deploy/compose.yaml is valid against the Compose specification (what
// `docker compose config` checks) and wires what the README promises: one
// NATS user per service with the inbox prefix accounts.conf lets it read,
// secrets as files, the one-shot jobs before the workers, two workers that
// outlast their longest task, and every mounted file present.
func TestComposeFile(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	opts, err := cli.NewProjectOptions([]string{"compose.yaml"},
		cli.WithWorkingDirectory("."), cli.WithProfiles([]string{"tools"}),
		cli.WithEnv([]string{"OPENAI_API_KEY=", "OPENAI_BASE_URL="}))
	if err != nil {
		t.Fatal(err)
	}
	p, err := opts.LoadProject(ctx)
	if err != nil {
		t.Fatalf("compose.yaml: %v", err)
	}
	for _, name := range []string{"secrets", "nats", "postgres", "migrate", "streams", "worker", "ledger", "publish", "prometheus", "grafana"} {
		if _, ok := p.Services[name]; !ok {
			t.Errorf("no %s service", name)
		}
	}

	subscribe := natsSubscribeRights(t)
	for name, s := range p.Services {
		if s.Image != "ghostwriter:local" {
			continue
		}
		if s.ReadOnly != true || !slices.Contains(s.CapDrop, "ALL") {
			t.Errorf("%s: want a read-only root and no capabilities", name)
		}
		for k, v := range s.Environment {
			secretish := strings.Contains(k, "PASSWORD") || strings.HasSuffix(k, "API_KEY") || k == "GHOSTWRITER_DATABASE_URL"
			if secretish && v != nil && *v != "" {
				t.Errorf("%s: %s holds a secret inline; give it as a file", name, k)
			}
		}
		seed := env(s, "NATS_NKEY")
		if seed == "" {
			continue
		}
		user := strings.TrimSuffix(filepath.Base(seed), ".nk")
		prefix := env(s, "GHOSTWRITER_NATS_INBOX_PREFIX")
		if !slices.Contains(subscribe[user], prefix+".>") {
			t.Errorf("%s connects as %s with inbox prefix %q; accounts.conf lets %s subscribe to %v",
				name, user, prefix, user, subscribe[user])
		}
		if env(s, "NATS_CA") == "" || !strings.HasPrefix(env(s, "NATS_URL"), "tls://") {
			t.Errorf("%s: NATS without TLS", name)
		}
	}

	w := p.Services["worker"]
	if w.Deploy == nil || w.Deploy.Replicas == nil || *w.Deploy.Replicas != 2 {
		t.Error("want two workers")
	}
	if w.StopGracePeriod == nil || time.Duration(*w.StopGracePeriod) <= 2*time.Minute {
		t.Error("workers must get longer than a task (2m) to stop")
	}
	for _, dep := range []struct{ service, on, condition string }{
		{"nats", "secrets", types.ServiceConditionCompletedSuccessfully},
		{"postgres", "secrets", types.ServiceConditionCompletedSuccessfully},
		{"migrate", "postgres", types.ServiceConditionHealthy},
		{"streams", "nats", types.ServiceConditionHealthy},
		{"worker", "streams", types.ServiceConditionCompletedSuccessfully},
		{"worker", "migrate", types.ServiceConditionCompletedSuccessfully},
		{"ledger", "streams", types.ServiceConditionCompletedSuccessfully},
		{"ledger", "migrate", types.ServiceConditionCompletedSuccessfully},
	} {
		if got := p.Services[dep.service].DependsOn[dep.on].Condition; got != dep.condition {
			t.Errorf("%s depends on %s with %q, want %q", dep.service, dep.on, got, dep.condition)
		}
	}
	for _, job := range []string{"secrets", "migrate", "streams", "publish"} {
		if s := p.Services[job]; s.Restart != "no" || s.HealthCheck == nil || !s.HealthCheck.Disable {
			t.Errorf("%s is a one-shot job: want restart no and no health check", job)
		}
	}

	for name, s := range p.Services {
		for _, v := range s.Volumes {
			if v.Type != types.VolumeTypeBind {
				continue
			}
			if _, err := os.Stat(v.Source); err != nil {
				t.Errorf("%s mounts %s: %v", name, v.Source, err)
			}
		}
		if s.Build != nil {
			if _, err := os.Stat(filepath.Join(s.Build.Context, s.Build.Dockerfile)); err != nil {
				t.Errorf("%s builds from %v", name, err)
			}
		}
	}
}

func env(s types.ServiceConfig, key string) string {
	if v := s.Environment[key]; v != nil {
		return *v
	}
	return ""
}

// natsSubscribeRights maps each user of deploy/nats/accounts.conf to the
// subjects it may subscribe to.
func natsSubscribeRights(t *testing.T) map[string][]string {
	t.Helper()
	natsEnv(t)
	o, err := embednats.CheckConfig("nats/nats-server.conf")
	if err != nil {
		t.Fatal(err)
	}
	rights := map[string][]string{}
	for _, name := range []string{"product", "worker", "ledger", "ops", "analytics"} {
		pub := os.Getenv("NKEY_" + strings.ToUpper(name))
		for _, u := range o.Nkeys {
			if u.Nkey == pub && u.Permissions != nil && u.Permissions.Subscribe != nil {
				rights[name] = u.Permissions.Subscribe.Allow
			}
		}
	}
	return rights
}
