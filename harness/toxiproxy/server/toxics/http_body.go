package toxics

import (
	"github.com/Shopify/toxiproxy/v2/toxics"
)

// HTTPBodyToxic breaks the target's answers to the requests it draws; the
// requests themselves reach the target. "break" says how:
//
//   - "truncate": the head as sent, then half the body, then the connection
//     closes (the caller reads fewer bytes than Content-Length or the chunks promised);
//   - "malformed_json" (default): the body becomes JSON cut short, with a
//     Content-Length to match (the connection stays open);
//   - "content_type": the body becomes an HTML error page, Content-Type
//     text/html (as from a proxy or load balancer in the way).
//
// Answers with no body (HEAD, 204, 304) pass untouched. Added on the upstream
// stream, after a domino_http_answers toxic with the same pair on the downstream
// stream, which holds and breaks the answers.
type HTTPBodyToxic struct {
	RequestFilter
	Pair  string `json:"pair"`
	Break string `json:"break"`

	seen requestCounts
}

// How an answer's body is broken.
const (
	breakTruncate      = "truncate"
	breakMalformedJSON = "malformed_json"
	breakContentType   = "content_type"
)

// The bodies broken answers get.
const (
	malformedJSONBody = `{"id": 1, "status": "ok", "items": [{"name": "`
	wrongTypeBody     = "<!DOCTYPE html>\n<html><head><title>Error</title></head>" +
		"<body><h1>Something went wrong</h1></body></html>\n"
)

func (t *HTTPBodyToxic) filter() *RequestFilter { return &t.RequestFilter }
func (t *HTTPBodyToxic) counts() *requestCounts { return &t.seen }
func (t *HTTPBodyToxic) pairName() string       { return t.Pair }

func (t *HTTPBodyToxic) act(*request) action {
	how := t.Break
	if how != breakTruncate && how != breakContentType {
		how = breakMalformedJSON
	}
	return action{breakBody: how, needsAnswer: true}
}

func (t *HTTPBodyToxic) NewState() interface{}          { return newRequestState() }
func (t *HTTPBodyToxic) Pipe(stub *toxics.ToxicStub)    { pipeRequests(t, stub) }
func (t *HTTPBodyToxic) Cleanup(stub *toxics.ToxicStub) { cleanupRequests(stub) }

// MarshalJSON gives the toxic's attributes with what it has seen (read-only).
func (t *HTTPBodyToxic) MarshalJSON() ([]byte, error) {
	type settings HTTPBodyToxic // without this method
	return withCounts((*settings)(t), &t.seen)
}

func init() {
	toxics.Register("domino_http_body", new(HTTPBodyToxic))
}
