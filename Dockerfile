# Builds the one `anxin` binary; the same image runs the API and the worker.
FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p anxin

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates && rm -rf /var/lib/apt/lists/*
COPY --from=build /src/target/release/anxin /usr/local/bin/anxin
USER nobody
EXPOSE 8080
ENTRYPOINT ["anxin"]
