package supportdesk_test

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/goleak"

	"github.com/ghostwriter-ai/ghostwriter/consumers"
	"github.com/ghostwriter-ai/ghostwriter/internal/embednats"
	"github.com/ghostwriter-ai/ghostwriter/internal/poll"
	"github.com/ghostwriter-ai/ghostwriter/ledger"
	"github.com/ghostwriter-ai/ghostwriter/pipeline"
	"github.com/ghostwriter-ai/ghostwriter/pipeline/rules"
	"github.com/ghostwriter-ai/ghostwriter/prompts"
	"github.com/ghostwriter-ai/ghostwriter/schemas"
	"github.com/ghostwriter-ai/ghostwriter/supportdesk"
)

// The browser tests run the whole thing in this process, as a newcomer
// would meet it: JetStream, ghostwriter's streams and its worker with the
// offline rules model, the feedback consumer over an in-memory ledger,
// and the desk on a free port, driven through headless Chromium. (The
// tests may import ghostwriter; the desk itself may not.)

var updateScreenshot = flag.Bool("update-screenshot", false, "write testdata/screenshots/ticket.png for the README")

// EnvArtifacts names a folder for test artifacts such as screenshots;
// default: ghostwriter-artifacts in the temporary folder.
const EnvArtifacts = "GHOSTWRITER_ARTIFACTS"

func TestMain(m *testing.M) {
	flag.Parse()
	code := m.Run()
	stopBrowser()
	if code == 0 {
		// Every goroutine the desk, the consumers and the browser started
		// has ended. The embedded server's and client's own background
		// goroutines end shortly after Shutdown/Close, not synchronously.
		if err := goleak.Find(
			goleak.IgnoreTopFunction("github.com/nats-io/nats-server/v2/server.(*Server).Shutdown.func1"),
			goleak.IgnoreAnyFunction("github.com/nats-io/nats-server/v2/server.(*fileStore).syncBlocks"),
		); err != nil {
			fmt.Fprintf(os.Stderr, "goleak: %v\n", err)
			code = 1
		}
	}
	os.Exit(code)
}

var browser struct {
	once    sync.Once
	ctx     context.Context
	cancel  func()
	dataDir string
	err     error
}

// chromium finds the browser: Debian's chromium package.
func chromium() string {
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// tab opens a new tab in the one shared headless browser, closed when
// the test ends. Without Chromium the test is skipped, or fails under
// CI=true: CI installs it (.ci/run) and must never pass by skipping.
func tab(t *testing.T) context.Context {
	t.Helper()
	path := chromium()
	if path == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("chromium is not installed, and CI=true: the browser tests must run in CI (.ci/run installs it)")
		}
		t.Skip("chromium is not installed (apt-get install chromium); skipping a browser test")
	}
	browser.once.Do(func() {
		browser.dataDir, browser.err = os.MkdirTemp("", "supportdesk-chromium-")
		if browser.err != nil {
			return
		}
		alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
			chromedp.ExecPath(path), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
			chromedp.NoDefaultBrowserCheck, chromedp.UserDataDir(browser.dataDir), chromedp.WindowSize(1100, 900),
			chromedp.Flag("disable-dev-shm-usage", true), chromedp.Flag("disable-background-networking", true),
			chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-extensions", true),
			chromedp.Flag("disable-sync", true), chromedp.Flag("force-color-profile", "srgb"),
			chromedp.Flag("hide-scrollbars", true), chromedp.Flag("mute-audio", true))
		ctx, cancelBrowser := chromedp.NewContext(alloc)
		browser.ctx, browser.cancel = ctx, func() { cancelBrowser(); cancelAlloc() }
		browser.err = chromedp.Do(ctx) // starts the browser, which lives as long as ctx
	})
	if browser.err != nil {
		t.Fatalf("start chromium: %v", browser.err)
	}
	tabCtx, closeTab := chromedp.NewContext(browser.ctx)
	t.Cleanup(closeTab)
	if err := chromedp.Do(tabCtx); err != nil {
		t.Fatalf("open a tab: %v", err)
	}
	ctx, cancel := context.WithTimeout(tabCtx, 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func stopBrowser() {
	if browser.cancel != nil {
		browser.cancel()
	}
	if browser.dataDir != "" {
		os.RemoveAll(browser.dataDir)
	}
}

// system is ghostwriter and the desk, in this process.
type system struct {
	t      *testing.T
	ctx    context.Context
	js     jetstream.JetStream
	url    string
	ledger *ledger.Memory
	worker func() // stops the worker; nil while none runs
}

func newSystem(t *testing.T, draftTimeout time.Duration) *system {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	srv := embednats.StartTest(t)
	nc, err := nats.Connect(srv.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	if err := consumers.Apply(ctx, js, consumers.DefaultTopology()); err != nil {
		t.Fatal(err)
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	s := &system{t: t, ctx: ctx, js: js, ledger: ledger.NewMemory()}

	fcons, err := consumers.FeedbackConsumer(ctx, js)
	if err != nil {
		t.Fatal(err)
	}
	s.goUntilCleanup("feedback", (&consumers.Feedback{JS: js, Consumer: fcons, Store: s.ledger, Logger: quiet}).Run)

	desk, err := supportdesk.New(supportdesk.Config{Store: supportdesk.NewMemory(), JS: js, DraftTimeout: draftTimeout, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.url = "http://" + ln.Addr().String()
	s.goUntilCleanup("desk", func(ctx context.Context) error { return desk.Run(ctx, ln) })
	return s
}

// goUntilCleanup runs fn until the test ends.
func (s *system) goUntilCleanup(name string, fn func(context.Context) error) (stop func()) {
	ctx, cancel := context.WithCancel(s.ctx)
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := fn(ctx); err != nil && !errors.Is(err, context.Canceled) {
			s.t.Errorf("%s: %v", name, err)
		}
	})
	var once sync.Once
	stop = func() { once.Do(func() { cancel(); wg.Wait() }) }
	s.t.Cleanup(stop)
	return stop
}

// startWorker runs ghostwriter's worker, drafting and triaging, with the
// rules model.
func (s *system) startWorker() { s.startWorkerFor(schemas.BuiltinTasks()...) }

// startWorkerFor runs a worker for some tasks only.
func (s *system) startWorkerFor(specs ...schemas.Task) {
	s.t.Helper()
	set, err := prompts.Load(prompts.Embedded)
	if err != nil {
		s.t.Fatal(err)
	}
	var tasks []consumers.Task
	for _, spec := range specs {
		p, err := set.Get(spec.Name, "v1")
		if err != nil {
			s.t.Fatal(err)
		}
		tasks = append(tasks, consumers.Task{Spec: spec, Prompt: p})
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	w := &consumers.Worker{JS: s.js, Pipeline: &pipeline.Pipeline{Model: rules.Model{}, Logger: quiet}, Tasks: tasks, Concurrency: 2,
		Logger: quiet}
	s.worker = s.goUntilCleanup("worker", w.Run)
}

func (s *system) stopWorker() {
	s.worker()
	s.worker = nil
}

// lastEvent returns the newest event on subject in TICKETS.
func (s *system) lastEvent(subject string) (schemas.Envelope, bool) {
	s.t.Helper()
	stream, err := s.js.Stream(s.ctx, schemas.StreamTickets)
	if err != nil {
		s.t.Fatal(err)
	}
	m, err := stream.GetLastMsgForSubject(s.ctx, subject)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return schemas.Envelope{}, false
	}
	if err != nil {
		s.t.Fatal(err)
	}
	env, err := schemas.Decode(m.Data)
	if err != nil {
		s.t.Fatalf("%s does not validate: %v", subject, err)
	}
	return env, true
}

// createTicket fills in the new-ticket form and sends it; it returns the
// ticket's id, with the browser on the ticket's page.
func (s *system) createTicket(ctx context.Context, subject, body string) string {
	s.t.Helper()
	err := chromedp.Do(ctx,
		chromedp.Navigate(s.url),
		chromedp.WaitVisible(chromedp.ID("body")),
		chromedp.SetValue(chromedp.ID("subject"), subject),
		chromedp.SetValue(chromedp.ID("body"), body),
		chromedp.Click(chromedp.CSS(`form[action="/tickets"] button[type=submit]`)),
		chromedp.WaitVisible(chromedp.ID("draft-panel")),
	)
	if err != nil {
		s.t.Fatalf("create a ticket: %v", err)
	}
	loc, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil {
		s.t.Fatal(err)
	}
	id := loc[strings.LastIndex(loc, "/")+1:]
	if !strings.HasPrefix(id, "SD-") {
		s.t.Fatalf("after creating a ticket the browser is at %s", loc)
	}
	return id
}

func text(t *testing.T, ctx context.Context, sel string) string {
	t.Helper()
	got, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		t.Fatalf("text of %s: %v", sel, err)
	}
	return got
}

const (
	refundSubject = "Charged twice for March subscription"
	refundBody    = "Hi,\n\nI was charged $49.00 twice on March 1st for the Pro plan. Can you refund the duplicate charge?\n\nThanks,\nMaria"
)

// A ticket is saved and shown at once; its draft appears on the open
// page when it arrives, without a reload, and fills in the reply.
func TestBrowserDraftAppearsWithoutReload(t *testing.T) {
	t.Parallel()
	s := newSystem(t, 30*time.Second)
	ctx := tab(t)
	id := s.createTicket(ctx, refundSubject, refundBody) // no worker yet: the draft cannot be there
	if got := text(t, ctx, "#draft-panel"); !strings.Contains(got, "Drafting a reply") {
		t.Fatalf("before any worker runs the panel says %q", got)
	}
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[int](`window.notReloaded = 1`)); err != nil {
		t.Fatal(err)
	}

	s.startWorker()
	if err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.CSS(`#draft-panel[data-state="ready"]`))); err != nil {
		t.Fatalf("the draft never appeared: %v", err)
	}
	if marker, err := chromedp.Run(ctx, chromedp.Evaluate[int](`window.notReloaded`)); err != nil || marker != 1 {
		t.Errorf("the page was reloaded (%v)", err)
	}
	panel := text(t, ctx, "#draft-panel")
	for _, want := range []string{"Confidence 80%", "Billing refund", "Needs review", "rules · prompt v1"} {
		if !strings.Contains(panel, want) {
			t.Errorf("the draft panel lacks %q:\n%s", want, panel)
		}
	}
	if err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.ID("triage"))); err != nil {
		t.Fatalf("the triage never appeared: %v", err)
	}
	for _, want := range []string{"Team billing", "Priority high", "refund"} {
		if got := text(t, ctx, "#triage"); !strings.Contains(got, want) {
			t.Errorf("the triage lacks %q: %q", want, got)
		}
	}
	draft := text(t, ctx, "#draft-text")
	reply, err := chromedp.Run(ctx, chromedp.Value(chromedp.ID("reply")))
	if err != nil || reply != draft || !strings.Contains(draft, "billing") {
		t.Errorf("reply box holds %q (%v), want the draft %q", reply, err, draft)
	}
	if got := text(t, ctx, `[data-status-for="`+id+`"]`); got != "Draft ready" {
		t.Errorf("status %q, want Draft ready", got)
	}
}

// A triage that comes after the draft shows too: the page updates it on
// its own, whatever the draft panel's state.
func TestBrowserTriageAfterTheDraft(t *testing.T) {
	t.Parallel()
	s := newSystem(t, 30*time.Second)
	ctx := tab(t)
	s.createTicket(ctx, refundSubject, refundBody)
	s.startWorkerFor(schemas.TaskSupportDraft)
	if err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.CSS(`#draft-panel[data-state="ready"]`))); err != nil {
		t.Fatalf("the draft never appeared: %v", err)
	}
	if got := text(t, ctx, "#triage-box"); got != "" {
		t.Fatalf("a triage before any triage worker ran: %q", got)
	}
	s.stopWorker()
	s.startWorkerFor(schemas.TaskTriage)
	if err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.ID("triage"))); err != nil {
		t.Fatalf("the triage never appeared after the draft: %v", err)
	}
	if got := text(t, ctx, "#triage"); !strings.Contains(got, "Team billing") {
		t.Errorf("the triage says %q", got)
	}
}

// With the worker stopped, a new ticket is still saved and published,
// and says "Draft unavailable" once the draft timeout passes, live and
// after a reload.
func TestBrowserDraftUnavailableWithoutWorker(t *testing.T) {
	t.Parallel()
	s := newSystem(t, 2*time.Second)
	ctx := tab(t)
	s.startWorker()
	first := s.createTicket(ctx, "Password reset link expired", "My password reset link says it expired. Please help me log in.")
	if err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.CSS(`#draft-panel[data-state="ready"]`))); err != nil {
		t.Fatalf("with the worker running, no draft: %v", err)
	}
	s.stopWorker()

	second := s.createTicket(ctx, "Parcel never arrived", "My parcel never arrived and tracking has not moved in a week.")
	if err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.CSS(`#draft-panel[data-state="timed_out"]`))); err != nil {
		t.Fatalf("no \"Draft unavailable\" after the timeout: %v", err)
	}
	if got := text(t, ctx, "#draft-panel"); !strings.Contains(got, "Draft unavailable") || !strings.Contains(got, "No draft arrived within 2s") {
		t.Errorf("panel after the timeout: %q", got)
	}
	created, ok := s.lastEvent(schemas.TypeTicketCreated)
	var data schemas.TicketCreated
	if !ok || created.DecodeData(&data) != nil || data.TicketID != second || created.Source != supportdesk.Source {
		t.Errorf("last ticket.created is %+v, want ticket %s from the desk", data, second)
	}
	// Rendered by the server too, and the ticket is in the list.
	if err := chromedp.Do(ctx, chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS(`#draft-panel[data-state="timed_out"]`))); err != nil {
		t.Fatalf("after a reload: %v", err)
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(s.url), chromedp.WaitVisible(chromedp.CSS(`[data-status-for="`+second+`"]`))); err != nil {
		t.Fatal(err)
	}
	for id, want := range map[string]string{first: "Draft ready", second: "Draft unavailable"} {
		if got := text(t, ctx, `[data-status-for="`+id+`"]`); got != want {
			t.Errorf("list status of %s is %q, want %q", id, got, want)
		}
	}
}

// The agent edits the draft and sends it: the desk publishes
// ticket.reply_sent naming the draft, and ghostwriter's feedback consumer
// records how much the agent changed.
func TestBrowserEditAndSend(t *testing.T) {
	t.Parallel()
	s := newSystem(t, 30*time.Second)
	s.startWorker()
	ctx := tab(t)
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1100, 900)); err != nil {
		t.Fatal(err)
	}
	id := s.createTicket(ctx, refundSubject, refundBody)
	if err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.CSS(`#draft-panel[data-state="ready"]`))); err != nil {
		t.Fatalf("no draft: %v", err)
	}
	draftID, err := chromedp.Run(ctx, chromedp.AttributeValue(chromedp.ID("draft-text"), "data-event-id"))
	if err != nil || draftID.Value == "" {
		t.Fatalf("draft event id: %+v, %v", draftID, err)
	}
	s.screenshot(ctx)

	draft := text(t, ctx, "#draft-text")
	edited := "Hi Maria,\n\n" + draft + "\n\nBest regards,\nSam"
	err = chromedp.Do(ctx,
		chromedp.SetValue(chromedp.ID("reply"), edited),
		chromedp.Click(chromedp.CSS(`form[action$="/reply"] button[type=submit]`)),
		chromedp.WaitVisible(chromedp.ID("sent-reply")),
	)
	if err != nil {
		t.Fatalf("send the reply: %v", err)
	}
	if got := text(t, ctx, "#sent-reply"); !strings.Contains(got, "Best regards") || !strings.Contains(got, "started from the draft") {
		t.Errorf("sent reply section: %q", got)
	}

	env, ok := s.lastEvent(schemas.TypeReplySent)
	var sent schemas.ReplySent
	if !ok || env.DecodeData(&sent) != nil {
		t.Fatal("no ticket.reply_sent on the stream")
	}
	if sent.TicketID != id || sent.DraftEventID != draftID.Value || sent.FinalText != edited {
		t.Errorf("reply_sent %+v, want ticket %s, draft %s and the edited text", sent, id, draftID.Value)
	}
	var rows []ledger.QualityRow
	poll.Until(t, 10*time.Second, "the feedback row", func() bool {
		rows, err = s.ledger.Quality(s.ctx, time.Now().Add(-time.Hour), time.Now())
		return err == nil && len(rows) == 1 && rows[0].Replies == 1
	})
	if r := rows[0]; r.LightlyEdited != 1 || r.PromptVersion != "v1" || r.Model != rules.Name {
		t.Errorf("feedback %+v, want one lightly edited reply to a v1 rules draft", r)
	}
}

// screenshot keeps a picture of the ticket screen as a test artifact, and
// with -update-screenshot as the README's.
func (s *system) screenshot(ctx context.Context) {
	s.t.Helper()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		s.t.Fatalf("screenshot: %v", err)
	}
	dir := os.Getenv(EnvArtifacts)
	if dir == "" {
		dir = filepath.Join(os.TempDir(), "ghostwriter-artifacts")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		s.t.Fatal(err)
	}
	path := filepath.Join(dir, "supportdesk-ticket.png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		s.t.Fatal(err)
	}
	s.t.Logf("screenshot of the ticket screen: %s", path)
	if *updateScreenshot {
		if err := os.WriteFile(filepath.Join("testdata", "screenshots", "ticket.png"), png, 0o644); err != nil {
			s.t.Fatal(err)
		}
	}
}
