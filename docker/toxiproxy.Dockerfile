# Toxiproxy 2.12.0 without a registry: the same layout as upstream's
# ghcr.io/shopify/toxiproxy image (FROM scratch, /toxiproxy, /toxiproxy-cli,
# the same entrypoint and default command), around binaries built from the
# Go module proxy with CGO_ENABLED=0, so they need no libc.
# docker/build-images.sh tags it ghcr.io/shopify/toxiproxy:2.12.0, the tag the
# Compose file names, so the Compose file is the same with or without a registry.
FROM scratch
LABEL org.opencontainers.image.title="toxiproxy" \
      org.opencontainers.image.version="2.12.0" \
      org.opencontainers.image.source="https://github.com/Shopify/toxiproxy" \
      org.domino.built-by="docker/build-images.sh"
EXPOSE 8474
ENTRYPOINT ["/toxiproxy"]
CMD ["-host=0.0.0.0"]
ENV LOG_LEVEL=info
COPY toxiproxy-server /toxiproxy
COPY toxiproxy-cli /toxiproxy-cli
