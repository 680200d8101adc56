package consumers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"golang.org/x/time/rate"

	"github.com/ghostwriter-ai/ghostwriter/schemas"
)

// ReplaySpec selects what a replay feeds the workers, and how. The
// product's own events are only read: a replay never rewrites them.
type ReplaySpec struct {
	ID   string `json:"id"`
	Task string `json:"task"`
	// Ready and Failed are the task's result types; empty means
	// support_draft's. Failed-only and reconcile read them.
	Ready         string `json:"ready,omitempty"`
	Failed        string `json:"failed,omitempty"`
	PromptVersion string `json:"prompt_version,omitempty"`
	// Shadow sends the results to ghostwriter.shadow.>, never to the
	// product.
	Shadow bool `json:"shadow"`

	Since      time.Time `json:"since,omitzero"`
	Until      time.Time `json:"until,omitzero"`
	FromSeq    uint64    `json:"from_seq,omitempty"`
	ToSeq      uint64    `json:"to_seq,omitempty"`
	Subject    string    `json:"subject"`
	Tenants    []string  `json:"tenants,omitempty"`
	Tickets    []string  `json:"tickets,omitempty"`
	FailedOnly bool      `json:"failed_only,omitempty"`
	// ErrorCode narrows FailedOnly to one error code.
	ErrorCode string `json:"error_code,omitempty"`

	// RatePerSec caps how fast events are fed; zero means no cap.
	RatePerSec float64 `json:"rate_per_sec,omitempty"`
	// MaxCostMicroUSD stops the replay before its estimated cost crosses
	// it; zero means no cap.
	MaxCostMicroUSD int64 `json:"max_cost_microusd,omitempty"`

	// Reconcile selects events with no live result at all and feeds them
	// as live work: no replay id, so a worker that already finished one
	// acks it without a second call, and a stale one ends as expired.
	// It is the backstop for anything the broker or a bug lost.
	Reconcile bool `json:"reconcile,omitempty"`
}

// Replay statuses.
const (
	ReplayRunning  = "running"
	ReplayDone     = "done"
	ReplayCanceled = "canceled"
	ReplayCapped   = "capped" // stopped at MaxCostMicroUSD
)

// ReplayState is a replay's progress, kept in the ghostwriter_replays
// bucket so an interrupted replay resumes where it stopped.
type ReplayState struct {
	Spec   ReplaySpec `json:"spec"`
	Status string     `json:"status"`
	// LastSeq is the last source sequence considered: fed or skipped.
	LastSeq           uint64    `json:"last_seq"`
	Fed               int       `json:"fed"`
	Skipped           int       `json:"skipped"`
	Remaining         uint64    `json:"remaining"`
	EstimatedMicroUSD int64     `json:"estimated_microusd"`
	Sample            []string  `json:"sample,omitempty"` // a few ticket ids, for --dry-run
	Started           time.Time `json:"started"`
	Updated           time.Time `json:"updated"`
}

var replayIDPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// NewReplayID returns a fresh, readable replay id.
func NewReplayID(now time.Time) string {
	return "r" + now.UTC().Format("20060102-150405") + "-" + strconv.FormatInt(now.UnixNano()%10_000, 10)
}

// Replayer reads a source stream and feeds what a spec selects into
// GHOSTWRITER_REPLAY, where the workers' replay consumer takes it.
type Replayer struct {
	JS jetstream.JetStream
	// Estimate is the expected cost of one ticket, in micro-dollars; nil
	// estimates nothing, and MaxCostMicroUSD then never stops a replay.
	Estimate func(schemas.TicketCreated) int64
	// Progress hears the state after every event fed and at every save;
	// nil is fine.
	Progress func(ReplayState)
}

// ErrReplayExists is returned by Start for an id already used.
var ErrReplayExists = errors.New("replay id already used")

// Start runs a new replay until it has fed everything its spec selects,
// its cost cap is reached, it is canceled, or ctx ends (then it can be
// resumed). With dryRun it only counts, estimates and samples.
func (r *Replayer) Start(ctx context.Context, spec ReplaySpec, dryRun bool) (ReplayState, error) {
	if !replayIDPattern.MatchString(spec.ID) {
		return ReplayState{}, fmt.Errorf("consumers.replay: id %q: letters, digits, - and _ only", spec.ID)
	}
	if spec.Subject == "" {
		spec.Subject = schemas.TypeTicketCreated
	}
	now := time.Now().UTC()
	st := ReplayState{Spec: spec, Status: ReplayRunning, Started: now, Updated: now}
	if dryRun {
		return r.run(ctx, nil, 0, st, true)
	}
	kv, err := r.JS.KeyValue(ctx, schemas.BucketReplays)
	if err != nil {
		return st, fmt.Errorf("consumers.replay: %w", err)
	}
	raw, _ := json.Marshal(st)
	rev, err := kv.Create(ctx, spec.ID, raw)
	if errors.Is(err, jetstream.ErrKeyExists) {
		return st, fmt.Errorf("consumers.replay %s: %w (resume it, or pick another id)", spec.ID, ErrReplayExists)
	}
	if err != nil {
		return st, fmt.Errorf("consumers.replay: %w", err)
	}
	return r.run(ctx, kv, rev, st, false)
}

// Resume continues an interrupted replay after its last sequence; what was
// fed before is not fed again, and the workers' dedupe on the replay id
// absorbs anything fed twice around the interruption.
func (r *Replayer) Resume(ctx context.Context, id string) (ReplayState, error) {
	kv, err := r.JS.KeyValue(ctx, schemas.BucketReplays)
	if err != nil {
		return ReplayState{}, fmt.Errorf("consumers.replay: %w", err)
	}
	e, err := kv.Get(ctx, id)
	if err != nil {
		return ReplayState{}, fmt.Errorf("consumers.replay %s: %w", id, err)
	}
	var st ReplayState
	if err := json.Unmarshal(e.Value(), &st); err != nil {
		return st, fmt.Errorf("consumers.replay %s: %w", id, err)
	}
	if st.Status != ReplayRunning {
		return st, fmt.Errorf("consumers.replay %s: it is %s", id, st.Status)
	}
	return r.run(ctx, kv, e.Revision(), st, false)
}

// run feeds from just after st.LastSeq (or the spec's start).
func (r *Replayer) run(ctx context.Context, kv jetstream.KeyValue, rev uint64, st ReplayState, dryRun bool) (ReplayState, error) {
	spec := st.Spec
	admit := func(string) bool { return true }
	switch {
	case spec.Reconcile:
		answered, err := answeredSources(ctx, r.JS, spec)
		if err != nil {
			return st, err
		}
		admit = func(id string) bool { return !answered[id] }
	case spec.FailedOnly:
		failed, err := failedSources(ctx, r.JS, spec)
		if err != nil {
			return st, err
		}
		admit = func(id string) bool { return failed[id] }
	}
	cfg := jetstream.OrderedConsumerConfig{FilterSubjects: []string{spec.Subject}}
	switch {
	case st.LastSeq > 0:
		cfg.DeliverPolicy, cfg.OptStartSeq = jetstream.DeliverByStartSequencePolicy, st.LastSeq+1
	case spec.FromSeq > 0:
		cfg.DeliverPolicy, cfg.OptStartSeq = jetstream.DeliverByStartSequencePolicy, spec.FromSeq
	case !spec.Since.IsZero():
		since := spec.Since
		cfg.DeliverPolicy, cfg.OptStartTime = jetstream.DeliverByStartTimePolicy, &since
	}
	cons, err := r.JS.OrderedConsumer(ctx, schemas.StreamTickets, cfg)
	if err != nil {
		return st, fmt.Errorf("consumers.replay: %w", err)
	}
	var limiter *rate.Limiter
	if spec.RatePerSec > 0 {
		limiter = rate.NewLimiter(rate.Limit(spec.RatePerSec), 1)
	}
	save := func(status string) error {
		st.Status, st.Updated = status, time.Now().UTC()
		if r.Progress != nil {
			r.Progress(st)
		}
		if kv == nil {
			return nil
		}
		raw, _ := json.Marshal(st)
		var err error
		rev, err = kv.Update(context.WithoutCancel(ctx), spec.ID, raw, rev)
		if errors.Is(err, jetstream.ErrKeyExists) { // someone else wrote: a cancel
			return errReplayCanceled
		}
		return err
	}
	lastSave := time.Now()
	for {
		if err := ctx.Err(); err != nil {
			_ = save(ReplayRunning)
			return st, err
		}
		batch, err := cons.Fetch(100, jetstream.FetchMaxWait(time.Second))
		if err != nil {
			return st, fmt.Errorf("consumers.replay: %w", err)
		}
		n, caughtUp := 0, false
		for msg := range batch.Messages() {
			n++
			meta, err := msg.Metadata()
			if err != nil {
				continue
			}
			st.Remaining, caughtUp = meta.NumPending, meta.NumPending == 0
			if (spec.ToSeq > 0 && meta.Sequence.Stream > spec.ToSeq) || (!spec.Until.IsZero() && meta.Timestamp.After(spec.Until)) {
				err := save(ReplayDone)
				return r.stopped(st, err)
			}
			env, selected := r.selects(spec, msg.Data(), admit)
			if selected && spec.MaxCostMicroUSD > 0 && r.Estimate != nil {
				var tc schemas.TicketCreated
				_ = env.DecodeData(&tc)
				if st.EstimatedMicroUSD+r.Estimate(tc) > spec.MaxCostMicroUSD {
					err := save(ReplayCapped)
					return r.stopped(st, err)
				}
			}
			if !selected {
				st.Skipped++
				st.LastSeq = meta.Sequence.Stream
				continue
			}
			var tc schemas.TicketCreated
			_ = env.DecodeData(&tc)
			if r.Estimate != nil {
				st.EstimatedMicroUSD += r.Estimate(tc)
			}
			if len(st.Sample) < 5 {
				st.Sample = append(st.Sample, tc.TicketID)
			}
			if !dryRun {
				if limiter != nil {
					if err := limiter.Wait(ctx); err != nil {
						_ = save(ReplayRunning)
						return st, err
					}
				}
				if err := r.feed(ctx, spec, meta.Sequence.Stream, msg); err != nil {
					_ = save(ReplayRunning)
					return st, err
				}
			}
			st.Fed++
			st.LastSeq = meta.Sequence.Stream
			if r.Progress != nil {
				r.Progress(st)
			}
			if time.Since(lastSave) > time.Second {
				lastSave = time.Now()
				if err := save(ReplayRunning); err != nil {
					return r.stopped(st, err)
				}
			}
		}
		if err := batch.Error(); err != nil && !errors.Is(err, nats.ErrTimeout) {
			return st, fmt.Errorf("consumers.replay: %w", err)
		}
		if n == 0 || caughtUp { // caught up with the stream as it was
			err := save(ReplayDone)
			return r.stopped(st, err)
		}
	}
}

var errReplayCanceled = errors.New("replay canceled")

func (r *Replayer) stopped(st ReplayState, err error) (ReplayState, error) {
	if errors.Is(err, errReplayCanceled) {
		st.Status = ReplayCanceled
		return st, nil
	}
	return st, err
}

// selects decodes a source event and applies the spec's filters; admit
// decides by event id (failed-only, reconcile).
func (r *Replayer) selects(spec ReplaySpec, raw []byte, admit func(id string) bool) (schemas.Envelope, bool) {
	env, err := schemas.Decode(raw)
	if err != nil || env.Type != schemas.TypeTicketCreated {
		return env, false // bad input was answered already; replaying it changes nothing
	}
	var tc schemas.TicketCreated
	if env.DecodeData(&tc) != nil {
		return env, false
	}
	switch {
	case len(spec.Tenants) > 0 && !slices.Contains(spec.Tenants, tc.TenantID),
		len(spec.Tickets) > 0 && !slices.Contains(spec.Tickets, tc.TicketID),
		!spec.Since.IsZero() && env.Time.Before(spec.Since),
		!spec.Until.IsZero() && env.Time.After(spec.Until),
		!admit(env.ID):
		return env, false
	}
	return env, true
}

// feed publishes one source event into GHOSTWRITER_REPLAY. The Msg-Id
// makes feeding it twice (around a resume) store it once.
func (r *Replayer) feed(ctx context.Context, spec ReplaySpec, seq uint64, src jetstream.Msg) error {
	m := nats.NewMsg(schemas.SubjectReplayPrefix + spec.ID + "." + spec.Subject)
	m.Data = src.Data()
	if !spec.Reconcile { // reconciled work is live work
		m.Header.Set(schemas.HeaderReplayID, spec.ID)
	}
	if spec.Task != "" {
		m.Header.Set(schemas.HeaderReplayTask, spec.Task)
	}
	if spec.PromptVersion != "" {
		m.Header.Set(schemas.HeaderReplayPromptVersion, spec.PromptVersion)
	}
	if spec.Shadow {
		m.Header.Set(schemas.HeaderReplayShadow, "true")
	}
	m.Header.Set(schemas.HeaderSourceStream, schemas.StreamTickets)
	m.Header.Set(schemas.HeaderSourceSeq, strconv.FormatUint(seq, 10))
	if tp := src.Headers().Get(schemas.HeaderTraceparent); tp != "" {
		m.Header.Set(schemas.HeaderTraceparent, tp)
	}
	if _, err := r.JS.PublishMsg(ctx, m, jetstream.WithMsgID("replay-"+spec.ID+"-"+strconv.FormatUint(seq, 10))); err != nil {
		return fmt.Errorf("consumers.replay feed %d: %w", seq, err)
	}
	return nil
}

// failedSources finds the events whose latest result for the task is a
// draft_failed (with the spec's error code, when it names one).
func failedSources(ctx context.Context, js jetstream.JetStream, spec ReplaySpec) (map[string]bool, error) {
	latest := map[string]schemas.DraftFailed{}
	ready := map[string]bool{}
	readyType, failedType := spec.results()
	err := scanResults(ctx, js, schemas.StreamTickets, []string{readyType, failedType}, func(typ string, raw json.RawMessage) {
		var r struct {
			schemas.DraftFailed
		}
		if json.Unmarshal(raw, &r) != nil || (spec.Task != "" && r.Task != spec.Task) {
			return
		}
		if typ == readyType {
			ready[r.SourceEventID] = true
			delete(latest, r.SourceEventID)
			return
		}
		ready[r.SourceEventID] = false
		latest[r.SourceEventID] = r.DraftFailed
	})
	if err != nil {
		return nil, err
	}
	out := map[string]bool{}
	for id, f := range latest {
		if !ready[id] && (spec.ErrorCode == "" || f.ErrorCode == spec.ErrorCode) {
			out[id] = true
		}
	}
	return out, nil
}

// answeredSources finds the events that have a live result (ready or
// failed, without a replay id) for the task.
func answeredSources(ctx context.Context, js jetstream.JetStream, spec ReplaySpec) (map[string]bool, error) {
	answered := map[string]bool{}
	readyType, failedType := spec.results()
	err := scanResults(ctx, js, schemas.StreamTickets, []string{readyType, failedType}, func(_ string, raw json.RawMessage) {
		var r schemas.DraftFailed
		if json.Unmarshal(raw, &r) == nil && r.ReplayID == "" && (spec.Task == "" || r.Task == spec.Task) {
			answered[r.SourceEventID] = true
		}
	})
	return answered, err
}

// results returns the task's result types.
func (s ReplaySpec) results() (ready, failed string) {
	if s.Ready == "" || s.Failed == "" {
		return schemas.TypeDraftReady, schemas.TypeDraftFailed
	}
	return s.Ready, s.Failed
}

// scanResults reads every event on subjects of stream, in order, and
// hands each one's type and data to f.
func scanResults(ctx context.Context, js jetstream.JetStream, stream string, subjects []string, f func(typ string, data json.RawMessage)) error {
	cons, err := js.OrderedConsumer(ctx, stream, jetstream.OrderedConsumerConfig{FilterSubjects: subjects})
	if err != nil {
		return fmt.Errorf("consumers.scan %s: %w", stream, err)
	}
	for {
		batch, err := cons.Fetch(500, jetstream.FetchMaxWait(time.Second))
		if err != nil {
			return fmt.Errorf("consumers.scan %s: %w", stream, err)
		}
		n, caughtUp := 0, false
		for msg := range batch.Messages() {
			n++
			if meta, err := msg.Metadata(); err == nil {
				caughtUp = meta.NumPending == 0
			}
			var env struct {
				Type string          `json:"type"`
				Data json.RawMessage `json:"data"`
			}
			if json.Unmarshal(msg.Data(), &env) == nil {
				f(env.Type, env.Data)
			}
		}
		if err := batch.Error(); err != nil && !errors.Is(err, nats.ErrTimeout) {
			return fmt.Errorf("consumers.scan %s: %w", stream, err)
		}
		if n == 0 || caughtUp {
			return nil
		}
	}
}

// Replays lists every replay's state, newest first.
func Replays(ctx context.Context, js jetstream.JetStream) ([]ReplayState, error) {
	kv, err := js.KeyValue(ctx, schemas.BucketReplays)
	if err != nil {
		return nil, fmt.Errorf("consumers.replays: %w", err)
	}
	keys, err := kv.Keys(ctx)
	if errors.Is(err, jetstream.ErrNoKeysFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("consumers.replays: %w", err)
	}
	var out []ReplayState
	for _, k := range keys {
		st, err := ReplayStatus(ctx, js, k)
		if err == nil {
			out = append(out, st)
		}
	}
	slices.SortFunc(out, func(a, b ReplayState) int { return b.Started.Compare(a.Started) })
	return out, nil
}

// ReplayStatus returns one replay's state.
func ReplayStatus(ctx context.Context, js jetstream.JetStream, id string) (ReplayState, error) {
	kv, err := js.KeyValue(ctx, schemas.BucketReplays)
	if err != nil {
		return ReplayState{}, fmt.Errorf("consumers.replay_status: %w", err)
	}
	e, err := kv.Get(ctx, id)
	if err != nil {
		return ReplayState{}, fmt.Errorf("consumers.replay_status %s: %w", id, err)
	}
	var st ReplayState
	err = json.Unmarshal(e.Value(), &st)
	return st, err
}

// CancelReplay marks a replay canceled (its feeder stops at its next save)
// and removes what it fed that no worker has taken yet.
func CancelReplay(ctx context.Context, js jetstream.JetStream, id string) error {
	kv, err := js.KeyValue(ctx, schemas.BucketReplays)
	if err != nil {
		return fmt.Errorf("consumers.replay_cancel: %w", err)
	}
	e, err := kv.Get(ctx, id)
	if err != nil {
		return fmt.Errorf("consumers.replay_cancel %s: %w", id, err)
	}
	var st ReplayState
	if err := json.Unmarshal(e.Value(), &st); err != nil {
		return err
	}
	st.Status, st.Updated = ReplayCanceled, time.Now().UTC()
	raw, _ := json.Marshal(st)
	if _, err := kv.Update(ctx, id, raw, e.Revision()); err != nil {
		return fmt.Errorf("consumers.replay_cancel %s: %w", id, err)
	}
	s, err := js.Stream(ctx, schemas.StreamReplay)
	if err != nil {
		return fmt.Errorf("consumers.replay_cancel: %w", err)
	}
	if err := s.Purge(ctx, jetstream.WithPurgeSubject(schemas.SubjectReplayPrefix+id+".>")); err != nil {
		return fmt.Errorf("consumers.replay_cancel %s: %w", id, err)
	}
	return nil
}
