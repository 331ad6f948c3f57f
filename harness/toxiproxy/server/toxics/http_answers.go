package toxics

import (
	"encoding/json"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/Shopify/toxiproxy/v2/stream"
	"github.com/Shopify/toxiproxy/v2/toxics"
)

// AnswersToxic is the client-facing half of Domino's HTTP toxics that answer
// requests themselves (domino_http_status, domino_http_abort, domino_http_body).
// It runs on the downstream stream (server to client), added before its request
// toxic, with the same "pair" attribute (Domino uses the request toxic's name).
//
// It follows the target's answers on each connection (HTTP/1.x framing:
// Content-Length, chunked, until close, 1xx) and takes, in request order, what its
// request toxic queued for that connection (connpair.go finds the connection):
// for each request passed on to the target, its method (an answer to HEAD has no
// body) and what to do with its answer (pass it, cut the connection when it
// arrives, break its body); for each request answered without the target, the
// answer, written between the target's answers, never inside one. Answers to
// requests sent before the toxics were added pass untouched.
//
// One answers toxic per proxy at a time: each follows the requests its own
// request toxic saw, so a request answered by a second pair further along would
// leave this one waiting for an answer that never comes. Domino refuses a second.
//
// Its counts are read back among its attributes: answers passed, answers it
// wrote, broken, cut; and unparsed, times a connection carried bytes that are
// not HTTP/1.x (passed on untouched from there).
type AnswersToxic struct {
	Pair string `json:"pair"`

	passed   atomic.Uint64
	answered atomic.Uint64
	broken   atomic.Uint64
	cut      atomic.Uint64
	unparsed atomic.Uint64
}

// MarshalJSON gives the toxic's attributes as Toxiproxy returns them: its pair
// and its counts (read-only).
func (t *AnswersToxic) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Pair     string `json:"pair"`
		Passed   uint64 `json:"passed"`
		Answered uint64 `json:"answered"`
		Broken   uint64 `json:"broken"`
		Cut      uint64 `json:"cut"`
		Unparsed uint64 `json:"unparsed"`
	}{t.Pair, t.passed.Load(), t.answered.Load(), t.broken.Load(), t.cut.Load(), t.unparsed.Load()})
}

// exchange is what the request toxic queued for one request, in request order.
type exchange struct {
	// answer, when not nil: the request was not passed on; write this instead.
	answer []byte
	closes bool // after the answer, close the connection
	// Otherwise the request went to the target:
	method    string
	cut       bool   // close the connection when its answer arrives, unanswered
	breakBody string // break its answer's body (http_body's kinds)
}

type answerPhase int

const (
	betweenAnswers answerPhase = iota
	inBody
	lostFraming // bytes that are not HTTP/1.x: passed on until a new request resyncs
	opaque      // after 101 Switching Protocols: passed on to the end
)

// answersState is one connection's: the queue its request toxic fills, and where
// the target's answers are.
type answersState struct {
	toxic *AnswersToxic

	mu    sync.Mutex
	queue []exchange
	gone  bool          // the connection or the toxic has ended: queue nothing more
	wake  chan struct{} // something was queued

	// Only the toxic's Pipe (or its Cleanup, which runs when Pipe does not) uses these.
	buf      []byte
	phase    answerPhase
	cursor   bodyCursor
	breaking string // the body being held to break, by which kind
	head     []byte // its head
	body     []byte // its body so far
}

// maxHeldBody bounds an answer held to break its body; a longer one passes untouched.
const maxHeldBody = 8 << 20

func (t *AnswersToxic) NewState() interface{} {
	return &answersState{toxic: t, wake: make(chan struct{}, 1)}
}

// queue adds what to do for the next request; false when the connection has ended.
func (s *answersState) add(e exchange) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.gone {
		return false
	}
	s.queue = append(s.queue, e)
	select {
	case s.wake <- struct{}{}:
	default:
	}
	return true
}

func (s *answersState) next() (exchange, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.queue) == 0 {
		return exchange{}, false
	}
	return s.queue[0], true
}

func (s *answersState) pop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.queue = s.queue[1:]
}

// end marks the connection ended and gives what was still queued.
func (s *answersState) end() []exchange {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.gone = true
	left := s.queue
	s.queue = nil
	return left
}

func (t *AnswersToxic) Pipe(stub *toxics.ToxicStub) {
	state, ok := stub.State.(*answersState)
	if !ok {
		state = t.NewState().(*answersState)
		stub.State = state
	}
	for {
		if !t.work(stub, state) {
			return
		}
		select {
		case <-stub.Interrupt:
			return
		case <-state.wake:
			if state.phase == lostFraming && len(state.buf) == 0 {
				// The client sent a new request, so it has the whole previous answer.
				state.phase = betweenAnswers
			}
		case chunk := <-stub.Input:
			if chunk == nil {
				t.finish(stub, state, 0)
				stub.Close()
				return
			}
			state.buf = append(state.buf, chunk.Data...)
		}
	}
}

// work passes on, holds or answers what it can; false once it has closed the connection.
func (t *AnswersToxic) work(stub *toxics.ToxicStub, s *answersState) bool {
	for {
		switch s.phase {
		case opaque, lostFraming:
			t.flush(stub, s, 0)
			return true
		case inBody:
			if len(s.buf) == 0 {
				return true
			}
			n, done, err := s.cursor.consume(s.buf)
			if err != nil {
				t.lose(stub, s)
				continue
			}
			if s.breaking != "" {
				s.body = append(s.body, s.buf[:n]...)
			} else {
				write(stub, s.buf[:n], 0)
			}
			s.buf = s.buf[n:]
			if s.breaking != "" && len(s.body) > maxHeldBody {
				write(stub, append(s.head, s.body...), 0) // too long to hold: passed untouched
				s.breaking, s.head, s.body = "", nil, nil
			}
			if done {
				s.phase = betweenAnswers
				if s.breaking != "" && !t.breakHeld(stub, s, 0) {
					return false
				}
			}
		case betweenAnswers:
			next, queued := s.next()
			if queued && next.answer != nil {
				s.pop()
				write(stub, next.answer, 0)
				t.answered.Add(1)
				if next.closes {
					t.closeConnection(stub, s)
					return false
				}
				continue
			}
			if len(s.buf) == 0 {
				return true
			}
			n := headLength(s.buf)
			if n == 0 {
				if len(s.buf) > maxHeadBytes {
					t.lose(stub, s)
					continue
				}
				return true
			}
			resp, err := parseResponse(s.buf[:n], next.method)
			if err != nil {
				t.lose(stub, s)
				continue
			}
			if resp.status == 101 {
				s.phase = opaque
				continue
			}
			head := s.buf[:n:n]
			s.buf = s.buf[n:]
			if resp.status < 200 { // 100 Continue and the like: the answer follows
				write(stub, head, 0)
				continue
			}
			if queued {
				s.pop()
			}
			t.passed.Add(1)
			s.cursor = newBodyCursor(resp.framing, resp.length)
			switch {
			case queued && next.cut:
				t.cut.Add(1)
				t.closeConnection(stub, s)
				return false
			case queued && next.breakBody != "" && resp.framing != noBody:
				s.breaking, s.head, s.body = next.breakBody, head, nil
			default:
				write(stub, head, 0)
			}
			s.phase = inBody
			if s.cursor.done() {
				s.phase = betweenAnswers
				if s.breaking != "" && !t.breakHeld(stub, s, 0) {
					return false
				}
			}
		}
	}
}

// lose gives up following the framing: what is held passes on untouched.
func (t *AnswersToxic) lose(stub *toxics.ToxicStub, s *answersState) {
	t.unparsed.Add(1)
	if s.breaking != "" {
		write(stub, append(s.head, s.body...), 0)
		s.breaking, s.head, s.body = "", nil, nil
	}
	s.phase = lostFraming
}

// flush passes on every byte received and not yet passed.
func (t *AnswersToxic) flush(stub *toxics.ToxicStub, s *answersState, timeout time.Duration) {
	if len(s.buf) > 0 {
		write(stub, s.buf, timeout)
		s.buf = nil
	}
}

// breakHeld writes the held answer broken; false when that closed the connection.
func (t *AnswersToxic) breakHeld(stub *toxics.ToxicStub, s *answersState, timeout time.Duration) bool {
	how, head, body := s.breaking, s.head, s.body
	s.breaking, s.head, s.body = "", nil, nil
	t.broken.Add(1)
	first, lines := headerLines(head)
	switch how {
	case breakTruncate:
		// The head as sent, half the body, then the connection closes: the
		// caller reads fewer bytes than the head promised.
		write(stub, append(head, body[:len(body)/2]...), timeout)
		t.closeConnection(stub, s)
		return false
	case breakContentType:
		lines = withoutHeaders(lines, "Content-Type", "Content-Length", "Transfer-Encoding", "Content-Encoding")
		lines = append(lines, "Content-Type: text/html; charset=utf-8")
		body = []byte(wrongTypeBody)
	default: // breakMalformedJSON
		lines = withoutHeaders(lines, "Content-Length", "Transfer-Encoding", "Content-Encoding")
		body = []byte(malformedJSONBody)
	}
	lines = append(lines, "Content-Length: "+strconv.Itoa(len(body)))
	write(stub, append(joinHead(first, lines), body...), timeout)
	return true
}

// finish runs when the target's side has closed (or the toxic is removed): what
// is held passes on, and answers still queued are written (a request answered
// without the target is answered even when the target has gone).
func (t *AnswersToxic) finish(stub *toxics.ToxicStub, s *answersState, timeout time.Duration) {
	if s.breaking != "" {
		if s.cursor.framing == untilClose {
			s.body = append(s.body, s.buf...)
			s.buf = nil
			t.breakHeld(stub, s, timeout)
		} else {
			write(stub, append(s.head, s.body...), timeout)
			s.breaking, s.head, s.body = "", nil, nil
		}
	}
	t.flush(stub, s, timeout)
	for _, left := range s.end() {
		if left.answer != nil {
			write(stub, left.answer, timeout)
			t.answered.Add(1)
		}
	}
}

func (t *AnswersToxic) closeConnection(stub *toxics.ToxicStub, s *answersState) {
	s.end()
	stub.Close()
	go drain(stub)
}

// Cleanup runs when the toxic is removed: everything held or queued is written.
func (t *AnswersToxic) Cleanup(stub *toxics.ToxicStub) {
	state, ok := stub.State.(*answersState)
	if !ok {
		return
	}
	t.finish(stub, state, cleanupWriteTimeout)
}

// cleanupWriteTimeout bounds a write while a toxic is removed (Toxiproxy's own
// removal waits as long for a stuck reader).
const cleanupWriteTimeout = 5 * time.Second

// write passes data on to the next toxic; timeout 0 waits as long as it takes.
func write(stub *toxics.ToxicStub, data []byte, timeout time.Duration) {
	if len(data) == 0 {
		return
	}
	chunk := &stream.StreamChunk{Data: append([]byte(nil), data...), Timestamp: time.Now()}
	_ = stub.WriteOutput(chunk, timeout) // only a removal gives a timeout; a stuck reader loses it
}

func init() {
	toxics.Register("domino_http_answers", new(AnswersToxic))
}
