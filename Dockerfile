# Builds zmq-operator's images: static binaries on a distroless, non-root
# base, with the same flags as `make build` (which the e2e suite packs into
# images without Docker).
#
#   docker build --target manager  -t zmq-operator:dev .
#   docker build --target sidecar  -t zmq-sidecar:dev .
#   docker build --target examples -t zmq-operator-examples:dev .
#   docker buildx build --platform linux/amd64,linux/arm64 --target manager ...
#
# The build stage runs on the builder's platform and cross-compiles for
# TARGETOS/TARGETARCH. This project's own builds use no Docker (`make images`).
FROM --platform=$BUILDPLATFORM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
COPY examples/go.mod examples/go.sum examples/
RUN go mod download && cd examples && go mod download
COPY . .
ARG VERSION=dev
ARG TARGETOS=linux
ARG TARGETARCH
ENV CGO_ENABLED=0 GOOS=${TARGETOS} GOARCH=${TARGETARCH}
RUN go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/manager . && \
    go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/zmq-sidecar ./sidecar && \
    cd examples && go build -trimpath -ldflags "-s -w" -o /out/zmq-example ./cmd/zmq-example

FROM gcr.io/distroless/static:nonroot AS sidecar
COPY --from=build /out/zmq-sidecar /zmq-sidecar
USER 65532:65532
ENTRYPOINT ["/zmq-sidecar"]

FROM gcr.io/distroless/static:nonroot AS examples
COPY --from=build /out/zmq-example /zmq-example
USER 65532:65532
ENTRYPOINT ["/zmq-example"]

FROM gcr.io/distroless/static:nonroot AS manager
COPY --from=build /out/manager /manager
USER 65532:65532
ENTRYPOINT ["/manager"]
