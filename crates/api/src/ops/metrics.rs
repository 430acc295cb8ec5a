//! Business metrics the dashboard adds to Prometheus, with bounded labels
//! only (event kinds, priority groups, drop reasons): never an id, a phone,
//! a subject or a free-text region.
//!
//! They live in a process-wide registry (Prometheus' usual model), apart
//! from `crate::metrics::Metrics`; `render` gives their text format, to be
//! appended to `/metrics`.
use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounterVec, Opts, Registry, TextEncoder,
};
use std::sync::OnceLock;

pub struct OpsMetrics {
    registry: Registry,
    /// `anxin_ops_events_total{kind}`: events the API queued for the log.
    pub events: IntCounterVec,
    /// `anxin_ops_events_dropped_total{reason}`: events lost (queue full,
    /// write failed, no runtime).
    pub events_dropped: IntCounterVec,
    /// `anxin_time_to_match_seconds{priority_group}`: a seeker's first slate
    /// (in the last 7 days) to their confirmed booking.
    pub time_to_match: HistogramVec,
}

impl OpsMetrics {
    fn new() -> Self {
        let registry = Registry::new();
        let events = IntCounterVec::new(
            Opts::new(
                "anxin_ops_events_total",
                "Events recorded by the API for the operator dashboard, by kind",
            ),
            &["kind"],
        )
        .unwrap_or_else(|e| unreachable!("metric is well-formed: {e}"));
        let events_dropped = IntCounterVec::new(
            Opts::new(
                "anxin_ops_events_dropped_total",
                "Dashboard events dropped instead of slowing requests, by reason",
            ),
            &["reason"],
        )
        .unwrap_or_else(|e| unreachable!("metric is well-formed: {e}"));
        let time_to_match = HistogramVec::new(
            HistogramOpts::new(
                "anxin_time_to_match_seconds",
                "Seeker's first slate to confirmed booking, by priority group",
            )
            .buckets(vec![
                5.0,
                15.0,
                30.0,
                60.0,
                120.0,
                300.0,
                600.0,
                1800.0,
                3600.0,
                4.0 * 3600.0,
                24.0 * 3600.0,
                7.0 * 24.0 * 3600.0,
            ]),
            &["priority_group"],
        )
        .unwrap_or_else(|e| unreachable!("metric is well-formed: {e}"));
        // Registration fails only for duplicate names, which this module rules out.
        let _ = registry.register(Box::new(events.clone()));
        let _ = registry.register(Box::new(events_dropped.clone()));
        let _ = registry.register(Box::new(time_to_match.clone()));
        Self {
            registry,
            events,
            events_dropped,
            time_to_match,
        }
    }

    pub fn dropped(&self, reason: &'static str, n: u64) {
        self.events_dropped.with_label_values(&[reason]).inc_by(n);
    }
}

pub fn get() -> &'static OpsMetrics {
    static METRICS: OnceLock<OpsMetrics> = OnceLock::new();
    METRICS.get_or_init(OpsMetrics::new)
}

/// The Prometheus text format of these metrics.
pub fn render() -> String {
    let mut buf = Vec::new();
    let _ = TextEncoder::new().encode(&get().registry.gather(), &mut buf);
    String::from_utf8(buf).unwrap_or_default()
}
