//! Every Redis key Anxin uses is built here and nowhere else.
//!
//! Keys that one script touches together share a hash tag (`{expert:<id>}` or
//! `{seeker:<id>}`), so each script stays inside one hash slot and runs on
//! Redis Cluster. The prefix separates deployments (and tests) sharing a server.
use anxin_domain::ids::{ExpertId, SeekerId};

#[derive(Debug, Clone)]
pub struct Keys {
    prefix: String,
}

/// The six keys of one expert's slot index (see `lua/expert_head.lua`).
pub struct ExpertKeys {
    /// ZSET slot → start (ms): slots neither held nor booked.
    pub open: String,
    /// HASH slot → "starts:ends:priority_until" (ms): every indexed slot.
    pub slots: String,
    /// ZSET slot → expiry (ms) of the hold on it.
    pub hold_expiry: String,
    /// HASH slot → "hold_id:seeker_id": who holds it.
    pub hold_owner: String,
    /// SET of booked slots.
    pub booked: String,
    /// STRING: moves on every write to the five keys above (microseconds of
    /// Redis' clock, never back), so a copy read at one version is current
    /// while the version is (see `Reserve::open_slots_many`).
    pub version: String,
}

impl ExpertKeys {
    /// The keys in the order the expert scripts take them as `KEYS`.
    pub fn all(&self) -> [&str; 6] {
        [
            &self.open,
            &self.slots,
            &self.hold_expiry,
            &self.hold_owner,
            &self.booked,
            &self.version,
        ]
    }
}

/// A seeker's set of holds (with their rate limit's state), and the
/// idempotency record of one request.
pub struct SeekerKeys(pub [String; 2]);

impl Keys {
    pub fn new(prefix: &str) -> Self {
        Self {
            prefix: prefix.replace(['{', '}'], ""),
        }
    }

    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// `<prefix>:{<kind>:<id>}<suffix>`. Built by hand, not with `format!`:
    /// a slate builds one key for each expert it shows, and formatting a
    /// `Uuid` through `Display` was a few percent of a slate's CPU.
    fn tagged(&self, kind: &str, id: &uuid::Uuid, suffix: &str) -> String {
        let mut buf = uuid::Uuid::encode_buffer();
        let id = id.hyphenated().encode_lower(&mut buf);
        [self.prefix.as_str(), ":{", kind, ":", id, "}", suffix].concat()
    }

    /// One expert's `ExpertKeys::version` alone: a slate reads only that of
    /// most experts it shows.
    pub fn expert_version(&self, expert: ExpertId) -> String {
        self.tagged("expert", &expert.0, ":version")
    }

    /// STRING: the digest of the Postgres rows the expert's index was last
    /// rebuilt from (`index::source_digest`); a periodic reconcile leaves an
    /// index whose rows are unchanged as it is.
    pub fn expert_rebuilt_from(&self, expert: ExpertId) -> String {
        self.tagged("expert", &expert.0, ":rebuilt-from")
    }

    pub fn expert(&self, expert: ExpertId) -> ExpertKeys {
        // The tag spelled once, for all six.
        let tag = self.tagged("expert", &expert.0, "");
        let key = |suffix: &str| [tag.as_str(), suffix].concat();
        ExpertKeys {
            open: key(":open"),
            slots: key(":slots"),
            hold_expiry: key(":hold-expiry"),
            hold_owner: key(":hold-owner"),
            booked: key(":booked"),
            version: key(":version"),
        }
    }

    /// `idempotency_key` may be absent; the second key then names a record
    /// that is never written. The seeker's holds, and their rate limit's
    /// state, are members of the first (see `lua/seeker_side.lua`).
    pub fn seeker(&self, seeker: SeekerId, idempotency_key: Option<&str>) -> SeekerKeys {
        SeekerKeys([
            self.tagged("seeker", &seeker.0, ":holds"),
            self.tagged("seeker", &seeker.0, ":idem:") + idempotency_key.unwrap_or("-"),
        ])
    }

    /// Experts whose index has been built, for the slate's candidate list.
    pub fn indexed_experts(&self) -> String {
        format!("{}:experts", self.prefix)
    }

    /// Says whether the open-slot index was built since Redis last started
    /// empty (see `Reserve::index_state`).
    pub fn index_marker(&self) -> String {
        format!("{}:index-built", self.prefix)
    }

    /// Impressions per expert in one time bucket of the exposure window (one
    /// name with the exposure Postgres keeps: `exposure_hourly`).
    pub fn exposure(&self, bucket: i64) -> String {
        format!("{}:exposure:{bucket}", self.prefix)
    }

    /// A seeker's current slate, kept for the stability window.
    pub fn slate(&self, seeker: SeekerId, filter: &str) -> String {
        self.tagged("seeker", &seeker.0, ":slate:") + filter
    }

    pub fn call_events(&self) -> String {
        format!("{}:call-events", self.prefix)
    }

    /// Matches every seeker's set of holds (for tests: a seeker's id is
    /// pseudonymous, so a test finds its hold by looking through them).
    pub fn every_seekers_holds(&self) -> String {
        format!("{}:{{seeker:*}}:holds", self.prefix)
    }

    /// Matches every key under this prefix (for tests and wipes).
    pub fn pattern(&self) -> String {
        format!("{}:*", self.prefix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_experts_version_key_alone_is_the_one_among_its_six() {
        let keys = Keys::new("anxin{test}");
        let Ok(expert) = "00000000-0000-0000-0000-000000000007".parse::<ExpertId>() else {
            panic!("a valid id");
        };
        let all = keys.expert(expert);
        assert_eq!(keys.expert_version(expert), all.version);
        assert_eq!(
            all.version,
            "anxintest:{expert:00000000-0000-0000-0000-000000000007}:version"
        );
    }

    #[test]
    fn keys_spell_ids_as_uuids_do() {
        let keys = Keys::new("p");
        let id = uuid::Uuid::from_u128(0x0123_4567_89ab_cdef_fedc_ba98_7654_3210);
        let expert = ExpertId(id);
        let seeker = SeekerId(id);
        assert_eq!(keys.expert(expert).open, format!("p:{{expert:{id}}}:open"));
        assert_eq!(
            keys.expert_rebuilt_from(expert),
            format!("p:{{expert:{id}}}:rebuilt-from")
        );
        assert_eq!(
            keys.seeker(seeker, Some("k-1")).0,
            [
                format!("p:{{seeker:{id}}}:holds"),
                format!("p:{{seeker:{id}}}:idem:k-1")
            ]
        );
        assert_eq!(
            keys.seeker(seeker, None).0[1],
            format!("p:{{seeker:{id}}}:idem:-")
        );
        assert_eq!(
            keys.slate(seeker, "zh"),
            format!("p:{{seeker:{id}}}:slate:zh")
        );
    }
}
