package toxics

import (
	"bytes"
	"encoding/json"
	"strings"
	"sync/atomic"
)

// RequestFilter chooses the requests an HTTP toxic acts on. It is part of every
// HTTP toxic's attributes:
//
//   - method: a request method ("POST"); empty: any;
//   - path: a path prefix ("/pay"), or a glob when it holds * or ? ("/users/*/cards",
//     where * matches any run of characters, slashes included); empty: any;
//   - header: a header that must be present ("X-Canary") or must have a value
//     matching a glob ("X-Journey: pay*"); empty: any;
//   - share: the part of matching requests acted on, in [0, 1], drawn per request
//     (absent: all of them);
//   - seed: the draws' seed. The k-th matching request a toxic sees gets the k-th
//     draw of its seed, so the same requests in the same order meet the same
//     decisions in every run.
//
// Toxiproxy's own toxicity draws per connection; these toxics must run with
// toxicity 1 and choose requests themselves.
type RequestFilter struct {
	Method string   `json:"method"`
	Path   string   `json:"path"`
	Header string   `json:"header"`
	Share  *float64 `json:"share"`
	Seed   int64    `json:"seed"`
}

// matches is true when req is one the filter names (before the share is drawn).
func (f *RequestFilter) matches(req *request) bool {
	if f.Method != "" && !strings.EqualFold(f.Method, req.method) {
		return false
	}
	if f.Path != "" && !pathMatches(f.Path, req.path) {
		return false
	}
	if f.Header != "" {
		name, value, hasValue := strings.Cut(f.Header, ":")
		values := req.values(strings.TrimSpace(name))
		if len(values) == 0 {
			return false
		}
		if hasValue {
			want := strings.TrimSpace(value)
			found := false
			for _, v := range values {
				if globMatch(want, strings.TrimSpace(v)) {
					found = true
					break
				}
			}
			if !found {
				return false
			}
		}
	}
	return true
}

// drawn is true when the k-th matching request (k from 1) falls in the share.
func (f *RequestFilter) drawn(k uint64) bool {
	if f.Share == nil || *f.Share >= 1 {
		return true
	}
	if *f.Share <= 0 {
		return false
	}
	return unitDraw(uint64(f.Seed), k) < *f.Share
}

// unitDraw is the k-th number in [0, 1) of seed's sequence: a SplitMix64 step,
// so each draw depends on (seed, k) alone, whatever order requests race in.
func unitDraw(seed, k uint64) float64 {
	z := seed + k*0x9e3779b97f4a7c15
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	z ^= z >> 31
	return float64(z>>11) / (1 << 53)
}

func pathMatches(pattern, path string) bool {
	if strings.ContainsAny(pattern, "*?") {
		return globMatch(pattern, path)
	}
	return strings.HasPrefix(path, pattern)
}

// globMatch matches s against pattern, where * is any run of characters (none
// included) and ? any one character; everything else matches itself.
func globMatch(pattern, s string) bool {
	p, t := []rune(pattern), []rune(s)
	star, mark := -1, 0
	i, j := 0, 0
	for j < len(t) {
		switch {
		case i < len(p) && (p[i] == '?' || p[i] == t[j]):
			i++
			j++
		case i < len(p) && p[i] == '*':
			star, mark = i, j
			i++
		case star >= 0:
			i = star + 1
			mark++
			j = mark
		default:
			return false
		}
	}
	for i < len(p) && p[i] == '*' {
		i++
	}
	return i == len(p)
}

// requestCounts is what an HTTP toxic has seen, read back among its attributes: the
// evidence of a fault ("acted on 30 of 100 requests").
type requestCounts struct {
	requests atomic.Uint64 // requests parsed on the stream
	matched  atomic.Uint64 // of them, those the filter names
	acted    atomic.Uint64 // of them, those drawn by the share and acted on
	unparsed atomic.Uint64 // times a connection carried bytes that are not HTTP/1.x (passed on untouched)
	unpaired atomic.Uint64 // requests drawn but passed on: the connection's answers toxic was missing
}

// withCounts marshals a toxic's settings (a plain struct, without this method) with
// its counts added: Toxiproxy gives them back as the toxic's attributes. The
// counts are read-only: sent when adding or updating a toxic, they are ignored.
func withCounts(settings any, counts *requestCounts) ([]byte, error) {
	raw, err := json.Marshal(settings)
	if err != nil {
		return nil, err
	}
	fields := map[string]any{}
	decoder := json.NewDecoder(bytes.NewReader(raw))
	decoder.UseNumber() // a seed keeps all 64 bits
	if err := decoder.Decode(&fields); err != nil {
		return nil, err
	}
	fields["requests"] = counts.requests.Load()
	fields["matched"] = counts.matched.Load()
	fields["acted"] = counts.acted.Load()
	fields["unparsed"] = counts.unparsed.Load()
	fields["unpaired"] = counts.unpaired.Load()
	return json.Marshal(fields)
}
