package toxics

import (
	"reflect"
	"strings"
	"sync/atomic"

	"github.com/Shopify/toxiproxy/v2"
	"github.com/Shopify/toxiproxy/v2/toxics"
)

// The HTTP toxics that answer a request themselves (a status, a broken body, a
// cut after the target answered) run on the upstream stream: it carries what the
// client sends, and writes to the target. An answer has to go the other way, into
// the client's side of the same connection: its downstream stream, where Domino
// adds a companion toxic (domino_http_answers, see http_answers.go) before the
// request toxic. This file is how the two halves of one connection find each other.
//
// Toxiproxy v2.12.0 tells a toxic nothing about its connection (a ToxicStub holds
// channels only) and has no two-way toxic. Its proxy does know: each connection
// has two links in the proxy's toxic collection, named after the client's address
// and their direction ("127.0.0.1:50432upstream", "...downstream"), each holding
// one stub per toxic. Those fields are unexported; they are read here with
// reflect, under the collection's lock, once per connection. Toxiproxy is pinned
// to v2.12.0 (go.mod) and TestLinkLayout fails if the layout ever changes; a
// failed lookup is never fatal: the request toxic then passes requests on and
// counts them as unpaired.

var apiServer atomic.Pointer[toxiproxy.ApiServer]

// Attach gives the toxics the server whose proxies they run in (main does it
// before the server listens). Without it, the toxics that answer requests
// themselves pass every request on, counted as unpaired.
func Attach(server *toxiproxy.ApiServer) {
	apiServer.Store(server)
}

// pairing is the outcome of one look-up of a connection's answers toxic.
type pairing int

const (
	paired   pairing = iota
	tryAgain         // the other half is not registered yet, or a collection was busy
	unpaired         // there is no answers toxic for this request toxic on the connection
)

// answersFor finds, for the upstream stub of a connection, the state of the
// answers toxic named pair on the same connection's downstream link.
func answersFor(stub *toxics.ToxicStub, pair string) (*answersState, pairing) {
	server := apiServer.Load()
	if server == nil || server.Collection == nil {
		return nil, unpaired
	}
	busy := false
	for _, proxy := range server.Collection.Proxies() {
		collection := proxy.Toxics
		if collection == nil {
			continue
		}
		// Never wait for the lock: Toxiproxy holds it while it interrupts toxics
		// (adding or removing one), and the caller must stay able to answer that.
		if !collection.TryLock() {
			busy = true
			continue
		}
		state, outcome, found := lookUp(collection, stub, pair)
		collection.Unlock()
		if found {
			return state, outcome
		}
	}
	if busy {
		return nil, tryAgain
	}
	return nil, unpaired
}

// lookUp searches one collection (locked by the caller); found is false when the
// stub runs on none of its links.
func lookUp(
	collection *toxiproxy.ToxicCollection, stub *toxics.ToxicStub, pair string,
) (*answersState, pairing, bool) {
	links := reflect.ValueOf(collection).Elem().FieldByName("links")
	if !links.IsValid() || links.Kind() != reflect.Map {
		return nil, unpaired, false
	}
	const up, down = "upstream", "downstream"
	for it := links.MapRange(); it.Next(); {
		name := it.Key().String()
		if !strings.HasSuffix(name, up) || !holds(it.Value(), stub) {
			continue
		}
		sibling := links.MapIndex(reflect.ValueOf(strings.TrimSuffix(name, up) + down))
		if !sibling.IsValid() {
			return nil, tryAgain, true // registered right after the upstream link
		}
		for _, other := range stubsOf(sibling) {
			if state, ok := other.State.(*answersState); ok && state.toxic.Pair == pair {
				return state, paired, true
			}
		}
		return nil, unpaired, true
	}
	return nil, unpaired, false
}

// stubsOf is a *ToxicLink's stubs.
func stubsOf(link reflect.Value) []*toxics.ToxicStub {
	if link.Kind() != reflect.Pointer || link.IsNil() {
		return nil
	}
	field := link.Elem().FieldByName("stubs")
	if !field.IsValid() || field.Kind() != reflect.Slice {
		return nil
	}
	stubs := make([]*toxics.ToxicStub, 0, field.Len())
	for i := 0; i < field.Len(); i++ {
		item := field.Index(i)
		if item.Kind() != reflect.Pointer || item.Type().Elem() != reflect.TypeOf(toxics.ToxicStub{}) {
			return nil
		}
		stubs = append(stubs, (*toxics.ToxicStub)(item.UnsafePointer()))
	}
	return stubs
}

func holds(link reflect.Value, stub *toxics.ToxicStub) bool {
	for _, s := range stubsOf(link) {
		if s == stub {
			return true
		}
	}
	return false
}

// linkLayoutOK is true when Toxiproxy's collection and links have the fields the
// look-up reads (TestLinkLayout).
func linkLayoutOK() bool {
	links, ok := reflect.TypeOf(toxiproxy.ToxicCollection{}).FieldByName("links")
	if !ok || links.Type != reflect.TypeOf(map[string]*toxiproxy.ToxicLink{}) {
		return false
	}
	stubs, ok := reflect.TypeOf(toxiproxy.ToxicLink{}).FieldByName("stubs")
	return ok && stubs.Type == reflect.TypeOf([]*toxics.ToxicStub{})
}
