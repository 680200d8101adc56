package consumers

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/ghostwriter-ai/ghostwriter/ledger"
	"github.com/ghostwriter-ai/ghostwriter/schemas"
)

// DiffSide is one result of a ticket, as replay diff compares it.
type DiffSide struct {
	Type         string  `json:"type"` // ticket.draft_ready or ticket.draft_failed
	Reason       string  `json:"reason,omitempty"`
	ErrorCode    string  `json:"error_code,omitempty"`
	Confidence   float64 `json:"confidence"`
	Length       int     `json:"length"`
	CostMicroUSD int64   `json:"cost_microusd"`
	LatencyMS    int64   `json:"latency_ms"`
	Model        string  `json:"model,omitempty"`
	Prompt       string  `json:"prompt_version,omitempty"`
	draft        string
}

// DiffRow sets a replayed result beside the original one, and both beside
// the reply a human finally sent, when there is one.
type DiffRow struct {
	SourceEventID string   `json:"source_event_id"`
	TicketID      string   `json:"ticket_id"`
	Original      DiffSide `json:"original"`
	Replayed      DiffSide `json:"replayed"`
	ReasonChanged bool     `json:"reason_changed"`
	// DraftSimilarity is 1 minus the normalised edit distance between the
	// two drafts (see Similarity): 1 means the same text.
	DraftSimilarity float64 `json:"draft_similarity"`
	// OriginalToFinal and ReplayedToFinal compare each draft with the
	// reply sent; -1 when no reply was sent.
	OriginalToFinal float64 `json:"original_to_final"`
	ReplayedToFinal float64 `json:"replayed_to_final"`
}

// ReplayDiff compares every result of replay id with the ticket's live
// result (the latest without a replay id), sorted by ticket.
func ReplayDiff(ctx context.Context, js jetstream.JetStream, id string) ([]DiffRow, error) {
	type result struct {
		schemas.DraftReady
		ErrorCode string `json:"error_code"`
	}
	side := func(typ string, r result) DiffSide {
		return DiffSide{Type: typ, Reason: r.Reason, ErrorCode: r.ErrorCode, Confidence: r.Confidence,
			Length: utf8.RuneCountInString(r.Draft), CostMicroUSD: r.CostMicroUSD, LatencyMS: r.LatencyMS,
			Model: r.Model, Prompt: r.PromptVersion, draft: r.Draft}
	}
	originals, replayed := map[string]DiffSide{}, map[string]DiffSide{}
	tickets := map[string]string{}
	collect := func(typ string, data json.RawMessage) {
		var r result
		if json.Unmarshal(data, &r) != nil {
			return
		}
		switch r.ReplayID {
		case "":
			originals[r.SourceEventID] = side(typ, r)
		case id:
			replayed[r.SourceEventID] = side(typ, r)
			tickets[r.SourceEventID] = r.TicketID
		}
	}
	results := []string{schemas.TypeDraftReady, schemas.TypeDraftFailed}
	if err := scanResults(ctx, js, schemas.StreamTickets, results, collect); err != nil {
		return nil, err
	}
	shadow := []string{schemas.SubjectShadowPrefix + schemas.TypeDraftReady, schemas.SubjectShadowPrefix + schemas.TypeDraftFailed}
	if err := scanResults(ctx, js, schemas.StreamShadow, shadow, collect); err != nil {
		return nil, err
	}
	finals := map[string]string{}
	if err := scanResults(ctx, js, schemas.StreamTickets, []string{schemas.TypeReplySent}, func(_ string, data json.RawMessage) {
		var r schemas.ReplySent
		if json.Unmarshal(data, &r) == nil {
			finals[r.TicketID] = r.FinalText
		}
	}); err != nil {
		return nil, err
	}
	rows := make([]DiffRow, 0, len(replayed))
	for src, rep := range replayed {
		orig := originals[src]
		row := DiffRow{SourceEventID: src, TicketID: tickets[src], Original: orig, Replayed: rep,
			ReasonChanged:   orig.Reason != rep.Reason,
			DraftSimilarity: Similarity(orig.draft, rep.draft), OriginalToFinal: -1, ReplayedToFinal: -1}
		if final, ok := finals[row.TicketID]; ok {
			row.OriginalToFinal, row.ReplayedToFinal = Similarity(orig.draft, final), Similarity(rep.draft, final)
		}
		rows = append(rows, row)
	}
	slices.SortFunc(rows, func(a, b DiffRow) int { return strings.Compare(a.TicketID+a.SourceEventID, b.TicketID+b.SourceEventID) })
	return rows, nil
}

// Similarity is 1 minus the normalised edit distance the feedback ledger
// uses (ledger.Compare): 1 for the same text, 0 for nothing in common.
func Similarity(a, b string) float64 {
	_, dist := ledger.Compare(a, b)
	return 1 - dist
}
