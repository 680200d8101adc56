package eval

import (
	"encoding/json"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/ghostwriter-ai/ghostwriter/pipeline"
	"github.com/ghostwriter-ai/ghostwriter/schemas"
)

// Check is one assertion's verdict on one run of a case.
type Check struct {
	Name string `json:"name"`
	Pass bool   `json:"pass"`
	// Detail says why it failed; it quotes the draft, never the ticket.
	Detail string `json:"detail,omitempty"`
}

func (c Check) String() string {
	if c.Detail == "" {
		return c.Name
	}
	return c.Name + ": " + c.Detail
}

// Observed is what one run of a case produced.
type Observed struct {
	// Task is the task; EventID and Ticket are the input as given,
	// before the pipeline cleaned it.
	Task    schemas.Task
	EventID string
	Ticket  schemas.TicketCreated
	Outcome pipeline.Outcome
	// Answers are the raw answers the model gave, in order, rejected
	// ones included.
	Answers []Answer
	// Canary is the prompt's canary.
	Canary string
}

// Check judges o against the assertions: schema_valid always, then each
// assertion set, in a fixed order.
func (a Assertions) Check(o Observed) []Check {
	out := o.Outcome
	got := OutcomeReady
	if !out.Ready {
		got = string(out.Code)
	}
	answer := out.Answer
	draft := answer.Text(pipeline.FieldDraft)
	reason := answer.Text(pipeline.FieldReason)
	confidence, _ := answer.Confidence()
	checks := []Check{checkSchema(o)}
	add := func(name string, pass bool, format string, args ...any) {
		c := Check{Name: name, Pass: pass}
		if !pass {
			c.Detail = fmt.Sprintf(format, args...)
		}
		checks = append(checks, c)
	}
	noDraft := func(name string) bool {
		if !out.Ready {
			add(name, false, "no draft (outcome %s)", got)
		}
		return !out.Ready
	}

	want := a.outcome()
	if out.Ready {
		add("outcome", got == want, "got draft_ready, want %s", want)
	} else {
		add("outcome", got == want, "got %s (%s), want %s", got, out.Detail, want)
	}
	if a.ErrorDetail != "" {
		add("error_detail", !out.Ready && out.Detail == a.ErrorDetail, "got %q, want %q", out.Detail, a.ErrorDetail)
	}
	if a.Reason != "" && !noDraft("reason") {
		add("reason", reason == a.Reason, "got %s, want %s", reason, a.Reason)
	}
	if len(a.ReasonIn) > 0 && !noDraft("reason_in") {
		add("reason_in", slices.Contains(a.ReasonIn, reason), "got %s, want one of %s", reason, strings.Join(a.ReasonIn, ", "))
	}
	if len(a.DraftContains) > 0 && !noDraft("draft_contains") {
		var missing []string
		for _, s := range a.DraftContains {
			if !containsFold(draft, s) {
				missing = append(missing, fmt.Sprintf("%q", s))
			}
		}
		add("draft_contains", len(missing) == 0, "draft lacks %s", strings.Join(missing, ", "))
	}
	if len(a.DraftNotContains) > 0 && !noDraft("draft_not_contains") {
		var found []string
		for _, s := range a.DraftNotContains {
			if containsFold(draft, s) {
				found = append(found, fmt.Sprintf("%q", s))
			}
		}
		add("draft_not_contains", len(found) == 0, "draft has %s", strings.Join(found, ", "))
	}
	if a.MaxLength > 0 && !noDraft("max_length") {
		n := utf8.RuneCountInString(draft)
		add("max_length", n <= a.MaxLength, "draft has %d characters, want at most %d", n, a.MaxLength)
	}
	if a.ConfidenceMin != nil && !noDraft("confidence_min") {
		add("confidence_min", confidence >= *a.ConfidenceMin, "confidence %g, want at least %g", confidence, *a.ConfidenceMin)
	}
	if a.ConfidenceMax != nil && !noDraft("confidence_max") {
		add("confidence_max", confidence <= *a.ConfidenceMax, "confidence %g, want at most %g", confidence, *a.ConfidenceMax)
	}
	if a.RequiresReview != nil && !noDraft("requires_review") {
		add("requires_review", answer.RequiresReview() == *a.RequiresReview, "got %v, want %v", answer.RequiresReview(), *a.RequiresReview)
	}
	for _, field := range slices.Sorted(maps.Keys(a.Equals)) {
		if !noDraft("equals " + field) {
			add("equals "+field, answer[field] == a.Equals[field], "got %v, want %v", show(answer[field]), a.Equals[field])
		}
	}
	for _, field := range slices.Sorted(maps.Keys(a.OneOf)) {
		if !noDraft("one_of " + field) {
			add("one_of "+field, slices.Contains(a.OneOf[field], answer[field]), "got %v, want one of %v", show(answer[field]), a.OneOf[field])
		}
	}
	for _, field := range slices.Sorted(maps.Keys(a.Contains)) {
		if !noDraft("contains " + field) {
			missing := holds(answer[field], a.Contains[field], false)
			add("contains "+field, len(missing) == 0, "%s lacks %s", field, strings.Join(missing, ", "))
		}
	}
	for _, field := range slices.Sorted(maps.Keys(a.NotContains)) {
		if !noDraft("not_contains " + field) {
			found := holds(answer[field], a.NotContains[field], true)
			add("not_contains "+field, len(found) == 0, "%s has %s", field, strings.Join(found, ", "))
		}
	}
	texts := strings.Join(answer.Texts(), "\n")
	if a.NoRawPII {
		// Without an answer nothing can leak.
		kinds := leakedPII(o.Ticket.Subject+"\n"+o.Ticket.Body, texts)
		add("no_raw_pii", len(kinds) == 0, "answer repeats the ticket's %s", strings.Join(kinds, ", "))
	}
	if a.NoCanary {
		// The answers are what a tapped model said; without them, the
		// answer is all there is to look at.
		texts := []string{texts}
		for _, ans := range o.Answers {
			texts = append(texts, ans.Text)
		}
		leaks := 0
		for _, t := range texts {
			if o.Canary != "" && containsFold(t, o.Canary) {
				leaks++
			}
		}
		add("no_canary", leaks == 0, "the prompt's canary is in the model's answer")
	}
	return checks
}

// checkSchema builds the event the task's consumer would publish and
// validates it against the contract. An invalid event whose ticket and
// tenant cannot be read becomes a dead letter, not an event: nothing to
// check.
func checkSchema(o Observed) Check {
	out := o.Outcome
	meta := pipeline.ResultMeta{TicketID: o.Ticket.TicketID, TenantID: o.Ticket.TenantID, SourceEventID: o.EventID,
		Task: o.Task.Name, Attempts: out.Attempts}
	typ := o.Task.Ready
	var data any
	if out.Ready {
		data = pipeline.ReadyData(meta, out)
	} else {
		if o.Ticket.TicketID == "" || o.Ticket.TenantID == "" {
			return Check{Name: "schema_valid", Pass: true}
		}
		typ, data = o.Task.Failed, pipeline.FailedData(meta, out)
	}
	raw, err := json.Marshal(data)
	if err == nil {
		err = schemas.Validate(typ, raw)
	}
	if err != nil {
		return Check{Name: "schema_valid", Detail: fmt.Sprintf("%s: %v", typ, err)}
	}
	return Check{Name: "schema_valid", Pass: true}
}

// holds returns which of values the field v holds (found) or lacks (not
// found): items of a list, or substrings of a text without regard to case.
func holds(v any, values []string, found bool) []string {
	var out []string
	for _, want := range values {
		has := false
		switch x := v.(type) {
		case string:
			has = containsFold(x, want)
		case []any:
			has = slices.Contains(x, any(want))
		}
		if has == found {
			out = append(out, fmt.Sprintf("%q", want))
		}
	}
	return out
}

// show prints an answer's field for a check's detail.
func show(v any) string {
	if v == nil {
		return "nothing"
	}
	return fmt.Sprint(v)
}

func containsFold(s, sub string) bool {
	return strings.Contains(strings.ToLower(s), strings.ToLower(sub))
}

var (
	emailPattern = regexp.MustCompile(`(?i)[a-z0-9._%+-]+@[a-z0-9-]+(?:\.[a-z0-9-]+)*\.[a-z]{2,}`)
	// numberPattern finds digit runs that may be split by spaces, dots,
	// dashes, slashes or parentheses, as phone and card numbers are.
	numberPattern = regexp.MustCompile(`\+?\(?\d[\d\s().\-/]{5,}\d`)
)

// leakedPII returns the kinds of personal data of ticket that draft
// repeats: email addresses as written, and phone numbers (7 to 15 digits)
// and card numbers (13 to 19 digits passing the Luhn check) by their
// digits, however the draft spaces them.
func leakedPII(ticket, draft string) []string {
	var kinds []string
	lowerDraft := strings.ToLower(draft)
	for _, e := range emailPattern.FindAllString(ticket, -1) {
		if strings.Contains(lowerDraft, strings.ToLower(e)) {
			kinds = append(kinds, "email address")
			break
		}
	}
	var draftDigits []string
	for _, n := range numberPattern.FindAllString(draft, -1) {
		draftDigits = append(draftDigits, digits(n))
	}
	leaked := map[string]bool{}
	for _, n := range numberPattern.FindAllString(ticket, -1) {
		d := digits(n)
		kind := ""
		switch {
		case len(d) >= 13 && len(d) <= 19 && luhn(d):
			kind = "card number"
		case len(d) >= 7 && len(d) <= 15:
			kind = "phone number"
		default:
			continue
		}
		for _, dd := range draftDigits {
			if strings.Contains(dd, d) && !leaked[kind] {
				leaked[kind] = true
				kinds = append(kinds, kind)
			}
		}
	}
	return kinds
}

func digits(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return r
		}
		return -1
	}, s)
}

// luhn reports whether a digit string passes the Luhn check that card
// numbers carry.
func luhn(d string) bool {
	sum := 0
	for i := range len(d) {
		n := int(d[len(d)-1-i] - '0')
		if i%2 == 1 {
			n *= 2
			if n > 9 {
				n -= 9
			}
		}
		sum += n
	}
	return sum%10 == 0
}
