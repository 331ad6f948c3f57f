package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"shop.example/shop/internal/kit"
)

// fakes: a catalog whose answers can be delayed, and a payments that accepts everything.
func fakes(t *testing.T, delay *atomic.Int64) (catalog, payments *httptest.Server) {
	t.Helper()
	catalog = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(time.Duration(delay.Load()) * time.Millisecond):
		case <-r.Context().Done():
			return
		}
		if r.URL.Path != "/products/sku-1" {
			kit.WriteError(w, http.StatusNotFound, "unknown sku")
			return
		}
		kit.WriteJSON(w, http.StatusOK, map[string]any{"sku": "sku-1", "price_cents": 2490})
	}))
	payments = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			OrderID string `json:"order_id"`
		}
		_ = json.NewDecoder(r.Body).Decode(&req)
		kit.WriteJSON(w, http.StatusOK, map[string]string{"charge_id": "ch-" + r.Header.Get("Idempotency-Key"), "order_id": req.OrderID})
	}))
	t.Cleanup(payments.Close)
	t.Cleanup(catalog.Close)
	return catalog, payments
}

func newCheckout(catalog, payments string, catalogTimeout time.Duration) *checkout {
	return &checkout{
		catalogURL: catalog, paymentsURL: payments,
		catalog: kit.NewClient(catalogTimeout), payments: kit.NewClient(0),
		prices: make(map[string]int64),
	}
}

func post(t *testing.T, h http.Handler, body, key string) (int, map[string]any, time.Duration) {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, "/checkout", strings.NewReader(body))
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
	}
	rec := httptest.NewRecorder()
	start := time.Now()
	h.ServeHTTP(rec, req)
	took := time.Since(start)
	var got map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
		t.Fatalf("answer is not JSON: %q", rec.Body.String())
	}
	return rec.Code, got, took
}

func TestNaiveCheckoutWaitsForASlowCatalog(t *testing.T) {
	var delay atomic.Int64
	catalog, payments := fakes(t, &delay)
	c := newCheckout(catalog.URL, payments.URL, 0)
	if code, got, _ := post(t, c, `{"sku":"sku-1","qty":2}`, "k1"); code != 200 || got["price_source"] != "catalog" || got["amount_cents"] != 4980.0 {
		t.Fatalf("healthy checkout: %d %v", code, got)
	}
	delay.Store(400)
	code, got, took := post(t, c, `{"sku":"sku-1","qty":1}`, "k2")
	if code != 200 || got["price_source"] != "catalog" || took < 400*time.Millisecond {
		t.Fatalf("naive checkout should wait out the slow catalog: %d %v after %v", code, got, took)
	}
}

func TestGuardedCheckoutUsesTheCachedPrice(t *testing.T) {
	var delay atomic.Int64
	catalog, payments := fakes(t, &delay)
	c := newCheckout(catalog.URL, payments.URL, 100*time.Millisecond)
	if code, got, _ := post(t, c, `{"sku":"sku-1","qty":1}`, "k1"); code != 200 || got["price_source"] != "catalog" {
		t.Fatalf("healthy checkout: %d %v", code, got)
	}
	delay.Store(2000)
	code, got, took := post(t, c, `{"sku":"sku-1","qty":1}`, "k2")
	if code != 200 || got["price_source"] != "cache" || got["amount_cents"] != 2490.0 || took > time.Second {
		t.Fatalf("guarded checkout should answer from the cache: %d %v after %v", code, got, took)
	}
}

func TestNoCachedPriceIsUnavailable(t *testing.T) {
	var delay atomic.Int64
	delay.Store(2000)
	catalog, payments := fakes(t, &delay)
	c := newCheckout(catalog.URL, payments.URL, 100*time.Millisecond)
	if code, got, _ := post(t, c, `{"sku":"sku-1","qty":1}`, ""); code != 503 || got["error"] != "catalog unavailable" {
		t.Fatalf("want 503 catalog unavailable, got %d %v", code, got)
	}
}

func TestUnknownSKUAndIdempotentOrderID(t *testing.T) {
	var delay atomic.Int64
	catalog, payments := fakes(t, &delay)
	c := newCheckout(catalog.URL, payments.URL, 0)
	if code, got, _ := post(t, c, `{"sku":"nope","qty":1}`, ""); code != 404 {
		t.Fatalf("unknown sku: %d %v", code, got)
	}
	_, a, _ := post(t, c, `{"sku":"sku-1","qty":1}`, "same")
	_, b, _ := post(t, c, `{"sku":"sku-1","qty":1}`, "same")
	if a["order_id"] != b["order_id"] || a["charge_id"] != "ch-same" {
		t.Fatalf("same Idempotency-Key, different orders: %v %v", a, b)
	}
	if code, _, _ := post(t, c, `{"sku":"sku-1","qty":0}`, ""); code != 400 {
		t.Fatalf("qty 0: %d", code)
	}
}

func TestACatalogErrorAnswerFallsBackUnlessAnswersAreFatal(t *testing.T) {
	var status atomic.Int64
	status.Store(http.StatusOK)
	catalog := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if code := int(status.Load()); code != http.StatusOK {
			kit.WriteError(w, code, "injected")
			return
		}
		kit.WriteJSON(w, http.StatusOK, map[string]any{"sku": "sku-1", "price_cents": 2490})
	}))
	t.Cleanup(catalog.Close)
	var delay atomic.Int64
	_, payments := fakes(t, &delay)
	for _, fatal := range []bool{false, true} {
		c := newCheckout(catalog.URL, payments.URL, 0)
		c.answersAreFatal = fatal
		status.Store(http.StatusOK)
		if code, got, _ := post(t, c, `{"sku":"sku-1","qty":1}`, "k1"); code != 200 || got["price_source"] != "catalog" {
			t.Fatalf("healthy checkout: %d %v", code, got)
		}
		status.Store(http.StatusServiceUnavailable)
		code, got, _ := post(t, c, `{"sku":"sku-1","qty":1}`, "k2")
		if !fatal && (code != 200 || got["price_source"] != "cache") {
			t.Fatalf("a 503 from catalog should fall back to the cached price: %d %v", code, got)
		}
		if fatal && (code != 503 || got["error"] != "catalog unavailable") {
			t.Fatalf("with answers fatal, a 503 from catalog fails the checkout: %d %v", code, got)
		}
	}
}
