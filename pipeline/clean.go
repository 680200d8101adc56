package pipeline

import (
	"log/slog"
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxInputRunes caps the text Clean returns. Longer text keeps its head and
// tail with a marker between them: the opening states the problem, the end
// holds the latest words.
const MaxInputRunes = 12_000

// CutMarker stands where Clean or CleanBody removed the middle of a long text.
const CutMarker = "\n[… text cut …]\n"

// Clean normalises a subject or another short field at the character level
// only: line endings, control and zero-width characters (a zero-width
// joiner inside an emoji sequence stays), trailing spaces, runs of blank
// lines, surrounding space, and length (MaxInputRunes, head and tail kept
// around CutMarker). It removes no words. Bodies go through CleanBody.
func Clean(s string) string {
	var r CleanReport
	lines := splitLines(s)
	kept := lines[:0]
	blank := 0
	for _, l := range lines {
		l = strings.TrimRightFunc(filterRunes(l, &r), unicode.IsSpace)
		if l == "" {
			blank++
			if blank > 1 {
				continue
			}
		} else {
			blank = 0
		}
		kept = append(kept, l)
	}
	s = strings.TrimSpace(strings.Join(kept, "\n"))
	if r := []rune(s); len(r) > MaxInputRunes {
		half := MaxInputRunes / 2
		s = string(r[:half]) + CutMarker + string(r[len(r)-half:])
	}
	return s
}

// CleanReport counts what CleanBody removed. It holds counts only, never
// text, so it is safe to log.
type CleanReport struct {
	HTMLTags        int // HTML tags dropped while turning an HTML body into text
	ControlChars    int // control, zero-width and bidi characters and invalid bytes dropped
	QuotedLines     int // lines of reply history dropped: quoted, attribution and cut lines
	HeaderBlocks    int // Outlook-style From:/Sent:/To:/Subject: blocks in dropped history
	ForwardMarkers  int // forwarded- or original-message markers in dropped history
	SignatureLines  int // signature, mobile signature and sign-off lines dropped
	DisclaimerLines int // lines of legal disclaimers and tracking footers dropped
	RepeatedLines   int // identical consecutive lines folded into one
	CutRunes        int // runes removed from the middle to fit the token budget
}

// Total adds every count. Its units are mixed (tags, lines, runes), so it
// only says how much was touched: zero means the body came through with
// nothing but whitespace changed.
func (r CleanReport) Total() int {
	return r.HTMLTags + r.ControlChars + r.QuotedLines + r.HeaderBlocks + r.ForwardMarkers +
		r.SignatureLines + r.DisclaimerLines + r.RepeatedLines + r.CutRunes
}

// LogValue is a group of the non-zero counts under stable snake_case keys.
func (r CleanReport) LogValue() slog.Value {
	fields := []struct {
		key string
		n   int
	}{
		{"html_tags", r.HTMLTags},
		{"control_chars", r.ControlChars},
		{"quoted_lines", r.QuotedLines},
		{"header_blocks", r.HeaderBlocks},
		{"forward_markers", r.ForwardMarkers},
		{"signature_lines", r.SignatureLines},
		{"disclaimer_lines", r.DisclaimerLines},
		{"repeated_lines", r.RepeatedLines},
		{"cut_runes", r.CutRunes},
	}
	attrs := make([]slog.Attr, 0, len(fields))
	for _, f := range fields {
		if f.n != 0 {
			attrs = append(attrs, slog.Int(f.key, f.n))
		}
	}
	return slog.GroupValue(attrs...)
}

func (r *CleanReport) add(o CleanReport) {
	r.HTMLTags += o.HTMLTags
	r.ControlChars += o.ControlChars
	r.QuotedLines += o.QuotedLines
	r.HeaderBlocks += o.HeaderBlocks
	r.ForwardMarkers += o.ForwardMarkers
	r.SignatureLines += o.SignatureLines
	r.DisclaimerLines += o.DisclaimerLines
	r.RepeatedLines += o.RepeatedLines
	r.CutRunes += o.CutRunes
}

// CleanBody turns a ticket body into the text a prompt should see, and
// reports what it removed (counts only). In order, it:
//
//  1. turns an HTML body into text (a body that opens with a tag and holds
//     two of <html>, <body>, <p>, <br>, <div> and their kin, or a fragment
//     with three of them on two thirds of its lines, is HTML; a plain text
//     that quotes a tag or a template stays as it is): drops <head>,
//     <script> and <style>, breaks lines at <br>, <p>, <div>, <li>, <tr> and
//     other blocks, decodes entities, and marks <blockquote> lines as quoted;
//  2. drops control, zero-width and bidi characters and invalid bytes (\n
//     and \t stay), and normalises line endings;
//  3. strips reply history: everything from an attribution line ("On … wrote:"
//     and its German, French, Spanish, Portuguese, Italian and Dutch forms,
//     with a digit or an address in it), an Outlook-style header block
//     (From:/Von:/De: at the start of a paragraph followed by two of
//     Sent:/To:/Subject: and their translations) or a forwarded-message
//     marker on. A "From:" line inside a paragraph of prose is the
//     customer's own text and stays; so does a pasted e-mail introduced on
//     the line right above it, while one set off by a blank line is taken
//     for history. Quoted lines (">" or an HTML blockquote) are history only
//     when the body shows it is an e-mail reply: one of the above, nested
//     quotes, or a closing quoted block of two lines or more; otherwise a
//     quote is the customer quoting an error or a document, and stays. An
//     attribution followed by quoted lines drops only itself and the quotes,
//     so answers written between quotes stay. If removing history would leave
//     nothing, the body is kept whole (a forward with no new words still
//     needs an answer), with signatures and footers removed from each part;
//  4. drops signatures: a "-- " line and what follows, mobile signatures
//     ("Sent from my iPhone" and translations), and a closing sign-off line
//     ("Best regards,", "Mit freundlichen Grüßen", "Cordialement",
//     "Saludos", …, alone or with a short name) followed by at most six short
//     lines that do not read as sentences, at the very end;
//  5. drops legal disclaimer paragraphs (the unambiguous phrases anywhere,
//     weaker ones like "unsubscribe" or "is intended only for the addressee"
//     only in the closing run of paragraphs, never the first paragraph) and
//     "view in browser" lines at the top;
//  6. collapses runs of spaces and tabs inside lines (leading indentation
//     stays), runs of blank lines to one, identical consecutive lines to one,
//     and trims;
//  7. if the text is estimated (runes/4, rounded up) at more than maxTokens
//     tokens, keeps the head (two thirds of the budget) and the tail (one
//     third) with CutMarker between them, so the result fits maxTokens.
//     maxTokens <= 0 means no limit.
//
// Steps 4 and 5 never empty a body that had words: if they would, they are
// skipped. The output is valid UTF-8 and never longer, in bytes or runes,
// than the input plus CutMarker. CleanBody is a pure function: safe for
// concurrent use.
func CleanBody(text string, maxTokens int) (string, CleanReport) {
	var rep CleanReport
	var lines []line
	if looksLikeHTML(text) {
		lines, rep.HTMLTags = htmlLines(text)
	} else {
		for _, s := range splitLines(text) {
			lines = append(lines, line{text: s})
		}
	}
	for i := range lines {
		lines[i].text = filterRunes(lines[i].text, &rep)
	}

	h := findHistory(lines)
	var out []string
	var hr, tr CleanReport
	if h.removes() {
		body := h.body(lines, &hr)
		out = tail(body, &tr)
		if blankLines(out) {
			// Nothing but history: keep it all, cleaning each part.
			hr, tr = CleanReport{}, CleanReport{}
			out = nil
			for _, seg := range h.segments(lines) {
				out = append(out, tail(seg, &tr)...)
			}
		}
	} else {
		out = tail(texts(lines), &tr)
	}
	if blankLines(out) {
		// Only signatures and footers: better those than nothing.
		hr, tr = CleanReport{}, CleanReport{}
		out = texts(lines)
	}
	rep.add(hr)
	rep.add(tr)

	s := collapse(out, &rep)
	s, rep.CutRunes = cutMiddle(s, maxTokens)
	return s, rep
}

// line is one line of a body on its way through CleanBody; quote is the
// HTML blockquote depth it sat in (0 for plain text).
type line struct {
	text  string
	quote int
}

func texts(lines []line) []string {
	out := make([]string, len(lines))
	for i, l := range lines {
		out[i] = l.text
	}
	return out
}

// splitLines splits s into lines at \n, \r\n, \r, NEL and the Unicode line
// and paragraph separators.
func splitLines(s string) []string {
	if strings.IndexByte(s, '\r') >= 0 {
		s = strings.ReplaceAll(s, "\r\n", "\n")
		s = strings.ReplaceAll(s, "\r", "\n")
	}
	if strings.Contains(s, "\u2028") || strings.Contains(s, "\u2029") || strings.Contains(s, "\u0085") {
		s = strings.NewReplacer("\u2028", "\n", "\u2029", "\n", "\u0085", "\n").Replace(s)
	}
	return strings.Split(s, "\n")
}

// invisible reports format characters that carry no text: zero-width
// spaces and joiners, bidi controls, the byte-order mark, soft hyphens.
func invisible(r rune) bool {
	switch {
	case r == 0x00AD, r == 0x061C, r == 0x180E, r == 0xFEFF:
		return true
	case r >= 0x200B && r <= 0x200F,
		r >= 0x202A && r <= 0x202E,
		r >= 0x2060 && r <= 0x2064,
		r >= 0x2066 && r <= 0x206F,
		r >= 0xFFF9 && r <= 0xFFFB:
		return true
	}
	return false
}

// emojiPart reports runes a zero-width joiner may glue together.
func emojiPart(r rune) bool {
	return unicode.Is(unicode.So, r) || r == 0xFE0F || (r >= 0x1F3FB && r <= 0x1F3FF)
}

// filterRunes drops control characters (but \t), invisible format
// characters and invalid bytes from one line, counting them in r. A
// zero-width joiner between two emoji stays: it makes one emoji of them.
// No-break spaces become spaces; vertical tab and form feed become spaces.
func filterRunes(s string, r *CleanReport) string {
	if !needsFilter(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	prev := rune(-1)
	for i := 0; i < len(s); {
		c, size := utf8.DecodeRuneInString(s[i:])
		i += size
		switch {
		case c == utf8.RuneError && size == 1:
			r.ControlChars++
			continue
		case c == '\t':
		case c == '\v' || c == '\f':
			r.ControlChars++
			c = ' '
		case c == 0x00A0 || c == 0x202F || c == 0x2007:
			c = ' '
		case c == 0x200D:
			next, _ := utf8.DecodeRuneInString(s[i:])
			if emojiPart(prev) && unicode.Is(unicode.So, next) {
				break
			}
			r.ControlChars++
			continue
		case unicode.IsControl(c) || invisible(c):
			r.ControlChars++
			continue
		}
		b.WriteRune(c)
		prev = c
	}
	return b.String()
}

// needsFilter reports whether filterRunes would change s: whether s holds
// a rune that filterRunes drops or replaces. Text with accents, quotes or
// emoji, but nothing to drop, comes back as it is without being rebuilt.
func needsFilter(s string) bool {
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c < 0x20 && c != '\t' || c == 0x7f {
				return true
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1,
			r == 0x00A0 || r == 0x202F || r == 0x2007 || r == 0x200D,
			unicode.IsControl(r) || invisible(r):
			return true
		}
		i += size
	}
	return false
}

func blank(s string) bool { return strings.TrimSpace(s) == "" }

func blankLines(lines []string) bool {
	for _, l := range lines {
		if !blank(l) {
			return false
		}
	}
	return true
}

func nonBlank(lines []string) int {
	n := 0
	for _, l := range lines {
		if !blank(l) {
			n++
		}
	}
	return n
}

// collapse folds whitespace runs inside lines, blank-line runs and
// identical consecutive lines, then trims and joins.
func collapse(lines []string, r *CleanReport) string {
	var b strings.Builder
	n := 0
	for _, l := range lines {
		n += len(l) + 2
	}
	b.Grow(n)
	prev := ""
	pendingBlank := false
	started := false
	for _, l := range lines {
		l = squeeze(l)
		if l == "" {
			pendingBlank = started
			continue
		}
		if l == prev && !pendingBlank {
			r.RepeatedLines++
			continue
		}
		if started {
			b.WriteByte('\n')
			if pendingBlank {
				b.WriteByte('\n')
			}
		}
		b.WriteString(l)
		prev, pendingBlank, started = l, false, true
	}
	return strings.TrimSpace(b.String())
}

// squeeze keeps a line's leading indentation, turns every later run of
// white space into one space (a lone space stays as it is) and drops
// trailing white space.
func squeeze(s string) string {
	s = strings.TrimRightFunc(s, unicode.IsSpace)
	if s == "" {
		return ""
	}
	body := strings.TrimLeftFunc(s, unicode.IsSpace)
	indent := s[:len(s)-len(body)]
	if !needsSqueeze(body) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	b.WriteString(indent)
	space := false
	word := 0 // start of the run of non-space runes being copied
	for i := 0; i < len(body); {
		c, size := rune(body[i]), 1
		if c >= utf8.RuneSelf {
			c, size = utf8.DecodeRuneInString(body[i:])
		}
		switch {
		case isSpaceRune(c):
			if !space {
				b.WriteString(body[word:i])
				space = true
			}
		case space:
			b.WriteByte(' ')
			space = false
			word = i
		}
		if c == utf8.RuneError && size == 1 {
			// An invalid byte: write it as ranging over the string would.
			b.WriteString(body[word:i])
			b.WriteRune(c)
			word = i + 1
		}
		i += size
	}
	if !space {
		b.WriteString(body[word:])
	}
	return b.String()
}

// isSpaceRune is unicode.IsSpace, without a call for ASCII.
func isSpaceRune(c rune) bool {
	if c < utf8.RuneSelf {
		return c == ' ' || '\t' <= c && c <= '\r'
	}
	return unicode.IsSpace(c)
}

func needsSqueeze(s string) bool {
	prevSpace := false
	for i := 0; i < len(s); {
		c, size := rune(s[i]), 1
		if c >= utf8.RuneSelf {
			c, size = utf8.DecodeRuneInString(s[i:])
		}
		sp := isSpaceRune(c)
		if sp && (prevSpace || c != ' ') {
			return true
		}
		prevSpace = sp
		i += size
	}
	return false
}

// cutMiddle keeps the head and tail of s around CutMarker when s is
// estimated at more than maxTokens tokens (runes/4, rounded up). The
// result's runes, marker included, fit in maxTokens*4; cuts snap to a line
// break or a space when one is near. It returns the runes removed.
func cutMiddle(s string, maxTokens int) (string, int) {
	if maxTokens <= 0 {
		return s, 0
	}
	if (len(s)+3)/4 <= maxTokens {
		return s, 0 // no more runes than bytes
	}
	n := utf8.RuneCountInString(s)
	if (n+3)/4 <= maxTokens {
		return s, 0
	}
	avail := maxTokens*4 - utf8.RuneCountInString(CutMarker)
	if avail < 0 {
		avail = 0
	}
	headRunes := avail * 2 / 3
	tailRunes := avail - headRunes
	head := s[:runeOffset(s, headRunes)]
	tail := s[runeOffset(s, n-tailRunes):]
	if i := strings.LastIndexByte(head, '\n'); i > 0 && i >= len(head)*4/5 {
		head = head[:i]
	} else if i := strings.LastIndexByte(head, ' '); i > 0 && i >= len(head)*4/5 {
		head = head[:i]
	}
	if i := strings.IndexByte(tail, '\n'); i >= 0 && i <= len(tail)/5 {
		tail = tail[i+1:]
	} else if i := strings.IndexByte(tail, ' '); i >= 0 && i <= len(tail)/5 {
		tail = tail[i+1:]
	}
	head = strings.TrimRightFunc(head, unicode.IsSpace)
	tail = strings.TrimLeftFunc(tail, unicode.IsSpace)
	cut := n - utf8.RuneCountInString(head) - utf8.RuneCountInString(tail)
	return head + CutMarker + tail, cut
}

// runeOffset returns the byte offset of the n-th rune of s.
func runeOffset(s string, n int) int {
	if n <= 0 {
		return 0
	}
	for i := range s {
		if n == 0 {
			return i
		}
		n--
	}
	return len(s)
}
