package pipeline

import (
	"regexp"
	"strings"
)

// history says where reply history sits in a body's lines.
type history struct {
	depth  []int  // quote depth of each line; 0 for a quote kept as customer text
	attr   []bool // attribution lines followed by quotes: dropped on their own
	cut    int    // first line of unquoted history, -1 when there is none
	quotes bool   // quoted lines are history (the body is an e-mail reply)
}

// removes reports whether the body has history to drop.
func (h history) removes() bool {
	if h.cut >= 0 {
		return true
	}
	for i, d := range h.depth {
		if h.attr[i] || (h.quotes && d > 0) {
			return true
		}
	}
	return false
}

// findHistory locates quoted lines, attributions and the first history
// block (attribution with unquoted text after it, header block or forward
// marker) in lines.
func findHistory(lines []line) history {
	n := len(lines)
	h := history{depth: make([]int, n), attr: make([]bool, n), cut: -1}
	shallow := false
	for i, l := range lines {
		d := textQuoteDepth(l.text)
		h.depth[i] = d
		if d == 1 || d == 2 {
			shallow = true
		}
	}
	maxDepth := 0
	for i, l := range lines {
		// ">>> " lines with no shallower quote around them are a Python
		// prompt pasted by the customer, not a third-level quote.
		if !shallow && h.depth[i] >= 3 && replLine(l.text) {
			h.depth[i] = 0
		}
		h.depth[i] = max(h.depth[i], l.quote)
		maxDepth = max(maxDepth, h.depth[i])
	}

	evidence := maxDepth >= 2
	for i := 0; i < n; i++ {
		if h.depth[i] > 0 {
			if !evidence {
				c := unquote(lines[i].text)
				evidence = isMarker(c) || isAttribution(c)
			}
			continue
		}
		t := strings.TrimSpace(lines[i].text)
		if t == "" {
			continue
		}
		if isMarker(t) || headerStart(lines, h.depth, i) {
			h.cut = i
			break
		}
		if k := attribution(lines, h.depth, i); k > 0 {
			j := i + k
			for j < n && h.depth[j] == 0 && blank(lines[j].text) {
				j++
			}
			if j < n && h.depth[j] > 0 {
				for m := i; m < i+k; m++ {
					h.attr[m] = true
				}
				evidence = true
				i += k - 1
				continue
			}
			h.cut = i
			break
		}
	}
	if h.cut >= 0 {
		evidence = true
		for h.cut > 0 && h.depth[h.cut-1] == 0 && (blank(lines[h.cut-1].text) || isSeparator(lines[h.cut-1].text)) {
			h.cut--
		}
	}
	if !evidence {
		// A closing block of two quoted lines or more is a reply whose
		// attribution line was lost.
		end := n
		if h.cut >= 0 {
			end = h.cut
		}
		k := 0
		for j := end - 1; j >= 0; j-- {
			if h.depth[j] == 0 {
				if blank(lines[j].text) && k == 0 {
					continue
				}
				break
			}
			k++
		}
		evidence = k >= 2
	}
	h.quotes = evidence
	return h
}

// body returns the lines that are not history, counting what it drops.
func (h history) body(lines []line, r *CleanReport) []string {
	end := len(lines)
	if h.cut >= 0 {
		end = h.cut
	}
	out := make([]string, 0, end)
	for i := 0; i < end; i++ {
		if h.attr[i] || (h.quotes && h.depth[i] > 0) {
			if unquote(lines[i].text) != "" {
				r.QuotedLines++
			}
			continue
		}
		out = append(out, lines[i].text)
	}
	if h.cut < 0 {
		return out
	}
	for i := h.cut; i < len(lines); i++ {
		c := unquote(lines[i].text)
		switch {
		case c == "":
		case isMarker(c):
			r.ForwardMarkers++
		case headerKey(c) == keyFrom && i+1 < len(lines) && headerKey(unquote(lines[i+1].text)) > keyFrom:
			r.HeaderBlocks++
		default:
			r.QuotedLines++
		}
	}
	return out
}

// segments splits the whole body at every history boundary, so that a body
// kept whole is cleaned part by part: a signature cut ends at the next
// forwarded message instead of eating it.
func (h history) segments(lines []line) [][]string {
	var segs [][]string
	start := 0
	for i := range lines {
		if i == start || h.depth[i] > 0 {
			continue
		}
		t := strings.TrimSpace(lines[i].text)
		if t == "" {
			continue
		}
		if isMarker(t) || headerStart(lines, h.depth, i) || attribution(lines, h.depth, i) > 0 {
			segs = append(segs, texts(lines[start:i]))
			start = i
		}
	}
	return append(segs, texts(lines[start:]))
}

// textQuoteDepth counts the ">" that open a line ("> > x" and ">> x" are
// both 2), after at most three spaces of indentation.
func textQuoteDepth(s string) int {
	i := 0
	for i < len(s) && i < 3 && (s[i] == ' ' || s[i] == '\t') {
		i++
	}
	d := 0
	for ; i < len(s); i++ {
		switch s[i] {
		case '>':
			d++
		case ' ', '\t':
			if d == 0 {
				return 0
			}
		default:
			return d
		}
	}
	return d
}

// unquote strips the quote marks and surrounding space from a line.
func unquote(s string) string {
	return strings.TrimSpace(strings.TrimLeft(s, "> \t"))
}

func replLine(s string) bool {
	t := strings.TrimLeft(s, " \t")
	return t == ">>>" || strings.HasPrefix(t, ">>> ")
}

// isSeparator reports a line drawn with _, -, =, * and the like, at least
// four long: what mail clients put above quoted history.
func isSeparator(s string) bool {
	t := strings.TrimSpace(s)
	if len(t) < 4 {
		return false
	}
	for _, c := range t {
		switch c {
		case '_', '-', '=', '*', '~', '—', '–', '#', '·', '•', ' ':
		default:
			return false
		}
	}
	return true
}

// markerRE matches a whole line that announces forwarded or original
// messages. Bare phrases need dashes around them unless a client writes
// them bare (Apple Mail's "Begin forwarded message:").
var markerRE = regexp.MustCompile(`(?i)^(?:` +
	`[-_=*]{2,}\s*(?:forwarded message|original message|weitergeleitete nachricht|ursprüngliche nachricht|originalnachricht|message transféré|message d['’]origine|message original|mensaje reenviado|mensaje original|mensagem encaminhada|mensagem original|messaggio inoltrato|messaggio originale|doorgestuurd bericht|oorspronkelijk bericht)\s*:?\s*[-_=*]*` +
	`|(?:begin forwarded message|anfang der weitergeleiteten nachricht|début du message réexpédié|inicio del mensaje reenviado|início da mensagem reencaminhada|forwarded message|weitergeleitete nachricht|message transféré|mensaje reenviado)\s*:?` +
	`)$`)

func isMarker(t string) bool {
	if len(t) < 12 || len(t) > 100 {
		return false
	}
	switch t[0] {
	case '-', '_', '=', '*', 'B', 'b', 'A', 'a', 'D', 'd', 'I', 'i', 'F', 'f', 'W', 'w', 'M', 'm':
	default:
		if !strings.HasPrefix(t, "Début") && !strings.HasPrefix(t, "Início") {
			return false
		}
	}
	return markerRE.MatchString(t)
}

// attributionRE matches the line a mail client writes above a quoted
// message, in English, German, French, Spanish, Portuguese, Italian and
// Dutch, and the bare "Name <address> wrote:".
var attributionRE = regexp.MustCompile(`(?i)^(?:` +
	`on\s.+\swrote` +
	`|am\s.+\sschrieb\s.+` +
	`|.+\sschrieb am\s.+` +
	`|le\s.+\sa\s+écrit` +
	`|el\s.+\sescribió` +
	`|em\s.+\sescreveu` +
	`|il\s.+\sha\s+scritto` +
	`|op\s.+\sschreef\s.+` +
	`|.+<[^<>\s]+@[^<>\s]+>\)?\s+(?:wrote|schrieb|a\s+écrit|escribió|escreveu|ha\s+scritto|schreef)` +
	`)\s*:$`)

// isAttribution reports an attribution line. A real one carries a date or
// an address, so "On Monday I wrote:" in a customer's own words is not one.
func isAttribution(t string) bool {
	if len(t) < 10 || len(t) > 400 || t[len(t)-1] != ':' {
		return false
	}
	if !strings.ContainsAny(t, "0123456789@") {
		return false
	}
	return attributionRE.MatchString(t)
}

// attribution returns how many lines (1 or 2: clients wrap long ones) the
// attribution at line i spans, 0 when there is none.
func attribution(lines []line, depth []int, i int) int {
	t := strings.TrimSpace(lines[i].text)
	if isAttribution(t) {
		return 1
	}
	if i+1 >= len(lines) || depth[i+1] != 0 || len(t) < 6 {
		return 0
	}
	u := strings.TrimSpace(lines[i+1].text)
	if u == "" || len(u) > 120 || u[len(u)-1] != ':' {
		return 0
	}
	if isAttribution(t + " " + u) {
		return 2
	}
	return 0
}

// Header keys of an Outlook-style block, by meaning.
const (
	keyNone = iota
	keyFrom
	keyDate
	keyTo
	keyCc
	keySubject
)

var headerKeys = map[string]int{
	"from": keyFrom, "von": keyFrom, "de": keyFrom, "da": keyFrom, "van": keyFrom,
	"sent": keyDate, "date": keyDate, "gesendet": keyDate, "datum": keyDate, "envoyé": keyDate,
	"enviado": keyDate, "enviada": keyDate, "fecha": keyDate, "data": keyDate, "inviato": keyDate, "verzonden": keyDate,
	"to": keyTo, "an": keyTo, "à": keyTo, "a": keyTo, "para": keyTo, "aan": keyTo,
	"cc": keyCc, "bcc": keyCc, "cci": keyCc, "kopie": keyCc, "reply-to": keyCc,
	"subject": keySubject, "betreff": keySubject, "objet": keySubject, "asunto": keySubject,
	"assunto": keySubject, "oggetto": keySubject, "onderwerp": keySubject, "sujet": keySubject,
}

// headerKey returns the meaning of a "Key: value" line, keyNone if it is
// not a mail header. "*From:*", "**Von:**" and the French "De :" count.
func headerKey(s string) int {
	t := strings.TrimLeft(strings.TrimSpace(s), "*_")
	i := strings.IndexByte(t, ':')
	if i <= 0 || i > 16 {
		return keyNone
	}
	k := strings.ToLower(strings.TrimRight(t[:i], "*_ \t"))
	return headerKeys[k]
}

// inlineKeyRE finds header keys inside one line, for clients that run the
// whole block together: "Von: X Gesendet: Y An: Z Betreff: W".
var inlineKeyRE = regexp.MustCompile(`(?i)\s\**(sent|date|gesendet|datum|envoyé|enviado|fecha|to|an|à|para|subject|betreff|objet|asunto)\s?\**:`)

// headerStart reports an Outlook-style header block starting at line i: a
// From key at the start of a paragraph (first line, or after a blank line,
// a separator, a marker or a quote), followed by at least two other kinds
// of key. A "From:" inside a paragraph of prose is the customer's text.
func headerStart(lines []line, depth []int, i int) bool {
	if headerKey(lines[i].text) != keyFrom {
		return false
	}
	if i > 0 && depth[i-1] == 0 {
		p := lines[i-1].text
		if !blank(p) && !isSeparator(p) && !isMarker(strings.TrimSpace(p)) {
			return false
		}
	}
	seen := map[int]bool{}
	for _, m := range inlineKeyRE.FindAllStringSubmatch(lines[i].text, -1) {
		seen[headerKeys[strings.ToLower(m[1])]] = true
	}
	if seen[keyDate] && (seen[keyTo] || seen[keySubject]) {
		return true
	}
	clear(seen)
	for j := i + 1; j < len(lines) && j <= i+8; j++ {
		if depth[j] != 0 || blank(lines[j].text) {
			break
		}
		k := headerKey(lines[j].text)
		if k == keyFrom {
			break
		}
		if k == keyNone {
			// A wrapped recipient list continues the block; prose ends it.
			if t := lines[j].text; strings.ContainsAny(t, "@;") || strings.HasPrefix(t, " ") || strings.HasPrefix(t, "\t") {
				continue
			}
			break
		}
		seen[k] = true
	}
	return len(seen) >= 2
}
