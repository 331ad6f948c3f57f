package toxics

import (
	"reflect"
	"testing"
)

// The allocation-free readers the toxics use give what Go's net/http reader gives.

func TestRequestHeadsReadAsNetHTTPReadsThem(t *testing.T) {
	heads := []string{
		"GET / HTTP/1.1\r\nHost: a\r\n\r\n",
		"GET /pay/card?x=1#frag HTTP/1.1\r\nHost: a\r\nX-Journey:  pay-tab \r\nx-journey: other\r\n\r\n",
		"POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 12\r\nExpect: 100-continue\r\n\r\n",
		"POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n",
		"PUT /x HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\nConnection: keep-alive, close\r\n\r\n",
		"GET /x HTTP/1.0\r\n\r\n",
		"GET /x HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n",
		"HEAD /h HTTP/1.1\r\nHost: a\r\n\r\n",
		"GET /a%20b HTTP/1.1\r\nHost: a\r\n\r\n",
		"GET http://example/abs/path HTTP/1.1\r\nHost: a\r\n\r\n",
	}
	for _, head := range heads {
		fast, err := parseRequest([]byte(head))
		if err != nil {
			t.Fatalf("%q: %v", head, err)
		}
		std, err := parseRequestStd([]byte(head))
		if err != nil {
			t.Fatalf("%q (net/http): %v", head, err)
		}
		if fast.method != std.method || fast.path != std.path || fast.framing != std.framing ||
			fast.length != std.length || fast.closes != std.closes ||
			fast.expectsContinue != std.expectsContinue ||
			!reflect.DeepEqual(fast.values("X-Journey"), std.values("X-Journey")) {
			t.Fatalf("%q: read as %+v, net/http reads %+v", head, fast, std)
		}
	}
	for _, head := range []string{
		"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
		"CONNECT a:443 HTTP/1.1\r\nHost: a\r\n\r\n",
		"GET / HTTP/1.1\r\nUpgrade: h2c\r\n\r\n",
		"POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n",
		"POST / HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n",
		"\x16\x03\x01 binary\r\n\r\n",
	} {
		if req, err := parseRequest([]byte(head)); err == nil {
			t.Fatalf("%q read as HTTP/1.x: %+v", head, req)
		}
	}
}

func TestAnswerHeadsReadAsNetHTTPReadsThem(t *testing.T) {
	cases := []struct{ head, method string }{
		{"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", "GET"},
		{"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", "HEAD"},
		{"HTTP/1.1 503 Service Unavailable\r\nTransfer-Encoding: chunked\r\n\r\n", "GET"},
		{"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\n", "GET"},
		{"HTTP/1.1 204 No Content\r\nContent-Length: 7\r\n\r\n", "DELETE"},
		{"HTTP/1.1 304 Not Modified\r\n\r\n", "GET"},
		{"HTTP/1.1 100 Continue\r\n\r\n", "POST"},
		{"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", ""},
		{"HTTP/1.1 429 Too Many Requests\r\nRetry-After: 1\r\nContent-Length: 2\r\n\r\n", "GET"},
	}
	for _, c := range cases {
		fast, err := parseResponse([]byte(c.head), c.method)
		if err != nil {
			t.Fatalf("%q: %v", c.head, err)
		}
		std, err := parseResponseStd([]byte(c.head), c.method)
		if err != nil {
			t.Fatalf("%q (net/http): %v", c.head, err)
		}
		if fast.status != std.status || fast.framing != std.framing || fast.length != std.length {
			t.Fatalf("%q to %s: read as %+v, net/http reads %+v", c.head, c.method, fast, std)
		}
	}
	for _, head := range []string{"HTTP/2 200\r\n\r\n", "SSH-2.0-OpenSSH\r\n\r\n", "HTTP/1.1 2xx OK\r\n\r\n"} {
		if resp, err := parseResponse([]byte(head), "GET"); err == nil {
			t.Fatalf("%q read as HTTP/1.x: %+v", head, resp)
		}
	}
}
