package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nkeys"

	"github.com/ghostwriter-ai/ghostwriter/internal/devsecrets"
	"github.com/ghostwriter-ai/ghostwriter/internal/embednats"
	"github.com/ghostwriter-ai/ghostwriter/internal/fakeai"
	"github.com/ghostwriter-ai/ghostwriter/internal/pgtest"
	"github.com/ghostwriter-ai/ghostwriter/internal/poll"
	"github.com/ghostwriter-ai/ghostwriter/schemas"
)

// natsConf is the production server configuration the tests load.
const natsConf = "../../deploy/nats/nats-server.conf"

// inboxes are the inbox prefixes deploy/nats/accounts.conf lets each user
// subscribe below.
var inboxes = map[string]string{
	"product": "_INBOX_product", "worker": "_INBOX_gw_worker", "ledger": "_INBOX_gw_ledger",
	"ops": "_INBOX_gw_ops", "analytics": "_INBOX_analytics",
}

// securedNATS is a server started from deploy/nats/nats-server.conf with
// fresh certificates and one nkey per user of accounts.conf.
type securedNATS struct {
	url   string
	tls   devsecrets.TLS
	seeds map[string]string
}

func startSecuredNATS(t *testing.T, tweak func(*server.Options)) *securedNATS {
	t.Helper()
	dir := t.TempDir()
	certs, err := devsecrets.WriteTLS(filepath.Join(dir, "tls"), []string{"127.0.0.1", "localhost"})
	if err != nil {
		t.Fatal(err)
	}
	users, err := devsecrets.WriteUsers(filepath.Join(dir, "nkeys"), natsUsers)
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("NATS_TLS_CERT", certs.Cert)
	t.Setenv("NATS_TLS_KEY", certs.Key)
	t.Setenv("NATS_TLS_CA", certs.CA)
	s := &securedNATS{tls: certs, seeds: map[string]string{}}
	for _, u := range users {
		t.Setenv("NKEY_"+strings.ToUpper(u.Name), u.Public)
		s.seeds[u.Name] = u.SeedFile
	}
	srv := embednats.StartConfigTest(t, natsConf, tweak)
	s.url = strings.Replace(srv.ClientURL(), "nats://", "tls://", 1)
	return s
}

// flags are the connection flags of a ghostwriter subcommand run as user.
func (s *securedNATS) flags(user string) []string {
	return []string{"--nats-url", s.url, "--nats-nkey", s.seeds[user], "--nats-tls-ca", s.tls.CA,
		"--nats-inbox-prefix", inboxes[user]}
}

// connect connects as user the way a product would, collecting the
// server's asynchronous errors (permission violations).
func (s *securedNATS) connect(t *testing.T, user string) (*nats.Conn, *asyncErrs) {
	t.Helper()
	errs := &asyncErrs{}
	auth, err := nats.NkeyOptionFromSeed(s.seeds[user])
	if err != nil {
		t.Fatal(err)
	}
	nc, err := nats.Connect(s.url, auth, nats.RootCAs(s.tls.CA), nats.CustomInboxPrefix(inboxes[user]),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) { errs.add(err) }))
	if err != nil {
		t.Fatalf("connect as %s: %v", user, err)
	}
	t.Cleanup(nc.Close)
	return nc, errs
}

type asyncErrs struct {
	mu   sync.Mutex
	errs []error
}

func (a *asyncErrs) add(err error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.errs = append(a.errs, err)
}

// violation reports whether the server refused subject.
func (a *asyncErrs) violation(subject string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, err := range a.errs {
		if errors.Is(err, nats.ErrPermissionViolation) && strings.Contains(err.Error(), `"`+subject+`"`) {
			return true
		}
	}
	return false
}

// The production NATS configuration, loaded from deploy/nats: ops
// provisions, the product publishes a ticket, a worker holding only its
// own user's rights drafts it with a model (its API key a canary), the
// product reads the draft, an unreadable event becomes a dead letter, and
// the ledger user records the cost. Then, with the worker's credentials,
// everything outside its job is refused, and the key is in no event.
func TestLeastPrivilegeUsers(t *testing.T) {
	s := startSecuredNATS(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	dir := t.TempDir()
	canary := "sk-CANARY-" + devsecrets.Password(8)
	keyFile := filepath.Join(dir, "openai-key")
	if err := writeFile(keyFile, canary+"\n"); err != nil {
		t.Fatal(err)
	}
	ai := fakeai.New()
	defer ai.Close()

	var out syncBuffer
	if err := run(ctx, append([]string{"streams", "apply"}, s.flags("ops")...), noEnv, strings.NewReader(""), &out, &out); err != nil {
		t.Fatalf("streams apply as ops: %v\n%s", err, out.String())
	}

	var workerLog syncBuffer
	workerCtx, stopWorker := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		args := append([]string{"worker", "--log-format", "json", "--log-level", "debug", "--cache", "--concurrency", "2"}, s.flags("worker")...)
		done <- run(workerCtx, args, func(k string) string {
			return map[string]string{"OPENAI_BASE_URL": ai.URL(), "OPENAI_API_KEY_FILE": keyFile}[k]
		}, strings.NewReader(""), &syncBuffer{}, &workerLog)
	}()
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			stopWorker()
			if err := <-done; err != nil {
				t.Errorf("worker returned %v\n%s", err, workerLog.String())
			}
		}
	}
	defer stop()

	product, _ := s.connect(t, "product")
	drafts, err := product.SubscribeSync(schemas.TypeDraftReady)
	if err != nil {
		t.Fatal(err)
	}
	if err := product.Flush(); err != nil {
		t.Fatal(err)
	}
	args := append([]string{"publish", "--ticket-id", "T-LP-1"}, s.flags("product")...)
	if err := run(ctx, append(args, "-"), noEnv, strings.NewReader("I was charged twice this month"), &out, &out); err != nil {
		t.Fatalf("publish as product: %v\n%s", err, out.String())
	}
	m, err := drafts.NextMsg(30 * time.Second)
	if err != nil {
		stop()
		t.Fatalf("no draft for the product: %v\nworker log:\n%s", err, workerLog.String())
	}
	var draft struct {
		Data schemas.DraftReady `json:"data"`
	}
	if err := json.Unmarshal(m.Data, &draft); err != nil || draft.Data.TicketID != "T-LP-1" || draft.Data.Provider != "openai" {
		t.Fatalf("draft %s: %v", m.Data, err)
	}

	// An event nobody can read becomes a dead letter, which the worker
	// may publish too.
	if err := product.Publish(schemas.TypeTicketCreated, []byte("not an event")); err != nil {
		t.Fatal(err)
	}
	ops, _ := s.connect(t, "ops")
	opsJS, err := jetstream.New(ops)
	if err != nil {
		t.Fatal(err)
	}
	dlq, err := opsJS.Stream(ctx, schemas.StreamDLQ)
	if err != nil {
		t.Fatal(err)
	}
	poll.Until(t, 20*time.Second, "the worker's dead letter", func() bool {
		info, err := dlq.Info(ctx)
		return err == nil && info.State.Msgs == 1
	})

	t.Run("ledger", func(t *testing.T) {
		dbFile := filepath.Join(dir, "database-url")
		if err := writeFile(dbFile, pgtest.DSN(t)); err != nil {
			t.Fatal(err)
		}
		var log syncBuffer
		lctx, stopLedger := context.WithCancel(ctx)
		ldone := make(chan error, 1)
		go func() {
			ldone <- run(lctx, append([]string{"ledger", "--log-format", "json"}, s.flags("ledger")...),
				func(k string) string { return map[string]string{"GHOSTWRITER_DATABASE_URL_FILE": dbFile}[k] },
				strings.NewReader(""), &syncBuffer{}, &log)
		}()
		// One cost event per task: a batch of two, or two of one.
		poll.Until(t, 20*time.Second, "the ledger to record the cost events", func() bool {
			return strings.Contains(log.String(), `"recorded":2`) || strings.Count(log.String(), `"recorded":1`) == 2
		})
		stopLedger()
		if err := <-ldone; err != nil {
			t.Errorf("ledger returned %v\n%s", err, log.String())
		}
		if strings.Contains(log.String(), "ermissions") {
			t.Errorf("the ledger met a permission violation:\n%s", log.String())
		}
	})

	stop()
	if log := workerLog.String(); strings.Contains(log, "ermissions") || strings.Contains(log, canary) {
		t.Errorf("the worker met a permission violation or logged its key:\n%s", log)
	}

	// What the worker may not do. Each is refused by the server; an API
	// request never gets an answer, so it is cancelled once refused.
	worker, errs := s.connect(t, "worker")
	js, err := jetstream.New(worker)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		subject string
		do      func(ctx context.Context) error
	}{
		{"publish ticket.created", schemas.TypeTicketCreated, func(context.Context) error {
			return worker.Publish(schemas.TypeTicketCreated, []byte(`{}`))
		}},
		{"delete TICKETS", "$JS.API.STREAM.DELETE.TICKETS", func(ctx context.Context) error {
			return js.DeleteStream(ctx, schemas.StreamTickets)
		}},
		{"purge TICKETS", "$JS.API.STREAM.PURGE.TICKETS", func(ctx context.Context) error {
			_, err := worker.RequestWithContext(ctx, "$JS.API.STREAM.PURGE.TICKETS", []byte(`{}`))
			return err
		}},
		{"create a consumer", "$JS.API.CONSUMER.CREATE.TICKETS.thief.ticket.created", func(ctx context.Context) error {
			_, err := js.CreateConsumer(ctx, schemas.StreamTickets, jetstream.ConsumerConfig{Durable: "thief", FilterSubject: schemas.TypeTicketCreated})
			return err
		}},
		{"update its own consumer", "$JS.API.CONSUMER.CREATE.TICKETS.ghostwriter-drafts.ticket.created", func(ctx context.Context) error {
			_, err := js.UpdateConsumer(ctx, schemas.StreamTickets, jetstream.ConsumerConfig{Durable: schemas.ConsumerDrafts,
				FilterSubject: schemas.TypeTicketCreated, AckPolicy: jetstream.AckExplicitPolicy, MaxDeliver: 100})
			return err
		}},
		{"subscribe to everything", ">", func(context.Context) error {
			_, err := worker.SubscribeSync(">")
			return err
		}},
		{"subscribe to other clients' replies", "_INBOX.>", func(context.Context) error {
			_, err := worker.SubscribeSync("_INBOX.>")
			return err
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rctx, cancel := context.WithCancel(ctx)
			defer cancel()
			go func() {
				for rctx.Err() == nil && !errs.violation(tt.subject) {
					time.Sleep(5 * time.Millisecond)
				}
				cancel()
			}()
			_ = tt.do(rctx)
			poll.Until(t, 10*time.Second, "the server to refuse "+tt.subject, func() bool { return errs.violation(tt.subject) })
		})
	}

	// Nothing was deleted, purged or created meanwhile.
	st, err := opsJS.Stream(ctx, schemas.StreamTickets)
	if err != nil {
		t.Fatalf("TICKETS: %v", err)
	}
	info := st.CachedInfo()
	if info.State.Msgs < 2 || info.State.Consumers != 3 {
		t.Errorf("TICKETS holds %d messages and %d consumers; want the ticket, its results, ghostwriter-drafts, ghostwriter-triage and ghostwriter-feedback alone",
			info.State.Msgs, info.State.Consumers)
	}
	// The API key is in no event.
	for _, name := range []string{schemas.StreamTickets, schemas.StreamCosts} {
		st, err := opsJS.Stream(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		for seq := uint64(1); seq <= st.CachedInfo().State.LastSeq; seq++ {
			if m, err := st.GetMsg(ctx, seq); err == nil && strings.Contains(string(m.Data)+m.Header.Get("Authorization"), canary) {
				t.Errorf("%s message %d carries the API key", name, seq)
			}
		}
	}
}

// TLS is required: a plain-text client, a client that does not trust the
// server's CA, and one without an nkey are refused. With the server
// verifying clients, a certificate from another CA is refused too, and
// --nats-tls-cert/--nats-tls-key get in.
func TestNATSRequiresTLS(t *testing.T) {
	s := startSecuredNATS(t, func(o *server.Options) {
		o.TLSVerify = true
		o.TLSConfig.ClientAuth = tls.RequireAndVerifyClientCert
	})
	other, err := devsecrets.WriteTLS(t.TempDir(), []string{"127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))

	t.Run("plain text", func(t *testing.T) {
		conn, err := net.DialTimeout("tcp", strings.TrimPrefix(s.url, "tls://"), 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
		r := bufio.NewReader(conn)
		info, err := r.ReadString('\n')
		if err != nil || !strings.Contains(info, `"tls_required":true`) {
			t.Fatalf("INFO %q, %v; want tls_required", info, err)
		}
		_, _ = conn.Write([]byte("CONNECT {\"verbose\":true}\r\nPING\r\n"))
		rest, _ := r.ReadString('\n')
		if strings.Contains(rest, "PONG") || strings.Contains(rest, "+OK") {
			t.Errorf("a plain-text client was answered %q", rest)
		}
	})

	tests := []struct {
		name string
		cfg  natsConfig
		ok   bool
	}{
		{"no CA", natsConfig{nkey: s.seeds["ops"], tlsCert: s.tls.ClientCert, tlsKey: s.tls.ClientKey}, false},
		{"no client certificate", natsConfig{nkey: s.seeds["ops"], tlsCA: s.tls.CA}, false},
		{"a client certificate from another CA", natsConfig{nkey: s.seeds["ops"], tlsCA: s.tls.CA, tlsCert: other.ClientCert, tlsKey: other.ClientKey}, false},
		{"no nkey", natsConfig{tlsCA: s.tls.CA, tlsCert: s.tls.ClientCert, tlsKey: s.tls.ClientKey}, false},
		{"another user's key pair", natsConfig{nkey: writeOtherSeed(t), tlsCA: s.tls.CA, tlsCert: s.tls.ClientCert, tlsKey: s.tls.ClientKey}, false},
		{"CA, client certificate and nkey", natsConfig{nkey: s.seeds["ops"], tlsCA: s.tls.CA, tlsCert: s.tls.ClientCert, tlsKey: s.tls.ClientKey}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.cfg.url, tt.cfg.inboxPrefix = s.url, inboxes["ops"]
			nc, _, err := connect(tt.cfg, "ghostwriter-test", log)
			if err == nil {
				nc.Close()
			}
			if (err == nil) != tt.ok {
				t.Errorf("connect: %v; want success %v", err, tt.ok)
			}
		})
	}
}

// writeOtherSeed writes the seed of a user the server does not know.
func writeOtherSeed(t *testing.T) string {
	t.Helper()
	users, err := devsecrets.WriteUsers(t.TempDir(), []string{"stranger"})
	if err != nil {
		t.Fatal(err)
	}
	return users[0].SeedFile
}

// --nats-creds signs in with a JWT credentials file, as NATS operator mode
// (nsc, Synadia Cloud) hands them out.
func TestNATSCredentials(t *testing.T) {
	operator, _ := nkeys.CreateOperator()
	opub, _ := operator.PublicKey()
	oc := jwt.NewOperatorClaims(opub)
	ojwt, err := oc.Encode(operator)
	if err != nil {
		t.Fatal(err)
	}
	op, err := jwt.DecodeOperatorClaims(ojwt)
	if err != nil {
		t.Fatal(err)
	}
	sys, _ := nkeys.CreateAccount()
	syspub, _ := sys.PublicKey()
	sysjwt, err := jwt.NewAccountClaims(syspub).Encode(operator)
	if err != nil {
		t.Fatal(err)
	}
	account, _ := nkeys.CreateAccount()
	apub, _ := account.PublicKey()
	ac := jwt.NewAccountClaims(apub)
	ac.Limits.JetStreamLimits = jwt.JetStreamLimits{MemoryStorage: -1, DiskStorage: -1, Streams: -1, Consumer: -1}
	ajwt, err := ac.Encode(operator)
	if err != nil {
		t.Fatal(err)
	}
	user, _ := nkeys.CreateUser()
	upub, _ := user.PublicKey()
	uc := jwt.NewUserClaims(upub)
	uc.IssuerAccount = apub
	ujwt, err := uc.Encode(account)
	if err != nil {
		t.Fatal(err)
	}
	seed, _ := user.Seed()
	creds, err := jwt.FormatUserConfig(ujwt, seed)
	if err != nil {
		t.Fatal(err)
	}
	credsFile := filepath.Join(t.TempDir(), "user.creds")
	if err := os.WriteFile(credsFile, creds, 0o600); err != nil {
		t.Fatal(err)
	}
	resolver := &server.MemAccResolver{}
	for pub, claims := range map[string]string{syspub: sysjwt, apub: ajwt} {
		if err := resolver.Store(pub, claims); err != nil {
			t.Fatal(err)
		}
	}
	srv, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: server.RANDOM_PORT, JetStream: true,
		StoreDir: t.TempDir(), TrustedOperators: []*jwt.OperatorClaims{op}, AccountResolver: resolver, SystemAccount: syspub, NoSigs: true, NoLog: true})
	if err != nil {
		t.Fatal(err)
	}
	srv.Start()
	defer func() {
		srv.Shutdown()
		srv.WaitForShutdown()
	}()
	if !srv.ReadyForConnections(10 * time.Second) {
		t.Fatal("server not ready")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out syncBuffer
	if err := run(ctx, []string{"streams", "apply", "--nats-url", srv.ClientURL()}, noEnv, strings.NewReader(""), &out, &out); err == nil {
		t.Fatal("an anonymous client was let in")
	}
	err = run(ctx, []string{"streams", "apply", "--nats-url", srv.ClientURL()},
		func(k string) string { return map[string]string{"NATS_CREDS": credsFile}[k] }, strings.NewReader(""), &out, &out)
	if err != nil {
		t.Fatalf("streams apply with NATS_CREDS: %v\n%s", err, out.String())
	}
	err = run(ctx, []string{"streams", "apply", "--nats-url", srv.ClientURL(), "--nats-creds", credsFile, "--nats-nkey", credsFile},
		noEnv, strings.NewReader(""), &out, &out)
	if exitCode(err, &out) != 2 {
		t.Errorf("--nats-creds with --nats-nkey: %v, want a usage error", err)
	}
}
