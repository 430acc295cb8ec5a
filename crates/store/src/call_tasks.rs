//! Call tasks: the outbox the call worker leases from.
