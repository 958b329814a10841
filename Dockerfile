# syntax=docker/dockerfile:1
# Build: a static binary (no cgo: SQLite is modernc's pure-Go driver).
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
# The version `app --version` prints: docker build --build-arg VERSION=1.2.3 .
ARG VERSION=devel
RUN CGO_ENABLED=0 GOFLAGS=-buildvcs=false go build -trimpath -ldflags="-s -w -X github.com/systemsync/systemsync/internal/version.version=${VERSION}" -o /out/app ./cmd/app \
 && mkdir -p /out/data

# Run: distroless static image, non-root user, data under /data.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/app /usr/local/bin/app
COPY --from=build --chown=nonroot:nonroot /out/data /data
USER nonroot:nonroot
ENV SYSTEMSYNC_LISTEN=0.0.0.0:8080 \
    SYSTEMSYNC_DATA_DIR=/data
EXPOSE 8080
VOLUME ["/data"]
HEALTHCHECK --interval=30s --timeout=3s --start-period=10s --retries=3 \
  CMD ["/usr/local/bin/app", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/app"]
CMD ["serve"]
