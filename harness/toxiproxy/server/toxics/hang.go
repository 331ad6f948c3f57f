package toxics

import (
	"time"

	"github.com/Shopify/toxiproxy/v2/toxics"
)

// HangToxic holds a connection open with no answer until the toxic is removed,
// whatever the other side does with its end.
//
// Stock "timeout" closes the client's side as soon as the upstream closes its
// own, so against servers that close after each answer (HTTP/1.0 style: Python's
// http.server, Flask's development server) it is a fast connection error, not a
// hang. This toxic drops the data and keeps holding after the upstream has gone;
// removing it closes the connection, which releases the caller.
//
// With Timeout > 0 the connection is closed that many milliseconds after the
// hold began on it (not after the last byte, as stock "timeout" counts).
type HangToxic struct {
	// Timeout in milliseconds; 0 holds until the toxic is removed.
	Timeout int64 `json:"timeout"`
}

// hangState is one connection's hold; it outlives a restart of Pipe (a toxic
// added after this one interrupts and reruns it), so the deadline stays put.
type hangState struct {
	deadline time.Time
}

func (t *HangToxic) NewState() interface{} {
	return new(hangState)
}

func (t *HangToxic) Pipe(stub *toxics.ToxicStub) {
	var expired <-chan time.Time
	if t.Timeout > 0 {
		state, ok := stub.State.(*hangState)
		if !ok { // not made by NewState: hold from now
			state = new(hangState)
			stub.State = state
		}
		if state.deadline.IsZero() {
			state.deadline = time.Now().Add(time.Duration(t.Timeout) * time.Millisecond)
		}
		timer := time.NewTimer(time.Until(state.deadline))
		defer timer.Stop()
		expired = timer.C
	}
	input := stub.Input
	for {
		select {
		case <-stub.Interrupt:
			return
		case <-expired:
			stub.Close()
			drain(stub)
			return
		case chunk := <-input:
			if chunk == nil {
				// The sending side has closed: stock "timeout" closes here. Keep
				// holding; a nil channel blocks, so the select waits on the rest.
				input = nil
			}
			// Data is dropped: no answer reaches the caller.
		}
	}
}

// Cleanup runs when the toxic is removed: the connection is closed (its answer
// was dropped, so it cannot carry on), which releases the caller.
func (t *HangToxic) Cleanup(stub *toxics.ToxicStub) {
	stub.Close()
	go drain(stub)
}

func init() {
	toxics.Register("domino_hang", new(HangToxic))
}
