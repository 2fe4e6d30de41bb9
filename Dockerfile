# The TeamFlow relay in a container (docs/deploy.md, "In a container"):
#
#   docker build -t teamflow-relay .
#   docker run -d --name teamflow-relay -v teamflow-data:/data -p 443:8080 -p 4001:4001/tcp -p 4001:4001/udp \
#     -e TEAMFLOW_PUBLIC_URL=https://relay.example.com teamflow-relay
#
# It builds with the README's own command and nothing else, because no image registry is reachable where CI
# runs: this file is not built there, so it stays this small.

# Any Rust at or above the workspace's rust-version (1.94); the full image has the C toolchain SQLite needs.
FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
ENV CARGO_TARGET_DIR=/src/target
RUN cargo build --release -p teamflow-relay --locked

FROM debian:bookworm-slim
# curl for the health check; CA certificates for outgoing TLS (ACME, webhook providers).
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates curl \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --user-group --home-dir /data --shell /usr/sbin/nologin teamflow \
    && install -d -m 0700 -o teamflow -g teamflow /data /backups
COPY --from=build /src/target/release/teamflow-relay /usr/local/bin/teamflow-relay
USER teamflow
ENV TEAMFLOW_DATA_DIR=/data \
    TEAMFLOW_BIND=0.0.0.0:8080 \
    TEAMFLOW_LOG_FORMAT=json
# The database and the keys: keep this volume. Backups go to another (`docker exec teamflow-relay
# teamflow-relay backup --to /backups/...`); a new volume mounted on /backups starts owned by `teamflow`.
VOLUME /data
# HTTP(S) API, realtime and sync; the libp2p circuit relay on TCP and QUIC.
EXPOSE 8080/tcp 4001/tcp 4001/udp
# Ready = the database answers and is migrated. Plain HTTP, or HTTPS when the relay serves TLS itself.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD curl -fsS http://127.0.0.1:8080/readyz || curl -fsSk https://127.0.0.1:8080/readyz || exit 1
# The relay finishes requests in flight on SIGTERM; give it the time (`docker stop -t 30`).
STOPSIGNAL SIGTERM
ENTRYPOINT ["teamflow-relay"]
