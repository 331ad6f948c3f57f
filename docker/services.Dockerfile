# The image for Domino's mock services (bank, card, pay, remit): one image,
# the service is chosen by the container's command (python3 -m services.NAME).
#
# Built by docker/build-images.sh with `--network=none`: nothing is downloaded
# here. The base image comes from Debian's packages (debootstrap + docker
# import) and the Python dependencies from a wheelhouse built on the host.
# Elsewhere, BASE_IMAGE may be any Debian-like image with python3 and venv,
# e.g. python:3.11-slim-bookworm.
ARG BASE_IMAGE=domino/debian-python3:bookworm

FROM ${BASE_IMAGE} AS deps
COPY wheels/ /tmp/wheels/
RUN python3 -m venv /opt/domino \
 && /opt/domino/bin/pip install --no-index --no-cache-dir --disable-pip-version-check \
        --find-links /tmp/wheels --requirement /tmp/wheels/requirements.txt

FROM ${BASE_IMAGE}
LABEL org.opencontainers.image.title="domino services" \
      org.opencontainers.image.description="Domino's mock bank, card, pay and remit services" \
      org.opencontainers.image.version="0.1.0" \
      org.domino.built-by="docker/build-images.sh"
COPY --from=deps /opt/domino /opt/domino
COPY services/ /app/services/
# Bytecode compiled once here: four containers compiling the same modules at
# every start would cost seconds of CPU on a small machine. The folder for the
# services' data is the only writable one; they run as an unprivileged user.
RUN python3 -m compileall -q /app/services \
 && mkdir -p /data && chown 10001:10001 /data
ENV PATH=/opt/domino/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    PYTHONPATH=/app \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    HOME=/tmp \
    DOMINO_HOST=0.0.0.0 \
    DOMINO_PORT=8000 \
    DOMINO_DATA_DIR=/data
USER 10001:10001
WORKDIR /app
EXPOSE 8000
HEALTHCHECK --interval=2s --timeout=3s --start-period=2s --retries=30 \
    CMD ["python3", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health', timeout=2)"]
CMD ["python3", "-m", "services.bank"]
