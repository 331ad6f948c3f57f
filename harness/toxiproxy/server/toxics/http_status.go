package toxics

import (
	"net/http"
	"sort"
	"strconv"
	"strings"

	"github.com/Shopify/toxiproxy/v2/toxics"
)

// HTTPStatusToxic answers the requests it draws with a status of its own, and the
// target never sees them (like Envoy's abort): the dependency "answers 503".
// Other requests, and other bytes, pass untouched, several per kept-alive
// connection. Added on the upstream stream, after a domino_http_answers toxic on
// the downstream stream with the same pair, which writes the answers.
//
// The answer is HTTP/1.1 with Content-Length, the body given (default: a JSON
// error naming the status) and the headers given (e.g. Retry-After; Content-Type
// among them replaces the default). It keeps the connection open unless the
// client asked to end it (Connection: close, HTTP/1.0) or waits for
// "100 Continue". A request's body, if any, is read and dropped first.
type HTTPStatusToxic struct {
	RequestFilter
	Pair    string            `json:"pair"`
	Status  int               `json:"status"`
	Body    string            `json:"body"`
	Headers map[string]string `json:"headers"`

	seen requestCounts
}

func (t *HTTPStatusToxic) filter() *RequestFilter { return &t.RequestFilter }
func (t *HTTPStatusToxic) counts() *requestCounts { return &t.seen }
func (t *HTTPStatusToxic) pairName() string       { return t.Pair }

func (t *HTTPStatusToxic) act(*request) action {
	status, body, headers := t.Status, t.Body, t.Headers
	return action{needsAnswer: true, answer: func(req *request, closes bool) []byte {
		return statusAnswer(status, body, headers, req.method == http.MethodHead, closes)
	}}
}

// statusAnswer is a whole answer: status line, headers, body.
func statusAnswer(status int, body string, headers map[string]string, head, closes bool) []byte {
	if status < 100 || status > 999 {
		status = http.StatusInternalServerError
	}
	text := http.StatusText(status)
	if text == "" {
		text = "Status " + strconv.Itoa(status)
	}
	contentType := "text/plain; charset=utf-8"
	if body == "" {
		body = `{"error": "` + text + `"}`
	}
	if strings.HasPrefix(strings.TrimSpace(body), "{") || strings.HasPrefix(strings.TrimSpace(body), "[") {
		contentType = "application/json"
	}
	lines := []string{}
	names := make([]string, 0, len(headers))
	for name := range headers {
		names = append(names, name)
	}
	sort.Strings(names) // the same answer every time
	for _, name := range names {
		clean := strings.TrimSpace(name)
		switch strings.ToLower(clean) {
		case "content-length", "transfer-encoding", "connection", "":
			continue // the toxic frames the answer itself
		case "content-type":
			contentType = headers[name]
			continue
		}
		value := strings.NewReplacer("\r", " ", "\n", " ").Replace(headers[name])
		lines = append(lines, clean+": "+value)
	}
	lines = append(lines, "Content-Type: "+contentType, "Content-Length: "+strconv.Itoa(len(body)))
	if closes {
		lines = append(lines, "Connection: close")
	}
	answer := joinHead("HTTP/1.1 "+strconv.Itoa(status)+" "+text, lines)
	if !head {
		answer = append(answer, body...)
	}
	return answer
}

func (t *HTTPStatusToxic) NewState() interface{}          { return newRequestState() }
func (t *HTTPStatusToxic) Pipe(stub *toxics.ToxicStub)    { pipeRequests(t, stub) }
func (t *HTTPStatusToxic) Cleanup(stub *toxics.ToxicStub) { cleanupRequests(stub) }

// MarshalJSON gives the toxic's attributes as Toxiproxy returns them: its
// settings and what it has seen (read-only).
func (t *HTTPStatusToxic) MarshalJSON() ([]byte, error) {
	type settings HTTPStatusToxic // without this method
	return withCounts((*settings)(t), &t.seen)
}

func init() {
	toxics.Register("domino_http_status", new(HTTPStatusToxic))
}
