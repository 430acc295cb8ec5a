//! Who takes the token fee: the `PaymentProvider` trait, the simulated
//! provider for development, and Alipay (`alipay`). (`ANXIN_PAYMENT_PROVIDER=none`, or a fee of 0,
//! means no provider and no payment step at all.)
//!
//! A provider turns a payment into the address the seeker pays at, and gives
//! a paid fee back. Its word that a fee was paid arrives on its own route
//! (the simulated page's Pay button; a provider's signed notification) and
//! is recorded by `flows::payments`.
pub mod alipay;

use anxin_domain::payment::ProviderName;
use anxin_store::payments::PaymentRow;
use std::future::Future;
use std::pin::Pin;

/// A provider's answer, boxed so the trait stays object safe.
pub type PayFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, PaymentError>> + Send + 'a>>;

/// A provider refused or could not be reached. The words are safe to store
/// and log: never a key, a signature or a seeker's identity.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct PaymentError(pub String);

pub trait PaymentProvider: Send + Sync {
    fn name(&self) -> ProviderName;

    /// Where the seeker pays this payment.
    fn pay_url(&self, payment: &PaymentRow) -> Result<String, PaymentError>;

    /// Gives the paid fee back. Called again until it succeeds, so a
    /// provider must treat a repeated refund of one payment as one refund.
    fn refund<'a>(&'a self, payment: &'a PaymentRow) -> PayFuture<'a, ()>;

    /// Asks whether a payment still pending here was paid (its
    /// notification is late or lost).
    fn query<'a>(&'a self, payment: &'a PaymentRow) -> PayFuture<'a, Queried>;
}

/// What a provider said of a payment it was asked about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Queried {
    Paid { trade_no: Option<String> },
    NotPaid,
}

/// Development's provider: `/pay/simulated/{payment_id}` shows the amount
/// and a Pay button; a refund always succeeds. Refused in production.
pub struct Simulated {
    /// `ANXIN_PUBLIC_URL`, no trailing `/`.
    pub public_url: String,
}

/// Where the simulated page lives.
pub const SIMULATED_PATH: &str = "/pay/simulated";

impl PaymentProvider for Simulated {
    fn name(&self) -> ProviderName {
        ProviderName::Simulated
    }

    fn pay_url(&self, payment: &PaymentRow) -> Result<String, PaymentError> {
        Ok(format!(
            "{}{SIMULATED_PATH}/{}",
            self.public_url, payment.id
        ))
    }

    fn refund<'a>(&'a self, _payment: &'a PaymentRow) -> PayFuture<'a, ()> {
        Box::pin(async { Ok(()) })
    }

    /// The simulated page records a payment itself; nothing is ever late.
    fn query<'a>(&'a self, _payment: &'a PaymentRow) -> PayFuture<'a, Queried> {
        Box::pin(async { Ok(Queried::NotPaid) })
    }
}
