package toxics

import (
	"time"

	"github.com/Shopify/toxiproxy/v2/toxics"
)

// The request side that Domino's HTTP toxics share (domino_http_status, _abort,
// _delay, _body; one file each). Each runs on the upstream stream (client to
// server) and reads HTTP/1.x requests from it, several per kept-alive connection,
// passing each on as it came unless it is one the toxic acts on: one its filter
// names (httpmatch.go) and its share draws. Bytes that are not HTTP/1.x pass on
// untouched, counted as unparsed. A kind that answers requests itself has a
// companion on the downstream stream (http_answers.go), found per connection
// (connpair.go) before the connection's first request goes anywhere.

// requestKind is what one HTTP toxic adds to the shared request side.
type requestKind interface {
	filter() *RequestFilter
	counts() *requestCounts
	// pairName is the answers toxic's pair attribute, "" when the kind needs none.
	pairName() string
	// act says what to do with a request the toxic drew.
	act(req *request) action
}

// action is what happens to one request.
type action struct {
	// answer, when set, makes the answer written instead of passing the request on
	// (closes: the answer says the connection ends after it).
	answer      func(req *request, closes bool) []byte
	cutBefore   bool          // close the connection; the request never reaches the target
	cutAfter    bool          // pass it on; close the connection when its answer arrives
	breakBody   string        // pass it on; break its answer's body
	delay       time.Duration // hold it this long, then pass it on
	needsAnswer bool          // needs the answers toxic (answer, cutAfter, breakBody)
}

type requestPhase int

const (
	atHead requestPhase = iota
	passingBody
	swallowingBody // an answered request's body: dropped
	swallowingRest // the connection ends after an answer: everything dropped
	unparsedBytes  // not HTTP/1.x: passed on until a chunk starts a request line
)

// requestState is one connection's, kept across restarts of the toxic's Pipe.
type requestState struct {
	buf    []byte
	phase  requestPhase
	cursor bodyCursor

	// The request whose head is at the start of buf, once drawn (a delay may
	// outlast a restart, and a request is drawn once).
	decided    bool
	req        *request
	act        action
	holdUntil  time.Time
	answer     []byte // the answer written once an answered request's body is dropped
	answerEnds bool

	pairingDone bool
	answers     *answersState
}

func newRequestState() interface{} {
	return new(requestState)
}

// pairingDeadline bounds the wait for a new connection's downstream half to be
// registered (Toxiproxy does it right after the upstream half).
const pairingDeadline = 2 * time.Second

// pipeRequests is the Pipe of every HTTP request toxic.
func pipeRequests(kind requestKind, stub *toxics.ToxicStub) {
	state, ok := stub.State.(*requestState)
	if !ok {
		state = newRequestState().(*requestState)
		stub.State = state
	}
	for {
		if !work(kind, stub, state) {
			return
		}
		select {
		case <-stub.Interrupt:
			return
		case chunk := <-stub.Input:
			if chunk == nil {
				if state.phase != swallowingBody && state.phase != swallowingRest {
					write(stub, state.buf, 0)
				}
				stub.Close()
				return
			}
			if state.phase == unparsedBytes && len(state.buf) == 0 && startsRequestLine(chunk.Data) {
				state.phase = atHead
			}
			state.buf = append(state.buf, chunk.Data...)
		}
	}
}

// work handles what is buffered; false when interrupted or the connection was closed.
func work(kind requestKind, stub *toxics.ToxicStub, s *requestState) bool {
	counts := kind.counts()
	for {
		switch s.phase {
		case unparsedBytes:
			write(stub, s.buf, 0)
			s.buf = nil
			return true
		case swallowingRest:
			s.buf = nil
			return true
		case passingBody, swallowingBody:
			if len(s.buf) == 0 {
				return true
			}
			n, done, err := s.cursor.consume(s.buf)
			if err != nil {
				counts.unparsed.Add(1)
				s.phase = unparsedBytes
				continue
			}
			if s.phase == passingBody {
				write(stub, s.buf[:n], 0)
			}
			s.buf = s.buf[n:]
			if done {
				if s.phase == swallowingBody {
					if !sendAnswer(stub, s) {
						return false
					}
					continue
				}
				s.phase = atHead
			}
		case atHead:
			if len(s.buf) == 0 {
				return true
			}
			n := headLength(s.buf)
			if n == 0 {
				if len(s.buf) > maxHeadBytes {
					counts.unparsed.Add(1)
					s.phase = unparsedBytes
					continue
				}
				return true
			}
			if !s.decided {
				req, err := parseRequest(s.buf[:n])
				if err != nil {
					counts.unparsed.Add(1)
					s.phase = unparsedBytes
					continue
				}
				counts.requests.Add(1)
				s.req, s.act, s.decided = req, action{}, true
				if kind.filter().matches(req) && kind.filter().drawn(counts.matched.Add(1)) {
					s.act = kind.act(req)
					if s.act.delay > 0 {
						s.holdUntil = time.Now().Add(s.act.delay)
					}
				}
			}
			if !s.pairingDone && kind.pairName() != "" {
				if !pair(kind, stub, s) {
					return false
				}
			}
			if !s.holdUntil.IsZero() && !hold(stub, s.holdUntil) {
				return false
			}
			if !handle(kind, stub, s, n) {
				return false
			}
		}
	}
}

// pair finds the connection's answers toxic; false when interrupted meanwhile.
func pair(kind requestKind, stub *toxics.ToxicStub, s *requestState) bool {
	deadline := time.Now().Add(pairingDeadline)
	wait := 50 * time.Microsecond
	for {
		answers, outcome := answersFor(stub, kind.pairName())
		if outcome != tryAgain || time.Now().After(deadline) {
			s.answers, s.pairingDone = answers, true
			return true
		}
		select {
		case <-stub.Interrupt:
			return false
		case <-time.After(wait):
		}
		if wait < 5*time.Millisecond {
			wait *= 2
		}
	}
}

// hold waits until the time given; false when interrupted first (the hold goes on
// when Pipe runs again).
func hold(stub *toxics.ToxicStub, until time.Time) bool {
	timer := time.NewTimer(time.Until(until))
	defer timer.Stop()
	select {
	case <-stub.Interrupt:
		return false
	case <-timer.C:
		return true
	}
}

// handle does what was decided for the request whose n-byte head starts buf.
func handle(kind requestKind, stub *toxics.ToxicStub, s *requestState, n int) bool {
	counts := kind.counts()
	req, act := s.req, s.act
	s.decided, s.req, s.act, s.holdUntil = false, nil, action{}, time.Time{}
	if act.needsAnswer && s.answers == nil {
		counts.unpaired.Add(1)
		act = action{}
	}
	switch {
	case act.cutBefore:
		counts.acted.Add(1)
		s.buf = nil
		stub.Close()
		go drain(stub)
		return false
	case act.answer != nil:
		counts.acted.Add(1)
		s.buf = s.buf[n:]
		s.answerEnds = req.closes || req.expectsContinue
		s.answer = act.answer(req, s.answerEnds)
		s.cursor = newBodyCursor(req.framing, req.length)
		s.phase = swallowingBody
		if req.expectsContinue || s.cursor.done() {
			// Waiting for "100 Continue", the client sends no body: answer now
			// (and end the connection, as the body may follow anyway).
			return sendAnswer(stub, s)
		}
		return true
	}
	if act.delay > 0 || act.cutAfter || act.breakBody != "" {
		counts.acted.Add(1)
	}
	if s.answers != nil {
		queued := s.answers.add(exchange{method: req.method, cut: act.cutAfter, breakBody: act.breakBody})
		if !queued && (act.cutAfter || act.breakBody != "") {
			counts.unpaired.Add(1)
		}
	}
	write(stub, s.buf[:n], 0)
	s.buf = s.buf[n:]
	s.cursor = newBodyCursor(req.framing, req.length)
	s.phase = passingBody
	if s.cursor.done() {
		s.phase = atHead
	}
	return true
}

// sendAnswer hands an answered request's answer to the answers toxic; false when
// that closed the connection.
func sendAnswer(stub *toxics.ToxicStub, s *requestState) bool {
	answer, ends := s.answer, s.answerEnds
	s.answer = nil
	if !s.answers.add(exchange{answer: answer, closes: ends}) {
		// The answers toxic has gone: the request can neither reach the target
		// (it was dropped) nor be answered, so the caller gets a closed connection.
		s.phase = swallowingRest
		stub.Close()
		go drain(stub)
		return false
	}
	if ends {
		s.phase = swallowingRest // the answers toxic closes the connection after the answer
		return true
	}
	s.phase = atHead
	return true
}

// cleanupRequests runs when an HTTP request toxic is removed: a request held (a
// delay) or half read goes on to the target; a request half dropped (its answer
// not written yet) cannot, so its answer is written and the connection closed.
func cleanupRequests(stub *toxics.ToxicStub) {
	s, ok := stub.State.(*requestState)
	if !ok {
		return
	}
	if s.phase == swallowingBody || s.phase == swallowingRest {
		if s.answer != nil && s.answers != nil {
			s.answers.add(exchange{answer: s.answer, closes: true})
		}
		stub.Close()
		go drain(stub)
		return
	}
	write(stub, s.buf, cleanupWriteTimeout)
	s.buf = nil
}
