package toxics

import (
	"bufio"
	"bytes"
	"errors"
	"net/http"
	"strconv"
	"strings"
)

// HTTP/1.x framing, read incrementally from a toxic's chunks: where a message's
// head ends and how long its body is (RFC 9112 section 6). The HTTP toxics pass
// bytes on as they come and only need to know where each message ends, so that
// they can act on one request (or its answer) and leave the others untouched on
// a kept-alive connection.

// maxHeadBytes bounds a message head. A longer one, like bytes that are not
// HTTP, makes the connection pass through untouched (and counted as unparsed).
const maxHeadBytes = 64 << 10

var headEnd = []byte("\r\n\r\n")

// headLength is the length of the head at the start of buf (through the blank
// line), or 0 while it is incomplete.
func headLength(buf []byte) int {
	i := bytes.Index(buf, headEnd)
	if i < 0 {
		return 0
	}
	return i + len(headEnd)
}

// bodyFraming says how a message's body ends.
type bodyFraming int

const (
	noBody      bodyFraming = iota
	fixedLength             // Content-Length bytes
	chunked                 // Transfer-Encoding: chunked, through the last chunk and trailers
	untilClose              // an answer with neither: the body ends when the server closes
)

// request is a request head as the toxics need it.
type request struct {
	method, path string
	head         []byte // the whole head, for header look-ups (values)
	framing      bodyFraming
	length       int64
	// The client asked for the connection to end after this exchange
	// (Connection: close, or HTTP/1.0 without keep-alive).
	closes bool
	// The client waits for "100 Continue" before sending the body.
	expectsContinue bool
}

var errNotHTTP = errors.New("not an HTTP/1.x message")

// values are the request's values of the header name (case-insensitive), trimmed.
func (r *request) values(name string) []string {
	var found []string
	_, lines := nextLine(r.head)
	for len(lines) > 0 {
		var line []byte
		line, lines = nextLine(lines)
		if len(line) == 0 {
			break
		}
		colon := bytes.IndexByte(line, ':')
		if colon > 0 && strings.EqualFold(string(bytes.TrimSpace(line[:colon])), name) {
			found = append(found, string(bytes.TrimSpace(line[colon+1:])))
		}
	}
	return found
}

// parseRequest reads a complete request head (as headLength found it). Every
// request crosses it, so the usual head (origin-form target, HTTP/1.x) is read
// with no allocation beyond its strings (scanRequestHead); anything else goes
// through Go's own reader (parseRequestStd).
func parseRequest(head []byte) (*request, error) {
	line, _ := nextLine(head)
	sp1 := bytes.IndexByte(line, ' ')
	sp2 := bytes.LastIndexByte(line, ' ')
	if sp1 <= 0 || sp2 <= sp1+1 {
		return nil, errNotHTTP
	}
	target := line[sp1+1 : sp2]
	if target[0] != '/' || bytes.IndexByte(target, '%') >= 0 {
		return parseRequestStd(head) // absolute-form, "*", or a path to decode
	}
	scanned, ok := scanRequestHead(head)
	if !ok {
		return nil, errNotHTTP
	}
	method := string(line[:sp1])
	if method == http.MethodConnect {
		return nil, errNotHTTP
	}
	path := target
	if i := bytes.IndexAny(path, "?#"); i >= 0 {
		path = path[:i]
	}
	req := &request{
		method:  method,
		path:    string(path),
		head:    append([]byte(nil), head...),
		framing: scanned.framing,
		length:  scanned.length,
	}
	if req.path == "" {
		req.path = "/"
	}
	for _, upgrade := range req.values("Upgrade") {
		if strings.EqualFold(upgrade, "h2c") {
			return nil, errNotHTTP
		}
	}
	for _, expect := range req.values("Expect") {
		req.expectsContinue = req.expectsContinue || strings.EqualFold(expect, "100-continue")
	}
	// As net/http's shouldClose: HTTP/1.0 closes unless kept alive, HTTP/1.1 when asked.
	connection := req.values("Connection")
	closes := hasToken(connection, "close")
	if bytes.HasSuffix(line, []byte("HTTP/1.0")) {
		closes = closes || !hasToken(connection, "keep-alive")
	}
	req.closes = closes
	return req, nil
}

// hasToken is true when a comma-separated header value among values holds token.
func hasToken(values []string, token string) bool {
	for _, value := range values {
		for _, part := range strings.Split(value, ",") {
			if strings.EqualFold(strings.TrimSpace(part), token) {
				return true
			}
		}
	}
	return false
}

// parseRequestStd reads a request head with Go's net/http reader.
func parseRequestStd(head []byte) (*request, error) {
	req, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(head)))
	if err != nil {
		return nil, err
	}
	if req.ProtoMajor != 1 || req.Method == http.MethodConnect ||
		strings.EqualFold(req.Header.Get("Upgrade"), "h2c") {
		return nil, errNotHTTP
	}
	parsed := &request{
		method:          req.Method,
		path:            req.URL.Path,
		head:            append([]byte(nil), head...),
		closes:          req.Close,
		expectsContinue: strings.EqualFold(req.Header.Get("Expect"), "100-continue"),
	}
	switch {
	case isChunked(req.TransferEncoding):
		parsed.framing = chunked
	case len(req.TransferEncoding) > 0:
		return nil, errNotHTTP // a request body must be chunked or have a length
	case req.ContentLength > 0:
		parsed.framing, parsed.length = fixedLength, req.ContentLength
	}
	if parsed.path == "" {
		parsed.path = "/"
	}
	return parsed, nil
}

// response is an answer's head as the toxics need it.
type response struct {
	status  int
	framing bodyFraming
	length  int64
	// The server ends the connection after this answer (or its body runs until it does).
	closes bool
}

// parseResponse reads a complete answer head to a request made with method ("" if
// unknown: not HEAD), with no allocation (scanResponseHead).
func parseResponse(head []byte, method string) (*response, error) {
	scanned, ok := scanResponseHead(head)
	if !ok {
		return nil, errNotHTTP
	}
	parsed := &response{status: scanned.status, framing: scanned.framing, length: scanned.length}
	if method == http.MethodHead {
		parsed.framing, parsed.length = noBody, 0
	}
	parsed.closes = parsed.framing == untilClose
	return parsed, nil
}

// parseResponseStd reads an answer head with Go's net/http reader (the reference
// parseResponse is tested against).
func parseResponseStd(head []byte, method string) (*response, error) {
	var req *http.Request
	if method != "" {
		req = &http.Request{Method: method}
	}
	resp, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(head)), req)
	if err != nil {
		return nil, err
	}
	if resp.ProtoMajor != 1 {
		return nil, errNotHTTP
	}
	parsed := &response{status: resp.StatusCode, closes: resp.Close}
	switch {
	case resp.StatusCode < 200, resp.StatusCode == http.StatusNoContent,
		resp.StatusCode == http.StatusNotModified, method == http.MethodHead:
		parsed.framing = noBody
	case isChunked(resp.TransferEncoding):
		parsed.framing = chunked
	case resp.ContentLength >= 0:
		parsed.framing, parsed.length = fixedLength, resp.ContentLength
		if resp.ContentLength == 0 {
			parsed.framing = noBody
		}
	default:
		parsed.framing, parsed.closes = untilClose, true
	}
	return parsed, nil
}

func isChunked(encodings []string) bool {
	return len(encodings) > 0 && strings.EqualFold(encodings[len(encodings)-1], "chunked")
}

// bodyCursor follows a body through the bytes that carry it.
type bodyCursor struct {
	framing   bodyFraming
	remaining int64 // fixedLength: bytes left; chunked: bytes left of the chunk's data and CRLF
	phase     chunkPhase
	line      []byte // chunked: the size or trailer line read so far
}

type chunkPhase int

const (
	sizeLine chunkPhase = iota
	chunkData
	trailerLine
)

// maxLineBytes bounds a chunk-size or trailer line.
const maxLineBytes = 8 << 10

func newBodyCursor(framing bodyFraming, length int64) bodyCursor {
	return bodyCursor{framing: framing, remaining: length}
}

// done is true once the body has ended (a body until close never does).
func (c *bodyCursor) done() bool {
	switch c.framing {
	case noBody:
		return true
	case fixedLength:
		return c.remaining == 0
	default:
		return false
	}
}

// consume says how many bytes at the start of buf belong to the body, and whether
// the body ends with them.
func (c *bodyCursor) consume(buf []byte) (int, bool, error) {
	switch c.framing {
	case noBody:
		return 0, true, nil
	case untilClose:
		return len(buf), false, nil
	case fixedLength:
		n := int64(len(buf))
		if n > c.remaining {
			n = c.remaining
		}
		c.remaining -= n
		return int(n), c.remaining == 0, nil
	}
	used := 0
	for used < len(buf) {
		switch c.phase {
		case chunkData:
			n := int64(len(buf) - used)
			if n > c.remaining {
				n = c.remaining
			}
			c.remaining -= n
			used += int(n)
			if c.remaining == 0 {
				c.phase = sizeLine
			}
		case sizeLine, trailerLine:
			i := bytes.IndexByte(buf[used:], '\n')
			if i < 0 {
				c.line = append(c.line, buf[used:]...)
				if len(c.line) > maxLineBytes {
					return 0, false, errNotHTTP
				}
				return len(buf), false, nil
			}
			c.line = append(c.line, buf[used:used+i+1]...)
			used += i + 1
			line := strings.TrimRight(string(c.line), "\r\n")
			c.line = c.line[:0]
			if c.phase == trailerLine {
				if line == "" {
					return used, true, nil
				}
				continue
			}
			size, err := chunkSize(line)
			if err != nil {
				return 0, false, err
			}
			if size == 0 {
				c.phase = trailerLine
				continue
			}
			c.phase, c.remaining = chunkData, size+2 // the data and its CRLF
		}
	}
	return used, false, nil
}

func chunkSize(line string) (int64, error) {
	if i := strings.IndexByte(line, ';'); i >= 0 {
		line = line[:i] // chunk extensions
	}
	size, err := strconv.ParseInt(strings.TrimSpace(line), 16, 64)
	if err != nil || size < 0 || size > 1<<40 {
		return 0, errNotHTTP
	}
	return size, nil
}

// startsRequestLine is true when buf begins like a request line ("GET /x HTTP/1.1"):
// a connection that lost the framing (an HTTP toxic added mid-request) takes up
// parsing again there.
func startsRequestLine(buf []byte) bool {
	end := bytes.IndexByte(buf, '\n')
	if end < 0 {
		return false
	}
	parts := strings.Fields(string(buf[:end]))
	if len(parts) != 3 || !strings.HasPrefix(parts[2], "HTTP/1.") {
		return false
	}
	for _, r := range parts[0] {
		if r < 'A' || r > 'Z' {
			return false
		}
	}
	return parts[0] != "" && (strings.HasPrefix(parts[1], "/") || strings.Contains(parts[1], "://") || parts[1] == "*")
}

// headerLines splits a head into its first line and its header lines (no CRLFs).
func headerLines(head []byte) (string, []string) {
	lines := strings.Split(strings.TrimRight(string(head), "\r\n"), "\r\n")
	return lines[0], lines[1:]
}

// withoutHeaders is a head's header lines without those named (case-insensitive).
func withoutHeaders(lines []string, names ...string) []string {
	kept := lines[:0:0]
	for _, line := range lines {
		name, _, _ := strings.Cut(line, ":")
		drop := false
		for _, n := range names {
			if strings.EqualFold(strings.TrimSpace(name), n) {
				drop = true
				break
			}
		}
		if !drop {
			kept = append(kept, line)
		}
	}
	return kept
}

// joinHead makes a head from its first line and header lines.
func joinHead(first string, lines []string) []byte {
	var b bytes.Buffer
	b.WriteString(first)
	b.WriteString("\r\n")
	for _, line := range lines {
		b.WriteString(line)
		b.WriteString("\r\n")
	}
	b.WriteString("\r\n")
	return b.Bytes()
}
