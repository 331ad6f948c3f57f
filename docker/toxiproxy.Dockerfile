# Domino's toxiproxy-server without a registry: Toxiproxy 2.12.0 with Domino's
# toxics compiled in (harness/toxiproxy/server), in the same layout as upstream's
# ghcr.io/shopify/toxiproxy image (FROM scratch, /toxiproxy, /toxiproxy-cli, the
# same entrypoint and default command), around binaries built from the Go
# module proxy with CGO_ENABLED=0, so they need no libc. toxiproxy-cli is
# upstream's. docker/build-images.sh tags it ghcr.io/shopify/toxiproxy:2.12.0,
# the tag the Compose file and the docker backend name, so they are the same
# with or without a registry; it labels the image with Domino's server version
# (org.opencontainers.image.version, e.g. 2.12.0+domino.1) and a digest of its
# sources (org.domino.toxiproxy-sources).
FROM scratch
LABEL org.opencontainers.image.title="toxiproxy" \
      org.opencontainers.image.source="https://github.com/Shopify/toxiproxy" \
      org.domino.built-by="docker/build-images.sh"
EXPOSE 8474
ENTRYPOINT ["/toxiproxy"]
CMD ["-host=0.0.0.0"]
ENV LOG_LEVEL=info
COPY toxiproxy-server /toxiproxy
COPY toxiproxy-cli /toxiproxy-cli
