// Package kit is what the shop's four services share: reading their
// environment, serving HTTP with a graceful stop, JSON answers, outbound
// clients and the -healthcheck probe used by container health checks.
//
// Standard library only, so the shop builds with no network.
package kit

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Version is the shop's version, printed by -version.
const Version = "0.1.0"

// MaxBody bounds every request and answer body the services read.
const MaxBody = 64 << 10

// Env reads a service's settings from its environment, collecting every
// problem so that a misconfigured service names all of them at once.
type Env struct {
	service  string
	problems []string
}

// URL returns the base URL in variable name (required), without a trailing slash.
func (e *Env) URL(name, what string) string {
	raw := strings.TrimSpace(os.Getenv(name))
	if raw == "" {
		e.problems = append(e.problems, fmt.Sprintf("%s is required: the base URL of %s, e.g. %s=http://127.0.0.1:8081", name, what, name))
		return ""
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		e.problems = append(e.problems, fmt.Sprintf("%s=%q is not an http(s) URL with a host", name, raw))
		return ""
	}
	return strings.TrimRight(raw, "/")
}

// Millis returns the duration in milliseconds in variable name, or def when it
// is unset. 0 means "no deadline".
func (e *Env) Millis(name string, def int) time.Duration {
	raw := strings.TrimSpace(os.Getenv(name))
	if raw == "" {
		return time.Duration(def) * time.Millisecond
	}
	n, err := strconv.Atoi(raw)
	if err != nil || n < 0 || n > 3_600_000 {
		e.problems = append(e.problems, fmt.Sprintf("%s=%q must be a whole number of milliseconds, 0-3600000 (0: no deadline)", name, raw))
		return 0
	}
	return time.Duration(n) * time.Millisecond
}

// Choice returns the value of variable name, one of allowed, or def when it is unset.
func (e *Env) Choice(name, def string, allowed ...string) string {
	raw := strings.TrimSpace(os.Getenv(name))
	if raw == "" {
		return def
	}
	for _, a := range allowed {
		if raw == a {
			return raw
		}
	}
	e.problems = append(e.problems, fmt.Sprintf("%s=%q must be one of: %s", name, raw, strings.Join(allowed, ", ")))
	return def
}

func (e *Env) listenAddr() string {
	port := strings.TrimSpace(os.Getenv("PORT"))
	if port == "" {
		e.problems = append(e.problems, "PORT is required: the TCP port to listen on, e.g. PORT=8080")
	} else if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		e.problems = append(e.problems, fmt.Sprintf("PORT=%q must be a port number, 1-65535", port))
	}
	bind := strings.TrimSpace(os.Getenv("BIND"))
	if bind == "" {
		bind = "127.0.0.1"
	}
	return net.JoinHostPort(bind, port)
}

func (e *Env) check() {
	if len(e.problems) == 0 {
		return
	}
	for _, p := range e.problems {
		fmt.Fprintf(os.Stderr, "%s: %s\n", e.service, p)
	}
	os.Exit(2)
}

// Main runs a service: flags, environment, listen, serve until SIGTERM/SIGINT.
// build registers the service's routes on mux (GET /healthz is already there);
// it reads its settings from env.
func Main(service string, build func(env *Env, mux *http.ServeMux)) {
	log.SetFlags(0)
	probe := flag.String("healthcheck", "", "GET this URL, exit 0 if it answers 2xx within 2 s, else 1 (for container health checks)")
	version := flag.Bool("version", false, "print the version and exit")
	flag.Usage = func() {
		fmt.Fprintf(os.Stderr, "usage: %s [-healthcheck URL | -version]\n(settings come from the environment: see examples/shop/README.md)\n", service)
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() > 0 {
		flag.Usage()
		os.Exit(2)
	}
	if *version {
		fmt.Printf("%s %s\n", service, Version)
		return
	}
	if *probe != "" {
		os.Exit(healthcheck(*probe))
	}

	env := &Env{service: service}
	addr := env.listenAddr()
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			MethodNotAllowed(w, http.MethodGet)
			return
		}
		WriteJSON(w, http.StatusOK, map[string]bool{"ok": true})
	})
	build(env, mux)
	env.check()

	ln, err := net.Listen("tcp", addr)
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: cannot listen on %s: %v\n", service, addr, err)
		os.Exit(1)
	}
	var handler http.Handler = mux
	if os.Getenv("LOG_REQUESTS") != "0" {
		handler = logRequests(service, mux)
	}
	srv := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          log.New(os.Stderr, service+": ", 0),
	}
	log.Printf("%s listening on %s", service, addr)

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		fmt.Fprintf(os.Stderr, "%s: %v\n", service, err)
		os.Exit(1)
	case <-ctx.Done():
	}
	// Graceful stop: no new connections; requests in flight get 5 s to finish
	// (a naive checkout waiting on a hung catalog will not: it is cut off).
	log.Printf("%s stopping", service)
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		_ = srv.Close()
	}
	log.Printf("%s stopped", service)
}

func healthcheck(target string) int {
	client := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true}}
	resp, err := client.Get(target)
	if err != nil {
		fmt.Fprintf(os.Stderr, "healthcheck: %v\n", err)
		return 1
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, MaxBody))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		fmt.Fprintf(os.Stderr, "healthcheck: %s answered %d\n", target, resp.StatusCode)
		return 1
	}
	return 0
}

// NewClient returns an HTTP client for calls to another service. timeout is
// the deadline of the whole exchange (connect, send, answer, body); 0 means
// none at all, as in the shop's naive default for checkout->catalog.
//
// Every request opens a new TCP connection, closed once its answer is read:
// Toxiproxy draws a toxic's toxicity per connection, so a toxicity of 0.5 then
// hits about half of the requests, and a fault added mid-run applies to the
// very next request. The pool is turned off with MaxIdleConnsPerHost < 0, not
// DisableKeepAlives: the latter sends "Connection: close", the server then
// closes its side right after answering, and Toxiproxy passes that close on
// even while a timeout toxic drops the answer, so a dependency that "never
// answers" would look like one that hung up at once. Proxy environment
// variables are ignored: the shop only calls its own services.
func NewClient(timeout time.Duration) *http.Client {
	return &http.Client{
		Timeout: timeout,
		Transport: &http.Transport{
			Proxy:               nil,
			MaxIdleConnsPerHost: -1,
		},
	}
}

// IsTimeout says whether err is a client deadline expiring.
func IsTimeout(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// WriteJSON answers status with v as JSON.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		status, body = http.StatusInternalServerError, []byte(`{"error":"cannot encode the answer"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)+1))
	w.WriteHeader(status)
	_, _ = w.Write(append(body, '\n'))
}

// WriteError answers status with {"error": msg}.
func WriteError(w http.ResponseWriter, status int, msg string) {
	WriteJSON(w, status, map[string]string{"error": msg})
}

// MethodNotAllowed answers 405 naming the allowed method.
func MethodNotAllowed(w http.ResponseWriter, allowed string) {
	w.Header().Set("Allow", allowed)
	WriteError(w, http.StatusMethodNotAllowed, "method not allowed; use "+allowed)
}

// ReadJSON decodes a request body of at most MaxBody bytes into v.
//
// It reads the body to its end: only then does net/http watch the connection
// and cancel r.Context() when the caller hangs up, which is what abandons a
// checkout's calls once storefront has given up on it.
func ReadJSON(r *http.Request, v any) error {
	raw, err := io.ReadAll(io.LimitReader(r.Body, MaxBody))
	if err != nil {
		return fmt.Errorf("cannot read the body: %v", err)
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return fmt.Errorf("body is not the expected JSON: %v", err)
	}
	return nil
}

// RandomID returns prefix followed by 16 random hex digits.
func RandomID(prefix string) string {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err)
	}
	return prefix + hex.EncodeToString(b[:])
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (s *statusWriter) WriteHeader(code int) {
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}

// logRequests logs one line per request, after it is answered:
// "<service> <method> <path> <status> <ms>ms". Health probes are not logged;
// LOG_REQUESTS=0 turns it off.
func logRequests(service string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/healthz" {
			next.ServeHTTP(w, r)
			return
		}
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(sw, r)
		log.Printf("%s %s %s %d %dms", service, r.Method, r.URL.Path, sw.status, time.Since(start).Milliseconds())
	})
}
