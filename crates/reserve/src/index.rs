//! The open-slot index: each expert's slots as Redis knows them, the
//! listings the slate reads, counts for weighting, and the marker that says
//! whether the index built from Postgres is still there.
use crate::keys::ExpertKeys;
use crate::{first, flag, millis, shown, Reserve, Result};
use anxin_domain::ids::{ExpertId, SlotId};
use chrono::{DateTime, TimeZone, Utc};
use std::time::Duration;

/// A slot as the index knows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IndexedSlot {
    pub slot_id: SlotId,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    /// Held back for priority groups until then.
    pub priority_until: Option<DateTime<Utc>>,
    /// The expert's local day it falls on (days from the common era), and
    /// how many sessions that day may have (None: no cap). A day that has
    /// them all, held or booked, offers no more of its slots (see
    /// `lua/expert_prelude.lua`).
    pub local_day: i32,
    pub max_sessions_per_day: Option<u32>,
    /// The expert's local week it falls in (the day number of its Monday),
    /// and how many sessions that week may have (None: no cap); a full week
    /// offers none of its slots, as a full day does.
    pub local_week: i32,
    pub max_sessions_per_week: Option<u32>,
}

impl IndexedSlot {
    fn meta(&self) -> String {
        format!(
            "{}:{}:{}:{}:{}:{}:{}",
            self.starts_at.timestamp_millis(),
            self.ends_at.timestamp_millis(),
            self.priority_until.map_or(0, |t| t.timestamp_millis()),
            self.local_day,
            self.max_sessions_per_day.unwrap_or(0),
            self.local_week,
            self.max_sessions_per_week.unwrap_or(0)
        )
    }

    fn parse(slot: &str, meta: &str) -> Option<Self> {
        let mut it = meta.split(':').map(|p| p.parse::<i64>().ok());
        let (s, e, r) = (it.next()??, it.next()??, it.next()??);
        // An index written before the caps existed lacks the day's or the
        // week's fields.
        let (day, cap) = (it.next().flatten(), it.next().flatten());
        let (week, week_cap) = (it.next().flatten(), it.next().flatten());
        Some(Self {
            slot_id: slot.parse().ok()?,
            starts_at: Utc.timestamp_millis_opt(s).single()?,
            ends_at: Utc.timestamp_millis_opt(e).single()?,
            priority_until: (r > 0)
                .then(|| Utc.timestamp_millis_opt(r).single())
                .flatten(),
            local_day: day.and_then(|d| i32::try_from(d).ok()).unwrap_or(0),
            max_sessions_per_day: cap.and_then(|c| u32::try_from(c).ok()).filter(|&c| c > 0),
            local_week: week.and_then(|w| i32::try_from(w).ok()).unwrap_or(0),
            max_sessions_per_week: week_cap
                .and_then(|c| u32::try_from(c).ok())
                .filter(|&c| c > 0),
        })
    }
}

/// Whether Redis still holds the index that was built from Postgres. A
/// restarted or flushed Redis comes back empty, and so without the marker
/// that a completed rebuild leaves (see `lua/index_built.lua`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IndexState {
    /// Built, by the rebuild this token names (each rebuild after a loss
    /// writes a new one, so every instance can tell that one happened).
    Ready(String),
    /// Gone: Redis restarted or was wiped since the last rebuild.
    Missing,
    /// An instance is rebuilding it now.
    Rebuilding,
}

/// The index marker's value while a rebuild runs, and once it is done.
const REBUILDING: &str = "rebuilding:";
const READY: &str = "ready:";

impl Reserve {
    /// Open slots of one expert between two instants, earliest first.
    pub async fn open_slots(
        &self,
        expert: ExpertId,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        priority_seeker: bool,
        limit: usize,
    ) -> Result<Vec<IndexedSlot>> {
        let reply = self
            .on_expert(
                &self.scripts.open,
                expert,
                &[
                    &from.timestamp_millis(),
                    &to.timestamp_millis(),
                    &flag(priority_seeker),
                    &limit,
                ],
            )
            .await?;
        Ok(reply
            .chunks_exact(2)
            .filter_map(|p| IndexedSlot::parse(&p[0], &p[1]))
            .collect())
    }

    /// Open slots of many experts, earliest first, up to `limit` each: what
    /// the slate shows. Plain reads in two pipelined round trips (the open
    /// ids and whether any hold has expired unreaped, then the ids'
    /// metadata), instead of one script per expert: a slate reads ~30
    /// experts, and a script costs Redis several times what its reads do.
    /// Only open slots are in the open set, so nothing held or booked can
    /// show. An expert with an expired hold not yet given back is read
    /// through `open_slots`, whose script gives it back first, so a freed
    /// slot shows at once.
    pub async fn open_slots_many(
        &self,
        experts: &[ExpertId],
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        priority_seeker: bool,
        limit: usize,
    ) -> Result<Vec<Vec<IndexedSlot>>> {
        if experts.is_empty() {
            return Ok(Vec::new());
        }
        let now = Utc::now();
        // Room for the slots held back for priority groups a general seeker skips.
        let page = 2 * limit + 4;
        let keys: Vec<ExpertKeys> = experts.iter().map(|e| self.keys.expert(*e)).collect();
        let mut first = redis::pipe();
        for k in &keys {
            first
                .cmd("ZRANGEBYSCORE")
                .arg(&k.open)
                .arg(from.timestamp_millis())
                .arg(to.timestamp_millis())
                .arg("LIMIT")
                .arg(0)
                .arg(page);
            first
                .cmd("ZCOUNT")
                .arg(&k.hold_expiry)
                .arg("-inf")
                .arg(now.timestamp_millis());
        }
        let replies: Vec<redis::Value> = self.query(&first).await?;
        let mut ids: Vec<Vec<String>> = Vec::with_capacity(experts.len());
        let mut unreaped: Vec<bool> = Vec::with_capacity(experts.len());
        for pair in replies.chunks_exact(2) {
            ids.push(redis::from_redis_value(&pair[0])?);
            unreaped.push(redis::from_redis_value::<u64>(&pair[1])? > 0);
        }
        let mut second = redis::pipe();
        let mut wanted = 0;
        for (i, k) in keys.iter().enumerate() {
            if !unreaped[i] && !ids[i].is_empty() {
                second.cmd("HMGET").arg(&k.slots).arg(&ids[i]);
                wanted += 1;
            }
        }
        let metas: Vec<Vec<Option<String>>> = if wanted > 0 {
            self.query(&second).await?
        } else {
            Vec::new()
        };
        let mut metas = metas.into_iter();
        let mut out = Vec::with_capacity(experts.len());
        for (i, expert) in experts.iter().enumerate() {
            if unreaped[i] {
                out.push(
                    self.open_slots(*expert, from, to, priority_seeker, limit)
                        .await?,
                );
                continue;
            }
            if ids[i].is_empty() {
                out.push(Vec::new());
                continue;
            }
            let meta = metas.next().unwrap_or_default();
            out.push(
                ids[i]
                    .iter()
                    .zip(meta)
                    .filter_map(|(id, m)| IndexedSlot::parse(id, m.as_deref()?))
                    .filter(|s| {
                        s.ends_at > now
                            && (priority_seeker || s.priority_until.is_none_or(|r| r <= now))
                    })
                    .take(limit)
                    .collect(),
            );
        }
        Ok(out)
    }

    /// Adds (or reopens) slots in the index.
    pub async fn upsert_slots(&self, expert: ExpertId, slots: &[IndexedSlot]) -> Result<()> {
        for chunk in slots.chunks(500) {
            let args: Vec<String> = chunk
                .iter()
                .flat_map(|s| [s.slot_id.to_string(), s.meta()])
                .collect();
            self.on_expert(&self.scripts.upsert, expert, &shown(&args))
                .await?;
        }
        self.mark_indexed(expert).await
    }

    /// Takes slots out of the index unless held or booked; returns those kept.
    pub async fn withdraw_slots(&self, expert: ExpertId, slots: &[SlotId]) -> Result<Vec<SlotId>> {
        if slots.is_empty() {
            return Ok(Vec::new());
        }
        let args: Vec<String> = slots.iter().map(ToString::to_string).collect();
        let reply = self
            .on_expert(&self.scripts.withdraw, expert, &shown(&args))
            .await?;
        Ok(reply.iter().filter_map(|s| s.parse().ok()).collect())
    }

    /// Per expert, the start of their earliest open slot from `from` on, in
    /// one round trip. Like `open_counts`, a snapshot for choosing whom to
    /// read fresh: it knows neither priority hold-back nor the cutoff.
    pub async fn earliest_open(
        &self,
        experts: &[ExpertId],
        from: DateTime<Utc>,
    ) -> Result<Vec<Option<DateTime<Utc>>>> {
        if experts.is_empty() {
            return Ok(Vec::new());
        }
        let mut pipe = redis::pipe();
        for e in experts {
            pipe.cmd("ZRANGEBYSCORE")
                .arg(self.keys.expert(*e).open)
                .arg(from.timestamp_millis())
                .arg("+inf")
                .arg("WITHSCORES")
                .arg("LIMIT")
                .arg(0)
                .arg(1);
        }
        let firsts: Vec<Vec<(String, i64)>> = self.query(&pipe).await?;
        Ok(firsts
            .into_iter()
            .map(|f| {
                f.first()
                    .and_then(|(_, ms)| Utc.timestamp_millis_opt(*ms).single())
            })
            .collect())
    }

    /// Per expert, the number of open slots starting in `[from, to]` for
    /// each `to` in `tos`, all in one round trip. Expired holds not yet
    /// reaped count as held here: a slight undercount that only affects
    /// weighting, never what is shown.
    pub async fn open_counts(
        &self,
        experts: &[ExpertId],
        from: DateTime<Utc>,
        tos: &[DateTime<Utc>],
    ) -> Result<Vec<Vec<u32>>> {
        if experts.is_empty() || tos.is_empty() {
            return Ok(vec![Vec::new(); experts.len()]);
        }
        let mut pipe = redis::pipe();
        for e in experts {
            let open = self.keys.expert(*e).open;
            for to in tos {
                pipe.cmd("ZCOUNT")
                    .arg(&open)
                    .arg(from.timestamp_millis())
                    .arg(to.timestamp_millis());
            }
        }
        let flat: Vec<u32> = self.query(&pipe).await?;
        Ok(flat.chunks(tos.len()).map(<[u32]>::to_vec).collect())
    }

    /// Experts whose index exists.
    pub async fn indexed_experts(&self) -> Result<Vec<ExpertId>> {
        let ids: Vec<String> = self
            .query(&*redis::cmd("SMEMBERS").arg(self.keys.indexed_experts()))
            .await?;
        Ok(ids.iter().filter_map(|s| s.parse().ok()).collect())
    }

    /// Replaces one expert's index with Postgres' truth.
    pub async fn rebuild_expert(
        &self,
        expert: ExpertId,
        open: &[IndexedSlot],
        booked: &[SlotId],
    ) -> Result<()> {
        let mut args = vec![open.len().to_string()];
        args.extend(open.iter().flat_map(|s| [s.slot_id.to_string(), s.meta()]));
        args.extend(booked.iter().map(ToString::to_string));
        self.on_expert(&self.scripts.rebuild, expert, &shown(&args))
            .await?;
        self.mark_indexed(expert).await
    }

    async fn mark_indexed(&self, expert: ExpertId) -> Result<()> {
        self.query::<()>(
            &*redis::cmd("SADD")
                .arg(self.keys.indexed_experts())
                .arg(expert.to_string()),
        )
        .await?;
        Ok(())
    }

    /// Drops an expert from the index entirely (suspended).
    pub async fn drop_expert(&self, expert: ExpertId) -> Result<()> {
        let keys = self.keys.expert(expert);
        self.query::<()>(
            &*redis::pipe()
                .cmd("SREM")
                .arg(self.keys.indexed_experts())
                .arg(expert.to_string())
                .cmd("DEL")
                .arg(&keys.all()[..]),
        )
        .await?;
        Ok(())
    }

    /// Whether the index for this expert exists (it vanishes with a wipe).
    pub async fn is_indexed(&self, expert: ExpertId) -> Result<bool> {
        Ok(self
            .query(
                &*redis::cmd("SISMEMBER")
                    .arg(self.keys.indexed_experts())
                    .arg(expert.to_string()),
            )
            .await?)
    }

    /// Whether the index built from Postgres is still there (one `GET`).
    pub async fn index_state(&self) -> Result<IndexState> {
        let marker: Option<String> = self
            .query(&*redis::cmd("GET").arg(self.keys.index_marker()))
            .await?;
        Ok(match marker {
            None => IndexState::Missing,
            Some(m) => match m.strip_prefix(READY) {
                Some(token) => IndexState::Ready(token.to_string()),
                None => IndexState::Rebuilding,
            },
        })
    }

    /// Claims the rebuild of a missing index for `lease` (so N instances
    /// don't all rebuild at once, and one that dies leaves it to another).
    /// True when this caller is to rebuild.
    pub async fn claim_rebuild(&self, token: &str, lease: Duration) -> Result<bool> {
        let set: Option<String> = self
            .query(
                redis::cmd("SET")
                    .arg(self.keys.index_marker())
                    .arg(format!("{REBUILDING}{token}"))
                    .arg("NX")
                    .arg("PX")
                    .arg(millis(lease).max(1)),
            )
            .await?;
        Ok(set.is_some())
    }

    /// Marks the index built by the rebuild `token` claimed. False when the
    /// claim is gone: Redis lost everything again while the rebuild ran, so
    /// what it wrote is incomplete and must be rebuilt.
    pub async fn finish_rebuild(&self, token: &str) -> Result<bool> {
        self.settle_claim(token, &format!("{READY}{token}")).await
    }

    /// Gives back a claim whose rebuild failed.
    pub async fn abandon_rebuild(&self, token: &str) -> Result<()> {
        self.settle_claim(token, "").await?;
        Ok(())
    }

    /// Replaces `token`'s claim with `ready` ('' deletes it), if the claim is
    /// still there; false when it is gone.
    async fn settle_claim(&self, token: &str, ready: &str) -> Result<bool> {
        let marker = self.keys.index_marker();
        let claimed = format!("{REBUILDING}{token}");
        let reply = self
            .eval(&self.scripts.index_built, &[&marker], &[&claimed, &ready])
            .await?;
        Ok(first(&reply) == "ok")
    }
}
