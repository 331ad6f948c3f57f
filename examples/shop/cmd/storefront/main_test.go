package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"shop.example/shop/internal/kit"
)

func TestCheckoutTimesOutWithA504(t *testing.T) {
	hung := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body) // from here on, r.Context() ends when the caller hangs up
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
	}))
	defer hung.Close()
	f := &forwarder{name: "checkout", base: hung.URL, client: kit.NewClient(150 * time.Millisecond), method: http.MethodPost}
	rec := httptest.NewRecorder()
	start := time.Now()
	f.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/checkout", strings.NewReader(`{"sku":"sku-1","qty":1}`)))
	if rec.Code != 504 || !strings.Contains(rec.Body.String(), `"checkout timed out"`) || time.Since(start) > 2*time.Second {
		t.Fatalf("want a fast 504 checkout timed out, got %d %s after %v", rec.Code, rec.Body.String(), time.Since(start))
	}
}

func TestForwardsStatusBodyAndIdempotencyKey(t *testing.T) {
	var gotKey string
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotKey = r.Header.Get("Idempotency-Key")
		kit.WriteError(w, http.StatusServiceUnavailable, "catalog unavailable")
	}))
	defer up.Close()
	f := &forwarder{name: "checkout", base: up.URL, client: kit.NewClient(time.Second), method: http.MethodPost}
	req := httptest.NewRequest(http.MethodPost, "/checkout", strings.NewReader(`{}`))
	req.Header.Set("Idempotency-Key", "abc")
	rec := httptest.NewRecorder()
	f.ServeHTTP(rec, req)
	if rec.Code != 503 || gotKey != "abc" || !strings.Contains(rec.Body.String(), "catalog unavailable") {
		t.Fatalf("got %d %q key=%q", rec.Code, rec.Body.String(), gotKey)
	}
	up.Close()
	rec = httptest.NewRecorder()
	f.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/checkout", strings.NewReader(`{}`)))
	if rec.Code != 502 {
		t.Fatalf("refused connection: want 502, got %d", rec.Code)
	}
}
