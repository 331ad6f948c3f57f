// catalog: the shop's products and their prices.
//
//	GET /products        {"products": [{"sku","name","price_cents","currency"}, ...]}
//	GET /products/{sku}  one product; 404 {"error":"unknown sku"}
//
// Environment: PORT (required), BIND (default 127.0.0.1).
package main

import (
	"net/http"
	"strings"

	"shop.example/shop/internal/kit"
)

type product struct {
	SKU        string `json:"sku"`
	Name       string `json:"name"`
	PriceCents int64  `json:"price_cents"`
	Currency   string `json:"currency"`
}

var products = []product{
	{"sku-1", "Espresso beans, 1 kg", 2490, "EUR"},
	{"sku-2", "Hand grinder", 8900, "EUR"},
	{"sku-3", "Pour-over kettle", 5450, "EUR"},
	{"sku-4", "Paper filters, 100", 690, "EUR"},
	{"sku-5", "Travel mug", 1990, "EUR"},
}

func main() {
	kit.Main("catalog", func(_ *kit.Env, mux *http.ServeMux) {
		bySKU := make(map[string]product, len(products))
		for _, p := range products {
			bySKU[p.SKU] = p
		}
		mux.HandleFunc("/products", func(w http.ResponseWriter, r *http.Request) {
			if r.Method != http.MethodGet {
				kit.MethodNotAllowed(w, http.MethodGet)
				return
			}
			kit.WriteJSON(w, http.StatusOK, map[string]any{"products": products})
		})
		mux.HandleFunc("/products/", func(w http.ResponseWriter, r *http.Request) {
			if r.Method != http.MethodGet {
				kit.MethodNotAllowed(w, http.MethodGet)
				return
			}
			p, ok := bySKU[strings.TrimPrefix(r.URL.Path, "/products/")]
			if !ok {
				kit.WriteError(w, http.StatusNotFound, "unknown sku")
				return
			}
			kit.WriteJSON(w, http.StatusOK, p)
		})
	})
}
