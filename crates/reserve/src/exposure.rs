//! What a served slate leaves behind: the exposure counters (impressions per
//! expert, per bucket of the exposure window) and the seeker's stable slate.
use crate::{millis, Reserve, Result};
use anxin_domain::ids::{ExpertId, SeekerId};
use std::collections::HashMap;
use std::time::Duration;

/// A slate just served, as `Reserve::record_served` writes it.
#[derive(Debug, Clone, Copy)]
pub struct Served<'a> {
    pub seeker: SeekerId,
    /// The filters' key: a seeker has one stable slate per filter.
    pub filter: &'a str,
    /// The slate as the stability window remembers it (`None`: don't).
    pub remembered: Option<&'a str>,
    pub stability: Duration,
    /// The experts shown, each counted as one impression.
    pub experts: &'a [ExpertId],
    pub bucket: i64,
    /// How long the impression bucket is kept.
    pub window: Duration,
}

impl Reserve {
    /// Records a slate as served, in one round trip: an impression for each
    /// shown expert in the current bucket of the exposure window (which
    /// keeps the bucket for `window`), and the slate itself for the seeker's
    /// stability window.
    pub async fn record_served(&self, served: &Served<'_>) -> Result<()> {
        let mut pipe = redis::pipe();
        if !served.experts.is_empty() {
            let key = self.keys.exposure(served.bucket);
            for e in served.experts {
                pipe.cmd("HINCRBY")
                    .arg(&key)
                    .arg(e.to_string())
                    .arg(1)
                    .ignore();
            }
            pipe.cmd("PEXPIRE")
                .arg(&key)
                .arg(millis(served.window))
                .ignore();
        }
        if let Some(remembered) = served.remembered {
            pipe.cmd("SET")
                .arg(self.keys.slate(served.seeker, served.filter))
                .arg(remembered)
                .arg("PX")
                .arg(millis(served.stability).max(1))
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
