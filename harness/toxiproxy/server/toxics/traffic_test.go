package toxics

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// The traffic counter on a real proxy in front of a real HTTP server, read while
// the client's connection stays open.

func TestChainLayout(t *testing.T) {
	if !chainLayoutOK() {
		t.Fatal("Toxiproxy's ToxicCollection.chain changed: traffic_api.go must follow")
	}
}

func countsOf(t *testing.T, r *rig) TrafficCounts {
	t.Helper()
	counts, ok := Traffic(r.server)[r.proxy.Name]
	if !ok {
		t.Fatalf("proxy %s has no traffic counter", r.proxy.Name)
	}
	return counts
}

func TestRequestsAreCountedWhileTheConnectionStaysOpen(t *testing.T) {
	r := newRig(t, func(w http.ResponseWriter, req *http.Request) {
		_, _ = io.Copy(io.Discard, req.Body)
		if req.URL.Path == "/chunked" {
			w.(http.Flusher).Flush() // no Content-Length: the answer is chunked
			_, _ = io.WriteString(w, `{"part": 1}`)
			w.(http.Flusher).Flush()
			_, _ = io.WriteString(w, `{"part": 2}`)
			return
		}
		if req.URL.Path == "/missing" {
			w.WriteHeader(http.StatusNotFound)
		}
		w.Header().Set("Content-Length", "11")
		_, _ = io.WriteString(w, `{"ok": true}`[:11])
	})
	InstrumentProxies(r.server)
	c := r.dial()
	post := "POST /body HTTP/1.1\r\nHost: target\r\nContent-Length: 9\r\n\r\n{\"a\": 1}\n"
	chunkedPost := "POST /up HTTP/1.1\r\nHost: target\r\nTransfer-Encoding: chunked\r\n\r\n" +
		"4\r\nabcd\r\n0\r\n\r\n"
	head := "HEAD /head HTTP/1.1\r\nHost: target\r\n\r\n"
	for i, raw := range []string{get("/one"), post, get("/chunked"), head, chunkedPost, get("/missing")} {
		if _, _, err := c.do(t, raw); err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		got := countsOf(t, r)
		if got.Requests != uint64(i+1) || got.Answers != uint64(i+1) || got.Unparsed != 0 {
			t.Fatalf("after request %d on one open connection: %+v", i, got)
		}
	}
	got := countsOf(t, r)
	if got.Connections != 1 || got.Answers2xx != 5 || got.Answers4xx != 1 || got.BytesUp == 0 || got.BytesDown == 0 {
		t.Fatalf("counts %+v", got)
	}
	if r.received.Load() != 6 {
		t.Fatalf("the target got %d requests, want 6", r.received.Load())
	}
}

func TestRequestsSplitAcrossChunksAndPipelinedAreCountedOnce(t *testing.T) {
	r := newRig(t, nil)
	InstrumentProxies(r.server)
	c := r.dial()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	raw := get("/a") + get("/b") + "POST /c HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\nxyz"
	for i := 0; i < len(raw); i += 7 { // a head and a body cut anywhere
		end := min(i+7, len(raw))
		if _, err := io.WriteString(c, raw[i:end]); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Millisecond) // so each piece arrives as its own chunk
	}
	for i := 0; i < 3; i++ {
		resp, err := http.ReadResponse(c.reader, nil)
		if err != nil {
			t.Fatalf("answer %d: %v", i, err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
	}
	if got := countsOf(t, r); got.Requests != 3 || got.Answers != 3 || got.Unparsed != 0 {
		t.Fatalf("counts %+v", got)
	}
}

func TestBytesThatAreNotHTTPAreCountedAsUnparsed(t *testing.T) {
	r := newRawRig(t)
	InstrumentProxies(r.server)
	c := r.dial()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	line := "\x00\x01binary\r\n\r\nmore\n"
	if _, err := io.WriteString(c, line); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, len(line))
	if _, err := io.ReadFull(c.reader, got); err != nil || string(got) != line {
		t.Fatalf("echoed %q, %v", got, err)
	}
	counts := countsOf(t, r)
	// Both directions carried the bytes, neither as HTTP.
	if counts.Requests != 0 || counts.Unparsed != 2 || counts.UnparsedBytes != uint64(2*len(line)) ||
		counts.BytesUp != uint64(len(line)) || counts.BytesDown != uint64(len(line)) {
		t.Fatalf("counts %+v", counts)
	}
}

func TestCountingGoesOnBehindFaultsAndAfterAReset(t *testing.T) {
	r := newRig(t, nil)
	InstrumentProxies(r.server)
	c := r.dial()
	if _, _, err := c.do(t, get("/before")); err != nil {
		t.Fatal(err)
	}
	r.addStatus(`"status": 503`)
	for i := 0; i < 3; i++ {
		if resp, _, err := c.do(t, get("/during")); err != nil || resp.StatusCode != 503 {
			t.Fatalf("request %d: %v %v", i, resp, err)
		}
	}
	// The counter sees every request sent into the edge; answers are the target's.
	if got := countsOf(t, r); got.Requests != 4 || got.Answers != 1 {
		t.Fatalf("with the fault: %+v", got)
	}
	r.proxy.Toxics.ResetToxics(context.Background())
	if _, _, err := c.do(t, get("/after")); err != nil {
		t.Fatal(err)
	}
	if got := countsOf(t, r); got.Requests != 5 || got.Answers != 2 || got.Unparsed != 0 {
		t.Fatalf("after the reset: %+v", got)
	}
}

// The admin API proves the whole path: a proxy made through it counts from its
// first connection, and its counts are read through it while that connection is open.
func TestAdminAPICountsEveryProxyItMakes(t *testing.T) {
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "ok")
	}))
	t.Cleanup(target.Close)
	r := newRig(t, nil)
	api := httptest.NewServer(AdminHandler(r.server))
	t.Cleanup(api.Close)
	body := `{"name": "made", "listen": "127.0.0.1:0", "upstream": "` + target.Listener.Addr().String() + `"}`
	resp, err := http.Post(api.URL+"/proxies", "application/json", strings.NewReader(body))
	if err != nil || resp.StatusCode != http.StatusCreated {
		t.Fatalf("creating a proxy: %v %v", resp, err)
	}
	var made struct {
		Listen string `json:"listen"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&made)
	resp.Body.Close()
	t.Cleanup(func() {
		req, _ := http.NewRequest(http.MethodDelete, api.URL+"/proxies/made", nil)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
		}
	})
	client := &http.Client{Transport: &http.Transport{MaxConnsPerHost: 1}}
	t.Cleanup(client.CloseIdleConnections)
	read := func() TrafficCounts {
		resp, err := http.Get(api.URL + TrafficPath)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var all map[string]TrafficCounts
		if err := json.NewDecoder(resp.Body).Decode(&all); err != nil {
			t.Fatal(err)
		}
		return all["made"]
	}
	for i := 1; i <= 3; i++ {
		resp, err := client.Get("http://" + made.Listen + "/x")
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if got := read(); got.Requests != uint64(i) || got.Connections != 1 {
			t.Fatalf("after %d kept-alive requests: %+v", i, got)
		}
	}
	resp, err = http.Post(api.URL+"/reset", "application/json", nil)
	if err != nil || resp.StatusCode != http.StatusNoContent {
		t.Fatalf("reset: %v %v", resp, err)
	}
	resp.Body.Close()
	if got := read(); got.Requests != 3 {
		t.Fatalf("a reset changed the counts: %+v", got)
	}
}
