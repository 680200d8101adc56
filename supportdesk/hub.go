package supportdesk

import "sync"

// hub tells open event streams which tickets changed. It never blocks
// and never loses a change: each watcher keeps the set of ticket ids that
// changed since it last looked, and a wake-up signal.
type hub struct {
	mu       sync.Mutex
	watchers map[*watcher]struct{}
}

type watcher struct {
	ticketID string // "" watches every ticket
	wake     chan struct{}
	mu       sync.Mutex
	dirty    map[string]struct{}
}

func newHub() *hub { return &hub{watchers: map[*watcher]struct{}{}} }

// watch starts watching one ticket, or all of them with ticketID "".
// The returned func stops it.
func (h *hub) watch(ticketID string) (*watcher, func()) {
	w := &watcher{ticketID: ticketID, wake: make(chan struct{}, 1), dirty: map[string]struct{}{}}
	h.mu.Lock()
	h.watchers[w] = struct{}{}
	h.mu.Unlock()
	return w, func() {
		h.mu.Lock()
		delete(h.watchers, w)
		h.mu.Unlock()
	}
}

// notify marks ticket id changed for everyone watching it.
func (h *hub) notify(id string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for w := range h.watchers {
		if w.ticketID == "" || w.ticketID == id {
			w.mark(id)
		}
	}
}

func (w *watcher) mark(id string) {
	w.mu.Lock()
	w.dirty[id] = struct{}{}
	w.mu.Unlock()
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// take returns the ids changed since the last take.
func (w *watcher) take() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	ids := make([]string, 0, len(w.dirty))
	for id := range w.dirty {
		ids = append(ids, id)
	}
	clear(w.dirty)
	return ids
}
