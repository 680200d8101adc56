package consumers

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"runtime/debug"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel/attribute"

	"github.com/ghostwriter-ai/ghostwriter/metrics"
	"github.com/ghostwriter-ai/ghostwriter/pipeline"
	"github.com/ghostwriter-ai/ghostwriter/prompts"
	"github.com/ghostwriter-ai/ghostwriter/schemas"
)

// Source is the CloudEvents source of everything ghostwriter publishes.
const Source = "ghostwriter"

// TaskHandler runs one AI task on the events that trigger it: it runs the
// pipeline and publishes the task's ready or failed event (for
// support_draft, ticket.draft_ready or ticket.draft_failed) plus one
// ai.cost per model call. Its fields are set once; Handle is safe for
// concurrent use.
type TaskHandler struct {
	JS jetstream.JetStream
	// Tasks remembers finished tasks, so a redelivery costs no model call.
	Tasks jetstream.KeyValue
	// Spec is the task: its name and result types; its result types must
	// be registered (schemas.RegisterResult).
	Spec     schemas.Task
	Pipeline *pipeline.Pipeline
	// Prompt is the task's prompt.
	Prompt *prompts.Prompt
	// Prompts, when set, holds the other versions a replay may ask for.
	Prompts *prompts.Set
	// MaxDeliver must match the consumer's: on the last delivery a
	// retryable failure is published as ticket.draft_failed instead of
	// being retried. Zero or less means no limit.
	MaxDeliver int
	// Backoff is the nak delay after the nth failed delivery; the last
	// value repeats. A provider's Retry-After wins when it is longer.
	Backoff []time.Duration
	// Timeout bounds one task: pipeline run and publishing. Default 2m.
	Timeout time.Duration
	Logger  *slog.Logger
	// Metrics, when set, counts and times every decision.
	Metrics *metrics.Metrics
	// AfterPublish, when set, is called once a result has its PubAck,
	// before the tasks bucket records it and before the ack: the chaos
	// suite's crash point. Tests only.
	AfterPublish func()
}

// DefaultBackoff spaces retries of a failed delivery.
var DefaultBackoff = []time.Duration{5 * time.Second, 30 * time.Second, 2 * time.Minute, 5 * time.Minute}

// taskStatus is what the tasks bucket holds per task: a claim while a
// worker runs it, a pending mark between deliveries, then the type and id
// of its terminal event.
type taskStatus struct {
	Status  string    `json:"status"` // statusRunning, statusPending, statusPublishing or the result's event type
	EventID string    `json:"event_id,omitempty"`
	At      time.Time `json:"at"`
	// Attempts counts the model calls of earlier deliveries.
	Attempts int `json:"attempts,omitempty"`
	// StreamSeq and Delivered identify the delivery holding a claim.
	StreamSeq uint64 `json:"stream_seq,omitempty"`
	Delivered uint64 `json:"delivered,omitempty"`
	// Events are the outputs of a finished task not yet known to be
	// published (statusPublishing); see intend.
	Events []storedEvent `json:"events,omitempty"`
}

const (
	statusRunning = "running"
	statusPending = "pending" // failed retryably; the next delivery may claim it
)

// errBusy says another delivery of the same event holds the claim.
var errBusy = errors.New("another delivery of this event is running")

// claimed is a claim on a task: the entry's revision, and the model calls
// earlier deliveries made.
type claimed struct {
	rev      uint64
	attempts int
	// republish holds the outputs an earlier delivery decided on and may
	// not have published: publish them, make no model call.
	republish []outgoing
}

// claim makes this delivery the only one running a task, so that the same
// event delivered twice (a redelivery, or the product publishing it twice)
// costs one model call. It returns the claim, or the terminal status when
// the task is already finished. A claim held by an earlier delivery of the
// same stream message is taken over: the server only redelivers after that
// delivery stopped sending in-progress.
func (d *TaskHandler) claim(ctx context.Context, key string, meta *jetstream.MsgMetadata) (c claimed, done string, err error) {
	mine := taskStatus{Status: statusRunning, At: time.Now().UTC(), StreamSeq: meta.Sequence.Stream, Delivered: meta.NumDelivered}
	// Most events are new: try to create the claim first, one round trip,
	// and read the entry only when it exists.
	raw, _ := json.Marshal(mine)
	rev, err := d.create(ctx, key, raw)
	if err == nil {
		return claimed{rev: rev}, "", nil
	}
	if !errors.Is(err, jetstream.ErrKeyExists) {
		return c, "", fmt.Errorf("tasks bucket create: %w", err)
	}
	entry, err := d.get(ctx, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return c, "", errBusy // deleted since: let a later delivery try again
	}
	if err != nil {
		return c, "", fmt.Errorf("tasks bucket get: %w", err)
	}
	var st taskStatus
	if err := json.Unmarshal(entry.Value(), &st); err != nil {
		return c, "", fmt.Errorf("tasks bucket: corrupt entry: %w", err)
	}
	switch {
	case st.Status == statusPending:
	case st.Status != statusRunning && st.Status != statusPublishing:
		return c, st.Status, nil
	case st.StreamSeq != meta.Sequence.Stream || st.Delivered >= meta.NumDelivered:
		return c, "", errBusy
	}
	republish, err := restore(st.Events)
	if err != nil {
		return c, "", fmt.Errorf("tasks bucket: corrupt entry: %w", err)
	}
	mine.Attempts = st.Attempts
	if st.Status == statusPublishing {
		mine.Status, mine.Events = statusPublishing, st.Events
	}
	raw, _ = json.Marshal(mine)
	rev, err = d.update(ctx, key, raw, entry.Revision())
	if err != nil {
		return c, "", fmt.Errorf("tasks bucket take over: %w", err)
	}
	return claimed{rev: rev, attempts: st.Attempts, republish: republish}, "", nil
}

// release gives up a claim so the next delivery can run the task, keeping
// the count of model calls made so far. If it fails, the next delivery of
// the same message takes the claim over.
func (d *TaskHandler) release(ctx context.Context, key string, c claimed, attempts int) {
	raw, _ := json.Marshal(taskStatus{Status: statusPending, At: time.Now().UTC(), Attempts: attempts})
	_, _ = d.update(ctx, key, raw, c.rev)
}

// Handle decides one delivery of the task's trigger. Bad input never
// blocks the stream: it becomes the task's failed event (invalid_input)
// when the ticket and tenant can be read, a dead letter otherwise, and is
// acked. Each decision is counted and timed in Metrics.
func (d *TaskHandler) Handle(ctx context.Context, msg jetstream.Msg) Decision {
	start := time.Now()
	d.Metrics.InFlight(1)
	defer d.Metrics.InFlight(-1)
	var rep report
	dec := d.handle(ctx, msg, &rep)
	d.Metrics.Task(d.Spec.Name, rep.outcome, rep.code, time.Since(start))
	return dec
}

// report is what Handle counts of a decision.
type report struct {
	outcome string // draft_ready, draft_failed, retry, duplicate, dead_letter or error
	code    string
}

func (d *TaskHandler) handle(ctx context.Context, msg jetstream.Msg, rep *report) Decision {
	rep.outcome = "error" // until a path says otherwise
	timeout := d.Timeout
	if timeout <= 0 {
		timeout = 2 * time.Minute
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	meta, err := msg.Metadata()
	if err != nil {
		return Decision{Action: Term, Reason: "not a JetStream message"}
	}
	task := d.Spec.Name
	in, decodeErr := decodeTicket(msg.Data())
	in.replay = replayOf(msg.Headers())
	prompt, err := d.promptFor(task, in.replay)
	if err != nil {
		// A replay asked for a version this worker does not have: it
		// stays in the work queue for a worker that does.
		return Decision{Action: Nak, Delay: d.delay(meta.NumDelivered, 0), Reason: err.Error()}
	}
	attrs := []slog.Attr{slog.String("task", task), slog.String("prompt_version", prompt.Version)}
	if in.replay.ID != "" {
		attrs = append(attrs, slog.String("replay_id", in.replay.ID), slog.Bool("shadow", in.replay.Shadow))
	}

	if meta.NumDelivered > 1 {
		d.Metrics.Redelivered(d.Spec.Consumer)
	}
	if decodeErr != nil {
		ticketID, tenantID, ok := schemas.Peek(msg.Data())
		if !ok {
			rep.outcome, rep.code = "dead_letter", string(pipeline.CodeInvalidInput)
			d.Metrics.DeadLetter(d.Spec.Consumer, safeDetail(decodeErr))
			return d.deadLetter(ctx, msg, meta, decodeErr, attrs)
		}
		in.env.ID = lenientID(msg.Data(), meta)
		in.ticket.TicketID, in.ticket.TenantID = ticketID, tenantID
	} else if wait := time.Since(in.env.Time); !in.env.Time.IsZero() {
		d.Metrics.QueueWait(task, wait)
		attrs = append(attrs, slog.Int64("queue_ms", wait.Milliseconds()))
	}
	ctx, span := startTaskSpan(ctx, task, d.Spec.Consumer, in.env, msg)
	defer span.End()
	in.trace = outputTraceparent(ctx, in.env.TraceParent)
	attrs = append(attrs, slog.String("event_id", in.env.ID), slog.String("ticket_id", in.ticket.TicketID),
		slog.String("tenant_id", in.ticket.TenantID), slog.String("source", in.env.Source),
		slog.String("trace_id", schemas.TraceID(in.trace)))

	key := TaskKey(task, prompt.Version, in.replay.ID, in.env.ID)
	c, done, err := d.claim(ctx, key, meta)
	switch {
	case err != nil:
		return Decision{Action: Nak, Delay: d.delay(meta.NumDelivered, 0), Reason: err.Error(), Attrs: attrs}
	case done != "":
		rep.outcome = "duplicate"
		return Decision{Action: Ack, Reason: "already finished as " + done, Attrs: attrs}
	case len(c.republish) > 0:
		rep.outcome = "duplicate"
		return d.finish(ctx, key, c, c.republish, meta, append(attrs, slog.Bool("republished", true)), "republished after an interrupted delivery")
	}

	var out pipeline.Outcome
	if decodeErr != nil {
		out = pipeline.Outcome{Code: pipeline.CodeInvalidInput, Detail: safeDetail(decodeErr), PromptVersion: prompt.Version, PromptHash: prompt.Hash}
	} else {
		created := in.env.Time
		if in.replay.ID != "" {
			created = time.Time{} // a replay reprocesses old tickets on purpose
		}
		out = d.run(ctx, pipeline.Task{Name: task, EventID: in.env.ID, Ticket: in.ticket, Prompt: prompt,
			Created: created, ReplayID: in.replay.ID})
	}
	attrs = append(attrs, outcomeAttrs(out)...)
	d.observe(task, out)
	rep.code = string(out.Code)
	span.SetAttributes(attribute.String("ghostwriter.outcome", outcomeName(out)), attribute.String("ghostwriter.error_code", string(out.Code)))

	attempts := c.attempts + out.Attempts
	retry := out.Retryable() && (d.MaxDeliver <= 0 || int(meta.NumDelivered) < d.MaxDeliver)
	pubs := d.costEvents(in, task, out)
	intended := false
	if !retry {
		pubs = append(pubs, d.resultEvent(in, task, key, out, attempts))
		if err := encodeAll(pubs); err != nil {
			d.release(ctx, key, c, attempts)
			return Decision{Action: Nak, Delay: d.delay(meta.NumDelivered, 0), Reason: "publish: " + err.Error(), Attrs: attrs}
		}
		c, intended = d.intend(ctx, key, c, meta, pubs)
	}
	if err := publishAll(ctx, d.JS, pubs); err != nil {
		if !intended {
			d.release(ctx, key, c, attempts)
		}
		return Decision{Action: Nak, Delay: d.delay(meta.NumDelivered, 0), Reason: "publish: " + err.Error(), Attrs: attrs}
	}
	if retry {
		d.release(ctx, key, c, attempts)
		rep.outcome = "retry"
		d.Metrics.Retry("redelivery", string(out.Code), 1)
		return Decision{Action: Nak, Delay: d.delay(meta.NumDelivered, out.RetryAfter), Reason: string(out.Code), Attrs: attrs}
	}
	if d.AfterPublish != nil {
		d.AfterPublish()
	}
	result := pubs[len(pubs)-1]
	st, _ := json.Marshal(taskStatus{Status: result.subject, EventID: result.env.ID, At: time.Now().UTC()})
	if _, err := d.update(ctx, key, st, c.rev); err != nil {
		// The result is published; a redelivery republishes it under the
		// same Nats-Msg-Id, which the stream drops as a duplicate.
		return Decision{Action: Nak, Delay: d.delay(meta.NumDelivered, 0), Reason: "tasks bucket: " + err.Error(), Attrs: attrs}
	}
	rep.outcome = outcomeName(out)
	return Decision{Action: Ack, Attrs: attrs, Warn: out.BudgetSoft}
}

// observe records an outcome's model calls and in-process retries.
func (d *TaskHandler) observe(task string, out pipeline.Outcome) {
	for i, c := range out.Calls {
		d.Metrics.ModelCall(task, c.Model, c.Outcome, c.Latency, c.InputTokens, c.OutputTokens, c.CostMicroUSD)
		if c.Outcome != "ok" && i < len(out.Calls)-1 {
			d.Metrics.Retry("in_process", c.Outcome, 1)
		}
	}
}

func outcomeName(out pipeline.Outcome) string {
	if out.Ready {
		return "draft_ready"
	}
	return "draft_failed"
}

// run calls the pipeline; a panic inside it is a bug, reported as an
// internal failure so the ticket still gets its terminal event.
func (d *TaskHandler) run(ctx context.Context, t pipeline.Task) (out pipeline.Outcome) {
	defer func() {
		if r := recover(); r != nil {
			logger(d.Logger).Error("pipeline panic", "event_id", t.EventID, "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
			out = pipeline.Outcome{Code: pipeline.CodeInternal, Detail: "pipeline panic", PromptVersion: t.Prompt.Version, PromptHash: t.Prompt.Hash}
		}
	}()
	return d.Pipeline.Run(ctx, t)
}

func (d *TaskHandler) delay(delivered uint64, retryAfter time.Duration) time.Duration {
	b := d.Backoff
	if len(b) == 0 {
		b = DefaultBackoff
	}
	i := min(int(delivered), len(b)) - 1
	return max(b[max(i, 0)], retryAfter)
}

type ticketIn struct {
	env    schemas.Envelope
	ticket schemas.TicketCreated
	// trace is the traceparent every output carries.
	trace  string
	replay replayInfo
}

// replayInfo is what a replayed event's headers ask for.
type replayInfo struct {
	ID            string
	PromptVersion string
	Shadow        bool
}

func replayOf(h nats.Header) replayInfo {
	return replayInfo{
		ID:            h.Get(schemas.HeaderReplayID),
		PromptVersion: h.Get(schemas.HeaderReplayPromptVersion),
		Shadow:        h.Get(schemas.HeaderReplayShadow) == "true",
	}
}

// promptFor is the prompt a delivery runs with: a replay's version when it
// names one, the worker's own otherwise.
func (d *TaskHandler) promptFor(task string, r replayInfo) (*prompts.Prompt, error) {
	if r.PromptVersion == "" || r.PromptVersion == d.Prompt.Version {
		return d.Prompt, nil
	}
	if d.Prompts == nil {
		return nil, fmt.Errorf("replay %s wants prompt %s/%s; this worker has only %s", r.ID, task, r.PromptVersion, d.Prompt.Version)
	}
	return d.Prompts.Get(task, r.PromptVersion)
}

func decodeTicket(raw []byte) (ticketIn, error) {
	var in ticketIn
	env, err := schemas.Decode(raw)
	if err != nil {
		return in, err
	}
	if env.Type != schemas.TypeTicketCreated {
		return in, &schemas.FieldError{Field: "/type", Reason: fmt.Sprintf("want %s on this subject", schemas.TypeTicketCreated)}
	}
	in.env = env
	if err := env.DecodeData(&in.ticket); err != nil {
		return in, err
	}
	return in, nil
}

var safeID = regexp.MustCompile(`^[A-Za-z0-9._:@/+=-]{1,256}$`)

// lenientID finds an id for an event the strict decoder rejected: its
// envelope id when that is a plain string, else one made from its place
// in the stream, which is stable across redeliveries.
func lenientID(raw []byte, meta *jetstream.MsgMetadata) string {
	var probe struct {
		ID any `json:"id"`
	}
	if json.Unmarshal(raw, &probe) == nil {
		if id, ok := probe.ID.(string); ok && safeID.MatchString(id) {
			return id
		}
	}
	return fmt.Sprintf("seq-%s-%d", meta.Stream, meta.Sequence.Stream)
}

// safeDetail keeps a decode error short and free of ticket text: field
// errors name a field and a reason, anything else is summarised.
func safeDetail(err error) string {
	var fe *schemas.FieldError
	if errors.As(err, &fe) {
		return fe.Detail()
	}
	return schemas.KindInvalidJSON
}

// safeReason is the human-readable reason of a decode error, for the
// dead-letter headers: a field and a reason, never document text.
func safeReason(err error) string {
	var fe *schemas.FieldError
	if errors.As(err, &fe) {
		reason := fe.Reason
		if fe.Field != "" {
			reason = fe.Field + ": " + reason
		}
		if len(reason) > 200 {
			reason = reason[:200]
		}
		return strings.ToValidUTF8(reason, "")
	}
	return "event could not be decoded"
}

// TaskKey is the tasks-bucket key of (task, prompt version, replay, event):
// readable when the event id is a safe token, hashed otherwise.
func TaskKey(task, promptVersion, replayID, eventID string) string {
	parts := []string{task, promptVersion}
	if replayID != "" {
		parts = append(parts, "replay", replayID)
	}
	if kvSafe.MatchString(eventID) {
		return strings.Join(append(parts, eventID), ".")
	}
	sum := sha256.Sum256([]byte(eventID))
	return strings.Join(append(parts, "h"+hex.EncodeToString(sum[:16])), ".")
}

var kvSafe = regexp.MustCompile(`^[A-Za-z0-9_=-]{1,128}$`)

// resultID is the event id and Nats-Msg-Id of a task's terminal event. It
// is the same for ready and failed, so at most one of them is stored for a
// key inside the duplicate window.
func resultID(key string) string {
	sum := sha256.Sum256([]byte("result\x00" + key))
	return hex.EncodeToString(sum[:16])
}

// outgoing is one event to publish.
type outgoing struct {
	subject string
	env     schemas.Envelope
	// body is env as published, set by encodeAll: the same bytes are kept
	// in the tasks bucket and published, encoded once.
	body   []byte
	msgID  string
	source string // the source event id, as a header
	replay string // the replay id, as a header
}

// resultEvent builds the terminal event; attempts counts the model calls
// of every delivery.
func (d *TaskHandler) resultEvent(in ticketIn, task, key string, out pipeline.Outcome, attempts int) outgoing {
	meta := pipeline.ResultMeta{TicketID: in.ticket.TicketID, TenantID: in.ticket.TenantID, SourceEventID: in.env.ID,
		Task: task, ReplayID: in.replay.ID, Attempts: attempts}
	id := resultID(key)
	if out.Ready {
		return d.event(d.Spec.Ready, id, id, in, pipeline.ReadyData(meta, out))
	}
	return d.event(d.Spec.Failed, id, id, in, pipeline.FailedData(meta, out))
}

func (d *TaskHandler) costEvents(in ticketIn, task string, out pipeline.Outcome) []outgoing {
	pubs := make([]outgoing, 0, len(out.Calls)+1)
	for _, c := range out.Calls {
		// A call id is random on purpose: every real call is billed,
		// also the second call a crash-redelivery makes.
		callID := uuid.NewString()
		pubs = append(pubs, d.event(schemas.TypeCost, callID, callID, in, schemas.Cost{
			CallID: callID, SourceEventID: in.env.ID, Task: task, TenantID: in.ticket.TenantID,
			Provider: c.Provider, Model: c.Model, PromptVersion: out.PromptVersion, PromptHash: out.PromptHash,
			InputTokens: c.InputTokens, OutputTokens: c.OutputTokens, CostMicroUSD: c.CostMicroUSD,
			CachedInputTokens: c.CachedInputTokens, ReasoningTokens: c.ReasoningTokens,
			LatencyMS: c.Latency.Milliseconds(), Outcome: c.Outcome,
		}))
	}
	return pubs
}

// event builds an output envelope as schemas.New does, without New's
// validation of the data: publishAll validates the whole event once, with
// schemas.Encode, before it leaves. Validating twice cost a tenth of the
// worker's CPU (make bench).
func (d *TaskHandler) event(typ, id, msgID string, in ticketIn, data any) outgoing {
	raw, err := json.Marshal(data)
	if err != nil {
		panic(fmt.Sprintf("consumers: building %s: %v", typ, err)) // our own types: a bug
	}
	env := schemas.Envelope{
		SpecVersion: schemas.SpecVersion, ID: id, Source: Source, Type: typ,
		Time: time.Now().UTC().Truncate(time.Millisecond), DataContentType: "application/json",
		DataSchema: schemas.SchemaURL(typ), Subject: in.ticket.TicketID, TraceParent: in.trace, Data: raw,
	}
	subject := typ
	if in.replay.Shadow && typ != schemas.TypeCost {
		subject = schemas.SubjectShadowPrefix + typ // never to the product
	}
	return outgoing{subject: subject, env: env, msgID: msgID, source: in.env.ID, replay: in.replay.ID}
}

// encodeAll validates and encodes each event not yet encoded
// (schemas.Encode: nothing a consumer would reject leaves).
func encodeAll(pubs []outgoing) error {
	for i := range pubs {
		if pubs[i].body != nil {
			continue
		}
		body, err := schemas.Encode(pubs[i].env)
		if err != nil {
			return fmt.Errorf("encode %s: %w", pubs[i].subject, err)
		}
		pubs[i].body = body
	}
	return nil
}

// publishAll encodes (encodeAll) and publishes every event and waits for
// all PubAcks.
func publishAll(ctx context.Context, js jetstream.JetStream, pubs []outgoing) error {
	if err := encodeAll(pubs); err != nil {
		return err
	}
	futures := make([]jetstream.PubAckFuture, 0, len(pubs))
	for _, p := range pubs {
		m := nats.NewMsg(p.subject)
		m.Data = p.body
		m.Header.Set(schemas.HeaderTraceparent, p.env.TraceParent)
		m.Header.Set(schemas.HeaderSourceEventID, p.source)
		if p.replay != "" {
			m.Header.Set(schemas.HeaderReplayID, p.replay)
		}
		f, err := js.PublishMsgAsync(m, jetstream.WithMsgID(p.msgID))
		if err != nil {
			return fmt.Errorf("publish %s: %w", p.subject, err)
		}
		futures = append(futures, f)
	}
	// A PubAck lost with a server that died never comes: give up soon
	// and hand the ticket back, well inside the duplicate window.
	ctx, cancel := bounded(ctx)
	defer cancel()
	for _, f := range futures {
		select {
		case <-f.Ok():
		case err := <-f.Err():
			return fmt.Errorf("publish %s: %w", f.Msg().Subject, err)
		case <-ctx.Done():
			return fmt.Errorf("publish %s: %w", f.Msg().Subject, ctx.Err())
		}
	}
	return nil
}

// deadLetter stores an event nobody can attribute to a ticket in
// GHOSTWRITER_DLQ, with the reason in headers, and acks it.
func (d *TaskHandler) deadLetter(ctx context.Context, msg jetstream.Msg, meta *jetstream.MsgMetadata, cause error, attrs []slog.Attr) Decision {
	detail := safeDetail(cause)
	attrs = append(attrs, slog.String("error_code", string(pipeline.CodeInvalidInput)), slog.String("error_detail", detail))
	pctx, cancel := bounded(ctx)
	defer cancel()
	if err := publishDeadLetter(pctx, d.JS, msg, string(pipeline.CodeInvalidInput), detail, safeReason(cause)); err != nil {
		return Decision{Action: Nak, Delay: d.delay(meta.NumDelivered, 0), Reason: err.Error(), Attrs: attrs}
	}
	return Decision{Action: Ack, Reason: "dead-lettered: " + detail, Attrs: attrs}
}

// outcomeAttrs are the log fields of an outcome: never the draft.
func outcomeAttrs(o pipeline.Outcome) []slog.Attr {
	var modelTime time.Duration
	for _, c := range o.Calls {
		modelTime += c.Latency
	}
	attrs := []slog.Attr{
		slog.String("route", o.Route), slog.String("route_reason", o.RouteReason),
		slog.String("model", o.Model), slog.String("provider", o.Provider), slog.String("fallback", o.Fallback),
		slog.Int64("latency_ms", o.Latency.Milliseconds()), slog.Int64("model_ms", modelTime.Milliseconds()),
		slog.Int("attempts", o.Attempts), slog.Int("retries", o.Retries),
		slog.Int("input_tokens", o.Usage.InputTokens), slog.Int("output_tokens", o.Usage.OutputTokens),
		slog.Int64("cost_microusd", o.CostMicroUSD), slog.String("validation", validation(o)),
	}
	if o.BudgetSoft {
		attrs = append(attrs, slog.Bool("budget_soft_limit", true))
	}
	if o.Cleaned.Total() > 0 {
		attrs = append(attrs, slog.Any("cleaned", o.Cleaned))
	}
	if len(o.Masked) > 0 {
		masked := make([]any, 0, len(o.Masked))
		for kind, n := range o.Masked {
			masked = append(masked, slog.Int(strings.ToLower(kind), n))
		}
		attrs = append(attrs, slog.Group("masked", masked...))
	}
	if o.Ready {
		attrs = append(attrs, slog.String("outcome", "draft_ready"), slog.Bool("requires_review", o.Answer.RequiresReview()))
		if label := o.Answer.Text(pipeline.FieldReason); label != "" {
			attrs = append(attrs, slog.String("reason_label", label))
		}
		return attrs
	}
	return append(attrs, slog.String("outcome", "draft_failed"), slog.String("error_code", string(o.Code)))
}

// validation says what became of the model's answer: passed, failed (and
// how), or not reached.
func validation(o pipeline.Outcome) string {
	switch {
	case o.Ready:
		return "passed"
	case o.Code == pipeline.CodeInvalidOutput, o.Code == pipeline.CodeTruncatedOutput, o.Code == pipeline.CodeUnsafeContent:
		return "failed:" + string(o.Code)
	}
	return "not_reached"
}
