// checkout: turns a basket line into a paid order.
//
//	POST /checkout  {"sku": "sku-1", "qty": 1}, optional header Idempotency-Key
//	  -> 200 {"order_id","sku","qty","amount_cents","charge_id","price_source":"catalog"|"cache"}
//
// For every checkout it re-reads the price from catalog (GET /products/{sku}),
// then charges it on payments (POST /charge). Every price read successfully is
// remembered per sku; when catalog fails (refused, 5xx, or the read outlives
// CATALOG_TIMEOUT_MS), checkout charges the last price it saw and says so with
// "price_source": "cache", or answers 503 {"error":"catalog unavailable"} when it
// has never seen that sku's price.
//
// The naive default is CATALOG_TIMEOUT_MS=0: no deadline at all on the catalog
// read. A catalog that is slow or never answers then holds every checkout for
// as long as it takes, and the cache never gets its chance; CATALOG_TIMEOUT_MS=300
// is the guarded configuration.
//
// CATALOG_FALLBACK_ON=unreachable plants a second bug for Domino to find: the
// cached price is used only when catalog cannot be reached or its read times
// out; any answer but 200 (or 404: unknown sku) fails the checkout with 503,
// although the cache holds a price. The default, "failure", falls back on
// every failure, answers included.
//
// Environment: PORT (required), BIND (default 127.0.0.1), CATALOG_URL and
// PAYMENTS_URL (required), CATALOG_TIMEOUT_MS (default 0: no deadline),
// PAYMENTS_TIMEOUT_MS (default 0: no deadline), CATALOG_FALLBACK_ON
// ("failure", the default, or "unreachable").
package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"

	"shop.example/shop/internal/kit"
)

func main() {
	kit.Main("checkout", func(env *kit.Env, mux *http.ServeMux) {
		c := &checkout{
			catalogURL:  env.URL("CATALOG_URL", "catalog"),
			paymentsURL: env.URL("PAYMENTS_URL", "payments"),
			catalog:     kit.NewClient(env.Millis("CATALOG_TIMEOUT_MS", 0)),
			payments:    kit.NewClient(env.Millis("PAYMENTS_TIMEOUT_MS", 0)),
			prices:      make(map[string]int64),
			// The planted bug: with "unreachable", an answer other than 200 is fatal.
			answersAreFatal: env.Choice("CATALOG_FALLBACK_ON", "failure", "failure", "unreachable") == "unreachable",
		}
		mux.Handle("/checkout", c)
	})
}

type checkout struct {
	catalogURL, paymentsURL string
	catalog, payments       *http.Client
	// answersAreFatal: catalog answering anything but 200/404 fails the checkout
	// instead of falling back to the cached price (CATALOG_FALLBACK_ON=unreachable).
	answersAreFatal bool

	mu     sync.Mutex
	prices map[string]int64 // last price read from catalog, per sku
}

type order struct {
	OrderID     string `json:"order_id"`
	SKU         string `json:"sku"`
	Qty         int64  `json:"qty"`
	AmountCents int64  `json:"amount_cents"`
	ChargeID    string `json:"charge_id"`
	PriceSource string `json:"price_source"`
}

var errUnknownSKU = errors.New("unknown sku")

// catalogAnswered is catalog answering with a status other than 200 or 404.
type catalogAnswered struct{ status int }

func (e catalogAnswered) Error() string { return fmt.Sprintf("catalog answered %d", e.status) }

func (c *checkout) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		kit.MethodNotAllowed(w, http.MethodPost)
		return
	}
	var req struct {
		SKU string `json:"sku"`
		Qty int64  `json:"qty"`
	}
	if err := kit.ReadJSON(r, &req); err != nil {
		kit.WriteError(w, http.StatusBadRequest, err.Error())
		return
	}
	if strings.TrimSpace(req.SKU) == "" || req.Qty < 1 || req.Qty > 100 {
		kit.WriteError(w, http.StatusBadRequest, "sku and a qty of 1-100 are required")
		return
	}

	// Order id and payment idempotency follow the caller's Idempotency-Key, so
	// a retried checkout is the same order and is charged once.
	key := r.Header.Get("Idempotency-Key")
	orderID := kit.RandomID("ord-")
	if key != "" {
		sum := sha256.Sum256([]byte(key))
		orderID = "ord-" + hex.EncodeToString(sum[:8])
	} else {
		key = "chk-" + orderID
	}

	price, source, err := c.price(r, req.SKU)
	switch {
	case errors.Is(err, errUnknownSKU):
		kit.WriteError(w, http.StatusNotFound, "unknown sku")
		return
	case err != nil:
		kit.WriteError(w, http.StatusServiceUnavailable, "catalog unavailable")
		return
	}

	o := order{OrderID: orderID, SKU: req.SKU, Qty: req.Qty, AmountCents: price * req.Qty, PriceSource: source}
	status, chargeID, msg := c.charge(r, key, o)
	if status != http.StatusOK {
		kit.WriteError(w, status, msg)
		return
	}
	o.ChargeID = chargeID
	kit.WriteJSON(w, http.StatusOK, o)
}

// price reads sku's price from catalog, falling back to the last price seen.
// The read is bound to the incoming request: if the caller (storefront) gives
// up, the read is abandoned too.
func (c *checkout) price(r *http.Request, sku string) (int64, string, error) {
	cents, err := c.readCatalog(r, sku)
	if err == nil {
		c.mu.Lock()
		c.prices[sku] = cents
		c.mu.Unlock()
		return cents, "catalog", nil
	}
	if errors.Is(err, errUnknownSKU) || r.Context().Err() != nil {
		// Unknown sku, or the caller has hung up: nothing to fall back for.
		return 0, "", err
	}
	if answered := (catalogAnswered{}); c.answersAreFatal && errors.As(err, &answered) {
		return 0, "", err // the planted bug: catalog answered, so no fallback
	}
	c.mu.Lock()
	cached, ok := c.prices[sku]
	c.mu.Unlock()
	if ok {
		return cached, "cache", nil
	}
	return 0, "", err
}

func (c *checkout) readCatalog(r *http.Request, sku string) (int64, error) {
	req, err := http.NewRequestWithContext(r.Context(), http.MethodGet, c.catalogURL+"/products/"+url.PathEscape(sku), nil)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := c.catalog.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNotFound {
		return 0, errUnknownSKU
	}
	if resp.StatusCode != http.StatusOK {
		return 0, catalogAnswered{resp.StatusCode}
	}
	var p struct {
		PriceCents int64 `json:"price_cents"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, kit.MaxBody)).Decode(&p); err != nil {
		return 0, err
	}
	if p.PriceCents <= 0 {
		return 0, fmt.Errorf("catalog gave no price for %s", sku)
	}
	return p.PriceCents, nil
}

// charge asks payments to charge o; it returns 200 and the charge id, or the
// status and message to answer with.
func (c *checkout) charge(r *http.Request, key string, o order) (int, string, string) {
	body, _ := json.Marshal(map[string]any{"order_id": o.OrderID, "amount_cents": o.AmountCents})
	req, err := http.NewRequestWithContext(r.Context(), http.MethodPost, c.paymentsURL+"/charge", strings.NewReader(string(body)))
	if err != nil {
		return http.StatusInternalServerError, "", err.Error()
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", key)
	resp, err := c.payments.Do(req)
	if err != nil {
		if kit.IsTimeout(err) {
			return http.StatusGatewayTimeout, "", "payments timed out"
		}
		return http.StatusBadGateway, "", "payments unavailable"
	}
	defer resp.Body.Close()
	var answer struct {
		ChargeID string `json:"charge_id"`
		Error    string `json:"error"`
	}
	decodeErr := json.NewDecoder(io.LimitReader(resp.Body, kit.MaxBody)).Decode(&answer)
	switch {
	case resp.StatusCode == http.StatusOK && decodeErr == nil && answer.ChargeID != "":
		return http.StatusOK, answer.ChargeID, ""
	case resp.StatusCode >= 400 && resp.StatusCode < 500 && answer.Error != "":
		return resp.StatusCode, "", "payments: " + answer.Error
	default:
		return http.StatusBadGateway, "", fmt.Sprintf("payments failed (%d)", resp.StatusCode)
	}
}
