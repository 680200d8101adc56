package pipeline

import (
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"
)

// tail drops signatures, mobile signatures, disclaimers and a closing
// sign-off from one message's lines, counting what it drops.
func tail(lines []string, r *CleanReport) []string {
	lines = cutSignature(lines, r)
	lines = dropMobile(lines, r)
	lines = dropDisclaimers(lines, r)
	lines = dropSignoff(lines, r)
	return lines
}

// cutSignature drops a "-- " line and everything after it. A bare "--"
// (the trailing space is often lost) counts only when at most twelve lines
// follow it; either needs words before it.
func cutSignature(lines []string, r *CleanReport) []string {
	total := nonBlank(lines)
	before := 0 // non-blank lines before line i
	for i, l := range lines {
		if blank(l) {
			continue
		}
		if before > 0 && strings.HasPrefix(l, "--") && strings.TrimRight(l, " \t") == "--" {
			after := total - before - 1
			if l != "--" || after <= 12 {
				r.SignatureLines += 1 + after
				return lines[:i]
			}
		}
		before++
	}
	return lines
}

// mobileRE matches the line a phone or a webmail adds: "Sent from my
// iPhone", "Von meinem iPhone gesendet", "Envoyé de mon iPhone", "Enviado
// desde mi iPhone", "Get Outlook for iOS" and their kin.
var mobileRE = regexp.MustCompile(`(?i)^(?:` +
	`(?:sent from|sent with|sent via|sent using|von meinem|gesendet von|gesendet mit|envoyé de|envoyé depuis|enviado desde|enviado do|enviado a partir do|inviato da|inviato dal|verzonden met|verzonden vanaf)\s+` +
	`(?:(?:my|meinem|mein|mon|ma|mi|meu|mio|mijn)\s+)?` +
	`(?:iphone|ipad|android|mobile|handy|smartphone|phone|samsung|galaxy|pixel|huawei|xiaomi|oneplus|blackberry|outlook|mail|yahoo|gmail|aol|proton\s?mail|tutanota|móvil|movil|portable|téléphone|telefon|celular)\b.*` +
	`|get outlook for (?:ios|android)\b.*` +
	`)$`)

func isMobile(l string) bool {
	t := strings.TrimSpace(l)
	if len(t) < 10 || len(t) > 80 {
		return false
	}
	return mayMobile(t) && fieldCount(t) <= 8 && mobileRE.MatchString(t)
}

// mobileHeads are the first four bytes, in lower case, of every phrase
// mobileRE opens with.
var mobileHeads = [...]string{"sent", "von ", "gese", "envo", "envi", "invi", "verz", "get "}

// mayMobile reports whether t could match mobileRE, by its first four
// bytes: most lines start with none of mobileHeads, and the expression has
// no literal prefix for the regexp engine to look for. It is exact: the
// heads are ASCII, and (?i) folds an ASCII letter only with its other case,
// the long s (ſ) and the Kelvin sign (K); a line that opens with a byte of
// those, or of any other non-ASCII rune, goes to the expression.
func mayMobile(t string) bool {
	if len(t) < 4 {
		return true
	}
	var h [4]byte
	for i := range h {
		c := t[i]
		if c >= utf8.RuneSelf {
			return true
		}
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		h[i] = c
	}
	for _, k := range mobileHeads {
		if string(h[:]) == k {
			return true
		}
	}
	return false
}

// fieldCount returns len(strings.Fields(s)) without building the fields.
func fieldCount(s string) int {
	n, in := 0, false
	for _, c := range s {
		sp := unicode.IsSpace(c)
		if !sp && !in {
			n++
		}
		in = !sp
	}
	return n
}

func dropMobile(lines []string, r *CleanReport) []string {
	out := lines[:0:0]
	for _, l := range lines {
		if isMobile(l) {
			r.SignatureLines++
			continue
		}
		out = append(out, l)
	}
	return out
}

// strongRE holds phrases only a legal disclaimer uses: a paragraph with one
// is dropped wherever it stands.
var strongRE = regexp.MustCompile(`(?i)` +
	`confidentiality notice|confidentiality note|` +
	`this (?:e-?mail|message|communication)(?: message)?,? (?:and|including|together with) (?:any|all) (?:attachments|files|documents)|` +
	`if you are not the (?:intended|named) (?:recipient|addressee)|` +
	`if you have received this (?:e-?mail|message|communication) (?:in error|by mistake)|` +
	`diese e-?mail (?:enthält|kann) vertrauliche|dieses e-?mail enthält vertrauliche|` +
	`wenn sie nicht der (?:richtige|beabsichtigte) (?:adressat|empfänger)|` +
	`ce (?:message|courriel|e-?mail) et (?:toutes )?(?:ses|les) (?:pièces jointes|fichiers)|` +
	`si vous n['’]êtes pas (?:le )?destinataire|` +
	`este (?:mensaje|correo(?: electrónico)?) y (?:sus|cualquier) (?:anexos|archivos? adjuntos?|adjuntos)|` +
	`si usted no es el destinatario|` +
	`please consider the environment before printing|think before you print|` +
	`bitte denken sie an die umwelt|pensez à l['’]environnement avant d['’]imprimer`)

// strongKeys and weakKeys are words that every phrase of strongRE and
// weakRE holds, in lower case: a paragraph with none of them is not run
// through the slower regular expression.
var (
	strongKeys = []string{"confidential", "attachments", "files", "documents", "intended", "named",
		"received this", "vertrauliche", "adressat", "empfänger", "pièces jointes", "fichiers",
		"destinataire", "anexos", "adjunto", "environment", "print", "umwelt", "environnement"}
	weakKeys = []string{"unsubscribe", "receiving this", "received this", "was sent", "browser",
		"preferences", "©", "(c)", "copyright", "rights reserved", "intended", "may contain",
		"wish to", "want to", "sitz der", "registergericht", "amtsgericht", "handelsregister",
		"geschäftsführ", "registered", "registration", "siège", "rcs", "capital social",
		"registro mercantil", "abbestellen", "abmelden", "désabonn", "désinscri", "baja", "suscripción"}
)

var strongKeySet, weakKeySet = newKeySet(strongKeys), newKeySet(weakKeys)

// strongNeeds lists, for each phrase of strongRE, groups of words without
// spaces that the phrase holds, the rarest first: the phrase can match
// only text that holds a word of every one of its groups. Many paragraphs
// hold a strong key ("files", "print", "named"), few hold all the words of
// a phrase, and the expression has no literal prefix for the regexp engine
// to look for.
var strongNeeds = [][][]string{
	{{"confidentiality"}},
	{{"attachments", "files", "documents"}, {"this"}, {"mail", "message", "communication"}},
	{{"recipient", "addressee"}, {"intended", "named"}},
	{{"received"}, {"error", "mistake"}},
	{{"vertrauliche"}},
	{{"adressat", "empfänger"}, {"wenn"}},
	{{"pièces", "fichiers"}},
	{{"destinataire"}},
	{{"anexos", "adjunto"}, {"este"}},
	{{"destinatario"}},
	{{"environment"}},
	{{"print"}, {"think"}},
	{{"umwelt"}},
	{{"environnement"}},
}

// mayStrong reports whether lower, a lower-cased text, could match
// strongRE, in itself or with its white space runs folded to one space.
// It is exact: the words hold no space, so folding spaces neither makes nor
// breaks them; in lower-cased text the only rune that (?i) folds with one
// of their letters is the long s (ſ), and text that holds one goes to the
// expression (TestStrongNeedsFolding checks this for every letter).
func mayStrong(lower string) bool {
	if strings.Contains(lower, "ſ") {
		return true
	}
	for _, groups := range strongNeeds {
		if holdsAll(lower, groups) {
			return true
		}
	}
	return false
}

// holdsAll reports whether s holds one word of every group.
func holdsAll(s string, groups [][]string) bool {
	for _, g := range groups {
		if !hasKey(s, g) {
			return false
		}
	}
	return true
}

// hasKey reports whether lower holds one of keys; keySet.has answers the
// same in one pass.
func hasKey(lower string, keys []string) bool {
	for _, k := range keys {
		if strings.Contains(lower, k) {
			return true
		}
	}
	return false
}

// weakRE holds phrases of disclaimers and tracking footers that a customer
// might also write; they drop a paragraph only in the closing run.
var weakRE = regexp.MustCompile(`(?im)` +
	`(?:^|[|·•])\s*unsubscribe\s*(?:$|[|:·•(<\[-]|here\b|from (?:this|these|our)\b)|` +
	`^\s*(?:to|click here to|tap here to) unsubscribe\b|` +
	`^\s*if you (?:no longer|do not|don't) (?:wish|want) to (?:receive|get)\b|` +
	`^\s*you (?:are|were) receiving this\b|^\s*you['’]re receiving this\b|` +
	`^\s*you received this (?:e-?mail|message|newsletter|because)\b|` +
	`^\s*this (?:e-?mail|message|newsletter) was sent (?:to|by)\b|` +
	`view (?:this (?:e-?mail|message|newsletter) )?in (?:your |a )?(?:web )?browser|` +
	`manage (?:your )?(?:e-?mail |subscription |notification )?preferences|` +
	`update (?:your )?(?:e-?mail |subscription )?preferences|` +
	`^\s*(?:©|\(c\)|copyright\b)|all rights reserved|` +
	`intended (?:only|solely|exclusively) for (?:the )?(?:use of )?(?:the )?(?:person|persons|individual|entity|addressee|recipient|named)|` +
	`may contain (?:confidential|privileged)|` +
	`sitz der gesellschaft|registergericht|amtsgericht \S+,? hrb|handelsregister|^\s*geschäftsführ(?:er|erin|ung):|` +
	`registered (?:office|in england)|company registration (?:no|number)|siège social|^\s*rcs |capital social|registro mercantil|` +
	`newsletter abbestellen|vom newsletter abmelden|^\s*abmelden\b|` +
	`se désabonner|se désinscrire|désabonnez-vous|désinscrivez-vous|` +
	`darse de baja|date de baja|cancelar (?:la )?suscripción|anular (?:la )?suscripción`)

// leadRE matches the "view in browser" lines newsletters open with: the
// bare link text, or the "having trouble viewing this email" sentence.
var leadRE = regexp.MustCompile(`(?i)^\s*(?:` +
	`(?:view (?:this (?:e-?mail|message|newsletter) )?(?:in|on) (?:your |a )?(?:web )?browser|` +
	`view (?:it |this )?online|view as (?:a )?web ?page|im browser (?:ansehen|öffnen|anzeigen)|` +
	`online ansehen|web ?version|version en ligne|voir (?:la version )?en ligne|` +
	`afficher dans (?:le|votre) navigateur|ver (?:en (?:el|tu|su) navegador|versión web|online))` +
	`(?:\s*(?:here|hier|ici|aquí))?[\s.!:|>»→-]*$|` +
	`having trouble (?:viewing|reading) this (?:e-?mail|message|newsletter)|` +
	`(?:can['’]?t|cannot) see this (?:e-?mail|message)|` +
	`if you (?:can['’]?t|cannot|are unable to) (?:see|view|read) this (?:e-?mail|message|newsletter))`)

// leadHeads are the first two letters, in lower case, of every phrase of
// leadRE.
var leadHeads = [...]string{"vi", "im", "on", "we", "ve", "vo", "af", "ha", "ca", "if"}

// mayLead reports whether l could match leadRE, by the two bytes after
// its leading \s (ASCII white space but \v, as RE2 has it). It is exact as
// mayMobile is: two ASCII bytes that are none of leadHeads in either case
// start no phrase, and non-ASCII ones go to the expression.
func mayLead(l string) bool {
	i := 0
	for i < len(l) && (l[i] == ' ' || l[i] == '\t' || l[i] == '\n' || l[i] == '\f' || l[i] == '\r') {
		i++
	}
	if i+2 > len(l) || l[i] >= utf8.RuneSelf || l[i+1] >= utf8.RuneSelf {
		return true
	}
	a, b := lowerASCII(l[i]), lowerASCII(l[i+1])
	for _, k := range leadHeads {
		if a == k[0] && b == k[1] {
			return true
		}
	}
	return false
}

// paraHasKey reports whether the lower-cased text of paragraph p holds a
// key of ks, as ks.has(strings.ToLower(paraText(lines, p))) does, line by
// line (no key holds a line break) and without lower-casing an ASCII line
// (keySet.hasFoldASCII).
func paraHasKey(lines []string, p para, ks *keySet) bool {
	for _, l := range lines[p.start:p.end] {
		if ascii := isASCII(l); ascii && ks.hasFoldASCII(l) || !ascii && ks.has(strings.ToLower(l)) {
			return true
		}
	}
	return false
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

type para struct{ start, end int }

// paragraphs returns the runs of non-blank lines.
func paragraphs(lines []string) []para {
	var ps []para
	start := -1
	for i, l := range lines {
		if blank(l) {
			if start >= 0 {
				ps = append(ps, para{start, i})
				start = -1
			}
			continue
		}
		if start < 0 {
			start = i
		}
	}
	if start >= 0 {
		ps = append(ps, para{start, len(lines)})
	}
	return ps
}

func paraText(lines []string, p para) string {
	if p.end-p.start == 1 {
		return lines[p.start]
	}
	return strings.Join(lines[p.start:p.end], "\n")
}

func separatorPara(lines []string, p para) bool {
	for _, l := range lines[p.start:p.end] {
		if !isSeparator(l) {
			return false
		}
	}
	return true
}

// dropDisclaimers drops disclaimer paragraphs: with a strong phrase
// anywhere (in the first paragraph only from the line holding it), with a
// weak phrase or only separators in the closing run of paragraphs, and
// "view in browser" lines among the first four. The first paragraph is
// never dropped whole.
func dropDisclaimers(lines []string, r *CleanReport) []string {
	ps := paragraphs(lines)
	if len(ps) == 0 {
		return lines
	}
	drop := make([]bool, len(lines))
	strong := make([]bool, len(ps))
	mark := func(from, to int) {
		for j := from; j < to; j++ {
			drop[j] = true
		}
	}
	// lower holds the paragraphs in lower case, made when first needed:
	// most paragraphs hold no key, and paraHasKey tells without them.
	lower := make([]string, len(ps))
	lowerOf := func(k int) string {
		if lower[k] == "" { // a paragraph is never blank
			lower[k] = strings.ToLower(paraText(lines, ps[k]))
		}
		return lower[k]
	}
	for k, p := range ps {
		if !paraHasKey(lines, p, strongKeySet) || !mayStrong(lowerOf(k)) || !strongRE.MatchString(strings.Join(strings.Fields(lowerOf(k)), " ")) {
			continue
		}
		strong[k] = true
		if k > 0 {
			mark(p.start, p.end)
			continue
		}
		for j := p.start; j < p.end; j++ {
			if l := strings.ToLower(lines[j]); strongKeySet.has(l) && mayStrong(l) && strongRE.MatchString(l) {
				mark(j, p.end)
				break
			}
		}
	}
	for k := len(ps) - 1; k >= 1; k-- {
		p := ps[k]
		if strong[k] || separatorPara(lines, p) || paraHasKey(lines, p, weakKeySet) && weakRE.MatchString(lowerOf(k)) {
			mark(p.start, p.end)
			continue
		}
		break
	}
	// "View in browser" lines: among the first few lines, when words follow.
	seen := 0
	for i := 0; i < len(lines) && seen < 4; i++ {
		if blank(lines[i]) {
			continue
		}
		seen++
		if len(lines[i]) <= 100 && mayLead(lines[i]) && leadRE.MatchString(lines[i]) && nonBlank(lines[i+1:]) > 0 {
			drop[i] = true
		}
	}
	out := lines[:0:0]
	for i, l := range lines {
		if drop[i] {
			if !blank(l) {
				r.DisclaimerLines++
			}
			continue
		}
		out = append(out, l)
	}
	return out
}

// signoffs are closing phrases, lower case. A line that is one of them,
// alone or followed by a short name, is a sign-off.
var signoffs = []string{
	// English
	"thanks", "thank you", "thanks a lot", "thanks so much", "thank you so much", "many thanks",
	"thanks in advance", "thank you in advance", "thanks again", "thank you again",
	"thanks for your help", "thank you for your help", "thanks for your time", "thank you for your time",
	"thx", "best", "best regards", "kind regards", "kindest regards", "warm regards",
	"warmest regards", "regards", "best wishes", "all the best", "cheers", "sincerely",
	"yours sincerely", "sincerely yours", "yours truly", "yours faithfully", "respectfully",
	"cordially", "br", "brgds", "greetings", "take care",
	// German
	"mit freundlichen grüßen", "mit freundlichen grüssen", "mit freundlichem gruß",
	"mit freundlichem gruss", "freundliche grüße", "freundliche grüsse", "viele grüße",
	"viele grüsse", "beste grüße", "beste grüsse", "liebe grüße", "liebe grüsse",
	"herzliche grüße", "herzliche grüsse", "schöne grüße", "gruß", "gruss", "grüße", "grüsse",
	"lg", "vg", "mfg", "danke", "vielen dank", "danke schön", "besten dank",
	// French
	"cordialement", "bien cordialement", "très cordialement", "bien à vous", "salutations",
	"sincères salutations", "meilleures salutations", "bonne journée", "merci", "merci beaucoup",
	"merci d'avance", "merci d’avance", "merci par avance", "amicalement", "bien amicalement",
	"à bientôt",
	// Spanish
	"saludos", "saludos cordiales", "un saludo", "un cordial saludo", "atentamente",
	"cordialmente", "gracias", "muchas gracias", "gracias de antemano", "un abrazo",
	// Portuguese, Italian, Dutch
	"obrigado", "obrigada", "atenciosamente", "cumprimentos", "abraços", "grazie",
	"cordiali saluti", "distinti saluti", "saluti", "met vriendelijke groet", "groeten",
	"vriendelijke groeten",
	// Japanese
	"よろしくお願いいたします", "よろしくお願いします", "宜しくお願い致します", "宜しくお願いします",
}

// isSignoff reports a sign-off line: a closing phrase, then nothing but
// punctuation or a short name ("Thanks, Raj"). "Thanks, the fix worked"
// is not one: what follows the phrase is not a name.
func isSignoff(l string) bool {
	t := strings.Join(strings.Fields(l), " ")
	if t == "" || len(t) > 60 {
		return false
	}
	lt := strings.ToLower(t)
	for _, p := range signoffs {
		if !strings.HasPrefix(lt, p) {
			continue
		}
		rest := t[runeOffset(t, utf8.RuneCountInString(p)):]
		if c, _ := utf8.DecodeRuneInString(rest); rest != "" && (unicode.IsLetter(c) || unicode.IsDigit(c)) {
			continue // "Bestellung", "Thanksgiving"
		}
		rest = strings.Trim(rest, " ,.!;:-–—…。、！")
		if rest == "" || shortName(rest) {
			return true
		}
	}
	return false
}

// shortName reports one to three capitalised words of letters.
func shortName(s string) bool {
	words := strings.Fields(s)
	if len(words) == 0 || len(words) > 3 || utf8.RuneCountInString(s) > 30 {
		return false
	}
	for _, w := range words {
		first, _ := utf8.DecodeRuneInString(w)
		if !unicode.IsUpper(first) {
			return false
		}
		for _, c := range w {
			if !unicode.IsLetter(c) && c != '.' && c != '-' && c != '\'' && c != '’' {
				return false
			}
		}
	}
	return true
}

// nameLine reports a line that fits a name block: short and not a
// sentence.
func nameLine(l string) bool {
	t := strings.TrimSpace(l)
	return utf8.RuneCountInString(t) <= 60 && !sentenceLike(t)
}

// sentenceLike reports a question, a long line, or four words or more of
// which most start in lower case: prose, not a name, title or address.
func sentenceLike(t string) bool {
	if strings.HasSuffix(t, "?") {
		return true
	}
	words := strings.Fields(t)
	if len(words) > 12 {
		return true
	}
	letters, lower := 0, 0
	for _, w := range words {
		c, _ := utf8.DecodeRuneInString(w)
		if unicode.IsLetter(c) {
			letters++
			if unicode.IsLower(c) {
				lower++
			}
		}
	}
	return letters >= 4 && lower*2 > letters
}

// dropSignoff drops a sign-off line and the name block after it when they
// close the text: at most six short non-sentence lines may follow it, and
// words must stand before it.
func dropSignoff(lines []string, r *CleanReport) []string {
	count := 0
	for i := len(lines) - 1; i >= 0; i-- {
		l := lines[i]
		if blank(l) {
			continue
		}
		if isSignoff(l) {
			if nonBlank(lines[:i]) == 0 {
				return lines
			}
			r.SignatureLines += 1 + count
			return lines[:i]
		}
		if count >= 6 || !nameLine(l) {
			return lines
		}
		count++
	}
	return lines
}
