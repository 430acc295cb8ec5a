//! The token fee: a payment per hold, its statuses, and why one is refunded.
use serde::{Deserialize, Serialize};

crate::named! {
    /// Where a payment stands.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
    #[serde(rename_all = "snake_case")]
    #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
    pub enum PaymentStatus as "payment status" {
        Pending = "pending",
        Paid = "paid",
        /// Not paid in time; the hold it kept alive lapses.
        Expired = "expired",
        Refunded = "refunded",
        Failed = "failed",
    }
}

crate::named! {
    /// Who takes the fee (`ANXIN_PAYMENT_PROVIDER`).
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
    #[serde(rename_all = "snake_case")]
    #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
    pub enum ProviderName as "payment provider" {
        /// Development: a page with a Pay button; refused in production.
        Simulated = "simulated",
        /// The Alipay Open Platform (mobile cashier).
        Alipay = "alipay",
        /// No payment step.
        None = "none",
    }
}

crate::named! {
    /// Why a paid fee goes back.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
    #[serde(rename_all = "snake_case")]
    #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
    pub enum RefundReason as "refund reason" {
        /// The booking was cancelled (by anyone) before it started.
        CancelledBeforeStart = "cancelled_before_start",
        /// Paid, but the hold lapsed without a booking.
        HoldLapsed = "hold_lapsed",
        /// The call failed for a reason not the seeker's (the expert did not
        /// answer or was busy, or the call could not be placed).
        CallFailed = "call_failed",
    }
}

/// An amount in fen as yuan with two decimals (`1` → `0.01`), as the pages
/// and Alipay write it.
pub fn yuan(minor: i32) -> String {
    format!("{}.{:02}", minor / 100, minor % 100)
}
