package toxics

import (
	"bytes"
	"encoding/json"
	"net/http"
	"reflect"
	"sync"
	"unsafe"

	"github.com/Shopify/toxiproxy/v2"
	"github.com/Shopify/toxiproxy/v2/stream"
	"github.com/Shopify/toxiproxy/v2/toxics"
)

// How the traffic counter (traffic.go) gets onto every proxy, and how its counts
// are read.
//
// Toxiproxy v2.12.0 keeps a hidden no-op toxic at the head of each of a proxy's
// two chains, in its toxic collection's unexported chain; each new connection's
// links run what the chain holds when the connection starts. InstrumentProxies
// puts a counter there instead (with reflect, under the collection's lock): the
// connections made from then on are counted. Domino's admin handler
// (AdminHandler) does it after every call that can make a proxy (POST, PATCH,
// DELETE) and before that call's answer leaves, so the caller never reaches a
// proxy before it counts; main does it after the proxies of -config are made.
// Toxiproxy is pinned to v2.12.0 (go.mod) and TestChainLayout fails if the layout
// ever changes; a proxy whose chain does not look as expected is left as it was
// (and its counts are missing from the API, so Domino falls back to the byte
// counters).

// TrafficPath is the admin API's route for every proxy's counts.
const TrafficPath = "/domino/traffic"

var (
	countedMu sync.Mutex
	counted   = map[*toxiproxy.Proxy]*ProxyTraffic{}
)

// InstrumentProxies puts a traffic counter on each of the server's proxies that
// has none yet, and forgets the proxies that are gone.
func InstrumentProxies(server *toxiproxy.ApiServer) {
	proxies := server.Collection.Proxies()
	countedMu.Lock()
	defer countedMu.Unlock()
	live := make(map[*toxiproxy.Proxy]bool, len(proxies))
	for _, proxy := range proxies {
		live[proxy] = true
		if _, done := counted[proxy]; done || proxy.Toxics == nil {
			continue
		}
		traffic := new(ProxyTraffic)
		if installCounter(proxy.Toxics, traffic) {
			counted[proxy] = traffic
		}
	}
	for proxy := range counted {
		if !live[proxy] && belongsTo(server, proxy) {
			delete(counted, proxy)
		}
	}
}

// belongsTo is false for another server's proxy (tests run several in one process).
func belongsTo(server *toxiproxy.ApiServer, proxy *toxiproxy.Proxy) bool {
	field := reflect.ValueOf(proxy).Elem().FieldByName("apiServer")
	return field.IsValid() && field.Kind() == reflect.Pointer &&
		field.UnsafePointer() == unsafe.Pointer(server)
}

// chainOf is the collection's chains, one per direction; ok false when its
// layout is not Toxiproxy v2.12.0's. The caller holds the collection's lock.
func chainOf(collection *toxiproxy.ToxicCollection) ([][]*toxics.ToxicWrapper, bool) {
	field := reflect.ValueOf(collection).Elem().FieldByName("chain")
	if !field.IsValid() || field.Type() != reflect.TypeOf([][]*toxics.ToxicWrapper{}) {
		return nil, false
	}
	chain := *(*[][]*toxics.ToxicWrapper)(unsafe.Pointer(field.UnsafeAddr()))
	if len(chain) != int(stream.NumDirections) {
		return nil, false
	}
	return chain, true
}

// installCounter replaces the no-op toxic at the head of both chains; false when
// the chains do not look as expected.
func installCounter(collection *toxiproxy.ToxicCollection, traffic *ProxyTraffic) bool {
	collection.Lock()
	defer collection.Unlock()
	chain, ok := chainOf(collection)
	if !ok {
		return false
	}
	for dir := range chain {
		if len(chain[dir]) == 0 || chain[dir][0] == nil || chain[dir][0].Type != "noop" {
			return false
		}
	}
	for dir := range chain {
		chain[dir][0] = &toxics.ToxicWrapper{
			Toxic:     &trafficCounter{traffic: traffic, up: stream.Direction(dir) == stream.Upstream},
			Type:      "domino_traffic",
			Direction: stream.Direction(dir),
			Toxicity:  1, // always run (a toxicity of 0 would run a plain no-op instead)
		}
	}
	return true
}

// chainLayoutOK is true when Toxiproxy's collection has the chain the counter is
// put into (TestChainLayout).
func chainLayoutOK() bool {
	field, ok := reflect.TypeOf(toxiproxy.ToxicCollection{}).FieldByName("chain")
	return ok && field.Type == reflect.TypeOf([][]*toxics.ToxicWrapper{})
}

// Traffic is every counted proxy's counts now, by proxy name.
func Traffic(server *toxiproxy.ApiServer) map[string]TrafficCounts {
	proxies := server.Collection.Proxies()
	countedMu.Lock()
	defer countedMu.Unlock()
	out := make(map[string]TrafficCounts, len(proxies))
	for name, proxy := range proxies {
		if traffic, ok := counted[proxy]; ok {
			out[name] = traffic.Counts()
		}
	}
	return out
}

// AdminHandler is Toxiproxy's admin API with Domino's additions: GET
// /domino/traffic gives every proxy's counts, and every call that can make a
// proxy counts its traffic before the call is answered.
func AdminHandler(server *toxiproxy.ApiServer) http.Handler {
	routes := server.Routes()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == TrafficPath {
			if r.Method != http.MethodGet {
				http.Error(w, `{"error":"method not allowed","status":405}`, http.StatusMethodNotAllowed)
				return
			}
			data, err := json.Marshal(Traffic(server))
			if err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write(data)
			return
		}
		if r.Method == http.MethodGet || r.Method == http.MethodHead {
			routes.ServeHTTP(w, r)
			return
		}
		held := &heldAnswer{header: http.Header{}}
		routes.ServeHTTP(held, r)
		InstrumentProxies(server)
		held.sendTo(w)
	})
}

// heldAnswer keeps an admin answer until the proxies it made count their traffic.
type heldAnswer struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (h *heldAnswer) Header() http.Header { return h.header }

func (h *heldAnswer) WriteHeader(status int) {
	if h.status == 0 {
		h.status = status
	}
}

func (h *heldAnswer) Write(b []byte) (int, error) {
	if h.status == 0 {
		h.status = http.StatusOK
	}
	return h.body.Write(b)
}

func (h *heldAnswer) sendTo(w http.ResponseWriter) {
	for name, values := range h.header {
		w.Header()[name] = values
	}
	if h.status == 0 {
		h.status = http.StatusOK
	}
	w.WriteHeader(h.status)
	_, _ = w.Write(h.body.Bytes())
}
