//! Anxin's application core: the use cases (`flows`), the background jobs
//! (the payment settler, the webhook sender, reconcile, the slot horizon,
//! the slate's weights, the waitlist's offers) and the outbound integrations
//! (`payments`, webhooks), over the domain, store and reserve crates. It
//! knows nothing of HTTP: the API crate parses and authorizes requests and
//! maps `AppError` to a status code at its edge; the CLI and the call worker
//! call the use cases directly.
//!
//! Each module uses only those below it:
//! - `flows` (the use cases) use `state`, `events`, `token` and `error`, and
//!   the domain, store and reserve crates;
//! - `state` (what the flows share) holds `token`'s verifier, the `events`
//!   sink, `metrics`, `payments`' providers, `proxies` and the caches
//!   (`cache`), whose values are typed in `state` itself or in `figures`
//!   (the dashboard's summary);
//! - `token`, `events`, `figures`, `cache`, `metrics`, `payments`, `proxies`
//!   and `error` use none of the above (`token` and `payments` use `error`).

pub mod cache;
pub mod confirmations;
pub mod error;
pub mod events;
pub mod figures;
pub mod flows;
pub mod metrics;
pub mod payments;
pub mod proxies;
pub mod state;
pub mod token;
