//! A small in-process TTL cache for lookups on the hot path (a seeker's
//! pseudonymous record, a slot's expert). Each instance keeps its own copy and
//! none is ever needed by another: an entry is at most `ttl` stale, and every
//! decision that must be exact is still made by Redis or Postgres.
//!
//! `Shared` is the other kind: an expensive value (the dashboard's summary)
//! computed by one request at a time and shared by all while it is fresh.
use std::borrow::Borrow;
use std::collections::HashMap;
use std::hash::Hash;
use std::sync::RwLock;
use std::time::{Duration, Instant};

/// Keyed by ids, subjects and verified tokens (see `IdMap`).
type Entries<K, V> = anxin_domain::ids::IdMap<K, (Instant, V)>;

pub struct TtlCache<K, V> {
    entries: RwLock<Entries<K, V>>,
    ttl: Duration,
    capacity: usize,
}

impl<K: Eq + Hash + Clone, V: Clone> TtlCache<K, V> {
    pub fn new(ttl: Duration, capacity: usize) -> Self {
        Self {
            entries: RwLock::new(Entries::default()),
            ttl,
            capacity: capacity.max(1),
        }
    }

    pub fn get<Q>(&self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let entries = self.entries.read().ok()?;
        entries
            .get(key)
            .filter(|(at, _)| at.elapsed() < self.ttl)
            .map(|(_, v)| v.clone())
    }

    pub fn insert(&self, key: K, value: V) {
        if let Ok(mut entries) = self.entries.write() {
            if entries.len() >= self.capacity {
                // Cheap and bounded: drop what expired, and if that is not
                // enough, start over (the next lookups refill it). The clock
                // is read once: this runs under the write lock, over every
                // entry.
                let (ttl, now) = (self.ttl, Instant::now());
                entries.retain(|_, (at, _)| now.duration_since(*at) < ttl);
                if entries.len() >= self.capacity {
                    entries.clear();
                }
            }
            entries.insert(key, (Instant::now(), value));
        }
    }

    /// Inserts those of `entries` not held fresh already, under one read
    /// lock and a write lock only for what is missing: a listing mostly shows
    /// what it showed a moment ago, and a write lock per entry made every
    /// slate wait on the others.
    pub fn fill(&self, entries: impl IntoIterator<Item = (K, V)>) {
        let now = Instant::now();
        let missing: Vec<(K, V)> = {
            let Ok(held) = self.entries.read() else {
                return;
            };
            entries
                .into_iter()
                .filter(|(k, _)| {
                    held.get(k)
                        .is_none_or(|(at, _)| now.duration_since(*at) >= self.ttl)
                })
                .collect()
        };
        for (k, v) in missing {
            self.insert(k, v);
        }
    }

    pub fn clear(&self) {
        if let Ok(mut entries) = self.entries.write() {
            entries.clear();
        }
    }

    pub fn remove<Q>(&self, key: &Q)
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        if let Ok(mut entries) = self.entries.write() {
            entries.remove(key);
        }
    }
}

type SharedSlot<V> = std::sync::Arc<tokio::sync::Mutex<Option<(Instant, std::sync::Arc<V>)>>>;

/// One value per key, computed by one caller at a time: concurrent callers
/// wait for the computation under way and share its result.
pub struct Shared<K, V> {
    slots: std::sync::Mutex<HashMap<K, SharedSlot<V>>>,
}

impl<K, V> Default for Shared<K, V> {
    fn default() -> Self {
        Self {
            slots: std::sync::Mutex::new(HashMap::new()),
        }
    }
}

impl<K: Eq + Hash, V> Shared<K, V> {
    /// The value under `key` if it is younger than `max_age` (and `fresh`
    /// isn't asked for), else `compute`'s, which is kept.
    pub async fn get_or_compute<E>(
        &self,
        key: K,
        max_age: Duration,
        fresh: bool,
        compute: impl std::future::Future<Output = Result<V, E>>,
    ) -> Result<std::sync::Arc<V>, E> {
        let slot = {
            // A poisoned lock only means a panic elsewhere mid-insert; the
            // map itself is still whole.
            let mut slots = self
                .slots
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            slots.entry(key).or_default().clone()
        };
        let mut latest = slot.lock().await;
        if let Some((at, value)) = latest.as_ref().filter(|_| !fresh) {
            if at.elapsed() < max_age {
                return Ok(value.clone());
            }
        }
        let value = std::sync::Arc::new(compute.await?);
        *latest = Some((Instant::now(), value.clone()));
        Ok(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_expire_and_capacity_is_bounded() {
        let c = TtlCache::new(Duration::from_millis(30), 2);
        c.insert(1, "a");
        assert_eq!(c.get(&1), Some("a"));
        std::thread::sleep(Duration::from_millis(40));
        assert_eq!(c.get(&1), None);
        c.insert(2, "b");
        c.insert(3, "c");
        c.insert(4, "d");
        assert!(c.entries.read().unwrap().len() <= 2);
        c.remove(&4);
        assert_eq!(c.get(&4), None);
    }

    #[test]
    fn fill_adds_what_is_missing_or_expired_and_keeps_what_is_fresh() {
        let c = TtlCache::new(Duration::from_millis(30), 10);
        c.insert(1, "kept");
        c.insert(2, "old");
        std::thread::sleep(Duration::from_millis(40));
        c.insert(1, "kept");
        c.fill([(1, "new"), (2, "new"), (3, "new")]);
        assert_eq!(c.get(&1), Some("kept"));
        assert_eq!(c.get(&2), Some("new"));
        assert_eq!(c.get(&3), Some("new"));
    }

    #[tokio::test]
    async fn shared_computes_once_for_concurrent_callers_and_again_when_asked() {
        use std::sync::atomic::{AtomicU32, Ordering};
        let cache: Shared<&str, u32> = Shared::default();
        let runs = AtomicU32::new(0);
        let compute = || async {
            runs.fetch_add(1, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(20)).await;
            Ok::<_, ()>(7)
        };
        let minute = Duration::from_secs(60);
        let (a, b) = tokio::join!(
            cache.get_or_compute("k", minute, false, compute()),
            cache.get_or_compute("k", minute, false, compute())
        );
        assert_eq!((*a.unwrap(), *b.unwrap()), (7, 7));
        assert_eq!(runs.load(Ordering::SeqCst), 1);
        cache
            .get_or_compute("k", minute, true, compute())
            .await
            .unwrap();
        assert_eq!(runs.load(Ordering::SeqCst), 2);
        cache
            .get_or_compute("k", Duration::ZERO, false, compute())
            .await
            .unwrap();
        assert_eq!(runs.load(Ordering::SeqCst), 3);
    }
}
