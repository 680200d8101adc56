// Package supportdesk is the product side of the demo: a small support
// desk on the web. It owns its tickets (in memory or in its own Postgres
// table), the pages an agent works in, live updates over server-sent
// events, and its side of the event contract: it publishes
// ticket.created and ticket.reply_sent, and reads ticket.draft_ready,
// ticket.draft_failed and ticket.triaged through its own durable consumer. It never waits on
// AI: a ticket is saved whether or not a draft ever comes.
//
// It talks to ghostwriter only through events, and imports nothing of
// ghostwriter but schemas; a test keeps it that way.
package supportdesk

import (
	"errors"
	"time"
)

// Source is the CloudEvents source of what the desk publishes.
const Source = "supportdesk"

// Ticket is one customer ticket and what became of it.
type Ticket struct {
	// ID is the desk's ticket number, such as SD-1001.
	ID string
	// EventID is the id of the ticket.created event; results name it as
	// their source_event_id.
	EventID      string
	TenantID     string
	Subject      string
	Body         string
	CustomerTier string
	ProductArea  string
	Channel      string
	Created      time.Time
	// Draft is ghostwriter's draft, once it arrived; Failure says why
	// there will be none. At most one of them is set.
	Draft   *Draft
	Failure *Failure
	// Triage is ghostwriter's triage, once it arrived.
	Triage *Triage
	// Reply is what the agent sent.
	Reply *Reply
}

// Triage is a ticket.triaged as the desk shows it.
type Triage struct {
	EventID    string    `json:"event_id"`
	Department string    `json:"department"`
	Priority   string    `json:"priority"`
	Labels     []string  `json:"labels"`
	Confidence float64   `json:"confidence"`
	At         time.Time `json:"at"`
}

// Draft is a ticket.draft_ready as the desk shows it.
type Draft struct {
	EventID        string    `json:"event_id"`
	Text           string    `json:"text"`
	Confidence     float64   `json:"confidence"`
	Reason         string    `json:"reason"`
	RequiresReview bool      `json:"requires_review"`
	Model          string    `json:"model"`
	PromptVersion  string    `json:"prompt_version"`
	At             time.Time `json:"at"`
}

// Failure is a ticket.draft_failed, or the desk's own failure to hand
// the ticket over (Code FailureNotPublished).
type Failure struct {
	EventID string    `json:"event_id,omitempty"`
	Code    string    `json:"code"`
	Detail  string    `json:"detail,omitempty"`
	At      time.Time `json:"at"`
}

// FailureNotPublished is the code of a ticket whose ticket.created could
// not be published: no draft will come.
const FailureNotPublished = "not_published"

// Reply is the answer an agent sent. DraftEventID names the draft the
// agent started from, "" when they wrote it without one.
type Reply struct {
	EventID      string    `json:"event_id"`
	Text         string    `json:"text"`
	DraftEventID string    `json:"draft_event_id,omitempty"`
	At           time.Time `json:"at"`
}

// State is where a ticket's draft stands, as the agent sees it.
type State string

const (
	// StateDrafting: no draft yet, and still time for one.
	StateDrafting State = "drafting"
	// StateReady: the draft is there.
	StateReady State = "ready"
	// StateFailed: ghostwriter said no draft will come.
	StateFailed State = "failed"
	// StateTimedOut: no draft within the desk's draft timeout. A draft
	// that comes later is still shown.
	StateTimedOut State = "timed_out"
)

// DraftState says where t's draft stands at now, given how long the desk
// waits for drafts.
func (t Ticket) DraftState(now time.Time, timeout time.Duration) State {
	switch {
	case t.Draft != nil:
		return StateReady
	case t.Failure != nil:
		return StateFailed
	case !now.Before(t.Created.Add(timeout)):
		return StateTimedOut
	}
	return StateDrafting
}

// Errors a Store returns.
var (
	ErrNotFound = errors.New("ticket not found")
	ErrReplied  = errors.New("ticket already replied to")
)
