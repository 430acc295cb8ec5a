//! What a served slate leaves behind: the exposure counters (impressions per
//! expert, per bucket of the exposure window) and the seeker's stable slate.
use crate::{millis, Reserve, Result};
use anxin_domain::ids::{ExpertId, IdMap, SeekerId};
use std::collections::HashMap;
use std::time::Duration;

impl Reserve {
    /// Keeps the slate a seeker was just shown for the stability window
    /// (`filter`: a seeker has one stable slate per filter).
    pub async fn remember_slate(
        &self,
        seeker: SeekerId,
        filter: &str,
        remembered: &str,
        stability: Duration,
    ) -> Result<()> {
        self.query::<()>(
            redis::cmd("SET")
                .arg(self.keys.slate(seeker, filter))
                .arg(remembered)
                .arg("PX")
                .arg(millis(stability).max(1)),
        )
        .await?;
        Ok(())
    }

    /// Adds impressions, counted in process, to their buckets of the
    /// exposure window in one round trip; each bucket written is kept for
    /// `window`.
    pub async fn add_impressions(
        &self,
        counted: &IdMap<(i64, ExpertId), u64>,
        window: Duration,
    ) -> Result<()> {
        if counted.is_empty() {
            return Ok(());
        }
        let mut pipe = redis::pipe();
        let mut buckets: Vec<i64> = Vec::new();
        for ((bucket, expert), n) in counted {
            pipe.cmd("HINCRBY")
                .arg(self.keys.exposure(*bucket))
                .arg(expert.to_string())
                .arg(*n)
                .ignore();
            if !buckets.contains(bucket) {
                buckets.push(*bucket);
            }
        }
        for bucket in buckets {
            pipe.cmd("PEXPIRE")
                .arg(self.keys.exposure(bucket))
                .arg(millis(window))
                .ignore();
        }
        self.query::<()>(&pipe).await?;
        Ok(())
    }

    /// Impressions per expert summed over the given buckets.
    pub async fn exposure(&self, buckets: &[i64]) -> Result<HashMap<ExpertId, u64>> {
        let mut pipe = redis::pipe();
        for b in buckets {
            pipe.cmd("HGETALL").arg(self.keys.exposure(*b));
        }
        let maps: Vec<HashMap<String, u64>> = self.query(&pipe).await?;
        let mut out = HashMap::new();
        for m in maps {
            for (k, v) in m {
                if let Ok(id) = k.parse() {
                    *out.entry(id).or_insert(0) += v;
                }
            }
        }
        Ok(out)
    }

    /// A value kept for a while under a seeker-scoped key (the stable slate).
    pub async fn get_slate(&self, seeker: SeekerId, filter: &str) -> Result<Option<String>> {
        Ok(self
            .query(&*redis::cmd("GET").arg(self.keys.slate(seeker, filter)))
            .await?)
    }
}
