package deploy_test

import (
	"crypto/tls"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ghostwriter-ai/ghostwriter/internal/devsecrets"
	"github.com/ghostwriter-ai/ghostwriter/internal/embednats"
)

// natsEnv sets what deploy/nats/*.conf read from the environment.
func natsEnv(t *testing.T) {
	t.Helper()
	dir := t.TempDir()
	certs, err := devsecrets.WriteTLS(filepath.Join(dir, "tls"), []string{"localhost"})
	if err != nil {
		t.Fatal(err)
	}
	users, err := devsecrets.WriteUsers(filepath.Join(dir, "nkeys"), []string{"product", "worker", "ledger", "ops", "analytics"})
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("NATS_TLS_CERT", certs.Cert)
	t.Setenv("NATS_TLS_KEY", certs.Key)
	t.Setenv("NATS_TLS_CA", certs.CA)
	for _, u := range users {
		t.Setenv("NKEY_"+strings.ToUpper(u.Name), u.Public)
	}
	t.Setenv("NATS_SERVER_NAME", "nats-1")
	t.Setenv("NATS_ROUTES", "[nats-route://nats-1:6222, nats-route://nats-2:6222, nats-route://nats-3:6222]")
}

// The NATS configurations pass nats-server -t and say what the README
// promises: JetStream on file storage with fsync before every ack, TLS
// required, the five users in one account, and for the cluster three
// routes over verified TLS. (cmd/ghostwriter's tests run a server from
// nats-server.conf and check the users' rights.)
func TestNATSConfigs(t *testing.T) {
	natsEnv(t)
	tests := []struct {
		file    string
		cluster bool
	}{
		{"nats/nats-server.conf", false},
		{"nats/cluster.conf", true},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			o, err := embednats.CheckConfig(tt.file)
			if err != nil {
				t.Fatalf("nats-server -t %s: %v", tt.file, err)
			}
			if !o.JetStream || !o.SyncAlways || o.StoreDir == "" {
				t.Errorf("jetstream %v, sync_interval always %v, store_dir %q", o.JetStream, o.SyncAlways, o.StoreDir)
			}
			if o.TLSConfig == nil {
				t.Error("client TLS is not required")
			}
			if len(o.Nkeys) != 5 {
				t.Errorf("%d nkey users, want 5", len(o.Nkeys))
			}
			var accounts []string
			for _, n := range o.Nkeys {
				accounts = append(accounts, n.Account.Name)
				if n.Permissions == nil || n.Permissions.Subscribe == nil || len(n.Permissions.Subscribe.Allow) == 0 {
					t.Errorf("user %s has no subscribe allow list", n.Nkey)
				}
			}
			for _, a := range accounts {
				if a != "GHOSTWRITER" {
					t.Errorf("a user in account %s, want GHOSTWRITER", a)
				}
			}
			if tt.cluster {
				if o.ServerName != "nats-1" || len(o.Routes) != 3 || o.Cluster.TLSConfig == nil ||
					o.Cluster.TLSConfig.ClientAuth != tls.RequireAndVerifyClientCert {
					t.Errorf("cluster: name %q, %d routes, TLS %v", o.ServerName, len(o.Routes), o.Cluster.TLSConfig != nil)
				}
			}
		})
	}
}
