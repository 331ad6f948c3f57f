// storefront: the shop's front door, the only service users call.
//
//	GET  /products        catalog's list, as catalog answered it
//	GET  /products/{sku}  one product, as catalog answered it
//	POST /checkout        forwarded to checkout (body and Idempotency-Key header),
//	                      checkout's answer passed back as it is
//
// Its own deadlines: CATALOG_TIMEOUT_MS (default 2000) on catalog reads,
// answering 504 {"error":"catalog timed out"} when it passes; CHECKOUT_TIMEOUT_MS
// (default 5000) on checkout, answering 504 {"error":"checkout timed out"}.
// A dependency that refuses the connection or fails in transit gives 502
// {"error":"<service> unavailable"}. 0 means no deadline.
//
// Environment: PORT (required), BIND (default 127.0.0.1), CATALOG_URL and
// CHECKOUT_URL (required), CATALOG_TIMEOUT_MS, CHECKOUT_TIMEOUT_MS.
package main

import (
	"bytes"
	"io"
	"net/http"
	"strconv"

	"shop.example/shop/internal/kit"
)

func main() {
	kit.Main("storefront", func(env *kit.Env, mux *http.ServeMux) {
		catalog := &forwarder{
			name:   "catalog",
			base:   env.URL("CATALOG_URL", "catalog"),
			client: kit.NewClient(env.Millis("CATALOG_TIMEOUT_MS", 2000)),
			method: http.MethodGet,
		}
		checkout := &forwarder{
			name:   "checkout",
			base:   env.URL("CHECKOUT_URL", "checkout"),
			client: kit.NewClient(env.Millis("CHECKOUT_TIMEOUT_MS", 5000)),
			method: http.MethodPost,
		}
		mux.Handle("/products", catalog)
		mux.Handle("/products/", catalog)
		mux.Handle("/checkout", checkout)
	})
}

// forwarder passes one route through to a dependency, same path.
type forwarder struct {
	name   string
	base   string
	client *http.Client
	method string
}

func (f *forwarder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != f.method {
		kit.MethodNotAllowed(w, f.method)
		return
	}
	var body io.Reader
	if f.method == http.MethodPost {
		raw, err := io.ReadAll(io.LimitReader(r.Body, kit.MaxBody))
		if err != nil {
			kit.WriteError(w, http.StatusBadRequest, "cannot read the request body")
			return
		}
		body = bytes.NewReader(raw)
	}
	req, err := http.NewRequestWithContext(r.Context(), f.method, f.base+r.URL.RequestURI(), body)
	if err != nil {
		kit.WriteError(w, http.StatusBadRequest, "bad request path")
		return
	}
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if key := r.Header.Get("Idempotency-Key"); key != "" {
		req.Header.Set("Idempotency-Key", key)
	}

	resp, err := f.client.Do(req)
	var answer []byte
	if err == nil {
		answer, err = io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		resp.Body.Close()
	}
	if err != nil {
		if kit.IsTimeout(err) {
			kit.WriteError(w, http.StatusGatewayTimeout, f.name+" timed out")
		} else {
			kit.WriteError(w, http.StatusBadGateway, f.name+" unavailable")
		}
		return
	}
	if ct := resp.Header.Get("Content-Type"); ct != "" {
		w.Header().Set("Content-Type", ct)
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(answer)))
	w.WriteHeader(resp.StatusCode)
	_, _ = w.Write(answer)
}
