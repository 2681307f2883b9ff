# The fcgi_handlers daemon: `fcgi-handlers serve` as an unprivileged user, handler code mounted at /srv/handlers.
#
#   docker build -t fcgi-handlers .
#   docker run -v "$PWD/examples:/srv/handlers:ro" -p 127.0.0.1:9000:9000 fcgi-handlers
#
# Settings come from FCGI_HANDLERS_* environment variables (docker/daemon-entrypoint.sh turns them into flags; flags
# given after the image name win). The base image is a build argument so that machines without a registry can build
# from a local Debian image (scripts/docker-base-image.sh); everyone else keeps debian:bookworm-slim.
ARG BASE_IMAGE=debian:bookworm-slim
FROM ${BASE_IMAGE}

# Debian's Python (+ CA certificates for pip); a base image that has them already (the test suite's debootstrap
# image) needs no package index.
RUN if [ "$(dpkg-query -W -f='${db:Status-Status}\n' python3 python3-venv ca-certificates 2>/dev/null \
            | grep -c '^installed$')" != 3 ]; then \
        apt-get update \
        && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
            python3 python3-venv ca-certificates \
        && rm -rf /var/lib/apt/lists/*; \
    fi

# The package with its `redis` extra, so RedisSession works in a multi-host deployment without another image
# (pure Python: the image has no C compiler, so setup.py compiles nothing). pip
# trusts the system's CA store rather than its own bundle (so a CA added to the base image, e.g. a TLS-inspecting
# proxy's, counts).
RUN python3 -m venv /opt/fcgi-handlers
COPY pyproject.toml setup.py README.md /tmp/fcgi-handlers-src/
COPY fcgi_handlers /tmp/fcgi-handlers-src/fcgi_handlers
COPY mod_python /tmp/fcgi-handlers-src/mod_python
RUN PIP_CERT=/etc/ssl/certs/ca-certificates.crt /opt/fcgi-handlers/bin/pip install --no-cache-dir \
        --disable-pip-version-check --quiet "/tmp/fcgi-handlers-src[redis]" \
    && rm -rf /tmp/fcgi-handlers-src

# The sessions directory is where compose mounts the volume every replica shares; a fresh named volume takes this
# directory's owner, so the unprivileged daemon can write it.
RUN useradd --system --user-group --uid 10001 --home-dir /nonexistent --no-create-home --shell /usr/sbin/nologin \
        fcgi-handlers \
    && install -d -m 0755 /srv/handlers \
    && install -d -o fcgi-handlers -g fcgi-handlers -m 0750 /var/lib/fcgi-handlers /var/lib/fcgi-handlers/sessions
COPY docker/daemon-entrypoint.sh /usr/local/bin/fcgi-handlers-entrypoint

# Inside a container the daemon must listen on the container's interface: Apache runs in another container.
# PYTHONDONTWRITEBYTECODE: handler code is usually mounted read-only.
ENV PATH=/opt/fcgi-handlers/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    FCGI_HANDLERS_BIND=0.0.0.0:9000 \
    FCGI_HANDLERS_PATH=/srv/handlers \
    FCGI_HANDLERS_SESSION_DIR=/var/lib/fcgi-handlers/sessions

USER fcgi-handlers
EXPOSE 9000
# A FastCGI GET_VALUES round trip: healthy only when a worker process answers, not merely when the port is open.
# Connecting to 0.0.0.0 reaches the local host on Linux, so the bind address doubles as the ping address.
HEALTHCHECK --interval=10s --timeout=5s --start-period=15s --retries=3 \
    CMD fcgi-handlers ping -q --timeout 3 "$FCGI_HANDLERS_BIND"
# SIGTERM: the arbiter stops accepting, finishes in-flight requests (graceful_timeout, 30 s), then exits.
STOPSIGNAL SIGTERM
ENTRYPOINT ["fcgi-handlers-entrypoint"]
CMD ["serve"]
