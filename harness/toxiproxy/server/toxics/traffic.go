package toxics

import (
	"bytes"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/Shopify/toxiproxy/v2/stream"
	"github.com/Shopify/toxiproxy/v2/toxics"
)

// Every proxy counts its traffic as it passes, with no fault installed: the
// requests that cross it, their answers (by status class), its connections and
// its bytes in each direction. Toxiproxy itself adds a connection's bytes to its
// counters only when the connection closes, so with clients that keep
// connections alive nothing would show while a run is live.
//
// The counter takes the place of the hidden no-op toxic that Toxiproxy keeps at
// the head of each proxy's two chains (traffic_api.go puts it there): it sees
// every byte a connection carries, before any toxic, it is never listed, added
// or removed through the API (so /reset and toxiproxy-cli leave it alone), and it
// adds no stage to the pipeline. Like the no-op toxic it passes every chunk on
// as it came; it only follows HTTP/1.x framing (Content-Length, chunked, until
// close, 1xx, answers to HEAD), several requests per kept-alive connection.
// Bytes that are not HTTP/1.x pass on the same way and are counted as unparsed
// (once per connection and direction, and their bytes) from there on.
//
// The counter sees what the client sent and what the target answered, before
// any toxic: a request that an HTTP fault answers itself is among the requests,
// and its answer (not the target's) among none. Known limit: on a connection
// where such a fault answers some requests and HEAD requests are sent too, the
// answers that follow may be paired with the wrong request's method and count
// as unparsed from there (the requests are still counted).

// ProxyTraffic is one proxy's counts, all cumulative since the proxy was made.
type ProxyTraffic struct {
	connections   atomic.Uint64
	requests      atomic.Uint64
	answers       [6]atomic.Uint64 // by status class: [1] 1xx (not final) ... [5] 5xx, [0] other
	unparsed      atomic.Uint64    // connection directions whose bytes are not HTTP/1.x
	unparsedBytes atomic.Uint64
	bytesUp       atomic.Uint64 // client to target, counted as they pass
	bytesDown     atomic.Uint64 // target to client

	// The upstream half of the newest connection, waiting for its downstream half:
	// Toxiproxy starts a connection's two links one after the other in its
	// proxy's single accept loop, so the next downstream half is this one's.
	pendingMu sync.Mutex
	pending   *connTraffic
}

// TrafficCounts is ProxyTraffic as the admin API gives it.
type TrafficCounts struct {
	Connections   uint64 `json:"connections"`
	Requests      uint64 `json:"requests"`
	Answers       uint64 `json:"answers"`
	Answers1xx    uint64 `json:"answers_1xx"`
	Answers2xx    uint64 `json:"answers_2xx"`
	Answers3xx    uint64 `json:"answers_3xx"`
	Answers4xx    uint64 `json:"answers_4xx"`
	Answers5xx    uint64 `json:"answers_5xx"`
	Unparsed      uint64 `json:"unparsed"`
	UnparsedBytes uint64 `json:"unparsed_bytes"`
	BytesUp       uint64 `json:"bytes_upstream"`
	BytesDown     uint64 `json:"bytes_downstream"`
}

// Counts reads the counts now.
func (p *ProxyTraffic) Counts() TrafficCounts {
	c := TrafficCounts{
		Connections:   p.connections.Load(),
		Requests:      p.requests.Load(),
		Answers1xx:    p.answers[1].Load(),
		Answers2xx:    p.answers[2].Load(),
		Answers3xx:    p.answers[3].Load(),
		Answers4xx:    p.answers[4].Load(),
		Answers5xx:    p.answers[5].Load(),
		Unparsed:      p.unparsed.Load(),
		UnparsedBytes: p.unparsedBytes.Load(),
		BytesUp:       p.bytesUp.Load(),
		BytesDown:     p.bytesDown.Load(),
	}
	// Final answers (1xx are interim: the answer follows).
	c.Answers = p.answers[0].Load() + c.Answers2xx + c.Answers3xx + c.Answers4xx + c.Answers5xx
	return c
}

// connTraffic is what one connection's two halves share: whether each request
// still waiting for its answer was a HEAD (whose answer has no body).
type connTraffic struct {
	mu    sync.Mutex
	heads []bool
}

func (c *connTraffic) sent(head bool) {
	c.mu.Lock()
	c.heads = append(c.heads, head)
	c.mu.Unlock()
}

// answered pops the oldest request waiting; false when none is known.
func (c *connTraffic) answered() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.heads) == 0 {
		return false
	}
	head := c.heads[0]
	c.heads = c.heads[1:]
	return head
}

// trafficCounter is the toxic at the head of one chain of one proxy.
type trafficCounter struct {
	traffic *ProxyTraffic
	up      bool // the upstream chain (client to target)
}

type countPhase int

const (
	countHead countPhase = iota
	countBody
	countLost   // not HTTP/1.x: bytes only
	countOpaque // after an upgrade: bytes only
)

// countState is one connection direction's, kept across restarts of Pipe (a
// toxic added or removed behind the counter interrupts it).
type countState struct {
	conn    *connTraffic // nil when unknown
	phase   countPhase
	partial []byte // a head that has not ended yet
	cursor  bodyCursor
}

// NewState runs once per connection direction, when its link starts.
func (t *trafficCounter) NewState() interface{} {
	p := t.traffic
	if t.up {
		p.connections.Add(1)
		conn := new(connTraffic)
		p.pendingMu.Lock()
		p.pending = conn
		p.pendingMu.Unlock()
		return &countState{conn: conn}
	}
	p.pendingMu.Lock()
	conn := p.pending
	p.pending = nil
	p.pendingMu.Unlock()
	return &countState{conn: conn}
}

// Pipe passes every chunk on as the no-op toxic does, counting it on the way.
func (t *trafficCounter) Pipe(stub *toxics.ToxicStub) {
	state, ok := stub.State.(*countState)
	if !ok {
		// A connection that started before the counter was installed: its
		// framing is unknown, so only its bytes count.
		state = &countState{phase: countOpaque}
		stub.State = state
	}
	for {
		select {
		case <-stub.Interrupt:
			return
		case c := <-stub.Input:
			if c == nil {
				stub.Close()
				return
			}
			t.count(state, c)
			stub.Output <- c
		}
	}
}

func (t *trafficCounter) count(s *countState, c *stream.StreamChunk) {
	p := t.traffic
	n := uint64(len(c.Data))
	if t.up {
		p.bytesUp.Add(n)
	} else {
		p.bytesDown.Add(n)
	}
	data := c.Data
	for len(data) > 0 {
		switch s.phase {
		case countLost:
			p.unparsedBytes.Add(uint64(len(data)))
			return
		case countOpaque:
			return
		case countBody:
			used, done, err := s.cursor.consume(data)
			if err != nil {
				t.lose(s)
				continue
			}
			data = data[used:]
			if done {
				s.phase = countHead
			}
		case countHead:
			var head []byte
			if len(s.partial) == 0 {
				end := headLength(data)
				if end == 0 {
					if len(data) > maxHeadBytes {
						t.lose(s)
						continue
					}
					s.partial = append(s.partial, data...)
					return
				}
				head, data = data[:end], data[end:]
			} else {
				before := len(s.partial)
				s.partial = append(s.partial, data...)
				end := headLength(s.partial)
				if end == 0 {
					if len(s.partial) > maxHeadBytes {
						p.unparsedBytes.Add(uint64(before))
						s.partial = nil
						t.lose(s)
						continue
					}
					return
				}
				head, data = s.partial[:end], data[end-before:]
			}
			ok := t.head(s, head)
			s.partial = s.partial[:0]
			if !ok {
				t.lose(s)
				p.unparsedBytes.Add(uint64(len(head)))
			}
		}
	}
}

// lose gives up following the framing of this connection direction.
func (t *trafficCounter) lose(s *countState) {
	t.traffic.unparsed.Add(1)
	s.phase = countLost
}

// head counts one message head and sets up for its body; false when it is not HTTP/1.x.
func (t *trafficCounter) head(s *countState, head []byte) bool {
	p := t.traffic
	if t.up {
		h, ok := scanRequestHead(head)
		if !ok {
			return false
		}
		p.requests.Add(1)
		if s.conn != nil {
			s.conn.sent(h.head)
		}
		s.cursor = newBodyCursor(h.framing, h.length)
		s.phase = countBody
		if h.upgrade {
			s.phase = countOpaque // what follows may be another protocol: bytes only
		} else if s.cursor.done() {
			s.phase = countHead
		}
		return true
	}
	h, ok := scanResponseHead(head)
	if !ok {
		return false
	}
	class := h.status / 100
	if class < 1 || class > 5 {
		class = 0
	}
	p.answers[class].Add(1)
	if h.status == 101 {
		s.phase = countOpaque
		return true
	}
	if h.status < 200 {
		return true // interim: the answer follows
	}
	framing, length := h.framing, h.length
	if s.conn != nil && s.conn.answered() {
		framing = noBody // an answer to HEAD
	}
	s.cursor = newBodyCursor(framing, length)
	s.phase = countBody
	if s.cursor.done() {
		s.phase = countHead
	}
	return true
}

// scannedHead is what counting needs of a message head.
type scannedHead struct {
	head    bool // a request: HEAD
	status  int  // an answer: its status
	framing bodyFraming
	length  int64
	upgrade bool // a request asking to switch protocols
	// A Content-Length was given (an answer with neither it nor Transfer-Encoding
	// runs until the server closes).
	sawLength bool
}

var (
	headerContentLength    = []byte("content-length")
	headerTransferEncoding = []byte("transfer-encoding")
	headerUpgrade          = []byte("upgrade")
	methodHead             = []byte("HEAD")
	httpOne                = []byte("HTTP/1.")
)

// scanRequestHead reads a request head (through its blank line) without
// allocating: its method, whether it asks to upgrade, and how its body is framed.
func scanRequestHead(head []byte) (scannedHead, bool) {
	line, rest := nextLine(head)
	// METHOD SP target SP HTTP/1.x
	sp1 := bytes.IndexByte(line, ' ')
	sp2 := bytes.LastIndexByte(line, ' ')
	if sp1 <= 0 || sp2 <= sp1+1 || !bytes.HasPrefix(line[sp2+1:], httpOne) || len(line)-sp2-1 != 8 {
		return scannedHead{}, false
	}
	for _, b := range line[:sp1] {
		if b < 'A' || b > 'Z' {
			return scannedHead{}, false
		}
	}
	h := scannedHead{head: bytes.Equal(line[:sp1], methodHead)}
	if !scanHeaders(rest, &h) {
		return scannedHead{}, false
	}
	if h.framing == untilClose {
		return scannedHead{}, false // a request body must be chunked or have a length
	}
	return h, true
}

// scanResponseHead reads an answer head: its status and how its body is framed
// (an answer to HEAD is set to have none by the caller).
func scanResponseHead(head []byte) (scannedHead, bool) {
	line, rest := nextLine(head)
	// HTTP/1.x SP NNN [SP reason]
	if len(line) < 12 || !bytes.HasPrefix(line, httpOne) || line[8] != ' ' ||
		(len(line) > 12 && line[12] != ' ') {
		return scannedHead{}, false
	}
	status, err := strconv.Atoi(string(line[9:12]))
	if err != nil || status < 100 {
		return scannedHead{}, false
	}
	h := scannedHead{status: status}
	if !scanHeaders(rest, &h) {
		return scannedHead{}, false
	}
	h.upgrade = false
	switch {
	case status < 200, status == 204, status == 304:
		h.framing, h.length = noBody, 0
	case h.framing == noBody && !h.sawLength:
		h.framing = untilClose
	}
	return h, true
}

func nextLine(b []byte) ([]byte, []byte) {
	i := bytes.IndexByte(b, '\n')
	if i < 0 {
		return bytes.TrimRight(b, "\r"), nil
	}
	return bytes.TrimRight(b[:i], "\r"), b[i+1:]
}

// scanHeaders reads the header lines for the body's framing (RFC 9112 6.3):
// chunked when Transfer-Encoding ends in chunked, until close when it ends in
// something else, else Content-Length (all of them equal), else none.
func scanHeaders(lines []byte, h *scannedHead) bool {
	length := int64(-1)
	encoding := []byte(nil)
	for len(lines) > 0 {
		var line []byte
		line, lines = nextLine(lines)
		if len(line) == 0 {
			break
		}
		colon := bytes.IndexByte(line, ':')
		if colon <= 0 {
			if line[0] == ' ' || line[0] == '\t' {
				continue // a folded continuation
			}
			return false
		}
		name, value := line[:colon], bytes.TrimSpace(line[colon+1:])
		switch {
		case bytes.EqualFold(name, headerContentLength):
			n, err := strconv.ParseInt(string(value), 10, 64)
			if err != nil || n < 0 || (length >= 0 && n != length) {
				return false
			}
			length = n
		case bytes.EqualFold(name, headerTransferEncoding):
			encoding = value // the last one's last coding decides
		case bytes.EqualFold(name, headerUpgrade):
			h.upgrade = len(value) > 0
		}
	}
	switch {
	case encoding != nil:
		last := encoding
		if i := bytes.LastIndexByte(encoding, ','); i >= 0 {
			last = bytes.TrimSpace(encoding[i+1:])
		}
		if bytes.EqualFold(last, []byte("chunked")) {
			h.framing = chunked
		} else {
			h.framing = untilClose
		}
	case length > 0:
		h.framing, h.length, h.sawLength = fixedLength, length, true
	case length == 0:
		h.framing, h.sawLength = noBody, true
	default:
		h.framing = noBody
	}
	return true
}
