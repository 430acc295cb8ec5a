//! Holds: the seeker's side (idempotency, the hold limit, the shared rate
//! limit) and the slot's side (the one atomic decision per slot), and the
//! booked markers that mirror Postgres.
use crate::{first, flag, instant, millis, Reserve, ReserveError, Result};
use anxin_domain::ids::{ExpertId, HoldId, SeekerId, SlotId};
use chrono::{DateTime, Utc};
use std::time::Duration;

/// What the expert side of a hold decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SlotHold {
    Held {
        expires_at: DateTime<Utc>,
    },
    /// Held by someone else, booked, or held back for priority groups.
    Unavailable,
    /// Too close to its end (or past).
    TooLate,
    /// Not in the index: unknown, withdrawn, or the index was lost.
    Unknown,
}

/// What the seeker side of a hold decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SeekerHold {
    Acquired {
        expires_at: DateTime<Utc>,
    },
    /// The same idempotency key was used before with the same request.
    Replay {
        hold_id: HoldId,
        slot_id: SlotId,
        expires_at: DateTime<Utc>,
    },
    IdempotencyMismatch,
    HoldLimit,
    /// The shared (cross-instance) hold rate limit: try again after this.
    RateLimited {
        retry_after: Duration,
    },
}

/// A seeker's hold as recorded on their side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HoldRecord {
    pub hold_id: HoldId,
    pub slot_id: SlotId,
    pub expert_id: ExpertId,
    pub expires_at: DateTime<Utc>,
}

impl HoldRecord {
    /// The hold's member in its seeker's set: "hold_id|slot|expert".
    fn member(&self) -> String {
        hold_member(self.hold_id, self.slot_id, self.expert_id)
    }
}

fn hold_member(hold: HoldId, slot: SlotId, expert: ExpertId) -> String {
    format!("{hold}|{slot}|{expert}")
}

impl Reserve {
    /// The seeker's side: idempotency and the hold limit. Must be followed by
    /// `hold_slot`, and undone with `forget_hold` if that fails.
    #[tracing::instrument(skip(self, request_hash))]
    pub async fn acquire_for_seeker(
        &self,
        seeker: SeekerId,
        hold: HoldId,
        slot: SlotId,
        expert: ExpertId,
        idempotency_key: Option<&str>,
        request_hash: &str,
    ) -> Result<SeekerHold> {
        let keys = self.keys.seeker(seeker, idempotency_key);
        let reply = self
            .on_seeker(
                &self.scripts.seeker_acquire,
                keys,
                &[
                    &hold,
                    &slot,
                    &expert,
                    &self.config.max_holds_per_seeker,
                    &millis(self.config.hold_ttl),
                    &request_hash,
                    &millis(self.config.idempotency_ttl),
                    &flag(idempotency_key.is_some()),
                    &millis(self.rate_interval()).max(1),
                    &self.config.holds_per_minute_per_seeker.max(1),
                ],
            )
            .await?;
        match first(&reply) {
            "rate_limited" => Ok(SeekerHold::RateLimited {
                retry_after: Duration::from_millis(
                    reply
                        .get(1)
                        .and_then(|w| w.parse::<u64>().ok())
                        .unwrap_or(1000)
                        .max(1),
                ),
            }),
            "ok" => Ok(SeekerHold::Acquired {
                expires_at: instant(reply.get(1).map_or("", String::as_str))?,
            }),
            "hold_limit" => Ok(SeekerHold::HoldLimit),
            "idem_mismatch" => Ok(SeekerHold::IdempotencyMismatch),
            "replay" => {
                let rest = reply.get(1).map_or("", String::as_str);
                let mut parts = rest.split('|');
                let parsed = (|| {
                    Some(SeekerHold::Replay {
                        hold_id: parts.next()?.parse().ok()?,
                        slot_id: parts.next()?.parse().ok()?,
                        expires_at: instant(parts.next()?).ok()?,
                    })
                })();
                parsed.ok_or_else(|| {
                    ReserveError::Protocol(format!("bad idempotency record {rest:?}"))
                })
            }
            other => Err(ReserveError::Protocol(format!("seeker_acquire: {other:?}"))),
        }
    }

    /// Undoes the seeker's side of a hold (release, failed hold, confirmed).
    pub async fn forget_hold(
        &self,
        seeker: SeekerId,
        hold: &HoldRecord,
        idempotency_key: Option<&str>,
    ) -> Result<()> {
        let keys = self.keys.seeker(seeker, idempotency_key);
        self.on_seeker(
            &self.scripts.seeker_release,
            keys,
            &[&hold.member(), &flag(idempotency_key.is_some())],
        )
        .await?;
        Ok(())
    }

    /// The seeker's record of a live hold.
    pub async fn hold_record(&self, seeker: SeekerId, hold: HoldId) -> Result<Option<HoldRecord>> {
        let reply = self
            .on_seeker(
                &self.scripts.seeker_hold,
                self.keys.seeker(seeker, None),
                &[&hold],
            )
            .await?;
        let [member, expires] = reply.as_slice() else {
            return Ok(None);
        };
        // "hold_id|slot|expert", as `seeker_acquire.lua` writes it.
        let mut parts = member.split('|').skip(1);
        let parsed = (|| {
            Some(HoldRecord {
                hold_id: hold,
                slot_id: parts.next()?.parse().ok()?,
                expert_id: parts.next()?.parse().ok()?,
                expires_at: instant(expires).ok()?,
            })
        })();
        parsed
            .map(Some)
            .ok_or_else(|| ReserveError::Protocol(format!("bad hold record {member:?}")))
    }

    /// The slot's side of a hold: the one atomic decision that makes a slot
    /// go to exactly one seeker.
    #[tracing::instrument(skip(self))]
    pub async fn hold_slot(
        &self,
        expert: ExpertId,
        slot: SlotId,
        hold: HoldId,
        seeker: SeekerId,
        priority_seeker: bool,
    ) -> Result<SlotHold> {
        let reply = self
            .on_expert(
                &self.scripts.hold,
                expert,
                &[
                    &slot,
                    &hold,
                    &seeker,
                    &millis(self.config.hold_ttl),
                    &millis(self.config.cutoff),
                    &flag(priority_seeker),
                ],
            )
            .await?;
        match first(&reply) {
            "ok" => Ok(SlotHold::Held {
                expires_at: instant(reply.get(1).map_or("", String::as_str))?,
            }),
            "unavailable" => Ok(SlotHold::Unavailable),
            "too_late" => Ok(SlotHold::TooLate),
            "unknown" => Ok(SlotHold::Unknown),
            other => Err(ReserveError::Protocol(format!("hold: {other:?}"))),
        }
    }

    /// True when the hold is live; it is then kept alive for at least
    /// `extend` so it can't lapse while its confirmation commits.
    pub async fn verify_hold(
        &self,
        record: &HoldRecord,
        seeker: SeekerId,
        extend: Duration,
    ) -> Result<bool> {
        let reply = self
            .on_expert(
                &self.scripts.verify,
                record.expert_id,
                &[&record.slot_id, &record.hold_id, &seeker, &millis(extend)],
            )
            .await?;
        Ok(first(&reply) == "ok")
    }

    /// Keeps a live hold for at least `extend` more on both its sides (the
    /// slot's and the seeker's), e.g. while its fee is being paid. False
    /// when the hold is gone.
    pub async fn extend_hold(
        &self,
        record: &HoldRecord,
        seeker: SeekerId,
        extend: Duration,
    ) -> Result<bool> {
        if !self.verify_hold(record, seeker, extend).await? {
            return Ok(false);
        }
        let reply = self
            .on_seeker(
                &self.scripts.seeker_extend,
                self.keys.seeker(seeker, None),
                &[&record.member(), &millis(extend)],
            )
            .await?;
        Ok(first(&reply) == "ok")
    }

    /// Lets go of a hold; the slot is open again at once.
    pub async fn release_slot(&self, record: &HoldRecord, seeker: SeekerId) -> Result<bool> {
        let reply = self
            .on_expert(
                &self.scripts.release,
                record.expert_id,
                &[&record.slot_id, &record.hold_id, &seeker],
            )
            .await?;
        Ok(first(&reply) == "ok")
    }

    /// Mirrors a committed booking.
    pub async fn mark_booked(&self, expert: ExpertId, slot: SlotId) -> Result<()> {
        self.on_expert(&self.scripts.book, expert, &[&slot]).await?;
        Ok(())
    }

    /// Mirrors a cancelled booking; `reopen` when the slot has not started.
    pub async fn unmark_booked(&self, expert: ExpertId, slot: SlotId, reopen: bool) -> Result<()> {
        self.on_expert(&self.scripts.unbook, expert, &[&slot, &flag(reopen)])
            .await?;
        Ok(())
    }

    /// Slots of this expert under a live hold.
    pub async fn held_slots(&self, expert: ExpertId) -> Result<Vec<SlotId>> {
        let reply = self.on_expert(&self.scripts.held, expert, &[]).await?;
        Ok(reply.iter().filter_map(|s| s.parse().ok()).collect())
    }

    fn rate_interval(&self) -> Duration {
        Duration::from_millis(60_000 / u64::from(self.config.holds_per_minute_per_seeker.max(1)))
    }
}
