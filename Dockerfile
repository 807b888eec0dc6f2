# One image for both entry points: /manager (the operator) and /listener (the
# Wake-on-LAN listener the operator deploys). Built with the same Make target
# CI runs (make build-bin), so the image and the tests build alike.
FROM docker.io/library/golang:1.26 AS builder
ARG TARGETOS
ARG TARGETARCH

WORKDIR /workspace
COPY go.mod go.sum ./
RUN go mod download

COPY Makefile ./
COPY api/ api/
COPY cmd/ cmd/
COPY internal/ internal/
COPY pkg/ pkg/

# Static binaries (CGO off) for the target platform of a multi-arch build.
RUN make build-bin GOOS=${TARGETOS:-linux} GOARCH=${TARGETARCH}

# distroless/static: no shell, no package manager; non-root by default. The
# listener's pod spec runs it as UID 0 with only NET_BIND_SERVICE (and
# NET_RAW in raw mode) when it must bind ports below 1024: see docs/SECURITY.md.
FROM gcr.io/distroless/static:nonroot
ARG VERSION=0.1.0
LABEL org.opencontainers.image.title="kubevirt-wol" \
      org.opencontainers.image.description="Wake-on-LAN for KubeVirt VirtualMachines: operator and listener" \
      org.opencontainers.image.source="https://github.com/gpillon/kubevirt-wol" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.version="${VERSION}"
WORKDIR /
COPY --from=builder /workspace/bin/manager /workspace/bin/listener /
USER 65532:65532

ENTRYPOINT ["/manager"]
