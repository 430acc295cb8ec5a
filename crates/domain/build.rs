//! Compiles the messages in `proto/` with prost; protox parses them, so no `protoc` is needed.
fn main() -> Result<(), Box<dyn std::error::Error>> {
    let proto = "../../proto/anxin.proto";
    println!("cargo:rerun-if-changed={proto}");
    let fds = protox::compile([proto], ["../../proto"])?;
    prost_build::Config::new().compile_fds(fds)?;
    Ok(())
}
