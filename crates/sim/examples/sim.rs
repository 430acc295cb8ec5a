//! Runs the simulator without the `anxin` binary:
//! `cargo run --release -p anxin-sim --example sim -- --scenario all`.
fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let Err(e) = anxin_sim::cli(&args) {
        eprintln!("{e}");
        std::process::exit(2);
    }
}
