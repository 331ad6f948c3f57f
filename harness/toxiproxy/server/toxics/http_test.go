package toxics

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/Shopify/toxiproxy/v2"
)

// A real Toxiproxy server in this process, one proxy in front of a real HTTP
// server, and clients on one kept-alive connection.

type rig struct {
	t        *testing.T
	server   *toxiproxy.ApiServer
	proxy    *toxiproxy.Proxy
	target   *httptest.Server
	received atomic.Int64 // requests the target got
}

func newRig(t *testing.T, handler http.HandlerFunc) *rig {
	t.Helper()
	r := &rig{t: t}
	metrics := toxiproxy.NewMetricsContainer(prometheus.NewRegistry())
	r.server = toxiproxy.NewServer(metrics, zerolog.Nop())
	Attach(r.server)
	if handler == nil {
		handler = func(w http.ResponseWriter, req *http.Request) {
			_, _ = io.Copy(io.Discard, req.Body)
			w.Header().Set("Content-Type", "application/json")
			_, _ = fmt.Fprintf(w, `{"path": %q}`, req.URL.Path)
		}
	}
	r.target = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.received.Add(1)
		handler(w, req)
	}))
	t.Cleanup(r.target.Close)
	r.proxy = toxiproxy.NewProxy(r.server, "edge", "127.0.0.1:0", r.target.Listener.Addr().String())
	if err := r.server.Collection.Add(r.proxy, true); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.proxy.Stop)
	return r
}

func (r *rig) add(body string) {
	r.t.Helper()
	if _, err := r.proxy.Toxics.AddToxicJson(strings.NewReader(body)); err != nil {
		r.t.Fatalf("adding %s: %v", body, err)
	}
}

func (r *rig) remove(name string) {
	r.t.Helper()
	if err := r.proxy.Toxics.RemoveToxic(context.Background(), name); err != nil {
		r.t.Fatalf("removing %s: %v", name, err)
	}
}

// addStatus adds an http_status fault the way Domino does: its answers toxic first.
func (r *rig) addStatus(attributes string) {
	r.add(`{"name": "s_answers", "type": "domino_http_answers", "stream": "downstream",
		"attributes": {"pair": "s"}}`)
	r.add(`{"name": "s", "type": "domino_http_status", "stream": "upstream",
		"attributes": {"pair": "s", ` + attributes + `}}`)
}

// conn is one client connection to the proxy, kept alive across requests.
type conn struct {
	net.Conn
	reader *bufio.Reader
}

func (r *rig) dial() *conn {
	r.t.Helper()
	c, err := net.Dial("tcp", r.proxy.Listen)
	if err != nil {
		r.t.Fatal(err)
	}
	r.t.Cleanup(func() { c.Close() })
	return &conn{c, bufio.NewReader(c)}
}

// do sends one raw request and reads its answer (nil, err when the connection ended).
func (c *conn) do(t *testing.T, raw string) (*http.Response, string, error) {
	t.Helper()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c, raw); err != nil {
		return nil, "", err
	}
	req, _ := http.ReadRequest(bufio.NewReader(strings.NewReader(raw)))
	resp, err := http.ReadResponse(c.reader, req)
	if err != nil {
		return nil, "", err
	}
	body, err := io.ReadAll(resp.Body)
	return resp, string(body), err
}

func get(path string) string {
	return "GET " + path + " HTTP/1.1\r\nHost: target\r\n\r\n"
}

func TestLinkLayout(t *testing.T) {
	if !linkLayoutOK() {
		t.Fatal("Toxiproxy's ToxicCollection.links or ToxicLink.stubs changed: connpair.go must follow")
	}
}

func TestStatusAnswersWithoutForwardingOnAConnectionOpenedBeforeTheFault(t *testing.T) {
	r := newRig(t, nil)
	c := r.dial()
	if resp, _, err := c.do(t, get("/before")); err != nil || resp.StatusCode != 200 {
		t.Fatalf("before the fault: %v %v", resp, err)
	}
	r.addStatus(`"status": 503, "headers": {"Retry-After": "2"}`)
	for i := 0; i < 5; i++ {
		resp, body, err := c.do(t, get("/during"))
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		if resp.StatusCode != 503 || resp.Header.Get("Retry-After") != "2" ||
			body != `{"error": "Service Unavailable"}` {
			t.Fatalf("request %d answered %d %v %q", i, resp.StatusCode, resp.Header, body)
		}
	}
	if got := r.received.Load(); got != 1 {
		t.Fatalf("the target got %d requests, want 1 (the one before the fault)", got)
	}
	r.remove("s")
	r.remove("s_answers")
	if resp, _, err := c.do(t, get("/after")); err != nil || resp.StatusCode != 200 {
		t.Fatalf("after the fault, on the same connection: %v %v", resp, err)
	}
}

func TestShareIsDrawnPerRequestFromTheSeed(t *testing.T) {
	sequence := func() string {
		r := newRig(t, nil)
		r.addStatus(`"status": 503, "share": 0.3, "seed": 42`)
		c := r.dial()
		var got strings.Builder
		for i := 0; i < 200; i++ {
			resp, _, err := c.do(t, get("/x"))
			if err != nil {
				t.Fatalf("request %d: %v", i, err)
			}
			got.WriteString(map[bool]string{true: "F", false: "."}[resp.StatusCode == 503])
		}
		faulted := strings.Count(got.String(), "F")
		if faulted < 40 || faulted > 80 {
			t.Fatalf("%d of 200 answered 503 with share 0.3", faulted)
		}
		if int(r.received.Load()) != 200-faulted {
			t.Fatalf("the target got %d requests, want %d", r.received.Load(), 200-faulted)
		}
		return got.String()
	}
	first, second := sequence(), sequence()
	if first != second {
		t.Fatalf("the same seed drew differently:\n%s\n%s", first, second)
	}
}

func TestMatchersChooseRequests(t *testing.T) {
	r := newRig(t, nil)
	r.addStatus(`"status": 429, "method": "POST", "path": "/pay/*/confirm", "header": "X-Journey: card*"`)
	c := r.dial()
	cases := []struct {
		raw  string
		want int
	}{
		{"POST /pay/7/confirm HTTP/1.1\r\nHost: t\r\nX-Journey: card-tab\r\nContent-Length: 2\r\n\r\n{}", 429},
		{"POST /pay/7/confirm HTTP/1.1\r\nHost: t\r\nX-Journey: bank\r\nContent-Length: 2\r\n\r\n{}", 200},
		{"GET /pay/7/confirm HTTP/1.1\r\nHost: t\r\nX-Journey: card\r\n\r\n", 200},
		{"POST /pay/7/refund HTTP/1.1\r\nHost: t\r\nX-Journey: card\r\nContent-Length: 2\r\n\r\n{}", 200},
		{"POST /pay/7/confirm HTTP/1.1\r\nHost: t\r\nX-Journey: card\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n", 429},
	}
	for i, tc := range cases {
		resp, _, err := c.do(t, tc.raw)
		if err != nil || resp.StatusCode != tc.want {
			t.Fatalf("case %d: %v %v, want %d", i, resp, err, tc.want)
		}
	}
	if got := r.received.Load(); got != 3 {
		t.Fatalf("the target got %d requests, want 3", got)
	}
}

func TestChunkedAndHeadAnswersKeepTheFramingOnOneConnection(t *testing.T) {
	r := newRig(t, func(w http.ResponseWriter, req *http.Request) {
		w.Header().Set("Content-Length", "5")
		if req.URL.Path == "/chunked" {
			w.Header().Del("Content-Length")
			w.(http.Flusher).Flush() // no length: chunked
		}
		_, _ = io.WriteString(w, "hello")
	})
	r.addStatus(`"status": 500, "path": "/fail"`)
	c := r.dial()
	for i, step := range []struct {
		raw  string
		want int
		body string
	}{
		{get("/chunked"), 200, "hello"},
		{get("/fail"), 500, `{"error": "Internal Server Error"}`},
		{"HEAD /plain HTTP/1.1\r\nHost: t\r\n\r\n", 200, ""},
		{get("/fail"), 500, `{"error": "Internal Server Error"}`},
		{get("/plain"), 200, "hello"},
	} {
		resp, body, err := c.do(t, step.raw)
		if err != nil || resp.StatusCode != step.want || body != step.body {
			t.Fatalf("step %d: %v %q %v", i, resp, body, err)
		}
	}
}

func TestAbortBeforeNeverReachesTheTargetAndAfterDoes(t *testing.T) {
	for _, at := range []string{"before", "after"} {
		r := newRig(t, nil)
		r.add(`{"name": "a_answers", "type": "domino_http_answers", "stream": "downstream",
			"attributes": {"pair": "a"}}`)
		r.add(`{"name": "a", "type": "domino_http_abort", "stream": "upstream",
			"attributes": {"pair": "a", "at": "` + at + `", "path": "/cut"}}`)
		c := r.dial()
		if resp, _, err := c.do(t, get("/ok")); err != nil || resp.StatusCode != 200 {
			t.Fatalf("%s: a request not matched: %v %v", at, resp, err)
		}
		if resp, _, err := c.do(t, get("/cut")); err == nil {
			t.Fatalf("%s: the cut request was answered: %v", at, resp)
		}
		want := map[string]int64{"before": 1, "after": 2}[at]
		if got := r.received.Load(); got != want {
			t.Fatalf("%s: the target got %d requests, want %d", at, got, want)
		}
	}
}

func TestBrokenBodies(t *testing.T) {
	for _, how := range []string{"truncate", "malformed_json", "content_type"} {
		r := newRig(t, nil)
		r.add(`{"name": "b_answers", "type": "domino_http_answers", "stream": "downstream",
			"attributes": {"pair": "b"}}`)
		r.add(`{"name": "b", "type": "domino_http_body", "stream": "upstream",
			"attributes": {"pair": "b", "break": "` + how + `", "path": "/broken"}}`)
		c := r.dial()
		resp, body, err := c.do(t, get("/broken"))
		switch how {
		case "truncate":
			if err == nil {
				t.Fatalf("a truncated body read whole: %q", body)
			}
			continue
		case "malformed_json":
			if err != nil || resp.StatusCode != 200 || !strings.HasPrefix(body, `{"id": 1`) {
				t.Fatalf("%s: %v %q %v", how, resp, body, err)
			}
		case "content_type":
			if err != nil || resp.Header.Get("Content-Type") != "text/html; charset=utf-8" {
				t.Fatalf("%s: %v %q %v", how, resp, body, err)
			}
		}
		// The connection goes on.
		if resp, body, err := c.do(t, get("/fine")); err != nil || body != `{"path": "/fine"}` {
			t.Fatalf("%s: after the broken answer: %v %q %v", how, resp, body, err)
		}
	}
}

func TestDelayHoldsOnlyMatchingRequests(t *testing.T) {
	r := newRig(t, nil)
	r.add(`{"name": "d", "type": "domino_http_delay", "stream": "upstream",
		"attributes": {"delay": 300, "path": "/slow"}}`)
	c := r.dial()
	for _, step := range []struct {
		path string
		slow bool
	}{{"/fast", false}, {"/slow", true}, {"/fast", false}} {
		start := time.Now()
		if resp, _, err := c.do(t, get(step.path)); err != nil || resp.StatusCode != 200 {
			t.Fatalf("%s: %v %v", step.path, resp, err)
		}
		took := time.Since(start)
		if step.slow != (took >= 300*time.Millisecond) {
			t.Fatalf("%s took %v", step.path, took)
		}
	}
}

func TestBytesThatAreNotHTTPPassUntouched(t *testing.T) {
	r := newRawRig(t)
	r.addStatus(`"status": 503`)
	c := r.dial()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	line := "PING raw bytes\r\n\r\nmore\n"
	if _, err := io.WriteString(c, line); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, len(line))
	if _, err := io.ReadFull(c.reader, got); err != nil || string(got) != line {
		t.Fatalf("echoed %q, %v", got, err)
	}
	toxic := r.proxy.Toxics.GetToxic("s").Toxic.(*HTTPStatusToxic)
	if toxic.seen.unparsed.Load() != 1 || toxic.seen.requests.Load() != 0 {
		t.Fatalf("unparsed %d, requests %d", toxic.seen.unparsed.Load(), toxic.seen.requests.Load())
	}
}

func TestPipelinedRequestsGetTheirAnswersInOrder(t *testing.T) {
	r := newRig(t, nil)
	r.addStatus(`"status": 503, "path": "/fail"`)
	c := r.dial()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c, get("/one")+get("/fail")+get("/three")+get("/fail")); err != nil {
		t.Fatal(err)
	}
	for i, want := range []int{200, 503, 200, 503} {
		resp, err := http.ReadResponse(c.reader, nil)
		if err != nil {
			t.Fatalf("answer %d: %v", i, err)
		}
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != want {
			t.Fatalf("answer %d: %d %q, want %d", i, resp.StatusCode, body, want)
		}
	}
}

func TestFaultsComeAndGoUnderConcurrentKeptAliveTraffic(t *testing.T) {
	r := newRig(t, nil)
	const clients, calls = 8, 60
	var answered503, answered200 atomic.Int64
	done := make(chan error, clients)
	for i := 0; i < clients; i++ {
		go func() {
			c, err := net.Dial("tcp", r.proxy.Listen)
			if err != nil {
				done <- err
				return
			}
			defer c.Close()
			cc := &conn{c, bufio.NewReader(c)}
			for j := 0; j < calls; j++ {
				resp, _, err := cc.do(t, get("/x"))
				if err != nil {
					done <- err
					return
				}
				switch resp.StatusCode {
				case 503:
					answered503.Add(1)
				case 200:
					answered200.Add(1)
				default:
					done <- fmt.Errorf("answered %d", resp.StatusCode)
					return
				}
			}
			done <- nil
		}()
	}
	for round := 0; round < 5; round++ {
		time.Sleep(5 * time.Millisecond)
		r.addStatus(`"status": 503, "share": 0.5`)
		time.Sleep(5 * time.Millisecond)
		r.remove("s")
		r.remove("s_answers")
	}
	for i := 0; i < clients; i++ {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	if answered503.Load() == 0 {
		t.Fatal("no request met the fault")
	}
	t.Logf("%d answered 503, %d answered 200", answered503.Load(), answered200.Load())
	if answered200.Load()+answered503.Load() != clients*calls {
		t.Fatalf("%d + %d answers of %d", answered200.Load(), answered503.Load(), clients*calls)
	}
	if r.received.Load() != answered200.Load() {
		t.Fatalf("the target got %d requests and %d were answered 200", r.received.Load(), answered200.Load())
	}
}

func TestRemovingADelayPassesTheHeldRequestOn(t *testing.T) {
	r := newRig(t, nil)
	r.add(`{"name": "d", "type": "domino_http_delay", "stream": "upstream", "attributes": {"delay": 60000}}`)
	c := r.dial()
	answered := make(chan error, 1)
	go func() {
		resp, _, err := c.do(t, get("/held"))
		if err == nil && resp.StatusCode != 200 {
			err = fmt.Errorf("answered %d", resp.StatusCode)
		}
		answered <- err
	}()
	deadline := time.Now().Add(5 * time.Second)
	for r.proxy.Toxics.GetToxic("d").Toxic.(*HTTPDelayToxic).seen.requests.Load() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the request never reached the toxic")
		}
		time.Sleep(time.Millisecond)
	}
	r.remove("d")
	if err := <-answered; err != nil {
		t.Fatal(err)
	}
}

// newRawRig is a rig whose proxy "raw" leads to an echo server that speaks no HTTP.
func newRawRig(t *testing.T) *rig {
	t.Helper()
	echo, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { echo.Close() })
	go func() {
		for {
			c, err := echo.Accept()
			if err != nil {
				return
			}
			go func() { _, _ = io.Copy(c, c) }()
		}
	}()
	r := newRig(t, nil)
	r.proxy.Stop()
	r.proxy = toxiproxy.NewProxy(r.server, "raw", "127.0.0.1:0", echo.Addr().String())
	if err := r.server.Collection.Add(r.proxy, true); err != nil {
		t.Fatal(err)
	}
	return r
}
