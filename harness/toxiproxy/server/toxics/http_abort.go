package toxics

import (
	"github.com/Shopify/toxiproxy/v2/toxics"
)

// HTTPAbortToxic closes the connection on the requests it draws, with no answer,
// at one of two points ("at"):
//
//   - "before" (default): the request never reaches the target;
//   - "after": the request reaches the target, and the connection is closed when
//     the target's answer arrives, which the caller never gets: the request was
//     applied but is unanswered, the case that tests idempotent retries. Needs a
//     domino_http_answers toxic with the same pair on the downstream stream.
//
// Other requests pass untouched. Added on the upstream stream.
type HTTPAbortToxic struct {
	RequestFilter
	Pair string `json:"pair"`
	At   string `json:"at"`

	seen requestCounts
}

func (t *HTTPAbortToxic) filter() *RequestFilter { return &t.RequestFilter }
func (t *HTTPAbortToxic) counts() *requestCounts { return &t.seen }
func (t *HTTPAbortToxic) pairName() string       { return t.Pair }

func (t *HTTPAbortToxic) act(*request) action {
	if t.At == "after" {
		return action{cutAfter: true, needsAnswer: true}
	}
	return action{cutBefore: true}
}

func (t *HTTPAbortToxic) NewState() interface{}          { return newRequestState() }
func (t *HTTPAbortToxic) Pipe(stub *toxics.ToxicStub)    { pipeRequests(t, stub) }
func (t *HTTPAbortToxic) Cleanup(stub *toxics.ToxicStub) { cleanupRequests(stub) }

// MarshalJSON gives the toxic's attributes with what it has seen (read-only).
func (t *HTTPAbortToxic) MarshalJSON() ([]byte, error) {
	type settings HTTPAbortToxic // without this method
	return withCounts((*settings)(t), &t.seen)
}

func init() {
	toxics.Register("domino_http_abort", new(HTTPAbortToxic))
}
