// Package fakeai is a fake OpenAI-compatible chat completions server over
// real HTTP (net/http/httptest), for tests and local development.
//
// It owns one loopback httptest server, the queue of scripted replies and
// the record of requests it received. It speaks only the wire protocol: it
// must not import ghostwriter's pipeline, schemas or NATS packages, and it
// never reaches beyond the loopback interface.
package fakeai

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	openai "github.com/sashabaranov/go-openai"
)

// DefaultContent is the content of the built-in default reply: a valid JSON
// object for the "support_draft" schema. TriageContent is the default
// reply to a request for the "triage" schema.
const (
	DefaultContent = `{"draft":"Thanks for reaching out. We have received your message and will get back to you shortly.","confidence":0.8,"reason":"other","requires_review":false}`
	TriageContent  = `{"department":"general","priority":"normal","labels":["question"],"confidence":0.7}`
)

// knownModels are listed by GET /v1/models before any request names one.
var knownModels = []string{"fakeai", "gpt-4o-mini"}

// Reply scripts one answer to POST /v1/chat/completions.
//
// The zero Reply is a 200 with empty content and finish_reason "stop".
type Reply struct {
	// Content and Refusal fill the first choice's message. On an error
	// Status with no Body, a non-empty Content is the error message.
	Content string
	Refusal string
	// FinishReason defaults to "stop".
	FinishReason string
	// Status defaults to 200. A Status of 400 or more with no Body sends an
	// OpenAI-style error object.
	Status int
	// Body, when set, is sent as-is instead of any generated body, for raw
	// error pages or garbage.
	Body string
	// Header is added to the response headers.
	Header http.Header
	// Delay holds the reply back; it ends early when the client goes away
	// or the server closes.
	Delay time.Duration
	// InputTokens and OutputTokens are reported in usage; zero means a rough
	// word count of the request and of Content.
	InputTokens, OutputTokens int
	// CachedInputTokens and ReasoningTokens, when set, are reported in
	// usage's prompt_tokens_details and completion_tokens_details.
	CachedInputTokens, ReasoningTokens int
	// Hang blocks until the client goes away or the server closes.
	Hang bool
	// Reset hijacks the connection and closes it with a TCP reset, without
	// sending a response.
	Reset bool
}

// Server is a running fake. All methods are safe for concurrent use.
type Server struct {
	srv       *httptest.Server
	done      chan struct{}
	closeOnce sync.Once

	mu     sync.Mutex
	queue  []Reply
	def    func(req openai.ChatCompletionRequest) Reply
	bodies [][]byte // raw bodies of decoded chat requests, in arrival order
	forget bool     // keep no bodies (KeepRequests(false))
	calls  int
	models map[string]struct{}
	nextID int
}

// New starts a fake server on a free loopback port. Close it when done.
func New() *Server { return Serve(nil) }

// Serve starts a fake server on l, or on a free loopback port when l is
// nil, as the hidden `ghostwriter fakeai` dev subcommand does. Close it
// when done.
func Serve(l net.Listener) *Server {
	s := &Server{
		done:   make(chan struct{}),
		models: make(map[string]struct{}),
	}
	for _, m := range knownModels {
		s.models[m] = struct{}{}
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/chat/completions", s.handleChat)
	mux.HandleFunc("GET /v1/models", s.handleModels)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "", "fakeai: no route for "+r.Method+" "+r.URL.Path)
	})
	s.srv = httptest.NewUnstartedServer(mux)
	if l != nil {
		s.srv.Listener.Close()
		s.srv.Listener = l
	}
	s.srv.Start()
	return s
}

// URL returns the base URL ending in /v1, suitable for go-openai's
// ClientConfig.BaseURL.
func (s *Server) URL() string { return s.srv.URL + "/v1" }

// Close unblocks hanging and delayed requests by dropping their
// connections, then shuts the server down and waits for its handlers.
// It is safe to call more than once.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		close(s.done)
		s.srv.Close()
	})
}

// Script queues replies; each chat request consumes the next one in order.
func (s *Server) Script(replies ...Reply) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range replies {
		r.Header = r.Header.Clone()
		s.queue = append(s.queue, r)
	}
}

// SetDefault sets the function that answers when the script queue is empty.
// A nil f restores the built-in default, which answers DefaultContent.
// f may be called concurrently.
func (s *Server) SetDefault(f func(req openai.ChatCompletionRequest) Reply) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.def = f
}

// Requests returns deep copies of the chat requests received so far that
// decoded, in arrival order.
func (s *Server) Requests() []openai.ChatCompletionRequest {
	s.mu.Lock()
	bodies := slices.Clone(s.bodies)
	s.mu.Unlock()
	out := make([]openai.ChatCompletionRequest, 0, len(bodies))
	for _, b := range bodies {
		var req openai.ChatCompletionRequest
		// Every stored body decoded once already; decoding again yields a
		// copy that shares nothing with other callers.
		_ = json.Unmarshal(b, &req)
		out = append(out, req)
	}
	return out
}

// KeepRequests says whether the server keeps the requests it receives for
// Requests (the default) or only counts them, so that a benchmark sending
// hundreds of thousands of requests does not hold them all in memory.
func (s *Server) KeepRequests(keep bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.forget = !keep
}

// Calls returns the number of chat completion requests received, including
// ones whose body did not decode.
func (s *Server) Calls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls
}

// chatRequest is what the server reads of a chat request to answer it
// with the built-in default or a script: decoding go-openai's whole
// request type costs several passes over every message and the schema
// (its types decode themselves with nested json.Unmarshal calls), which
// made the fake a third of the bench's model call. A body that is not
// JSON, or whose model, messages or response format have the wrong
// types, is still refused with a 400.
type chatRequest struct {
	Model          string        `json:"model"`
	Messages       []chatMessage `json:"messages"`
	ResponseFormat *struct {
		JSONSchema *struct {
			Name string `json:"name"`
		} `json:"json_schema"`
	} `json:"response_format"`
}

// chatMessage is a message's content: a string, or a list of parts, as
// OpenAI accepts; null or absent for an assistant's tool call.
type chatMessage struct {
	Content any `json:"content"`
}

// errContent refuses a message content that is neither text nor parts.
var errContent = errors.New("fakeai: message content is neither a string nor a list of parts")

// words counts the words of every message, as requestWords does for the
// decoded request, or fails when a content has neither shape.
func (r *chatRequest) words() (int, error) {
	n := 0
	for _, m := range r.Messages {
		switch c := m.Content.(type) {
		case nil:
		case string:
			n += countWords(c)
		case []any:
			for _, p := range c {
				part, ok := p.(map[string]any)
				if !ok {
					return 0, errContent
				}
				text, _ := part["text"].(string)
				n += countWords(text)
			}
		default:
			return 0, errContent
		}
	}
	return n, nil
}

// schemaName is the requested json_schema's name, "" when none.
func (r *chatRequest) schemaName() string {
	if f := r.ResponseFormat; f != nil && f.JSONSchema != nil {
		return f.JSONSchema.Name
	}
	return ""
}

// question is what an answer needs of the request it answers.
type question struct {
	model  string
	words  int // requestWords
	schema string
}

// bodyPool holds request bodies that are not kept (KeepRequests(false)).
var bodyPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

func (s *Server) handleChat(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	keep, def := !s.forget, s.def
	s.mu.Unlock()

	var body []byte
	var err error
	if keep {
		body, err = io.ReadAll(r.Body)
	} else {
		buf := bodyPool.Get().(*bytes.Buffer)
		defer bodyPool.Put(buf)
		buf.Reset()
		_, err = buf.ReadFrom(r.Body)
		body = buf.Bytes()
	}
	// A custom default is given the whole request, decoded as go-openai
	// decodes it; otherwise only what the answer needs is decoded.
	var q question
	var full openai.ChatCompletionRequest
	if err == nil && def != nil {
		if err = json.Unmarshal(body, &full); err == nil {
			q = question{model: full.Model, words: requestWords(full), schema: schemaNameOf(full)}
		}
	} else if err == nil {
		var sure bool
		if q, sure = scanQuestion(body); !sure {
			var req chatRequest
			if err = json.Unmarshal(body, &req); err == nil {
				q.model, q.schema = req.Model, req.schemaName()
				q.words, err = req.words()
			}
		}
	}

	s.mu.Lock()
	s.calls++
	if err != nil {
		s.mu.Unlock()
		writeError(w, http.StatusBadRequest, "", "fakeai: cannot decode request body")
		return
	}
	if !s.forget && keep {
		s.bodies = append(s.bodies, body)
	}
	if q.model != "" {
		s.models[q.model] = struct{}{}
	}
	s.nextID++
	id := s.nextID
	var reply Reply
	scripted := len(s.queue) > 0
	if scripted {
		reply = s.queue[0]
		s.queue = s.queue[1:]
	}
	s.mu.Unlock()

	switch {
	case scripted:
	case def != nil:
		reply = def(full)
	default:
		reply = Reply{Content: contentFor(q.schema), FinishReason: string(openai.FinishReasonStop)}
	}
	s.serve(w, r, id, q, reply)
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request, id int, q question, reply Reply) {
	if reply.Delay > 0 {
		t := time.NewTimer(reply.Delay)
		defer t.Stop()
		select {
		case <-t.C:
		case <-r.Context().Done():
			return
		case <-s.done:
			reset(w)
			return
		}
	}
	if reply.Hang {
		select {
		case <-r.Context().Done():
		case <-s.done:
			reset(w)
		}
		return
	}
	if reply.Reset {
		reset(w)
		return
	}

	h := w.Header()
	for k, vs := range reply.Header {
		for _, v := range vs {
			h.Add(k, v)
		}
	}
	if h.Get("Content-Type") == "" {
		h["Content-Type"] = jsonContentType
	}
	status := reply.Status
	if status == 0 {
		status = http.StatusOK
	}

	switch {
	case reply.Body != "":
		w.WriteHeader(status)
		_, _ = io.WriteString(w, reply.Body)
	case status >= http.StatusBadRequest:
		writeError(w, status, "", reply.Content)
	default:
		buf := bodyPool.Get().(*bytes.Buffer)
		defer bodyPool.Put(buf)
		buf.Reset()
		buf.Write(appendCompletion(buf.AvailableBuffer(), id, time.Now().Unix(), q, reply))
		w.WriteHeader(status)
		_, _ = w.Write(buf.Bytes())
	}
}

// jsonContentType is shared by every response that sets no other type;
// net/http only reads it.
var jsonContentType = []string{"application/json"}

func (s *Server) handleModels(w http.ResponseWriter, _ *http.Request) {
	s.mu.Lock()
	names := make([]string, 0, len(s.models))
	for m := range s.models {
		names = append(names, m)
	}
	s.mu.Unlock()
	slices.Sort(names)

	list := openai.ModelsList{Models: make([]openai.Model, 0, len(names))}
	for _, m := range names {
		list.Models = append(list.Models, openai.Model{ID: m, Object: "model", OwnedBy: "fakeai", Root: m})
	}
	w.Header().Set("Content-Type", "application/json")
	writeJSON(w, http.StatusOK, struct {
		Object string `json:"object"`
		openai.ModelsList
	}{"list", list})
}

// ContentFor is a valid answer to req: TriageContent when it asks for the
// triage schema, DefaultContent otherwise.
func ContentFor(req openai.ChatCompletionRequest) string {
	return contentFor(schemaNameOf(req))
}

func contentFor(schemaName string) string {
	if schemaName == "triage" {
		return TriageContent
	}
	return DefaultContent
}

func schemaNameOf(req openai.ChatCompletionRequest) string {
	if f := req.ResponseFormat; f != nil && f.JSONSchema != nil {
		return f.JSONSchema.Name
	}
	return ""
}

// appendCompletion appends the chat completion that answers q with reply,
// as OpenAI writes one: the first choice's message, its finish reason,
// and the usage, with token details only when the reply sets them. It
// writes the JSON by hand: encoding go-openai's response type cost more
// than the rest of the fake's answer and sent Azure's content filter
// results, which OpenAI does not.
func appendCompletion(b []byte, id int, created int64, q question, reply Reply) []byte {
	model := q.model
	if model == "" {
		model = knownModels[0]
	}
	finish := reply.FinishReason
	if finish == "" {
		finish = string(openai.FinishReasonStop)
	}
	in, out := reply.InputTokens, reply.OutputTokens
	if in == 0 {
		in = q.words
	}
	if out == 0 {
		out = countWords(reply.Content) + countWords(reply.Refusal)
	}
	b = append(b, `{"id":"chatcmpl-fakeai-`...)
	b = strconv.AppendInt(b, int64(id), 10)
	b = append(b, `","object":"chat.completion","created":`...)
	b = strconv.AppendInt(b, created, 10)
	b = append(b, `,"model":`...)
	b = appendString(b, model)
	b = append(b, `,"choices":[{"index":0,"message":{"role":"assistant","content":`...)
	b = appendString(b, reply.Content)
	b = append(b, `,"refusal":`...)
	if reply.Refusal == "" {
		b = append(b, "null"...)
	} else {
		b = appendString(b, reply.Refusal)
	}
	b = append(b, `},"logprobs":null,"finish_reason":`...)
	if finish == string(openai.FinishReasonNull) {
		b = append(b, "null"...) // as go-openai encodes it
	} else {
		b = appendString(b, finish)
	}
	b = append(b, `}],"usage":{"prompt_tokens":`...)
	b = strconv.AppendInt(b, int64(in), 10)
	b = append(b, `,"completion_tokens":`...)
	b = strconv.AppendInt(b, int64(out), 10)
	b = append(b, `,"total_tokens":`...)
	b = strconv.AppendInt(b, int64(in+out), 10)
	if reply.CachedInputTokens > 0 {
		b = append(b, `,"prompt_tokens_details":{"cached_tokens":`...)
		b = strconv.AppendInt(b, int64(reply.CachedInputTokens), 10)
		b = append(b, '}')
	}
	if reply.ReasoningTokens > 0 {
		b = append(b, `,"completion_tokens_details":{"reasoning_tokens":`...)
		b = strconv.AppendInt(b, int64(reply.ReasoningTokens), 10)
		b = append(b, '}')
	}
	return append(b, "}}\n"...)
}

// appendString appends s as a JSON string. Invalid UTF-8 becomes U+FFFD,
// as encoding/json writes it; U+2028 and U+2029 are escaped for
// JavaScript readers, as encoding/json does.
func appendString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// requestWords is a rough token count: the words of every message.
func requestWords(req openai.ChatCompletionRequest) int {
	n := 0
	for _, m := range req.Messages {
		n += countWords(m.Content)
		for _, p := range m.MultiContent {
			n += countWords(p.Text)
		}
	}
	return n
}

// countWords is len(strings.Fields(s)) without building the slice.
func countWords(s string) int {
	n, in := 0, false
	for _, r := range s {
		if unicode.IsSpace(r) {
			in = false
		} else if !in {
			in, n = true, n+1
		}
	}
	return n
}

// errorKind returns the OpenAI error type and code for an HTTP status.
func errorKind(status int) (typ, code string) {
	switch {
	case status == http.StatusUnauthorized:
		return "invalid_request_error", "invalid_api_key"
	case status == http.StatusForbidden:
		return "invalid_request_error", "unsupported_country_region_territory"
	case status == http.StatusNotFound:
		return "invalid_request_error", "model_not_found"
	case status == http.StatusTooManyRequests:
		return "requests", "rate_limit_exceeded"
	case status >= http.StatusInternalServerError:
		return "server_error", "server_error"
	}
	return "invalid_request_error", "invalid_request_error"
}

// writeError sends an OpenAI-style error object. An empty msg becomes the
// status text; an empty typ comes from errorKind.
func writeError(w http.ResponseWriter, status int, typ, msg string) {
	kind, code := errorKind(status)
	if typ == "" {
		typ = kind
	}
	if msg == "" {
		msg = "fakeai: " + http.StatusText(status)
	}
	w.Header().Set("Content-Type", "application/json")
	writeJSON(w, status, map[string]any{
		"error": map[string]any{"message": msg, "type": typ, "code": code, "param": nil},
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	var buf bytes.Buffer
	if err := json.NewEncoder(&buf).Encode(v); err != nil {
		http.Error(w, "fakeai: encode response: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// reset drops the connection without a response; on TCP it sends a RST so
// the client sees "connection reset by peer".
func reset(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		// Not hijackable (HTTP/2): abort the stream instead.
		panic(http.ErrAbortHandler)
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = conn.Close()
}
