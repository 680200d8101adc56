package ledger_test

import (
	"context"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/ghostwriter-ai/ghostwriter/ledger"
)

func TestCompare(t *testing.T) {
	t.Parallel()
	const draft = "Thank you for contacting us about this charge. I have passed your billing question to our billing team."
	tests := []struct {
		name         string
		draft, final string
		want         ledger.Class
		wantDist     float64 // -1: only the class is checked
	}{
		{"identical", draft, draft, ledger.ClassAccepted, 0},
		{"whitespace only", draft, "  " + strings.ReplaceAll(draft, " ", "\n ") + "\n", ledger.ClassAccepted, 0},
		{"one typo fixed", draft, strings.Replace(draft, "charge", "charges", 1), ledger.ClassAccepted, 1.0 / float64(len(draft)+1)},
		{"a greeting and a signature", draft, "Hi Maria,\n\n" + draft + "\n\nBest, Sam", ledger.ClassLightlyEdited, -1},
		{"a sentence cut", draft, "Thank you for contacting us about this charge.", ledger.ClassRewritten, -1},
		{"written anew", draft, "We refunded the duplicate payment today; expect it within five days.", ledger.ClassRewritten, -1},
		{"far longer, by length alone", "Thanks.", strings.Repeat("A long answer. ", 40), ledger.ClassRewritten, -1},
		{"both empty", "", " ", ledger.ClassAccepted, 0},
		{"runes, not bytes", "Grüße aus Köln", "Grüsse aus Köln", ledger.ClassLightlyEdited, 2.0 / 15},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, dist := ledger.Compare(tt.draft, tt.final)
			if got != tt.want {
				t.Errorf("class %s (distance %.3f), want %s", got, dist, tt.want)
			}
			if dist < 0 || dist > 1 {
				t.Errorf("distance %v outside 0..1", dist)
			}
			if tt.wantDist >= 0 && math.Abs(dist-tt.wantDist) > 1e-9 {
				t.Errorf("distance %v, want %v", dist, tt.wantDist)
			}
		})
	}
}

// A reply far longer than any draft is classed without a quadratic
// comparison, and the distance stays a bound in 0..1.
func TestCompareHugeReply(t *testing.T) {
	t.Parallel()
	huge := strings.Repeat("x", 1<<20)
	if got, dist := ledger.Compare("short draft", huge); got != ledger.ClassRewritten || dist < 0.99 {
		t.Errorf("huge reply: %s %v", got, dist)
	}
	long := strings.Repeat("word ", 4000) // 20,000 runes, over the exact limit
	if got, dist := ledger.Compare(long, long+"!"); got != ledger.ClassAccepted || dist > 0.02 {
		t.Errorf("long identical texts: %s %v", got, dist)
	}
}

// feedbackBooks is the part of Store and Memory that scores replies.
type feedbackBooks interface {
	RecordDraft(ctx context.Context, d ledger.Draft) (bool, error)
	Draft(ctx context.Context, eventID string) (ledger.Draft, bool, error)
	LatestDraft(ctx context.Context, tenantID, ticketID string) (ledger.Draft, bool, error)
	RecordFeedback(ctx context.Context, f ledger.Feedback) (bool, error)
	Quality(ctx context.Context, since, until time.Time) ([]ledger.QualityRow, error)
}

func draftOf(id, ticket, version string, at time.Time, text string) ledger.Draft {
	return ledger.Draft{EventID: id, TicketID: ticket, TenantID: "acme", SourceEventID: "src-" + ticket,
		Task: "support_draft", PromptVersion: version, Model: "m", Text: text, At: at}
}

func TestDraftsAndFeedback(t *testing.T) {
	t.Parallel()
	forEach(t, func(t *testing.T, _ *clock, open func() books) {
		ctx, b := testContext(t), open().(feedbackBooks)
		d1 := draftOf("d1", "T-1", "v1", day1, "Hello, we refunded you.")
		d2 := draftOf("d2", "T-1", "v1", day1.Add(time.Minute), "Hello again.")
		replayed := draftOf("d3", "T-1", "v2", day1.Add(time.Hour), "A shadow answer.")
		replayed.ReplayID = "r1"
		for _, d := range []ledger.Draft{d1, d2, replayed} {
			if added, err := b.RecordDraft(ctx, d); err != nil || !added {
				t.Fatalf("record %s: %v, %v", d.EventID, added, err)
			}
		}
		if added, err := b.RecordDraft(ctx, d1); err != nil || added {
			t.Errorf("recording d1 again: added %v, %v; want a no-op", added, err)
		}
		if got, ok, err := b.Draft(ctx, "d1"); err != nil || !ok || got != d1 {
			t.Errorf("draft d1 = %+v, %v, %v; want %+v", got, ok, err, d1)
		}
		if _, ok, err := b.Draft(ctx, "nope"); err != nil || ok {
			t.Errorf("unknown draft: ok %v, %v", ok, err)
		}
		if got, ok, err := b.LatestDraft(ctx, "acme", "T-1"); err != nil || !ok || got.EventID != "d2" {
			t.Errorf("latest draft = %s, %v, %v; want d2 (replays do not count)", got.EventID, ok, err)
		}
		if _, ok, err := b.LatestDraft(ctx, "globex", "T-1"); err != nil || ok {
			t.Errorf("another tenant's ticket: ok %v, %v", ok, err)
		}

		at := day1.Add(2 * time.Hour)
		replies := []ledger.Feedback{
			ledger.NewFeedback("r-1", "T-1", "acme", d1.Text, at, &d1, true),
			ledger.NewFeedback("r-2", "T-1", "acme", "Hello, we refunded you today.", at, &d1, true),
			ledger.NewFeedback("r-3", "T-1", "acme", "Something else entirely, written by hand.", at, &d2, true),
			ledger.NewFeedback("r-4", "T-1", "acme", "I wrote this before the draft came.", at, &d2, false),
			ledger.NewFeedback("r-5", "T-9", "acme", "No draft ever came.", at, nil, false),
		}
		for _, f := range replies {
			if added, err := b.RecordFeedback(ctx, f); err != nil || !added {
				t.Fatalf("feedback %s: %v, %v", f.ReplyEventID, added, err)
			}
		}
		if added, err := b.RecordFeedback(ctx, replies[0]); err != nil || added {
			t.Errorf("feedback r-1 again: added %v, %v; want a no-op", added, err)
		}
		if _, err := b.RecordFeedback(ctx, ledger.Feedback{ReplyEventID: "bad", At: at, Class: "liked"}); err == nil {
			t.Error("an unknown class was stored")
		}

		if _, err := open().RecordCalls(ctx, []ledger.Call{call("c1", "acme", "m", day1, 10, 10, 300)}); err != nil {
			t.Fatal(err)
		}
		rows, err := b.Quality(ctx, day1, day1)
		if err != nil {
			t.Fatal(err)
		}
		want := []ledger.QualityRow{
			{Replies: 1, NotUsed: 1},
			{Task: "support_draft", PromptVersion: "v1", Model: "m", Drafts: 2, Replies: 4,
				Accepted: 1, LightlyEdited: 1, Rewritten: 1, NotUsed: 1, CostMicroUSD: 300},
		}
		if len(rows) != len(want) {
			t.Fatalf("quality rows %+v, want %d", rows, len(want))
		}
		for i := range want {
			got := rows[i]
			mean := got.MeanDistance
			got.MeanDistance = 0
			if got != want[i] {
				t.Errorf("row %d = %+v, want %+v", i, got, want[i])
			}
			// The mean is over the replies that started from a draft.
			if wantMean := (replies[0].Distance + replies[1].Distance + replies[2].Distance) / 3; i == 1 && math.Abs(mean-wantMean) > 1e-9 {
				t.Errorf("mean distance %v, want %v", mean, wantMean)
			}
		}
		if r := rows[1]; r.CostPerDraft() != 150 || r.AcceptedRate() != 0.25 || r.KeptRate() != 0.5 {
			t.Errorf("cost per draft %d, accepted %v, kept %v; want 150, 0.25, 0.5", r.CostPerDraft(), r.AcceptedRate(), r.KeptRate())
		}
		if rows, err := b.Quality(ctx, day1.AddDate(0, 0, 1), day1.AddDate(0, 0, 2)); err != nil || len(rows) != 0 {
			t.Errorf("next days: %+v, %v; want none", rows, err)
		}
	})
}
