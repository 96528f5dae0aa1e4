# syntax=docker/dockerfile:1
# The generic CI container (and the GitHub Action's image): a static ecs-secrets on distroless,
# running as non-root, with the binary itself as the exec-form entrypoint.
#   docker build -t ecs-secrets .
#   docker run --rm -e AWS_REGION -e AWS_ACCESS_KEY_ID -e AWS_SECRET_ACCESS_KEY -e AWS_SESSION_TOKEN \
#     -v "$PWD:/work" -w /work ecs-secrets deploy --task-definition deploy/web.json
# Base images are pinned by digest: bump them with `docker buildx imagetools inspect IMAGE`.
# The build runs scripts/build-static, which CI runs too (it has no Docker engine), so what CI
# builds and tests is what this image ships.

FROM rust:1.95-slim-bookworm@sha256:d7482085ff5b415f84dba5647ae71606650bdef00db7aeb69f4b3d170c3e4082 AS build
RUN apt-get update \
    && apt-get install -y --no-install-recommends musl-tools=1.2.3-1 \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src ./src
COPY scripts/build-static ./scripts/build-static
ENV CARGO_TARGET_DIR=/src/target
# Builds the static binary (auditable, reproducible; cargo-auditable is installed on the way) and
# runs `--version` on it as a smoke test.
RUN scripts/build-static /ecs-secrets

# distroless/static: CA certificates (the AWS SDK reads the system roots), no shell.
FROM gcr.io/distroless/static-debian12:nonroot@sha256:afa5c872c891853ca7fcf1f12c3edb23f7eeef36189728842dd51042ff57f7ab
COPY --from=build /ecs-secrets /ecs-secrets
# 65532 is distroless's `nonroot`.
USER 65532:65532
ENTRYPOINT ["/ecs-secrets"]
