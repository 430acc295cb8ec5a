//! Prometheus metrics, in one registry per application (`AppState`): the
//! request path's and the dashboard's. Labels are bounded sets (route
//! patterns, methods, status codes, result kinds, event kinds, priority
//! groups, drop reasons): never an id, a phone, a subject or a free-text
//! region.
use prometheus::{
    Encoder, Histogram, HistogramOpts, HistogramVec, IntCounterVec, Opts, Registry, TextEncoder,
};

#[derive(Clone)]
pub struct Metrics {
    registry: Registry,
    pub http_requests: IntCounterVec,
    pub http_duration: HistogramVec,
    /// Holds by result: placed, unavailable, hold_limit, too_late, rate_limited, released.
    pub holds: IntCounterVec,
    /// Bookings by result: confirmed, hold_expired, slot_taken, limit, cancelled.
    pub bookings: IntCounterVec,
    /// Slates served, by priority group.
    pub slates: IntCounterVec,
    /// `anxin_ops_events_total{kind}`: events the API queued for the
    /// dashboard's log.
    pub events: IntCounterVec,
    /// `anxin_ops_events_dropped_total{reason}`: events lost (queue full,
    /// write failed, no writer).
    pub events_dropped: IntCounterVec,
    /// `anxin_time_to_match_seconds{priority_group}`: a seeker's first slate
    /// (in the last 7 days) to their confirmed booking.
    pub time_to_match: HistogramVec,
    /// `anxin_call_outcomes_total{outcome}`: call attempts this process's
    /// worker ended, counted as it records them (so summed over instances
    /// it is the whole deployment's count).
    pub call_outcomes: IntCounterVec,
    /// `anxin_payments_total{event}`: fees started, paid and refunded.
    pub payments: IntCounterVec,
    /// `anxin_slate_input_reads_total{by}`: reads of the balanced draw's
    /// inputs over every expert, by the refresher (`refresher`) or by a
    /// request that found no snapshot (`request`).
    pub slate_input_reads: IntCounterVec,
    /// `anxin_slate_open_slot_reads_total{from}`: experts whose open slots a
    /// slate took from this process's copy (`copy`: their version had not
    /// moved) or read from Redis (`redis`).
    pub slate_open_slot_reads: IntCounterVec,
    /// `anxin_confirmation_group_size`: confirmations written by each
    /// statement (group commit, see `confirmations`).
    pub confirmation_groups: Histogram,
}

fn counter(registry: &Registry, name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
    let c = IntCounterVec::new(Opts::new(name, help), labels)
        .unwrap_or_else(|e| unreachable!("metric {name} is well-formed: {e}"));
    // Registration only fails for duplicate names, which this module rules out.
    let _ = registry.register(Box::new(c.clone()));
    c
}

impl Metrics {
    pub fn new() -> Self {
        let registry = Registry::new();
        let http_duration = HistogramVec::new(
            HistogramOpts::new(
                "anxin_http_request_duration_seconds",
                "HTTP request latency by route",
            )
            .buckets(vec![
                0.0005, 0.001, 0.002, 0.003, 0.004, 0.005, 0.0075, 0.01, 0.02, 0.05, 0.1, 0.25,
                0.5, 1.0, 2.5,
            ]),
            &["method", "route"],
        )
        .unwrap_or_else(|e| unreachable!("histogram is well-formed: {e}"));
        let _ = registry.register(Box::new(http_duration.clone()));
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
        .unwrap_or_else(|e| unreachable!("histogram is well-formed: {e}"));
        let _ = registry.register(Box::new(time_to_match.clone()));
        let confirmation_groups = Histogram::with_opts(
            HistogramOpts::new(
                "anxin_confirmation_group_size",
                "Booking confirmations written together by one statement (group commit)",
            )
            .buckets(vec![1.0, 2.0, 4.0, 8.0, 16.0]),
        )
        .unwrap_or_else(|e| unreachable!("histogram is well-formed: {e}"));
        let _ = registry.register(Box::new(confirmation_groups.clone()));
        Self {
            confirmation_groups,
            events: counter(
                &registry,
                "anxin_ops_events_total",
                "Events recorded by the API for the operator dashboard, by kind",
                &["kind"],
            ),
            events_dropped: counter(
                &registry,
                "anxin_ops_events_dropped_total",
                "Dashboard events dropped instead of slowing requests, by reason",
                &["reason"],
            ),
            time_to_match,
            call_outcomes: {
                let c = counter(
                    &registry,
                    "anxin_call_outcomes_total",
                    "Ended call attempts by outcome",
                    &["outcome"],
                );
                // Every outcome from zero, so a rate over it starts right.
                for o in anxin_domain::call::CallOutcome::ALL {
                    c.with_label_values(&[o.as_str()]);
                }
                c
            },
            http_requests: counter(
                &registry,
                "anxin_http_requests_total",
                "HTTP requests by route pattern and status",
                &["method", "route", "status"],
            ),
            holds: counter(
                &registry,
                "anxin_holds_total",
                "Hold attempts by result",
                &["result"],
            ),
            bookings: counter(
                &registry,
                "anxin_bookings_total",
                "Booking confirmations and cancellations by result",
                &["result"],
            ),
            slates: counter(
                &registry,
                "anxin_slates_served_total",
                "Slates served by priority group",
                &["priority_group"],
            ),
            slate_input_reads: counter(
                &registry,
                "anxin_slate_input_reads_total",
                "Reads of the slate draw's inputs over every expert, by who read",
                &["by"],
            ),
            slate_open_slot_reads: counter(
                &registry,
                "anxin_slate_open_slot_reads_total",
                "Experts whose open slots a slate took from the process's copy or read from Redis",
                &["from"],
            ),
            payments: counter(
                &registry,
                "anxin_payments_total",
                "Booking fees by event: started, paid, refunded",
                &["event"],
            ),
            http_duration,
            registry,
        }
    }

    pub fn render(&self) -> String {
        let mut buf = Vec::new();
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut buf);
        String::from_utf8(buf).unwrap_or_default()
    }

    pub fn hold(&self, result: &str) {
        self.holds.with_label_values(&[result]).inc();
    }

    pub fn booking(&self, result: &str) {
        self.bookings.with_label_values(&[result]).inc();
    }

    pub fn payment(&self, event: &str) {
        self.payments.with_label_values(&[event]).inc();
    }

    pub fn dropped(&self, reason: &'static str, n: u64) {
        self.events_dropped.with_label_values(&[reason]).inc_by(n);
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}
