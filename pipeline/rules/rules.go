// Package rules is the offline model: keyword classification and a
// templated draft or triage, with no network and no cost. It is the default when no
// model endpoint is configured and the last step of every fallback chain.
// It labels itself "rules" as provider and model in every event, so no one
// mistakes its drafts for a language model's. It must not know about events.
package rules

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/ghostwriter-ai/ghostwriter/pipeline"
)

// Name is the provider and model name the rules model reports.
const Name = "rules"

// Reasons the rules model can assign; the same labels as the support_draft
// output schema.
const (
	ReasonBillingRefund = "billing_refund"
	ReasonLoginAccess   = "login_access"
	ReasonBugReport     = "bug_report"
	ReasonShipping      = "shipping"
	ReasonAccountChange = "account_change"
	ReasonOther         = "other"
)

type rule struct {
	reason   string
	keywords []string // lower case; a keyword matches as a word prefix
	review   bool     // drafts for this reason always go to a human
	draft    string
}

// The keyword lists cover English, German, French and Spanish, the
// languages of the saved tickets.
var rules = []rule{
	{ReasonBillingRefund, []string{"refund", "charge", "charged", "invoice", "billing", "payment", "paid", "money back", "overcharg", "rechnung", "erstattung", "zahlung", "abgebucht", "remboursement", "facture", "paiement", "reembolso", "factura", "cobro", "cobrado", "返金", "請求"}, true,
		"Thank you for contacting us about this charge. I'm sorry for the trouble. I have passed your billing question to our billing team, who will check the payment and get back to you with the outcome."},
	{ReasonLoginAccess, []string{"login", "log in", "sign in", "password", "2fa", "two-factor", "authenticator", "locked out", "sso", "saml", "reset link", "anmeld", "passwort", "connexion", "mot de passe", "connecter", "contraseña", "iniciar sesión", "ログイン", "パスワード"}, false,
		"Thanks for reaching out. I'm sorry you're having trouble signing in. Please try the password reset link on the sign-in page, and check that your device's clock is correct if you use an authenticator app. If that doesn't help, reply here and we'll verify your identity and restore access."},
	{ReasonBugReport, []string{"error", "bug", "crash", "exception", "stack trace", "panic", "500", "broken", "not working", "doesn't work", "fails", "fehler", "absturz", "erreur", "plant", "fallo", "falla", "エラー", "クラッシュ"}, false,
		"Thank you for the detailed report. I'm sorry for the disruption. I've shared the details with our engineering team so they can reproduce the problem. We'll update you as soon as we know more; any steps to reproduce or screenshots you can add will help."},
	{ReasonShipping, []string{"shipping", "shipment", "delivery", "deliver", "tracking", "package", "parcel", "courier", "arrived", "lieferung", "versand", "paket", "livraison", "colis", "envío", "envio", "entrega", "paquete", "配送"}, false,
		"Thanks for your message. I'm sorry your order hasn't arrived as expected. I'm checking the shipment status with our carrier and will follow up with an update and the latest tracking information."},
	{ReasonAccountChange, []string{"change my email", "change email", "update my email", "delete my account", "delete account", "close my account", "upgrade", "downgrade", "plan", "subscription", "cancel", "konto", "abonnement", "compte", "cuenta", "suscripción", "アカウント"}, true,
		"Thanks for getting in touch. I can help with the change to your account. For your security, we'll confirm the request from the email address on file before making it. You'll receive a confirmation once it's done."},
}

const otherDraft = "Thank you for contacting us. I've received your message and a member of our team will look into it and get back to you shortly."

// Model is the offline rules model. Safe for concurrent use; the zero
// value is ready.
type Model struct{}

var _ pipeline.Model = Model{}

// The output schemas the rules model can answer, by their name in the
// prompt's front matter.
const (
	SchemaSupportDraft = "support_draft"
	SchemaTriage       = "triage"
)

// Complete classifies req.Input by keywords and answers the output schema
// req.SchemaName names: a templated draft for support_draft (also when no
// schema is named), a department, priority and labels for triage. Any
// other schema fails as internal: the rules model knows no other task. It
// reports no tokens: it costs nothing and reads no tokens.
func (Model) Complete(ctx context.Context, req pipeline.Request) (pipeline.Response, error) {
	if err := ctx.Err(); err != nil {
		return pipeline.Response{}, err
	}
	var answer any
	switch req.SchemaName {
	case SchemaSupportDraft, "":
		answer = draft(req.Input)
	case SchemaTriage:
		answer = triage(req.Input)
	default:
		return pipeline.Response{}, &pipeline.ModelError{Code: pipeline.CodeInternal,
			Detail: fmt.Sprintf("the rules model has no answer for the output schema %q", req.SchemaName)}
	}
	text, err := json.Marshal(answer)
	if err != nil {
		return pipeline.Response{}, fmt.Errorf("rules.complete: %w", err)
	}
	return pipeline.Response{Text: string(text), Model: Name, Provider: Name, FinishReason: "stop"}, nil
}

type draftAnswer struct {
	Draft          string  `json:"draft"`
	Confidence     float64 `json:"confidence"`
	Reason         string  `json:"reason"`
	RequiresReview bool    `json:"requires_review"`
}

func draft(input string) draftAnswer {
	reason, hits := Classify(input)
	text, review := otherDraft, true
	for _, r := range rules {
		if r.reason == reason {
			text, review = r.draft, r.review
		}
	}
	return draftAnswer{text, confidence(hits), reason, review}
}

type triageAnswer struct {
	Department string   `json:"department"`
	Priority   string   `json:"priority"`
	Labels     []string `json:"labels"`
	Confidence float64  `json:"confidence"`
}

// triageOf maps a reason to a department, a default priority and a label.
var triageOf = map[string]struct{ department, priority, label string }{
	ReasonBillingRefund: {"billing", "high", "refund"},
	ReasonLoginAccess:   {"account", "high", "login"},
	ReasonBugReport:     {"technical", "normal", "bug"},
	ReasonShipping:      {"shipping", "normal", "shipping"},
	ReasonAccountChange: {"account", "normal", "account-change"},
	ReasonOther:         {"general", "normal", ""},
}

// urgentWords make any ticket urgent: outages, security and legal threats.
var urgentWords = []string{"outage", "down for", "all users", "everyone", "security", "breach", "hacked", "data leak", "lawyer", "legal action", "chargeback", "datenleck", "panne", "caída"}

// lowWords make an otherwise unclassified ticket low priority: thanks,
// praise and ideas.
var lowWords = []string{"thank", "thanks", "great job", "love the", "feature request", "suggestion", "would be nice", "danke", "merci", "gracias"}

func triage(input string) triageAnswer {
	reason, hits := Classify(input)
	t := triageOf[reason]
	a := triageAnswer{Department: t.department, Priority: t.priority, Labels: []string{}, Confidence: confidence(hits)}
	if t.label != "" {
		a.Labels = append(a.Labels, t.label)
	}
	lower := strings.ToLower(input)
	switch {
	case containsAny(lower, urgentWords):
		a.Priority = "urgent"
		a.Labels = append(a.Labels, "urgent")
	case reason == ReasonOther && containsAny(lower, lowWords):
		a.Priority = "low"
	}
	return a
}

func containsAny(s string, words []string) bool {
	for _, w := range words {
		if countWordPrefix(s, w) > 0 {
			return true
		}
	}
	return false
}

// Classify returns the reason whose keywords match text most often, and
// how many matched; "other" with 0 when none do. Ties go to the rule
// listed first.
func Classify(text string) (reason string, hits int) {
	lower := strings.ToLower(text)
	var counts [8]int // by rule; len(rules) <= len(counts), checked at init
	countKeywords(lower, counts[:len(rules)])
	reason = ReasonOther
	for i, r := range rules {
		if n := counts[i]; n > hits {
			reason, hits = r.reason, n
		}
	}
	return reason, hits
}

// keyword is one keyword of one rule, by the first two bytes it starts with.
type keyword struct {
	text      string
	rule      int
	wordStart bool // its first rune is a word rune: it must start a word
}

var (
	byPrefix   = map[uint16][]int{} // first two bytes -> indexes in keywords
	prefixBits [1 << 16 / 64]uint64
	keywords   []keyword
)

func init() {
	if len(rules) > 8 {
		panic("rules: Classify counts at most 8 rules")
	}
	for i, r := range rules {
		for _, k := range r.keywords {
			if len(k) < 2 {
				panic("rules: keyword shorter than two bytes: " + k)
			}
			p := uint16(k[0])<<8 | uint16(k[1])
			byPrefix[p] = append(byPrefix[p], len(keywords))
			prefixBits[p/64] |= 1 << (p % 64)
			keywords = append(keywords, keyword{text: k, rule: i, wordStart: isWordRune(utf8FirstRune(k))})
		}
	}
}

// countKeywords adds to counts, by rule, what countWordPrefix(lower, k)
// would count for every keyword k, in one pass over lower instead of one
// strings.Index pass per keyword: for each keyword, the leftmost
// occurrences that do not overlap, counted when they start a word.
func countKeywords(lower string, counts []int) {
	var next [128]int // per keyword: where its next occurrence may start
	if len(keywords) > len(next) {
		panic("rules: too many keywords")
	}
	for i := 0; i+1 < len(lower); i++ {
		p := uint16(lower[i])<<8 | uint16(lower[i+1])
		if prefixBits[p/64]&(1<<(p%64)) == 0 {
			continue
		}
		for _, ki := range byPrefix[p] {
			k := &keywords[ki]
			if i < next[ki] || !strings.HasPrefix(lower[i:], k.text) {
				continue
			}
			next[ki] = i + len(k.text)
			if i == 0 || !k.wordStart || !isWordRune(utf8LastRune(lower[:i])) {
				counts[k.rule]++
			}
		}
	}
}

// countWordPrefix counts occurrences of k in s that start a word, so that
// "plan" matches "plans" but not "explanation". Keywords in scripts
// without spaces match anywhere.
func countWordPrefix(s, k string) int {
	n := 0
	for i := 0; ; {
		j := strings.Index(s[i:], k)
		if j < 0 {
			return n
		}
		at := i + j
		if at == 0 || !isWordRune(utf8LastRune(s[:at])) || !isWordRune(utf8FirstRune(k)) {
			n++
		}
		i = at + len(k)
	}
}

func isWordRune(r rune) bool {
	if r > unicode.MaxLatin1 && !unicode.In(r, unicode.Latin) {
		return false // CJK and other scripts have no word spaces
	}
	return unicode.IsLetter(r) || unicode.IsDigit(r)
}

func utf8LastRune(s string) rune {
	r, _ := utf8.DecodeLastRuneInString(s)
	return r
}

func utf8FirstRune(s string) rune {
	r, _ := utf8.DecodeRuneInString(s)
	return r
}

// confidence grows with the number of matching keywords but stays below
// what a language model that read the ticket could claim.
func confidence(hits int) float64 {
	switch {
	case hits == 0:
		return 0.2
	case hits == 1:
		return 0.5
	case hits == 2:
		return 0.65
	default:
		return 0.8
	}
}
