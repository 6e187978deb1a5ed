# voxgate container image: build with the pinned toolchain, run on Debian slim as a
# non-root user, with a health check on the admin API's /healthz.
#
#   docker build --build-arg VOXGATE_GIT_COMMIT=$(git rev-parse --short=12 HEAD) -t voxgate .
#   docker run -d --name voxgate --network host \
#       -v /etc/voxgate:/etc/voxgate:ro voxgate
#
# The image's own config is the loopback demo (config/voxgate.toml): mount yours over
# /etc/voxgate/voxgate.toml. SIP and RTP want the host network (--network host) or
# published UDP ranges matching [[media_region]] ports and advertise addresses; the health
# check reaches [admin] listen (default 127.0.0.1:9060) from inside the container, so keep
# it on a loopback or host address. SIGTERM drains (stop with --time above [calls]
# drain_timeout_s, default 300 s); SIGHUP reloads.

# The builder's toolchain is rust-toolchain.toml's; its Debian release is the runtime's,
# so the binary's glibc is there.
FROM rust:1.95.0-slim-trixie AS build
WORKDIR /src
COPY . .
# .dockerignore leaves .git out: the commit comes in as an argument (build.rs).
ARG VOXGATE_GIT_COMMIT=unknown
ENV VOXGATE_GIT_COMMIT=${VOXGATE_GIT_COMMIT}
RUN cargo build --release --locked -p voxgate --bins \
    && install -D -m 0755 target/release/voxgate target/release/voxgatectl -t /out/usr/bin/ \
    && install -D -m 0644 target/release/man/*.1 -t /out/usr/share/man/man1/

FROM debian:trixie-slim
# curl for HEALTHCHECK only; ca-certificates for TLS trunks verified against the system store.
RUN apt-get update \
    && apt-get install -y --no-install-recommends curl ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /var/lib/voxgate --create-home \
        --shell /usr/sbin/nologin voxgate \
    && install -d -o voxgate -g voxgate -m 0750 /var/log/voxgate
COPY --from=build /out/ /
COPY config/voxgate.toml /etc/voxgate/voxgate.toml
COPY systemd/voxgatectl.toml /etc/voxgate/voxgatectl.toml
# Not root. Docker lets any user bind ports below 1024 in a container's own network
# namespace (net.ipv4.ip_unprivileged_port_start=0); on the host network, grant
# --cap-add NET_BIND_SERVICE or use ports above 1023.
USER voxgate
WORKDIR /var/lib/voxgate
EXPOSE 5060/udp 5060/tcp 5061/tcp 9060/tcp
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
    CMD curl -fsS -o /dev/null http://127.0.0.1:9060/healthz || exit 1
ENTRYPOINT ["/usr/bin/voxgate"]
CMD ["--config", "/etc/voxgate/voxgate.toml"]
