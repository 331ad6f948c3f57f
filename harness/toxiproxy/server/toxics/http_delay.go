package toxics

import (
	"time"

	"github.com/Shopify/toxiproxy/v2/toxics"
)

// HTTPDelayToxic holds the requests it draws for Delay milliseconds before
// passing them on: a slow dependency per request, where Toxiproxy's latency
// slows a whole connection. Later requests on the same connection wait behind a
// held one, as they would behind a slow answer. Added on the upstream stream;
// needs no answers toxic.
type HTTPDelayToxic struct {
	RequestFilter
	// Delay in milliseconds.
	Delay int64 `json:"delay"`

	seen requestCounts
}

func (t *HTTPDelayToxic) filter() *RequestFilter { return &t.RequestFilter }
func (t *HTTPDelayToxic) counts() *requestCounts { return &t.seen }
func (t *HTTPDelayToxic) pairName() string       { return "" }

func (t *HTTPDelayToxic) act(*request) action {
	if t.Delay <= 0 {
		return action{}
	}
	return action{delay: time.Duration(t.Delay) * time.Millisecond}
}

func (t *HTTPDelayToxic) NewState() interface{}          { return newRequestState() }
func (t *HTTPDelayToxic) Pipe(stub *toxics.ToxicStub)    { pipeRequests(t, stub) }
func (t *HTTPDelayToxic) Cleanup(stub *toxics.ToxicStub) { cleanupRequests(stub) }

// MarshalJSON gives the toxic's attributes with what it has seen (read-only).
func (t *HTTPDelayToxic) MarshalJSON() ([]byte, error) {
	type settings HTTPDelayToxic // without this method
	return withCounts((*settings)(t), &t.seen)
}

func init() {
	toxics.Register("domino_http_delay", new(HTTPDelayToxic))
}
