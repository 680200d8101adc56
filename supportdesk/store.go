package supportdesk

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"sync"
)

// Store keeps the desk's tickets. Implementations are safe for
// concurrent use: Memory, and Postgres.
type Store interface {
	// Create saves a new ticket, giving it its ID, and returns it.
	Create(ctx context.Context, t Ticket) (Ticket, error)
	// Get returns a ticket, or ErrNotFound.
	Get(ctx context.Context, id string) (Ticket, error)
	// List returns up to limit tickets, newest first.
	List(ctx context.Context, limit int) ([]Ticket, error)
	// SetDraft sets the draft of ticket id if eventID is its ticket.created
	// event id, and it has neither a draft nor a reply yet. It reports
	// whether the ticket changed; a result for another ticket, or a
	// second one, changes nothing.
	SetDraft(ctx context.Context, id, eventID string, d Draft) (bool, error)
	// SetFailure records why no draft will come, under the same terms as
	// SetDraft, and only while there is no failure either.
	SetFailure(ctx context.Context, id, eventID string, f Failure) (bool, error)
	// SetTriage sets the triage of ticket id if eventID is its
	// ticket.created event id and it has none yet; it reports whether the
	// ticket changed.
	SetTriage(ctx context.Context, id, eventID string, tr Triage) (bool, error)
	// SetReply records the reply sent; ErrReplied if there is one, and
	// ErrNotFound without the ticket.
	SetReply(ctx context.Context, id string, r Reply) (Ticket, error)
}

// firstNumber is the number of a store's first ticket.
const firstNumber = 1001

func ticketID(n int64) string { return "SD-" + strconv.FormatInt(n, 10) }

// Memory keeps tickets in one process; they are lost when it ends.
type Memory struct {
	mu      sync.Mutex
	next    int64
	tickets map[string]*Ticket
	events  map[string]bool // ticket.created event ids in use
	order   []string
}

var _ Store = (*Memory)(nil)

// NewMemory returns an empty in-memory store.
func NewMemory() *Memory {
	return &Memory{next: firstNumber, tickets: map[string]*Ticket{}, events: map[string]bool{}}
}

// clone copies t deeply enough that callers cannot change the store.
func clone(t *Ticket) Ticket {
	c := *t
	if t.Draft != nil {
		d := *t.Draft
		c.Draft = &d
	}
	if t.Failure != nil {
		f := *t.Failure
		c.Failure = &f
	}
	if t.Reply != nil {
		r := *t.Reply
		c.Reply = &r
	}
	if t.Triage != nil {
		tr := *t.Triage
		tr.Labels = slices.Clone(tr.Labels)
		c.Triage = &tr
	}
	return c
}

// Create implements Store.
func (m *Memory) Create(_ context.Context, t Ticket) (Ticket, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.events[t.EventID] {
		return Ticket{}, fmt.Errorf("supportdesk.create: event id %s is taken", t.EventID)
	}
	m.events[t.EventID] = true
	t.ID = ticketID(m.next)
	m.next++
	t.Draft, t.Failure, t.Reply, t.Triage = nil, nil, nil, nil
	m.tickets[t.ID] = &t
	m.order = append(m.order, t.ID)
	return clone(&t), nil
}

// Get implements Store.
func (m *Memory) Get(_ context.Context, id string) (Ticket, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	t, ok := m.tickets[id]
	if !ok {
		return Ticket{}, fmt.Errorf("supportdesk.get %s: %w", id, ErrNotFound)
	}
	return clone(t), nil
}

// List implements Store.
func (m *Memory) List(_ context.Context, limit int) ([]Ticket, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]Ticket, 0, min(limit, len(m.order)))
	for _, id := range slices.Backward(m.order) {
		if len(out) == limit {
			break
		}
		out = append(out, clone(m.tickets[id]))
	}
	return out, nil
}

// SetDraft implements Store.
func (m *Memory) SetDraft(_ context.Context, id, eventID string, d Draft) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	t, ok := m.tickets[id]
	if !ok || t.EventID != eventID || t.Draft != nil || t.Reply != nil {
		return false, nil
	}
	t.Draft, t.Failure = &d, nil
	return true, nil
}

// SetFailure implements Store.
func (m *Memory) SetFailure(_ context.Context, id, eventID string, f Failure) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	t, ok := m.tickets[id]
	if !ok || t.EventID != eventID || t.Draft != nil || t.Failure != nil || t.Reply != nil {
		return false, nil
	}
	t.Failure = &f
	return true, nil
}

// SetTriage implements Store.
func (m *Memory) SetTriage(_ context.Context, id, eventID string, tr Triage) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	t, ok := m.tickets[id]
	if !ok || t.EventID != eventID || t.Triage != nil {
		return false, nil
	}
	tr.Labels = slices.Clone(tr.Labels)
	t.Triage = &tr
	return true, nil
}

// SetReply implements Store.
func (m *Memory) SetReply(_ context.Context, id string, r Reply) (Ticket, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	t, ok := m.tickets[id]
	switch {
	case !ok:
		return Ticket{}, fmt.Errorf("supportdesk.reply %s: %w", id, ErrNotFound)
	case t.Reply != nil:
		return Ticket{}, fmt.Errorf("supportdesk.reply %s: %w", id, ErrReplied)
	}
	t.Reply = &r
	return clone(t), nil
}
