package consumers

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/ghostwriter-ai/ghostwriter/schemas"
)

// DeadLetter is one message in GHOSTWRITER_DLQ, as an operator sees it.
type DeadLetter struct {
	Seq           uint64 // in GHOSTWRITER_DLQ
	Time          time.Time
	Subject       string // the original subject
	SourceStream  string
	SourceSeq     string
	Detail        string // the stable error detail
	Reason        string // a field and a reason, never message text
	Size          int
	data          []byte
	sourceSubject string
}

// DeadLetters returns up to limit dead letters, oldest first, from seq on.
func DeadLetters(ctx context.Context, js jetstream.JetStream, fromSeq uint64, limit int) ([]DeadLetter, error) {
	s, err := js.Stream(ctx, schemas.StreamDLQ)
	if err != nil {
		return nil, fmt.Errorf("consumers.dlq: %w", err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		return nil, fmt.Errorf("consumers.dlq: %w", err)
	}
	var out []DeadLetter
	for seq := max(fromSeq, info.State.FirstSeq); seq <= info.State.LastSeq && len(out) < limit; seq++ {
		m, err := s.GetMsg(ctx, seq)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("consumers.dlq get %d: %w", seq, err)
		}
		out = append(out, letterOf(m))
	}
	return out, nil
}

func letterOf(m *jetstream.RawStreamMsg) DeadLetter {
	return DeadLetter{
		Seq: m.Sequence, Time: m.Time, Subject: m.Header.Get(schemas.HeaderSourceSubject),
		SourceStream: m.Header.Get(schemas.HeaderSourceStream), SourceSeq: m.Header.Get(schemas.HeaderSourceSeq),
		Detail: m.Header.Get(schemas.HeaderErrorDetail), Reason: m.Header.Get(schemas.HeaderReason),
		Size: len(m.Data), data: m.Data, sourceSubject: m.Header.Get(schemas.HeaderSourceSubject),
	}
}

// publishDeadLetter stores msg's bytes in GHOSTWRITER_DLQ under
// ghostwriter.dlq.<subject>, with its place in its stream, the closed-set
// code, the stable detail and a human reason in headers. A redelivery of
// the same message dedupes on its stream sequence.
func publishDeadLetter(ctx context.Context, js jetstream.JetStream, msg jetstream.Msg, code, detail, reason string) error {
	meta, err := msg.Metadata()
	if err != nil {
		return fmt.Errorf("consumers.dead_letter: %w", err)
	}
	seq := strconv.FormatUint(meta.Sequence.Stream, 10)
	m := nats.NewMsg(schemas.SubjectDLQPrefix + msg.Subject())
	m.Data = msg.Data()
	m.Header.Set(schemas.HeaderErrorCode, code)
	m.Header.Set(schemas.HeaderErrorDetail, detail)
	m.Header.Set(schemas.HeaderReason, reason)
	m.Header.Set(schemas.HeaderSourceStream, meta.Stream)
	m.Header.Set(schemas.HeaderSourceSeq, seq)
	m.Header.Set(schemas.HeaderSourceSubject, msg.Subject())
	if _, err := js.PublishMsg(ctx, m, jetstream.WithMsgID("dlq-"+meta.Stream+"-"+seq)); err != nil {
		return fmt.Errorf("consumers.dead_letter: %w", err)
	}
	return nil
}

// Redrive publishes dead letter seq's original bytes again on its original
// subject, for after a fix (a new schema version, a corrected producer), and
// removes it from GHOSTWRITER_DLQ once the publish is acknowledged. The
// republished message is a new stream message: the workers judge it anew.
func Redrive(ctx context.Context, js jetstream.JetStream, seq uint64) error {
	s, err := js.Stream(ctx, schemas.StreamDLQ)
	if err != nil {
		return fmt.Errorf("consumers.redrive: %w", err)
	}
	m, err := s.GetMsg(ctx, seq)
	if err != nil {
		return fmt.Errorf("consumers.redrive %d: %w", seq, err)
	}
	d := letterOf(m)
	if d.sourceSubject == "" {
		return fmt.Errorf("consumers.redrive %d: no %s header", seq, schemas.HeaderSourceSubject)
	}
	out := nats.NewMsg(d.sourceSubject)
	out.Data = d.data
	if _, err := js.PublishMsg(ctx, out, jetstream.WithMsgID("redrive-"+strconv.FormatUint(seq, 10))); err != nil {
		return fmt.Errorf("consumers.redrive %d: %w", seq, err)
	}
	if err := s.DeleteMsg(ctx, seq); err != nil {
		return fmt.Errorf("consumers.redrive %d: republished, but not removed: %w", seq, err)
	}
	return nil
}
