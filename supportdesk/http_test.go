package supportdesk_test

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/ghostwriter-ai/ghostwriter/internal/embednats"
	"github.com/ghostwriter-ai/ghostwriter/schemas"
	"github.com/ghostwriter-ai/ghostwriter/supportdesk"
)

// noRedirect is a client that shows redirects instead of following them.
var noRedirect = &http.Client{
	Timeout:       10 * time.Second,
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

func post(t *testing.T, target string, form url.Values, header http.Header) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, target, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := noRedirect.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, string(body)
}

func ticketForm(body string) url.Values {
	return url.Values{"tenant_id": {"acme"}, "customer_tier": {"pro"}, "product_area": {"billing"},
		"subject": {"Charged twice"}, "body": {body}}
}

func TestHTTP(t *testing.T) {
	t.Parallel()
	s := newSystem(t, 30*time.Second)
	resp, _ := post(t, s.url+"/tickets", ticketForm("I was charged twice.\r\nPlease refund."), nil)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/tickets/SD-1001" {
		t.Fatalf("create: %s to %q", resp.Status, resp.Header.Get("Location"))
	}
	created, ok := s.lastEvent(schemas.TypeTicketCreated)
	var data schemas.TicketCreated
	if !ok || created.DecodeData(&data) != nil || data.Body != "I was charged twice.\nPlease refund." || data.Channel != "web" {
		t.Errorf("ticket.created data %+v", data)
	}

	tests := []struct {
		name     string
		path     string
		form     url.Values
		header   http.Header
		want     int
		wantBody string
	}{
		{"an empty message", "/tickets", ticketForm("  "), nil, http.StatusUnprocessableEntity, "Write the customer"},
		{"control characters", "/tickets", ticketForm("a\x00b"), nil, http.StatusUnprocessableEntity, "control characters"},
		{"a tier not offered", "/tickets", url.Values{"tenant_id": {"acme"}, "customer_tier": {"gold"}, "product_area": {"billing"}, "body": {"x"}},
			nil, http.StatusUnprocessableEntity, "Pick a customer tier"},
		{"a post from another site", "/tickets", ticketForm("hi"), http.Header{"Sec-Fetch-Site": {"cross-site"}}, http.StatusForbidden, ""},
		{"a reply to no ticket", "/tickets/SD-9/reply", url.Values{"final_text": {"x"}}, nil, http.StatusNotFound, ""},
		{"an empty reply", "/tickets/SD-1001/reply", url.Values{"final_text": {" "}}, nil, http.StatusUnprocessableEntity, "Write a reply"},
		{"a draft of another ticket", "/tickets/SD-1001/reply", url.Values{"final_text": {"x"}, "draft_event_id": {"d-other"}},
			nil, http.StatusBadRequest, "not this ticket"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := post(t, s.url+tt.path, tt.form, tt.header)
			if resp.StatusCode != tt.want || !strings.Contains(body, tt.wantBody) {
				t.Errorf("%s, want %d with %q:\n%s", resp.Status, tt.want, tt.wantBody, body)
			}
		})
	}
	for path, want := range map[string]int{"/": 200, "/tickets/SD-1001": 200, "/tickets/SD-9": 404, "/healthz": 200, "/desk.js": 200} {
		resp, err := noRedirect.Get(s.url + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("GET %s: %s, want %d", path, resp.Status, want)
		}
		if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'self'") {
			t.Errorf("GET %s: Content-Security-Policy %q", path, csp)
		}
	}
}

// A ticket's event stream starts with its state, and then follows it.
func TestEventStream(t *testing.T) {
	t.Parallel()
	s := newSystem(t, 30*time.Second)
	if resp, _ := post(t, s.url+"/tickets", ticketForm("My parcel never arrived."), nil); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("create: %s", resp.Status)
	}
	ctx, cancel := context.WithTimeout(s.ctx, 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.url+"/tickets/SD-1001/events", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("content type %q", ct)
	}
	lines := bufio.NewScanner(resp.Body)
	next := func() map[string]any {
		t.Helper()
		for lines.Scan() {
			if data, ok := strings.CutPrefix(lines.Text(), "data: "); ok {
				var u map[string]any
				if err := json.Unmarshal([]byte(data), &u); err != nil {
					t.Fatal(err)
				}
				return u
			}
		}
		t.Fatalf("the stream ended: %v", lines.Err())
		return nil
	}
	if u := next(); u["state"] != "drafting" || u["ticket_id"] != "SD-1001" {
		t.Errorf("first update %v, want SD-1001 drafting", u)
	}
	s.startWorker()
	// The draft and the triage come in either order, each an update.
	u, triaged := next(), false
	for range 2 {
		triage, _ := u["triage"].(string)
		triaged = triaged || strings.Contains(triage, "Team ")
		if u["state"] == "ready" && triaged {
			break
		}
		u = next()
	}
	if u["state"] != "ready" || u["label"] != "Draft ready" || !strings.Contains(u["panel"].(string), "Draft from ghostwriter") || u["draft_event_id"] == "" {
		t.Errorf("update after the draft: %v", u)
	}
	if !triaged {
		t.Errorf("no update carried the triage: %v", u)
	}
}

// A broker that is away costs the agent nothing: the ticket is saved and
// says at once that no draft will come.
func TestTicketSavedWhenPublishFails(t *testing.T) {
	t.Parallel()
	srv := embednats.StartTest(t)
	nc, err := nats.Connect(srv.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	nc.Close()
	store := supportdesk.NewMemory()
	desk, err := supportdesk.New(supportdesk.Config{Store: store, JS: js, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	web := httptest.NewServer(desk.Handler())
	defer web.Close()
	if resp, body := post(t, web.URL+"/tickets", ticketForm("Where is my refund?"), nil); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("create: %s\n%s", resp.Status, body)
	}
	got, err := store.Get(testContext(t), "SD-1001")
	if err != nil || got.Failure == nil || got.Failure.Code != supportdesk.FailureNotPublished {
		t.Fatalf("ticket %+v, %v; want it saved with failure %s", got, err, supportdesk.FailureNotPublished)
	}
	resp, err := http.Get(web.URL + "/tickets/SD-1001")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	page, _ := io.ReadAll(resp.Body)
	if !strings.Contains(string(page), "Draft unavailable") || !strings.Contains(string(page), "could not be handed to ghostwriter") {
		t.Errorf("the page does not say the draft is unavailable:\n%s", page)
	}
}
