//! Holds: the seeker's side (idempotency, the hold limit, the shared rate
//! limit) and the slot's side (the one atomic decision per slot), and the
//! booked markers that mirror Postgres.
use crate::{first, flag, instant, millis, Arg, Reserve, ReserveError, Result};
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

/// What the seeker's side of a hold decided on its own (a cluster's first
/// step).
#[derive(Debug, Clone, PartialEq, Eq)]
enum SeekerSide {
    Acquired { expires_at: DateTime<Utc> },
    Answered(Hold),
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

/// One hold asked for: who, which slot, and the request's idempotency.
#[derive(Debug, Clone, Copy)]
pub struct HoldRequest<'a> {
    pub seeker: SeekerId,
    pub hold: HoldId,
    pub slot: SlotId,
    pub expert: ExpertId,
    /// The seeker is in a priority group, for whom slots may be held back.
    pub priority_seeker: bool,
    pub idempotency_key: Option<&'a str>,
    /// Says which request an idempotency key was first used with (only
    /// read when there is a key).
    pub request_hash: &'a str,
}

/// What a hold came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Hold {
    /// Both sides took it; the seeker's record of it expires at `expires_at`
    /// (the slot's at the same time, or a moment later).
    Held {
        expires_at: DateTime<Utc>,
    },
    /// The same idempotency key was used before with the same request.
    Replay {
        hold_id: HoldId,
        slot_id: SlotId,
        expires_at: DateTime<Utc>,
    },
    IdempotencyMismatch,
    /// The seeker has as many live holds as they may.
    HoldLimit,
    /// The shared (cross-instance) hold rate limit: try again after this.
    RateLimited {
        retry_after: Duration,
    },
    /// The slot's side refused: held by someone else, booked, or held back
    /// for priority groups. The seeker keeps no record of the attempt, only
    /// its place under the rate limit spent.
    Unavailable,
    /// Too close to its end (or past).
    TooLate,
    /// Not in the index: unknown, withdrawn, or (after its rebuild) gone.
    Unknown,
}

impl From<SlotHold> for Hold {
    fn from(slot: SlotHold) -> Self {
        match slot {
            SlotHold::Held { expires_at } => Self::Held { expires_at },
            SlotHold::Unavailable => Self::Unavailable,
            SlotHold::TooLate => Self::TooLate,
            SlotHold::Unknown => Self::Unknown,
        }
    }
}

/// The slot's side's arguments, in `hold.lua`'s order (its settings are in
/// the script).
fn slot_args<'a>(
    slot: &'a SlotId,
    hold: &'a HoldId,
    seeker: &'a SeekerId,
    priority: bool,
) -> [Arg<'a>; 4] {
    [slot, hold, seeker, flag(priority)]
}

/// The slot side's answer (`hold.lua`).
fn slot_answer(reply: &[String]) -> Result<SlotHold> {
    match first(reply) {
        "ok" => Ok(SlotHold::Held {
            expires_at: instant(reply.get(1).map_or("", String::as_str))?,
        }),
        "unavailable" => Ok(SlotHold::Unavailable),
        "too_late" => Ok(SlotHold::TooLate),
        "unknown" => Ok(SlotHold::Unknown),
        other => Err(ReserveError::Protocol(format!("hold: {other:?}"))),
    }
}

/// The seeker side's answer (`seeker_side.lua`) when it is not "ok".
fn seeker_refusal(reply: &[String]) -> Result<Hold> {
    match first(reply) {
        "rate_limited" => Ok(Hold::RateLimited {
            retry_after: Duration::from_millis(
                reply
                    .get(1)
                    .and_then(|w| w.parse::<u64>().ok())
                    .unwrap_or(1000)
                    .max(1),
            ),
        }),
        "hold_limit" => Ok(Hold::HoldLimit),
        "idem_mismatch" => Ok(Hold::IdempotencyMismatch),
        "replay" => {
            let rest = reply.get(1).map_or("", String::as_str);
            let mut parts = rest.split('|');
            let parsed = (|| {
                Some(Hold::Replay {
                    hold_id: parts.next()?.parse().ok()?,
                    slot_id: parts.next()?.parse().ok()?,
                    expires_at: instant(parts.next()?).ok()?,
                })
            })();
            parsed.ok_or_else(|| ReserveError::Protocol(format!("bad idempotency record {rest:?}")))
        }
        other => Err(ReserveError::Protocol(format!("seeker side: {other:?}"))),
    }
}

/// The seeker side's answer alone (`seeker_acquire.lua`).
fn seeker_side(reply: &[String]) -> Result<SeekerSide> {
    if first(reply) == "ok" {
        return Ok(SeekerSide::Acquired {
            expires_at: instant(reply.get(1).map_or("", String::as_str))?,
        });
    }
    seeker_refusal(reply).map(SeekerSide::Answered)
}

impl Reserve {
    /// Places a hold: the seeker's side (idempotency, the shared rate limit,
    /// the hold limit), then the slot's. On one Redis both run as one script
    /// (`hold_both.lua`); on a cluster, where their keys are in different
    /// hash slots, the seeker's side goes first and is undone if the slot's
    /// side refuses or fails, so a seeker is never charged a hold they did
    /// not get. When the slot is unknown because its expert's index is gone
    /// (Redis wiped or restarted), `rebuild` puts it back from Postgres and
    /// the slot is asked for once more.
    #[tracing::instrument(skip_all)]
    pub async fn hold<E, F, Fut>(
        &self,
        request: &HoldRequest<'_>,
        rebuild: F,
    ) -> std::result::Result<Hold, E>
    where
        E: From<ReserveError>,
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = std::result::Result<(), E>>,
    {
        let r = request;
        if !self.is_cluster() {
            return self
                .deciding(
                    r.expert,
                    || self.hold_in_one(r),
                    |answer| *answer == Hold::Unknown,
                    rebuild,
                )
                .await;
        }
        // On a cluster: the seeker's side, then the slot's, each on its own
        // node.
        let reply = self
            .on_seeker(
                &self.scripts.seeker_acquire,
                self.keys.seeker(r.seeker, r.idempotency_key),
                &[
                    &r.hold,
                    &r.slot,
                    &r.expert,
                    &r.request_hash,
                    flag(r.idempotency_key.is_some()),
                ],
            )
            .await?;
        let expires_at = match seeker_side(&reply)? {
            SeekerSide::Acquired { expires_at } => expires_at,
            SeekerSide::Answered(answer) => return Ok(answer),
        };
        let record = HoldRecord {
            hold_id: r.hold,
            slot_id: r.slot,
            expert_id: r.expert,
            expires_at,
        };
        let decided = self
            .deciding(
                r.expert,
                || self.hold_slot(r.expert, r.slot, r.hold, r.seeker, r.priority_seeker),
                |decision| *decision == SlotHold::Unknown,
                rebuild,
            )
            .await;
        match decided {
            Ok(SlotHold::Held { .. }) => Ok(Hold::Held { expires_at }),
            Ok(refusal) => {
                self.forget_hold(r.seeker, &record, r.idempotency_key)
                    .await?;
                Ok(refusal.into())
            }
            Err(e) => {
                // Don't leave the seeker charged with a hold they did not get.
                let _ = self.forget_hold(r.seeker, &record, r.idempotency_key).await;
                Err(e)
            }
        }
    }

    /// `decide`, and once more after `rebuild` if it found the slot unknown
    /// because its expert's index is gone.
    async fn deciding<T, D, DFut, E, F, Fut>(
        &self,
        expert: ExpertId,
        decide: D,
        unknown: impl Fn(&T) -> bool,
        rebuild: F,
    ) -> std::result::Result<T, E>
    where
        D: Fn() -> DFut,
        DFut: std::future::Future<Output = Result<T>>,
        E: From<ReserveError>,
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = std::result::Result<(), E>>,
    {
        let answer = decide().await?;
        if !unknown(&answer) || self.is_indexed(expert).await? {
            return Ok(answer);
        }
        rebuild().await?;
        Ok(decide().await?)
    }

    /// Both sides in one script, on a Redis that has both.
    async fn hold_in_one(&self, r: &HoldRequest<'_>) -> Result<Hold> {
        let [a1, a2, a3, a4] = slot_args(&r.slot, &r.hold, &r.seeker, r.priority_seeker);
        let args: [Arg<'_>; 7] = [
            a1,
            a2,
            a3,
            a4,
            &r.expert,
            &r.request_hash,
            flag(r.idempotency_key.is_some()),
        ];
        let reply = self
            .on_both(
                &self.scripts.hold_both,
                r.expert,
                self.keys.seeker(r.seeker, r.idempotency_key),
                &args,
            )
            .await?;
        // "ok" carries the seeker's expiry, which is also the slot's.
        match first(&reply) {
            "ok" | "unavailable" | "too_late" | "unknown" => Ok(slot_answer(&reply)?.into()),
            _ => seeker_refusal(&reply),
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
            &[&hold.member(), flag(idempotency_key.is_some())],
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
        // "hold_id|slot|expert", as `seeker_side.lua` writes it.
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
                &slot_args(&slot, &hold, &seeker, priority_seeker),
            )
            .await?;
        slot_answer(&reply)
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

    /// Mirrors a committed booking on both sides: the slot booked and the
    /// seeker's record of the hold dropped. On one Redis one script
    /// (`book_both.lua`); on a cluster, where the two sides' keys are in
    /// different hash slots, their two scripts are sent together. Only the
    /// slot's side's failure is returned: the seeker's record of a hold
    /// lapses by itself at the hold's expiry.
    pub async fn booked(&self, seeker: SeekerId, record: &HoldRecord) -> Result<()> {
        if self.is_cluster() {
            let (mirrored, _) = futures_util::join!(
                self.mark_booked(record.expert_id, record.slot_id),
                self.forget_hold(seeker, record, None)
            );
            return mirrored;
        }
        self.on_both(
            &self.scripts.book_both,
            record.expert_id,
            self.keys.seeker(seeker, None),
            &[&record.slot_id, &record.member()],
        )
        .await?;
        Ok(())
    }

    /// Mirrors a cancelled booking; `reopen` when the slot has not started.
    pub async fn unmark_booked(&self, expert: ExpertId, slot: SlotId, reopen: bool) -> Result<()> {
        self.on_expert(&self.scripts.unbook, expert, &[&slot, flag(reopen)])
            .await?;
        Ok(())
    }

    /// Slots of this expert under a live hold.
    pub async fn held_slots(&self, expert: ExpertId) -> Result<Vec<SlotId>> {
        let reply = self.on_expert(&self.scripts.held, expert, &[]).await?;
        Ok(reply.iter().filter_map(|s| s.parse().ok()).collect())
    }
}
