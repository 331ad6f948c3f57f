// Command toxiproxy-server is Toxiproxy v2.12.0's server with Domino's toxics
// compiled in (package domino/toxiproxy-server/toxics, each registered by name).
//
// It takes the upstream server's flags (github.com/Shopify/toxiproxy/v2
// cmd/server, MIT licence), so Domino, toxiproxy-cli and toxiproxy-python use
// it as they would the stock one. Its version, in /version and -version, names
// Domino's build ("2.12.0+domino.2"): Domino reads from it which of its own
// toxics a running server has. Bump the build number whenever a toxic is added
// or changes behaviour, in harness/toxiproxy/abilities.py too.
//
// Every proxy also counts its traffic as it passes (requests, answers,
// connections, bytes; see toxics/traffic.go), read at GET /domino/traffic on the
// admin API; the admin API is otherwise upstream's.
package main

import (
	"context"
	"flag"
	"fmt"
	"math/rand"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
	"github.com/rs/zerolog/log"

	"github.com/Shopify/toxiproxy/v2"
	"github.com/Shopify/toxiproxy/v2/collectors"

	dominotoxics "domino/toxiproxy-server/toxics" // Domino's toxics register themselves
)

// Version is upstream's release and Domino's build of it.
const Version = "2.12.0+domino.3"

type cliArguments struct {
	host           string
	port           string
	config         string
	seed           int64
	printVersion   bool
	proxyMetrics   bool
	runtimeMetrics bool
}

func parseArguments() cliArguments {
	result := cliArguments{}
	flag.StringVar(&result.host, "host", "localhost",
		"Host for toxiproxy's API to listen on")
	flag.StringVar(&result.port, "port", "8474",
		"Port for toxiproxy's API to listen on")
	flag.StringVar(&result.config, "config", "",
		"JSON file containing proxies to create on startup")
	flag.Int64Var(&result.seed, "seed", time.Now().UTC().UnixNano(),
		"Seed for randomizing toxics with")
	flag.BoolVar(&result.runtimeMetrics, "runtime-metrics", false,
		`enable runtime-related prometheus metrics (default "false")`)
	flag.BoolVar(&result.proxyMetrics, "proxy-metrics", false,
		`enable toxiproxy-specific prometheus metrics (default "false")`)
	flag.BoolVar(&result.printVersion, "version", false,
		`print the version (default "false")`)
	flag.Parse()
	return result
}

func main() {
	// The admin API's /version answers this too.
	toxiproxy.Version = Version
	if err := run(); err != nil {
		fmt.Printf("error: %v", err)
		os.Exit(1)
	}
	os.Exit(0)
}

func run() error {
	cli := parseArguments()

	if cli.printVersion {
		fmt.Printf("toxiproxy-server version %s\n", toxiproxy.Version)
		return nil
	}

	// Accepted as upstream does; like upstream 2.12.0, it does not seed the
	// global source that toxicity is drawn from.
	rand.New(rand.NewSource(cli.seed)) // #nosec G404 -- as upstream

	logger := setupLogger()
	log.Logger = logger

	logger.Info().Str("version", toxiproxy.Version).Msg("Starting Toxiproxy")

	metrics := toxiproxy.NewMetricsContainer(prometheus.NewRegistry())
	server := toxiproxy.NewServer(metrics, logger)
	// The HTTP toxics that answer requests find each connection's two halves in
	// the server's proxies.
	dominotoxics.Attach(server)
	if cli.proxyMetrics {
		server.Metrics.ProxyMetrics = collectors.NewProxyMetricCollectors()
	}
	if cli.runtimeMetrics {
		server.Metrics.RuntimeMetrics = collectors.NewRuntimeMetricCollectors()
	}

	if len(cli.config) > 0 {
		server.PopulateConfig(cli.config)
	}
	// The proxies of -config count the connections made from here on.
	dominotoxics.InstrumentProxies(server)

	// As upstream's ApiServer.Listen, with Domino's handler (the traffic counts).
	addr := net.JoinHostPort(cli.host, cli.port)
	logger.Info().Str("address", addr).Msg("Starting Toxiproxy HTTP server")
	api := &http.Server{
		Addr:         addr,
		Handler:      dominotoxics.AdminHandler(server),
		WriteTimeout: 30 * time.Second,
		ReadTimeout:  15 * time.Second,
		IdleTimeout:  60 * time.Second,
	}
	go func() {
		if err := api.ListenAndServe(); err != nil && err != http.ErrServerClosed {
			logger.Err(err).Msg("Server finished with error")
		}
	}()

	signals := make(chan os.Signal, 1)
	signal.Notify(signals, syscall.SIGINT, syscall.SIGTERM)
	<-signals
	logger.Info().Msg("Shutdown started")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := api.Shutdown(ctx); err != nil {
		logger.Err(err).Msg("Shutdown finished with error")
	}
	return nil
}

func setupLogger() zerolog.Logger {
	zerolog.TimestampFunc = func() time.Time {
		return time.Now().UTC()
	}
	zerolog.CallerMarshalFunc = func(pc uintptr, file string, line int) string {
		short := file
		for i := len(file) - 1; i > 0; i-- {
			if file[i] == '/' {
				short = file[i+1:]
				break
			}
		}
		return short + ":" + strconv.Itoa(line)
	}

	logger := zerolog.New(os.Stdout).With().Caller().Timestamp().Logger()
	val, ok := os.LookupEnv("LOG_LEVEL")
	if !ok {
		return logger
	}
	lvl, err := zerolog.ParseLevel(val)
	if err == nil {
		logger = logger.Level(lvl)
	} else {
		l := &logger
		l.Err(err).Msgf("unknown LOG_LEVEL value: \"%s\"", val)
	}
	return logger
}
