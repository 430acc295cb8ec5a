//! The open-slot index: each expert's slots as Redis knows them, the
//! listings the slate reads, counts for weighting, and the marker that says
//! whether the index built from Postgres is still there.
use crate::keys::ExpertKeys;
use crate::{first, flag, millis, shown, Reserve, Result};
use anxin_domain::ids::{ExpertId, IdMap, SlotId};
use chrono::{DateTime, TimeZone, Utc};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Mutex as AsyncMutex, OwnedMutexGuard};

/// A slot as the index knows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
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

/// How far past the asked horizon a copy of an expert's open slots reaches,
/// and how many slots a copy holds at most: about twice what a slate shows
/// of one expert, so the copy keeps serving as slots start and pass. Every
/// write to the expert (a hold) makes the copy stale anyway, and at 10,000
/// experts most reads find no copy: 32 slots a read cost more than they
/// saved (`loadtest/slate-10k.sh` one at a time p50 1.20 → 1.07 ms; the
/// load test's slates took 106 µs of the server's CPU against 127–150).
const COPY_REACH: Duration = Duration::from_secs(3600);
const COPY_SLOTS: usize = 8;

/// One expert's open slots as read at `version`: every open slot starting
/// from `from_ms` to `known_to`, earliest first.
#[derive(Debug)]
pub(crate) struct OpenCopy {
    version: u64,
    from_ms: i64,
    known_to: i64,
    /// When the earliest hold on the expert's slots lapses: its slot is open
    /// again from then, though no script has run.
    lapses_at: Option<i64>,
    slots: Vec<IndexedSlot>,
}

impl OpenCopy {
    /// Read from no later than `from_ms`, and no hold on it lapsed since.
    fn current(&self, from_ms: i64, now_ms: i64) -> bool {
        self.from_ms <= from_ms && self.lapses_at.is_none_or(|ms| now_ms < ms)
    }
}

/// One expert's open ids from `from` on (earliest first, up to
/// `COPY_SLOTS`) and when the earliest hold on their slots lapses.
#[derive(Debug)]
struct Listed {
    ids: Vec<String>,
    lapses_at: Option<i64>,
}

impl Listed {
    /// The two replies a listing's commands gave.
    fn read<'a>(replies: &mut impl Iterator<Item = &'a redis::Value>) -> Result<Self> {
        let ids = redis::from_redis_value(next(replies)?)?;
        let first_hold: Vec<(String, i64)> = redis::from_redis_value(next(replies)?)?;
        Ok(Self {
            ids,
            lapses_at: first_hold.first().map(|(_, ms)| *ms),
        })
    }
}

fn next<'a>(replies: &mut impl Iterator<Item = &'a redis::Value>) -> Result<&'a redis::Value> {
    replies
        .next()
        .ok_or_else(|| crate::ReserveError::Protocol("a pipeline gave too few replies".into()))
}

/// Copies of experts' open slots, by expert, and which experts a request
/// is reading from Redis now (see `Reserve::open_slots_many`). The reading
/// locks are Tokio's, which hand the lock to those waiting in turn: with a
/// lock a later request could take first, a request waiting for an expert
/// whose copy never serves (too few slots to show before its end) was passed
/// over again and again.
#[derive(Debug, Default)]
pub(crate) struct OpenCopies {
    copies: std::sync::RwLock<IdMap<ExpertId, OpenCopy>>,
    reading: std::sync::Mutex<IdMap<ExpertId, Arc<AsyncMutex<()>>>>,
}

/// One `open_slots_many` call's experts and, by index, what it learnt of
/// each: its version, its keys (once needed), its listing (until used) and
/// the slots found.
struct Batch<'a> {
    experts: &'a [ExpertId],
    versions: Vec<Option<u64>>,
    keys: Vec<Option<ExpertKeys>>,
    listed: Vec<Option<Listed>>,
    out: Vec<Option<Vec<IndexedSlot>>>,
}

/// What one `open_slots_many` call asks for.
struct Window {
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    now: DateTime<Utc>,
    from_ms: i64,
    list_from_ms: i64,
    to_ms: i64,
    now_ms: i64,
    reach_ms: i64,
    priority_seeker: bool,
    limit: usize,
}

impl Window {
    /// The commands that list one expert's open ids up to the reach (at
    /// most `COPY_SLOTS`) and their first hold to lapse.
    fn listing(&self, pipe: &mut redis::Pipeline, k: &ExpertKeys) {
        pipe.cmd("ZRANGEBYSCORE")
            .arg(&k.open)
            .arg(self.list_from_ms)
            .arg(self.reach_ms)
            .arg("LIMIT")
            .arg(0)
            .arg(COPY_SLOTS);
        pipe.cmd("ZRANGE")
            .arg(&k.hold_expiry)
            .arg(0)
            .arg(0)
            .arg("WITHSCORES");
    }

    /// What a slate shows of `slots`: those starting in the window up to
    /// `to_ms`, not over, visible to this seeker, at most `limit`.
    fn shown(&self, slots: &[IndexedSlot], to_ms: i64) -> Vec<IndexedSlot> {
        slots
            .iter()
            .filter(|s| {
                let starts = s.starts_at.timestamp_millis();
                starts >= self.from_ms
                    && starts <= to_ms
                    && s.ends_at > self.now
                    && (self.priority_seeker || s.priority_until.is_none_or(|r| r <= self.now))
            })
            .take(self.limit)
            .copied()
            .collect()
    }
}

/// What `Reserve::open_slots_many` found: each expert's open slots, in the
/// order asked, and for how many of them a copy in process served.
#[derive(Debug, Default)]
pub struct OpenSlots {
    pub by_expert: Vec<Vec<IndexedSlot>>,
    pub from_copies: usize,
}

impl OpenCopies {
    fn read(&self) -> std::sync::RwLockReadGuard<'_, IdMap<ExpertId, OpenCopy>> {
        self.copies.read().unwrap_or_else(|e| e.into_inner())
    }

    /// Of the experts at `indices`, those no other request here is reading
    /// now: this request reads them, holding `guards` meanwhile. The others
    /// go to `others`, to wait for.
    fn claim(
        &self,
        experts: &[ExpertId],
        indices: impl IntoIterator<Item = usize>,
        guards: &mut Vec<OwnedMutexGuard<()>>,
        others: &mut Vec<usize>,
    ) -> Vec<usize> {
        let mut reading = self.reading.lock().unwrap_or_else(|e| e.into_inner());
        let mut mine = Vec::new();
        for i in indices {
            match reading
                .entry(experts[i])
                .or_default()
                .clone()
                .try_lock_owned()
            {
                Ok(guard) => {
                    guards.push(guard);
                    mine.push(i);
                }
                Err(_) => others.push(i),
            }
        }
        mine
    }

    /// Until the request reading `expert` now, if any, is done.
    async fn wait_reading(&self, expert: ExpertId) {
        let lock = self
            .reading
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&expert)
            .cloned();
        if let Some(lock) = lock {
            drop(lock.lock_owned().await);
        }
    }

    fn keep(&self, expert: ExpertId, copy: OpenCopy) {
        let mut copies = self.copies.write().unwrap_or_else(|e| e.into_inner());
        // Never replace a copy with one read at an older version.
        if copies
            .get(&expert)
            .is_none_or(|c| c.version <= copy.version)
        {
            copies.insert(expert, copy);
        }
    }
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
                    flag(priority_seeker),
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
    /// the slate shows. Only open slots are in the open set, so nothing held
    /// or booked can show.
    ///
    /// One round trip when nothing changed: each expert's open slots are
    /// kept in process as last read, with the version their keys had (every
    /// script that writes them moves it, see `lua/expert_head.lua`) and
    /// the earliest hold on them to lapse. A copy serves while the version is
    /// unchanged, no hold has lapsed since and it reaches far enough; the
    /// versions are read on every call, so a slot held a moment ago on any
    /// instance is gone from the next slate here. The others are read with
    /// plain reads rather than one script per expert: an expert with no copy
    /// here is listed (open ids, first hold to lapse) in the same round trip
    /// as the versions, a stale copy's expert in a second, then the ids'
    /// metadata in one more. An expert with a lapsed hold not yet given back
    /// is read through `open_slots`, whose script gives it back first, so a
    /// freed slot shows at once.
    pub async fn open_slots_many(
        &self,
        experts: &[ExpertId],
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        priority_seeker: bool,
        limit: usize,
    ) -> Result<OpenSlots> {
        if experts.is_empty() {
            return Ok(OpenSlots::default());
        }
        let now = Utc::now();
        let w = Window {
            from,
            to,
            now,
            from_ms: from.timestamp_millis(),
            // Listed from the start of `from`'s minute, so a copy read by
            // one request serves every other of that minute (each shows from
            // its own `from`), waiting ones included.
            list_from_ms: from.timestamp_millis() - from.timestamp_millis().rem_euclid(60_000),
            to_ms: to.timestamp_millis(),
            now_ms: now.timestamp_millis(),
            // Read a little past `to`, so a copy serves the next slates as
            // the horizon moves on.
            reach_ms: to.timestamp_millis() + COPY_REACH.as_millis() as i64,
            priority_seeker,
            limit,
        };

        // First round trip: every expert's version, and the listing of
        // those with no copy here yet (see `list_now`).
        let had_copy: Vec<bool> = {
            let copies = self.open_copies.read();
            experts.iter().map(|e| copies.contains_key(e)).collect()
        };
        // One read per expert at a time in this process: a burst of slates
        // when no copy serves (at start, after a restart of Redis or a full
        // rebuild, after a run of holds) reads each expert once, not once
        // each. This request reads the experts nobody else here is reading
        // and, after, waits for the others' reads, whose copies then serve.
        let (mut guards, mut others) = (Vec::new(), Vec::new());
        // Listed in the first round trip: no copy here yet, and nobody
        // reading them.
        let mut list_now = vec![false; experts.len()];
        let no_copy = (0..experts.len()).filter(|&i| !had_copy[i]);
        for i in self
            .open_copies
            .claim(experts, no_copy, &mut guards, &mut others)
        {
            list_now[i] = true;
        }
        // Every key of the experts to list; only the version of the others
        // (building all six keys of twenty experts was a slate's largest
        // share of formatting).
        let keys: Vec<Option<ExpertKeys>> = experts
            .iter()
            .zip(&list_now)
            .map(|(e, list)| list.then(|| self.keys.expert(*e)))
            .collect();
        // On one Redis the versions are one MGET, then the listings: twenty
        // GETs cost Redis a command's dispatch each. A cluster's versions
        // sit in as many hash slots as experts, so there each is a GET of
        // its own, beside its expert's listing.
        let get_each = self.is_cluster();
        let version = |cmd: &mut redis::Cmd, e: &ExpertId, k: &Option<ExpertKeys>| {
            match k {
                Some(k) => cmd.arg(&k.version),
                None => cmd.arg(self.keys.expert_version(*e)),
            };
        };
        let mut first = redis::pipe();
        if !get_each {
            let mut mget = redis::cmd("MGET");
            for (e, k) in experts.iter().zip(&keys) {
                version(&mut mget, e, k);
            }
            first.add_command(mget);
        }
        for (e, k) in experts.iter().zip(&keys) {
            if get_each {
                let mut get = redis::cmd("GET");
                version(&mut get, e, k);
                first.add_command(get);
            }
            if let Some(k) = k {
                w.listing(&mut first, k);
            }
        }
        let replies: Vec<redis::Value> = self.query(&first).await?;
        let mut replies = replies.iter();
        let mut b = Batch {
            experts,
            versions: Vec::with_capacity(experts.len()),
            keys,
            listed: Vec::with_capacity(experts.len()),
            out: vec![None; experts.len()],
        };
        if !get_each {
            b.versions = redis::from_redis_value(next(&mut replies)?)?;
            if b.versions.len() != experts.len() {
                return Err(crate::ReserveError::Protocol(
                    "MGET gave a version too few or too many".into(),
                ));
            }
        }
        for list in &list_now {
            if get_each {
                b.versions
                    .push(redis::from_redis_value(next(&mut replies)?)?);
            }
            b.listed.push(if *list {
                Some(Listed::read(&mut replies)?)
            } else {
                None
            });
        }

        // The copies whose version has not moved serve.
        let with_copy: Vec<usize> = (0..experts.len()).filter(|&i| had_copy[i]).collect();
        let stale = self.serve_copies(&w, &mut b, &with_copy);
        let mine = self
            .open_copies
            .claim(experts, stale, &mut guards, &mut others);
        // A read that finished since this request looked may have left a
        // copy that serves.
        let mine = self.serve_copies(&w, &mut b, &mine);
        let mut read = mine.len() + b.listed.iter().filter(|l| l.is_some()).count();
        self.finish_reading(&w, &mut b, &mine).await?;
        // Not held while waiting for others: two requests each reading what
        // the other waits for would wait for ever.
        drop(guards);
        if !others.is_empty() {
            for &i in &others {
                self.open_copies.wait_reading(experts[i]).await;
            }
            // A read that failed, or a write since it, leaves a copy that
            // doesn't serve: those are read here.
            let again = self.serve_copies(&w, &mut b, &others);
            read += again.len();
            self.finish_reading(&w, &mut b, &again).await?;
        }
        Ok(OpenSlots {
            by_expert: b.out.into_iter().map(Option::unwrap_or_default).collect(),
            from_copies: experts.len() - read,
        })
    }

    /// Serves each of `indices` whose copy is current (read at the version
    /// in `versions` or later) into `out`; returns those it could not.
    fn serve_copies(&self, w: &Window, b: &mut Batch<'_>, indices: &[usize]) -> Vec<usize> {
        let copies = self.open_copies.read();
        let mut stale = Vec::new();
        for &i in indices {
            let copy = copies.get(&b.experts[i]).filter(|c| {
                b.versions[i].is_some_and(|v| c.version >= v) && c.current(w.from_ms, w.now_ms)
            });
            // A copy that ends before `to` serves if it has `limit` to
            // show before its end: a fresh read would show the same.
            match copy.map(|c| {
                (
                    c.known_to >= w.to_ms,
                    w.shown(&c.slots, c.known_to.min(w.to_ms)),
                )
            }) {
                Some((whole, slots)) if whole || slots.len() >= w.limit => b.out[i] = Some(slots),
                _ => stale.push(i),
            }
        }
        stale
    }

    /// Lists the experts of `stale` in one round trip, then reads the
    /// metadata of every slot listed (theirs and any listed before) in one
    /// more, into `out`, keeping each as a copy.
    async fn finish_reading(&self, w: &Window, b: &mut Batch<'_>, stale: &[usize]) -> Result<()> {
        if !stale.is_empty() {
            let mut second = redis::pipe();
            for &i in stale {
                w.listing(
                    &mut second,
                    b.keys[i].get_or_insert_with(|| self.keys.expert(b.experts[i])),
                );
            }
            let replies: Vec<redis::Value> = self.query(&second).await?;
            let mut replies = replies.iter();
            for &i in stale {
                b.listed[i] = Some(Listed::read(&mut replies)?);
            }
        }

        // Then the metadata of every slot listed, in one more.
        let lapsed = |l: &Listed| l.lapses_at.is_some_and(|ms| ms <= w.now_ms);
        let mut metas = redis::pipe();
        let mut wanted = 0;
        for (k, l) in b.keys.iter().zip(b.listed.iter()) {
            // Every expert listed has its keys.
            let (Some(k), Some(l)) = (k, l) else { continue };
            if !lapsed(l) && !l.ids.is_empty() {
                metas.cmd("HMGET").arg(&k.slots).arg(&l.ids);
                wanted += 1;
            }
        }
        let metas: Vec<Vec<Option<String>>> = if wanted > 0 {
            self.query(&metas).await?
        } else {
            Vec::new()
        };
        let mut metas = metas.into_iter();
        for i in 0..b.experts.len() {
            // Each listing is used once.
            let Some(l) = b.listed[i].take() else {
                continue;
            };
            if lapsed(&l) {
                // A hold lapsed and was not given back: the script gives it
                // back and lists the expert's slots.
                b.out[i] = Some(
                    self.open_slots(b.experts[i], w.from, w.to, w.priority_seeker, w.limit)
                        .await?,
                );
                continue;
            }
            let slots: Vec<IndexedSlot> = if l.ids.is_empty() {
                Vec::new()
            } else {
                l.ids
                    .iter()
                    .zip(metas.next().unwrap_or_default())
                    .filter_map(|(id, m)| IndexedSlot::parse(id, m.as_deref()?))
                    .collect()
            };
            b.out[i] = Some(w.shown(&slots, w.to_ms));
            // The version was read before the slots: a write in between
            // makes the copy stale at once, never wrong. No version (the
            // keys are gone) keeps no copy.
            if let Some(version) = b.versions[i] {
                // All slots up to the reach were listed, or up to just
                // before the last one's start (others may share it).
                let known_to = if l.ids.len() < COPY_SLOTS {
                    w.reach_ms
                } else {
                    slots
                        .last()
                        .map_or(w.list_from_ms, |s| s.starts_at.timestamp_millis() - 1)
                };
                self.open_copies.keep(
                    b.experts[i],
                    OpenCopy {
                        version,
                        from_ms: w.list_from_ms,
                        known_to,
                        lapses_at: l.lapses_at,
                        slots,
                    },
                );
            }
        }
        Ok(())
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
        self.mark_indexed(expert, None).await
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

    /// Replaces one expert's index with Postgres' truth, and records which
    /// truth it was (`source_digest`).
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
        self.mark_indexed(expert, Some(source_digest(open, booked)))
            .await
    }

    /// Records that the expert has an index, and, after a rebuild, the
    /// digest of the rows it was built from.
    async fn mark_indexed(&self, expert: ExpertId, rebuilt_from: Option<String>) -> Result<()> {
        let mut pipe = redis::pipe();
        pipe.cmd("SADD")
            .arg(self.keys.indexed_experts())
            .arg(expert.to_string());
        if let Some(digest) = rebuilt_from {
            pipe.cmd("SET")
                .arg(self.keys.expert_rebuilt_from(expert))
                .arg(digest);
        }
        self.query::<()>(&pipe).await?;
        Ok(())
    }

    /// For each expert with the rows Postgres has for them now, whether
    /// their index is still there and was last rebuilt from exactly those
    /// rows (`rebuild_expert` records their digest). One round trip for them
    /// all (a pipeline per node on a cluster).
    pub async fn rebuilt_from(
        &self,
        experts: &[(ExpertId, &[IndexedSlot], &[SlotId])],
    ) -> Result<Vec<bool>> {
        if experts.is_empty() {
            return Ok(Vec::new());
        }
        let mut pipe = redis::pipe();
        for (e, _, _) in experts {
            pipe.cmd("GET")
                .arg(self.keys.expert_rebuilt_from(*e))
                .cmd("EXISTS")
                .arg(self.keys.expert(*e).slots);
        }
        let replies: Vec<redis::Value> = self.query(&pipe).await?;
        Ok(replies
            .chunks(2)
            .zip(experts)
            .map(|(pair, (_, open, booked))| match pair {
                [redis::Value::BulkString(digest), redis::Value::Int(1)] => {
                    *digest == source_digest(open, booked).into_bytes()
                }
                _ => false,
            })
            .collect())
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
                .arg(&keys.all()[..])
                .arg(self.keys.expert_rebuilt_from(expert)),
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

    /// Keeps `token`'s claim for another `lease`, if it is still there;
    /// false when it is gone (Redis lost it, or the lease ran out first).
    pub async fn renew_rebuild(&self, token: &str, lease: Duration) -> Result<bool> {
        let marker = self.keys.index_marker();
        let claimed = format!("{REBUILDING}{token}");
        let reply = self
            .eval(
                &self.scripts.index_built,
                &[&marker],
                &[&claimed, &"", &millis(lease).max(1)],
            )
            .await?;
        Ok(first(&reply) == "ok")
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

/// A digest of one expert's rows in Postgres as `rebuild_expert` takes them:
/// the same whatever order they came in, and different (but for a 64-bit
/// collision) when any slot, its times, caps or priority, or any booking
/// differs. Every build of the same code computes it alike; another build
/// may not, which costs one rebuild.
fn source_digest(open: &[IndexedSlot], booked: &[SlotId]) -> String {
    use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher};
    let hasher = BuildHasherDefault::<DefaultHasher>::default();
    let open_sum = open
        .iter()
        .fold(0u64, |sum, s| sum.wrapping_add(hasher.hash_one(s)));
    let booked_sum = booked
        .iter()
        .fold(0u64, |sum, s| sum.wrapping_add(hasher.hash_one(s)));
    format!(
        "{}:{open_sum:016x}:{}:{booked_sum:016x}",
        open.len(),
        booked.len()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A request that waits for another's read of an expert gets its turn
    /// when that read ends: a request that comes later does not take the
    /// read from it. (With a lock that let later requests in first, those
    /// waiting were passed over again and again under load: 1 % of the
    /// demo's slates at 200 connections took 0.3-1.9 s.)
    #[tokio::test]
    async fn a_request_waiting_for_a_read_is_not_passed_over_by_a_later_one() {
        let copies = Arc::new(OpenCopies::default());
        let expert = [ExpertId::new()];
        let (mut reading, mut others) = (Vec::new(), Vec::new());
        assert_eq!(copies.claim(&expert, [0], &mut reading, &mut others), [0]);

        let waiter = tokio::spawn({
            let copies = copies.clone();
            async move { copies.wait_reading(expert[0]).await }
        });
        // The waiter runs until it waits for the read (one thread: it has
        // run when this task yields).
        tokio::task::yield_now().await;
        assert!(!waiter.is_finished());
        drop(reading);

        let (mut later, mut later_others) = (Vec::new(), Vec::new());
        let mine = copies.claim(&expert, [0], &mut later, &mut later_others);
        assert!(
            mine.is_empty(),
            "a later request took the read before the one waiting"
        );
        assert_eq!(later_others, [0]);
        waiter.await.unwrap();
        // The waiter's turn is over: the next request reads.
        assert_eq!(
            copies.claim(&expert, [0], &mut later, &mut later_others),
            [0]
        );
    }
}
