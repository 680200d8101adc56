# syntax=docker/dockerfile:1
# ghostwriter as a container: one static binary on distroless, running as a
# non-root user, with no shell, no package manager and no curl.
#
#   docker build -t ghostwriter .
#   docker run --rm ghostwriter worker --help
#
# The default command is `worker`; every subcommand works the same way
# (`migrate`, `ledger`, `streams apply`, ...). Configure it with the
# environment (GHOSTWRITER_<FLAG>, NATS_URL, OPENAI_API_KEY_FILE, ...) and
# mount secrets as files. Pin both images by digest for production builds.

FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS=linux go build -trimpath -ldflags="-s -w" -o /out/ghostwriter ./cmd/ghostwriter
# An empty /secrets owned by the runtime user: a named volume mounted
# there (deploy/compose.yaml) starts out with that owner.
RUN mkdir -p /out/secrets

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/ghostwriter /ghostwriter
COPY --from=build --chown=65532:65532 /out/secrets /secrets
# The price table; mount another config file over it, or set
# GHOSTWRITER_CONFIG.
COPY deploy/prices.yaml /etc/ghostwriter/config.yaml
ENV GHOSTWRITER_CONFIG=/etc/ghostwriter/config.yaml \
    GHOSTWRITER_METRICS_ADDR=:9090 \
    GHOSTWRITER_LOG_FORMAT=json
# nonroot in distroless
USER 65532:65532
# /metrics, /healthz and /readyz
EXPOSE 9090
# The binary probes itself: distroless has no shell or curl. One-shot
# subcommands (migrate, streams apply) serve nothing; compose turns the
# check off for them.
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
    CMD ["/ghostwriter", "healthcheck", "--url", "http://127.0.0.1:9090/healthz"]
ENTRYPOINT ["/ghostwriter"]
CMD ["worker"]
