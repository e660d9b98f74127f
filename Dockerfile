# syntax=docker/dockerfile:1
#
# xcc-dns: one image with both binaries, /usr/local/bin/xcc-responder (the
# default entrypoint) and /usr/local/bin/xcc-controller (the manifests set
# `command:` for each container). Built from the repository root:
#
#   docker build -t xcc-dns:0.1.0 .
#
# Stage 1 compiles with the official Rust image (Debian bookworm, the same
# glibc as the runtime stage); stage 2 is distroless/cc: glibc, libgcc, CA
# certificates, no shell, no package manager, user 65532 (nonroot).

ARG RUST_VERSION=1.89

FROM docker.io/library/rust:${RUST_VERSION}-bookworm AS build
WORKDIR /src
COPY . .
# The release profile (fat LTO, one codegen unit) without the line tables it
# keeps for profiling. Registry and target directory are BuildKit caches, so
# the binaries are copied out in the same step.
ENV CARGO_PROFILE_RELEASE_STRIP=debuginfo
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p xcc-responder -p xcc-controller \
 && install -D -m 0755 target/release/xcc-responder /out/xcc-responder \
 && install -D -m 0755 target/release/xcc-controller /out/xcc-controller

FROM gcr.io/distroless/cc-debian12:nonroot
ARG VERSION=0.1.0
LABEL org.opencontainers.image.title="xcc-dns" \
      org.opencontainers.image.description="Multi-cluster DNS for Cluster API: xcc-responder (authoritative DNS) and xcc-controller (gateways, records, patch-coredns, crd)" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.source="https://example.invalid/xcc-dns"
COPY --from=build /out/ /usr/local/bin/
USER 65532:65532
# DNS (UDP and TCP), the responder's admin port, the records sidecar's.
EXPOSE 5353/udp 5353/tcp 9153/tcp 9154/tcp
ENTRYPOINT ["/usr/local/bin/xcc-responder"]
