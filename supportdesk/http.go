package supportdesk

import (
	"bytes"
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/ghostwriter-ai/ghostwriter/schemas"
)

//go:embed templates/*.html static/desk.js
var assets embed.FS

// Limits of what an agent may type.
const (
	maxBodyBytes    = 64 << 10
	maxSubjectRunes = 200
	maxIDBytes      = 256
	listLimit       = 200
)

// The choices the new-ticket form offers.
var (
	tiers = []string{"free", "pro", "enterprise"}
	areas = []string{"billing", "account", "shipping", "technical", "other"}
)

type pages struct {
	list, ticket, panel *template.Template
}

var funcs = template.FuncMap{
	"percent": func(x float64) string { return fmt.Sprintf("%.0f%%", 100*x) },
	"confidenceClass": func(x float64) string {
		switch {
		case x >= 0.8:
			return "high"
		case x >= 0.5:
			return "medium"
		}
		return "low"
	},
	"reasonLabel": func(s string) string {
		s = strings.ReplaceAll(s, "_", " ")
		if s == "" {
			return "No reason given"
		}
		return strings.ToUpper(s[:1]) + s[1:]
	},
	"clock":       clock,
	"failureText": failureText,
}

func clock(t time.Time) string { return t.UTC().Format("2 Jan 15:04:05 UTC") }

// failureText says in plain words why no draft will come.
func failureText(code string) string {
	switch code {
	case FailureNotPublished:
		return "The ticket could not be handed to ghostwriter."
	case "timeout", "provider_unavailable", "rate_limited":
		return "The AI service did not answer in time."
	case "budget_exceeded":
		return "This tenant's AI budget is used up."
	case "invalid_input", "expired":
		return "ghostwriter could not work with this ticket."
	case "unsafe_content", "invalid_output", "truncated_output":
		return "ghostwriter's draft did not pass its checks."
	}
	return "ghostwriter could not draft this ticket."
}

func loadPages() pages {
	base := template.Must(template.New("").Funcs(funcs).ParseFS(assets, "templates/layout.html", "templates/panel.html"))
	page := func(file string) *template.Template {
		return template.Must(template.Must(base.Clone()).ParseFS(assets, file))
	}
	return pages{list: page("templates/list.html"), ticket: page("templates/ticket.html"), panel: base}
}

// Handler returns the desk's HTTP handler: the ticket list and form at /,
// a ticket at /tickets/{id}, its event stream at /tickets/{id}/events,
// every ticket's at /events, and /healthz. Cross-origin form posts are
// refused.
func (d *Desk) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", d.list)
	mux.HandleFunc("POST /tickets", d.create)
	mux.HandleFunc("GET /tickets/{id}", d.show)
	mux.HandleFunc("POST /tickets/{id}/reply", d.reply)
	mux.HandleFunc("GET /tickets/{id}/events", func(w http.ResponseWriter, r *http.Request) { d.events(w, r, r.PathValue("id")) })
	mux.HandleFunc("GET /events", func(w http.ResponseWriter, r *http.Request) { d.events(w, r, "") })
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	static, _ := fs.Sub(assets, "static")
	mux.Handle("GET /desk.js", http.FileServerFS(static))
	return secure(http.NewCrossOriginProtection().Handler(mux))
}

// secure sets the headers every page gets.
func secure(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'self'; style-src 'self' 'unsafe-inline'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "same-origin")
		next.ServeHTTP(w, r)
	})
}

// status is the one word and label a ticket's status shows.
func (d *Desk) status(t Ticket, now time.Time) (state State, status, label string) {
	state = t.DraftState(now, d.timeout)
	switch {
	case t.Reply != nil:
		return state, "replied", "Replied"
	case state == StateReady:
		return state, string(state), "Draft ready"
	case state == StateDrafting:
		return state, string(state), "Drafting…"
	}
	return state, string(state), "Draft unavailable"
}

func (d *Desk) remaining(t Ticket, now time.Time) int64 {
	return max(t.Created.Add(d.timeout).Sub(now).Milliseconds(), 0)
}

type newTicket struct {
	TenantID, CustomerTier, ProductArea, Subject, Body string
}

type listRow struct {
	ID, Subject, TenantID, Created string
	State                          string
	Label                          string
	RemainingMS                    int64
}

type listView struct {
	Title, Events, Error string
	Form                 newTicket
	Tiers, Areas         []string
	Tickets              []listRow
}

func (d *Desk) list(w http.ResponseWriter, r *http.Request) {
	d.renderList(w, r, newTicket{TenantID: "acme", CustomerTier: "pro", ProductArea: "billing"}, "", http.StatusOK)
}

func (d *Desk) renderList(w http.ResponseWriter, r *http.Request, form newTicket, problem string, code int) {
	tickets, err := d.store.List(r.Context(), listLimit)
	if err != nil {
		d.fail(w, "list", err)
		return
	}
	now := time.Now()
	v := listView{Title: "Tickets", Events: "/events", Error: problem, Form: form, Tiers: tiers, Areas: areas}
	for _, t := range tickets {
		_, status, label := d.status(t, now)
		v.Tickets = append(v.Tickets, listRow{ID: t.ID, Subject: subjectOf(t), TenantID: t.TenantID, Created: clock(t.Created),
			State: status, Label: label, RemainingMS: d.remaining(t, now)})
	}
	d.render(w, d.pages.list, v, code)
}

func subjectOf(t Ticket) string {
	if t.Subject != "" {
		return t.Subject
	}
	r := []rune(strings.Join(strings.Fields(t.Body), " "))
	if len(r) > 60 {
		return string(r[:60]) + "…"
	}
	return string(r)
}

// create saves a ticket and publishes ticket.created. The ticket is
// saved first and whatever becomes of the publish: the desk never waits
// on AI, and a ticket that could not be handed over says so at once.
func (d *Desk) create(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 2*maxBodyBytes)
	if err := r.ParseForm(); err != nil {
		http.Error(w, "the form is too large or malformed", http.StatusRequestEntityTooLarge)
		return
	}
	form := newTicket{
		TenantID: strings.TrimSpace(r.PostFormValue("tenant_id")), CustomerTier: r.PostFormValue("customer_tier"),
		ProductArea: r.PostFormValue("product_area"), Subject: strings.TrimSpace(r.PostFormValue("subject")),
		Body: strings.TrimSpace(text(r.PostFormValue("body"))),
	}
	if problem := form.check(); problem != "" {
		d.renderList(w, r, form, problem, http.StatusUnprocessableEntity)
		return
	}
	t, err := d.store.Create(r.Context(), Ticket{
		EventID: uuid.NewString(), TenantID: form.TenantID, Subject: form.Subject, Body: form.Body,
		CustomerTier: form.CustomerTier, ProductArea: form.ProductArea, Channel: "web",
		Created: time.Now().UTC().Truncate(time.Millisecond),
	})
	if err != nil {
		d.fail(w, "create", err)
		return
	}
	log := d.log.With("ticket_id", t.ID, "tenant_id", t.TenantID, "event_id", t.EventID)
	env, err := schemas.New(schemas.TypeTicketCreated, Source, t.EventID, schemas.TicketCreated{
		TicketID: t.ID, TenantID: t.TenantID, Body: t.Body, Subject: t.Subject,
		CustomerTier: t.CustomerTier, ProductArea: t.ProductArea, Channel: t.Channel,
	})
	if err == nil {
		env.Time, env.Subject, env.TraceParent = t.Created, t.ID, schemas.NewTraceparent()
		err = d.publish(r.Context(), env)
	}
	if err != nil {
		log.Warn("ticket saved, but ticket.created not published: no draft will come", "err", err)
		if _, ferr := d.store.SetFailure(r.Context(), t.ID, t.EventID, Failure{Code: FailureNotPublished, At: time.Now().UTC()}); ferr != nil {
			log.Warn("ticket failure not saved", "err", ferr)
		}
	} else {
		log.Info("ticket created")
	}
	d.hub.notify(t.ID)
	http.Redirect(w, r, "/tickets/"+t.ID, http.StatusSeeOther)
}

// check returns what is wrong with the form, or "".
func (f newTicket) check() string {
	switch {
	case f.TenantID == "" || len(f.TenantID) > maxIDBytes:
		return "Give a tenant of 1 to 256 characters."
	case !slices.Contains(tiers, f.CustomerTier) || !slices.Contains(areas, f.ProductArea):
		return "Pick a customer tier and a product area from the lists."
	case utf8.RuneCountInString(f.Subject) > maxSubjectRunes:
		return "Keep the subject under 200 characters."
	case f.Body == "":
		return "Write the customer's message."
	case len(f.Body) > maxBodyBytes:
		return "The customer's message is too long (64 KiB at most)."
	case !printable(f.TenantID + f.Subject + f.Body):
		return "Remove the control characters from the ticket."
	}
	return ""
}

// text makes a browser's CRLF line breaks plain newlines.
func text(s string) string { return strings.ReplaceAll(s, "\r\n", "\n") }

// printable rejects control characters other than tab and newline,
// which the event contract refuses.
func printable(s string) bool {
	for _, r := range s {
		if r < 0x20 && r != '\t' && r != '\n' || r == 0x7f {
			return false
		}
	}
	return utf8.ValidString(s)
}

type panelView struct {
	TicketID    string
	State       State
	Draft       *Draft
	Failure     *Failure
	Replied     bool
	Timeout     time.Duration
	RemainingMS int64
}

type ticketView struct {
	Title, Events, Error string
	Subject              string
	T                    Ticket
	Status, Label        string
	Panel, TimedOut      panelView
	ReplyText            string
	DraftEventID         string
}

func (d *Desk) panel(t Ticket, now time.Time) panelView {
	return panelView{TicketID: t.ID, State: t.DraftState(now, d.timeout), Draft: t.Draft, Failure: t.Failure,
		Replied: t.Reply != nil, Timeout: d.timeout, RemainingMS: d.remaining(t, now)}
}

func (d *Desk) show(w http.ResponseWriter, r *http.Request) {
	d.renderTicket(w, r, "", "", http.StatusOK)
}

func (d *Desk) renderTicket(w http.ResponseWriter, r *http.Request, reply, problem string, code int) {
	t, err := d.store.Get(r.Context(), r.PathValue("id"))
	if errors.Is(err, ErrNotFound) {
		http.NotFound(w, r)
		return
	}
	if err != nil {
		d.fail(w, "show", err)
		return
	}
	now := time.Now()
	_, status, label := d.status(t, now)
	v := ticketView{Title: t.ID, Events: "/tickets/" + t.ID + "/events", Error: problem, Subject: subjectOf(t), T: t,
		Status: status, Label: label, Panel: d.panel(t, now), ReplyText: reply}
	v.TimedOut = panelView{TicketID: t.ID, State: StateTimedOut, Timeout: d.timeout}
	if reply == "" && t.Draft != nil {
		v.ReplyText, v.DraftEventID = t.Draft.Text, t.Draft.EventID
	}
	d.render(w, d.pages.ticket, v, code)
}

// reply stores the reply an agent sent and publishes ticket.reply_sent,
// naming the draft the agent started from.
func (d *Desk) reply(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 2*maxBodyBytes)
	if err := r.ParseForm(); err != nil {
		http.Error(w, "the form is too large or malformed", http.StatusRequestEntityTooLarge)
		return
	}
	id := r.PathValue("id")
	final := strings.TrimSpace(text(r.PostFormValue("final_text")))
	draftID := r.PostFormValue("draft_event_id")
	t, err := d.store.Get(r.Context(), id)
	if errors.Is(err, ErrNotFound) {
		http.NotFound(w, r)
		return
	}
	if err != nil {
		d.fail(w, "reply", err)
		return
	}
	switch {
	case final == "":
		d.renderTicket(w, r, "", "Write a reply before sending.", http.StatusUnprocessableEntity)
		return
	case len(final) > maxBodyBytes || !printable(final):
		d.renderTicket(w, r, final, "The reply is too long or holds control characters.", http.StatusUnprocessableEntity)
		return
	case draftID != "" && (t.Draft == nil || t.Draft.EventID != draftID):
		http.Error(w, "that draft is not this ticket's", http.StatusBadRequest)
		return
	}
	t, err = d.store.SetReply(r.Context(), id, Reply{EventID: uuid.NewString(), Text: final, DraftEventID: draftID, At: time.Now().UTC().Truncate(time.Millisecond)})
	if errors.Is(err, ErrReplied) {
		http.Redirect(w, r, "/tickets/"+id, http.StatusSeeOther)
		return
	}
	if err != nil {
		d.fail(w, "reply", err)
		return
	}
	log := d.log.With("ticket_id", t.ID, "tenant_id", t.TenantID, "event_id", t.Reply.EventID, "draft_event_id", draftID)
	env, err := schemas.New(schemas.TypeReplySent, Source, t.Reply.EventID, schemas.ReplySent{
		TicketID: t.ID, TenantID: t.TenantID, FinalText: final, DraftEventID: draftID,
	})
	if err == nil {
		env.Time, env.Subject, env.TraceParent = t.Reply.At, t.ID, schemas.NewTraceparent()
		err = d.publish(r.Context(), env)
	}
	if err != nil {
		log.Warn("reply saved, but ticket.reply_sent not published: ghostwriter gets no feedback on it", "err", err)
	} else {
		log.Info("reply sent")
	}
	d.hub.notify(t.ID)
	http.Redirect(w, r, "/tickets/"+t.ID, http.StatusSeeOther)
}

// update is what an event stream sends when a ticket changes.
type update struct {
	TicketID string `json:"ticket_id"`
	// State is the draft's; Status and Label the ticket's, as the list
	// shows them.
	State        State  `json:"state"`
	Status       string `json:"status"`
	Label        string `json:"label"`
	Panel        string `json:"panel,omitempty"`
	Draft        string `json:"draft,omitempty"`
	DraftEventID string `json:"draft_event_id,omitempty"`
	// Triage is the rendered triage, which comes before or after the
	// draft and is shown on its own.
	Triage string `json:"triage,omitempty"`
}

// events streams updates as server-sent events ("event: ticket"), for
// one ticket with its rendered draft panel, or for all of them. A
// ticket's stream starts with its current state, so nothing that changed
// between the page and the stream is missed.
func (d *Desk) events(w http.ResponseWriter, r *http.Request, ticketID string) {
	if ticketID != "" {
		if _, err := d.store.Get(r.Context(), ticketID); err != nil {
			http.NotFound(w, r)
			return
		}
	}
	rc := http.NewResponseController(w)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	watch, stop := d.hub.watch(ticketID)
	defer stop()
	if ticketID != "" {
		watch.mark(ticketID)
	}
	fmt.Fprint(w, "retry: 2000\n\n")
	if rc.Flush() != nil {
		return
	}
	keepalive := time.NewTicker(20 * time.Second)
	defer keepalive.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-keepalive.C:
			fmt.Fprint(w, ": keepalive\n\n")
		case <-watch.wake:
			for _, id := range watch.take() {
				u, err := d.updateOf(r.Context(), id, ticketID != "")
				if err != nil {
					continue // a ticket gone or the store away: the next change tells
				}
				raw, _ := json.Marshal(u)
				fmt.Fprintf(w, "event: ticket\ndata: %s\n\n", raw)
			}
		}
		if rc.Flush() != nil {
			return
		}
	}
}

func (d *Desk) updateOf(ctx context.Context, id string, withPanel bool) (update, error) {
	t, err := d.store.Get(ctx, id)
	if err != nil {
		return update{}, err
	}
	now := time.Now()
	state, status, label := d.status(t, now)
	u := update{TicketID: id, State: state, Status: status, Label: label}
	if !withPanel {
		return u, nil
	}
	var b bytes.Buffer
	if err := d.pages.panel.ExecuteTemplate(&b, "panel", d.panel(t, now)); err != nil {
		return update{}, err
	}
	u.Panel = b.String()
	if t.Triage != nil {
		b.Reset()
		if err := d.pages.panel.ExecuteTemplate(&b, "triage", t.Triage); err != nil {
			return update{}, err
		}
		u.Triage = b.String()
	}
	if t.Draft != nil {
		u.Draft, u.DraftEventID = t.Draft.Text, t.Draft.EventID
	}
	return u, nil
}

func (d *Desk) render(w http.ResponseWriter, page *template.Template, v any, code int) {
	var b bytes.Buffer
	if err := page.ExecuteTemplate(&b, "layout", v); err != nil {
		d.fail(w, "render", err)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(code)
	_, _ = b.WriteTo(w)
}

// fail answers 500 and logs why; the agent sees no internals.
func (d *Desk) fail(w http.ResponseWriter, op string, err error) {
	d.log.Error("request failed", "op", op, "err", err)
	http.Error(w, "Something went wrong; please try again.", http.StatusInternalServerError)
}
