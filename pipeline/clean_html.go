package pipeline

import (
	"bytes"
	"regexp"
	"strings"
	"unicode"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
)

// htmlTagRE finds opening tags that make a body look like HTML.
var htmlTagRE = regexp.MustCompile(`(?i)<(!doctype\s+html|html|body|p|br|div|span|table|tr|td|li|ul|ol|font|blockquote|h[1-6]|b|i|u|strong|em|a)(?:\s[^<>]*)?/?>`)

// looksLikeHTML reports a body written in HTML: one that opens with a tag
// and has two of the tags above, or a fragment with three of them where
// at least two thirds of the lines hold one. A plain text that quotes a few tags
// ("the preview shows a literal <br>", a pasted template) stays plain.
func looksLikeHTML(s string) bool {
	if strings.IndexByte(s, '<') < 0 {
		return false
	}
	if strings.HasPrefix(strings.TrimLeftFunc(s, unicode.IsSpace), "<") {
		return len(htmlTagRE.FindAllStringIndex(s, 2)) >= 2
	}
	ms := htmlTagRE.FindAllStringIndex(s, -1)
	if len(ms) < 3 {
		return false
	}
	tagged, lines := 0, 0
	last, l, prev := -1, 0, 0
	for _, m := range ms {
		l += strings.Count(s[prev:m[0]], "\n")
		prev = m[0]
		if l != last {
			tagged++
			last = l
		}
	}
	for _, l := range strings.Split(s, "\n") {
		if !blank(l) {
			lines++
		}
	}
	return tagged*3 >= lines*2
}

// htmlText builds lines out of an HTML token stream. Breaks asked for by
// tags wait in pending until text arrives, so empty blocks add nothing.
// Nothing it writes is longer than the markup it stands for: the output of
// CleanBody never outgrows its input.
type htmlText struct {
	lines   []line
	cur     []byte
	curQ    int
	buf     []byte
	pending int  // line breaks owed: 1 a new line, 2 a blank line between
	bullet  bool // the next text opens a list item
	quote   int  // blockquote depth
	pre     int  // inside <pre>
	outlook bool // Outlook's <p class=MsoNormal> is a line, not a paragraph
}

func (h *htmlText) brk(n int) { h.pending = max(h.pending, n) }

func (h *htmlText) br() { h.pending = min(h.pending+1, 2) }

// space adds one space between words, never at a line start.
func (h *htmlText) space() {
	if len(h.cur) > 0 && h.pending == 0 && h.cur[len(h.cur)-1] != ' ' {
		h.cur = append(h.cur, ' ')
	}
}

func (h *htmlText) flush() {
	if len(h.cur) > 0 {
		h.lines = append(h.lines, line{text: string(h.cur), quote: h.curQ})
		h.cur = h.cur[:0]
	}
}

// breakLines pays the pending breaks before new text.
func (h *htmlText) breakLines() {
	if h.pending > 0 && (len(h.cur) > 0 || len(h.lines) > 0) {
		h.flush()
		if h.pending >= 2 {
			h.lines = append(h.lines, line{})
		}
	}
	h.pending = 0
}

func (h *htmlText) emit(s []byte) {
	h.breakLines()
	if len(h.cur) == 0 {
		h.curQ = h.quote
		if h.bullet {
			h.cur = append(h.cur, "- "...)
		}
	}
	h.bullet = false
	h.cur = append(h.cur, s...)
}

func htmlSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f'
}

// text adds decoded text: white space runs fold to one space, except in
// <pre>, where line breaks stay.
func (h *htmlText) text(s []byte) {
	if h.pre > 0 {
		for k, part := range bytes.Split(s, []byte("\n")) {
			if k > 0 {
				h.breakLines()
				h.lines = append(h.lines, line{text: string(h.cur), quote: h.curQ})
				h.cur = h.cur[:0]
				h.curQ = h.quote
			}
			if len(part) > 0 {
				h.emit(part)
			}
		}
		return
	}
	h.buf = h.buf[:0]
	lead, space := false, false
	for _, c := range s {
		if htmlSpace(c) {
			space = true
			continue
		}
		if space {
			if len(h.buf) == 0 {
				lead = true
			} else {
				h.buf = append(h.buf, ' ')
			}
			space = false
		}
		h.buf = append(h.buf, c)
	}
	if len(h.buf) == 0 {
		if space {
			h.space()
		}
		return
	}
	if lead {
		h.space()
	}
	h.emit(h.buf)
	if space {
		h.space()
	}
}

// blockAtoms are the elements that break a line where they open and close.
var blockAtoms = map[atom.Atom]bool{
	atom.Div: true, atom.Tr: true, atom.Table: true, atom.Ul: true, atom.Ol: true,
	atom.H1: true, atom.H2: true, atom.H3: true, atom.H4: true, atom.H5: true, atom.H6: true,
	atom.Section: true, atom.Article: true, atom.Header: true, atom.Footer: true,
	atom.Address: true, atom.Center: true, atom.Dl: true, atom.Dt: true, atom.Dd: true,
	atom.Form: true, atom.Fieldset: true, atom.Figure: true, atom.Figcaption: true,
	atom.Main: true, atom.Nav: true, atom.Aside: true, atom.Caption: true,
	atom.Details: true, atom.Summary: true,
}

// closeAtoms are blocks that leave a blank line after them: lists,
// tables and headings read as paragraphs of their own.
var closeAtoms = map[atom.Atom]bool{
	atom.Ul: true, atom.Ol: true, atom.Table: true, atom.Dl: true,
	atom.H1: true, atom.H2: true, atom.H3: true, atom.H4: true, atom.H5: true, atom.H6: true,
}

// skipAtoms are elements whose content is not text for a reader.
var skipAtoms = map[atom.Atom]bool{
	atom.Script: true, atom.Style: true, atom.Head: true, atom.Title: true,
	atom.Template: true, atom.Noscript: true, atom.Svg: true, atom.Object: true,
}

// headAtoms may sit inside <head>; any other opening tag ends it, as it
// does for a browser.
var headAtoms = map[atom.Atom]bool{
	atom.Meta: true, atom.Title: true, atom.Style: true, atom.Script: true, atom.Link: true,
	atom.Base: true, atom.Noscript: true, atom.Template: true,
}

func (h *htmlText) tag(z *html.Tokenizer, tt html.TokenType, a atom.Atom, hasAttr bool) {
	start, end := tt == html.StartTagToken, tt == html.EndTagToken
	switch {
	case a == atom.Br:
		h.br()
	case a == atom.Hr:
		h.brk(2)
	case a == atom.P:
		if start && hasAttr && msoNormal(z) {
			h.outlook = true
		}
		if end && !h.outlook {
			h.brk(2)
		} else {
			h.brk(1)
		}
	case a == atom.Li:
		h.brk(1)
		h.bullet = start
	case a == atom.Pre:
		h.brk(1)
		if start {
			h.pre++
		} else if end && h.pre > 0 {
			h.pre--
		}
	case a == atom.Blockquote:
		h.brk(1)
		if start {
			h.quote++
		} else if end && h.quote > 0 {
			h.quote--
		}
	case a == atom.Td || a == atom.Th:
		if start {
			h.space()
		}
	case closeAtoms[a]:
		if end {
			h.brk(2)
		} else {
			h.brk(1)
		}
	case blockAtoms[a]:
		h.brk(1)
	}
}

func msoNormal(z *html.Tokenizer) bool {
	for {
		k, v, more := z.TagAttr()
		if string(k) == "class" && bytes.Contains(v, []byte("MsoNormal")) {
			return true
		}
		if !more {
			return false
		}
	}
}

// htmlLines turns an HTML body into lines of text, each marked with the
// blockquote depth it sat in, and counts the tags it dropped.
func htmlLines(s string) ([]line, int) {
	z := html.NewTokenizer(strings.NewReader(s))
	h := &htmlText{}
	tags := 0
	var skip atom.Atom
	skipDepth := 0
	for {
		tt := z.Next()
		switch tt {
		case html.ErrorToken:
			h.flush()
			return h.lines, tags
		case html.TextToken:
			if skip != 0 {
				continue
			}
			raw := z.Raw()
			n := len(raw)
			var saved []byte
			if bytes.IndexByte(raw, '&') >= 0 || bytes.IndexByte(raw, 0) >= 0 {
				saved = bytes.Clone(raw)
			}
			t := z.Text()
			if len(t) > n {
				// A few entities and NUL replacements decode longer than
				// they are written; keep those as written.
				t = saved
			}
			h.text(t)
		case html.StartTagToken, html.EndTagToken, html.SelfClosingTagToken:
			tags++
			name, hasAttr := z.TagName()
			a := atom.Lookup(name)
			if skip != 0 {
				switch {
				case skip == atom.Head && tt == html.StartTagToken && !headAtoms[a]:
					skip, skipDepth = 0, 0 // the body started without </head>
				case a != skip:
					continue
				case tt == html.StartTagToken:
					skipDepth++
					continue
				case tt == html.EndTagToken:
					if skipDepth--; skipDepth == 0 {
						skip = 0
					}
					continue
				default:
					continue
				}
			}
			if tt == html.StartTagToken && skipAtoms[a] {
				skip, skipDepth = a, 1
				continue
			}
			h.tag(z, tt, a, hasAttr)
		}
	}
}
