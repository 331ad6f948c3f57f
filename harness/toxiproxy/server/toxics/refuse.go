package toxics

import (
	"encoding/json"
	"sync/atomic"

	"github.com/Shopify/toxiproxy/v2/toxics"
)

// RefuseToxic is a dependency that is down while its proxy keeps listening:
// every connection that tries to send through it is closed at once, nothing
// passed on, and counted. The count ("attempts" among the toxic's attributes
// when it is read back) is the evidence that something really tried to cross a
// down edge; a disabled proxy refuses connections and leaves no trace.
//
// Domino adds it on the upstream stream (client to server), so a request never
// reaches the target. A connection opened before the toxic was added is closed
// when it next carries a request; an answer already on its way still arrives.
type RefuseToxic struct {
	attempts atomic.Int64
}

// MarshalJSON gives the toxic's attributes as Toxiproxy returns them: the count
// of connections refused so far. It is read-only: a count sent when adding or
// updating the toxic is ignored.
func (t *RefuseToxic) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Attempts int64 `json:"attempts"`
	}{t.attempts.Load()})
}

func (t *RefuseToxic) Pipe(stub *toxics.ToxicStub) {
	select {
	case <-stub.Interrupt:
		return
	case chunk := <-stub.Input:
		if chunk == nil { // closed before sending anything: nothing tried to cross
			stub.Close()
			return
		}
		t.attempts.Add(1)
		stub.Close()
		drain(stub)
	}
}

func init() {
	toxics.Register("domino_refuse", new(RefuseToxic))
}
