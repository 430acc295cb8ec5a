# Builds the one `anxin` binary; the same image runs the API (`serve`, the
# default command) and the call worker (`worker`).
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
# The API alone; run `worker` beside it for calls. Name the command: `anxin`
# with none runs everything in one process, and in development also seeds
# demo data and prints sign-in links and tokens.
CMD ["serve"]
