package ledger

import (
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/agnivade/levenshtein"
)

// Class says how much of a draft a human kept in the reply they sent.
type Class string

const (
	// ClassAccepted: sent as drafted, give or take a typo (distance <= 0.02).
	ClassAccepted Class = "accepted"
	// ClassLightlyEdited: the draft is still most of the reply (<= 0.3).
	ClassLightlyEdited Class = "lightly_edited"
	// ClassRewritten: the reply shares little with the draft.
	ClassRewritten Class = "rewritten"
	// ClassNotUsed: the reply did not start from a draft (none arrived in
	// time, or the product did not offer it).
	ClassNotUsed Class = "not_used"
)

// The class boundaries, as normalised edit distances.
const (
	AcceptedMax      = 0.02
	LightlyEditedMax = 0.3
)

// maxCompareRunes bounds the quadratic comparison; drafts are far
// shorter (the prompt's output schema caps them at 4,000 characters).
const maxCompareRunes = 16384

// Compare classes the reply a human sent against the draft it started
// from, and returns the normalised edit distance: the Levenshtein
// distance over runes divided by the longer text's length, after both
// are trimmed and every run of whitespace is made one space, so that
// line breaks and trailing spaces do not count as edits. 0 means
// identical, 1 nothing in common. The distance is never less than
// 1 - shorter/longer, so texts whose lengths alone make the reply a
// rewrite are not compared rune by rune, and that bound is returned.
// Otherwise the distance is exact, unless the texts still differ over
// more than 16,384 runes once their common prefix and suffix are set
// aside: then it is an upper bound, to keep the work bounded.
func Compare(draft, final string) (Class, float64) {
	a, b := []rune(normalise(draft)), []rune(normalise(final))
	short, long := min(len(a), len(b)), max(len(a), len(b))
	if long == 0 {
		return ClassAccepted, 0
	}
	var dist float64
	if lower := 1 - float64(short)/float64(long); lower > LightlyEditedMax {
		dist = lower
	} else {
		// A common prefix and suffix cost no edits; only the middle is
		// compared.
		a, b = trimCommon(a, b)
		var edits int
		if m := max(len(a), len(b)); m > maxCompareRunes {
			// An upper bound: edit the compared heads, then the rest.
			edits = levenshtein.ComputeDistance(string(a[:min(len(a), maxCompareRunes)]), string(b[:min(len(b), maxCompareRunes)])) +
				m - maxCompareRunes
		} else {
			edits = levenshtein.ComputeDistance(string(a), string(b))
		}
		dist = min(float64(edits)/float64(long), 1)
	}
	return classOf(dist), dist
}

// trimCommon drops the prefix and suffix a and b share.
func trimCommon(a, b []rune) ([]rune, []rune) {
	for len(a) > 0 && len(b) > 0 && a[0] == b[0] {
		a, b = a[1:], b[1:]
	}
	for len(a) > 0 && len(b) > 0 && a[len(a)-1] == b[len(b)-1] {
		a, b = a[:len(a)-1], b[:len(b)-1]
	}
	return a, b
}

func classOf(dist float64) Class {
	switch {
	case dist <= AcceptedMax:
		return ClassAccepted
	case dist <= LightlyEditedMax:
		return ClassLightlyEdited
	}
	return ClassRewritten
}

// normalise trims s and makes each run of whitespace one space.
func normalise(s string) string {
	return strings.Join(strings.FieldsFunc(s, unicode.IsSpace), " ")
}

// Draft is a ticket.draft_ready as the ledger keeps it, to compare the
// reply a human sends with it.
type Draft struct {
	EventID       string
	TicketID      string
	TenantID      string
	SourceEventID string
	Task          string
	PromptVersion string
	Model         string
	ReplayID      string
	Text          string
	At            time.Time
}

// Validate reports what would make RecordDraft reject d for good.
func (d Draft) Validate() error {
	switch {
	case d.EventID == "":
		return errors.New("draft without event id")
	case d.TicketID == "" || d.TenantID == "":
		return fmt.Errorf("draft %s without ticket or tenant", d.EventID)
	case d.At.IsZero():
		return fmt.Errorf("draft %s without a time", d.EventID)
	}
	return noNUL("draft "+d.EventID, d.EventID, d.TicketID, d.TenantID, d.SourceEventID, d.Task, d.PromptVersion, d.Model, d.ReplayID, d.Text)
}

// Feedback is one reply a human sent, compared with the draft it
// started from. Task, PromptVersion and Model are the draft's, empty
// when there was no draft at all.
type Feedback struct {
	ReplyEventID  string
	TicketID      string
	TenantID      string
	DraftEventID  string
	Task          string
	PromptVersion string
	Model         string
	Class         Class
	// Distance is Compare's; meaningless (and stored as NULL) for
	// ClassNotUsed.
	Distance   float64
	DraftChars int
	FinalChars int
	At         time.Time
}

// NewFeedback compares final with d (nil: the reply started from no
// draft) and returns the feedback row of reply replyEventID. A reply
// that did not start from d but was sent while d existed passes used
// false: it counts as not used against d's prompt version and model.
func NewFeedback(replyEventID, ticketID, tenantID, final string, at time.Time, d *Draft, used bool) Feedback {
	f := Feedback{ReplyEventID: replyEventID, TicketID: ticketID, TenantID: tenantID, Class: ClassNotUsed,
		FinalChars: utf8.RuneCountInString(final), At: at}
	if d == nil {
		return f
	}
	f.DraftEventID, f.Task, f.PromptVersion, f.Model = d.EventID, d.Task, d.PromptVersion, d.Model
	f.DraftChars = utf8.RuneCountInString(d.Text)
	if used {
		f.Class, f.Distance = Compare(d.Text, final)
	}
	return f
}

// Validate reports what would make RecordFeedback reject f for good.
func (f Feedback) Validate() error {
	switch {
	case f.ReplyEventID == "":
		return errors.New("feedback without reply event id")
	case f.At.IsZero():
		return fmt.Errorf("feedback %s without a time", f.ReplyEventID)
	case f.Distance < 0 || f.Distance > 1:
		return fmt.Errorf("feedback %s with distance %v outside 0..1", f.ReplyEventID, f.Distance)
	}
	switch f.Class {
	case ClassAccepted, ClassLightlyEdited, ClassRewritten, ClassNotUsed:
	default:
		return fmt.Errorf("feedback %s with unknown class %q", f.ReplyEventID, f.Class)
	}
	return noNUL("feedback "+f.ReplyEventID, f.ReplyEventID, f.TicketID, f.TenantID, f.DraftEventID, f.Task, f.PromptVersion, f.Model)
}

// noNUL rejects a NUL byte, which Postgres text cannot hold.
func noNUL(what string, fields ...string) error {
	for _, s := range fields {
		if strings.ContainsRune(s, 0) {
			return fmt.Errorf("%s with a NUL byte in a field", what)
		}
	}
	return nil
}

// QualityRow is what humans made of the drafts of one task, prompt
// version and model in a period, beside what those drafts cost.
type QualityRow struct {
	Task          string
	PromptVersion string
	Model         string
	// Drafts counts the draft_ready events seen in the period.
	Drafts int64
	// Replies counts the replies sent in the period, by class.
	Replies       int64
	Accepted      int64
	LightlyEdited int64
	Rewritten     int64
	NotUsed       int64
	// MeanDistance averages the replies that started from a draft.
	MeanDistance float64
	// CostMicroUSD is the spend of the model calls of the same task,
	// prompt version and model in the period.
	CostMicroUSD int64
}

// AcceptedRate is the share of replies sent as drafted, 0 when there
// were none.
func (r QualityRow) AcceptedRate() float64 { return ratio(r.Accepted, r.Replies) }

// KeptRate is the share of replies that kept most of their draft:
// accepted or lightly edited.
func (r QualityRow) KeptRate() float64 { return ratio(r.Accepted+r.LightlyEdited, r.Replies) }

// CostPerDraft is the period's spend over its drafts, in micro-dollars;
// 0 without drafts.
func (r QualityRow) CostPerDraft() int64 {
	if r.Drafts == 0 {
		return 0
	}
	return r.CostMicroUSD / r.Drafts
}

func ratio(n, d int64) float64 {
	if d == 0 {
		return 0
	}
	return float64(n) / float64(d)
}
