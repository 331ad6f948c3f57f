// payments: charges orders, idempotently.
//
//	POST /charge          {"order_id": "...", "amount_cents": 2490}, header Idempotency-Key
//	                      -> 200 {"charge_id","order_id","amount_cents","status":"captured","replayed":false}
//	GET  /charges/count   {"count": N}: distinct charges made since start (for tests)
//
// A request repeating an Idempotency-Key answers the first charge again
// ("replayed": true) and charges nothing; the same key with a different order
// or amount is refused with 409. Without the header every request is a new
// charge. Charges are kept in memory: a restart forgets them.
//
// Environment: PORT (required), BIND (default 127.0.0.1).
package main

import (
	"net/http"
	"strings"
	"sync"

	"shop.example/shop/internal/kit"
)

type charge struct {
	ChargeID    string `json:"charge_id"`
	OrderID     string `json:"order_id"`
	AmountCents int64  `json:"amount_cents"`
	Status      string `json:"status"`
	Replayed    bool   `json:"replayed"`
}

type ledger struct {
	mu    sync.Mutex
	byKey map[string]charge
	count int
}

func main() {
	kit.Main("payments", func(_ *kit.Env, mux *http.ServeMux) {
		l := &ledger{byKey: make(map[string]charge)}
		mux.HandleFunc("/charge", l.charge)
		mux.HandleFunc("/charges/count", func(w http.ResponseWriter, r *http.Request) {
			if r.Method != http.MethodGet {
				kit.MethodNotAllowed(w, http.MethodGet)
				return
			}
			l.mu.Lock()
			n := l.count
			l.mu.Unlock()
			kit.WriteJSON(w, http.StatusOK, map[string]int{"count": n})
		})
	})
}

func (l *ledger) charge(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		kit.MethodNotAllowed(w, http.MethodPost)
		return
	}
	var req struct {
		OrderID     string `json:"order_id"`
		AmountCents int64  `json:"amount_cents"`
	}
	if err := kit.ReadJSON(r, &req); err != nil {
		kit.WriteError(w, http.StatusBadRequest, err.Error())
		return
	}
	if strings.TrimSpace(req.OrderID) == "" || req.AmountCents <= 0 {
		kit.WriteError(w, http.StatusBadRequest, "order_id and a positive amount_cents are required")
		return
	}
	key := r.Header.Get("Idempotency-Key")

	l.mu.Lock()
	defer l.mu.Unlock()
	if key != "" {
		if prev, ok := l.byKey[key]; ok {
			if prev.OrderID != req.OrderID || prev.AmountCents != req.AmountCents {
				kit.WriteError(w, http.StatusConflict, "Idempotency-Key already used for a different charge")
				return
			}
			prev.Replayed = true
			kit.WriteJSON(w, http.StatusOK, prev)
			return
		}
	}
	c := charge{ChargeID: kit.RandomID("ch-"), OrderID: req.OrderID, AmountCents: req.AmountCents, Status: "captured"}
	if key != "" {
		l.byKey[key] = c
	}
	l.count++
	kit.WriteJSON(w, http.StatusOK, c)
}
