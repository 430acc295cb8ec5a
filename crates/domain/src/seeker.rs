//! Seekers: known to Anxin only by a pseudonymous id and an alias derived from
//! it. The host app's subject is never stored, only a keyed hash of it.
use crate::ids::SeekerId;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum PriorityGroup {
    MedicalWorker,
    Patient,
    BereavedFamily,
    General,
}

impl PriorityGroup {
    pub const ALL: [PriorityGroup; 4] = [
        Self::MedicalWorker,
        Self::Patient,
        Self::BereavedFamily,
        Self::General,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::MedicalWorker => "medical_worker",
            Self::Patient => "patient",
            Self::BereavedFamily => "bereaved_family",
            Self::General => "general",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|g| g.as_str() == s)
    }

    /// Priority seekers may take slots held back for them.
    pub fn is_priority(self) -> bool {
        self != Self::General
    }
}

/// What an expert sees instead of the seeker: `Seeker 3F9A-C21B`. Derived from
/// the pseudonymous id, which itself reveals nothing.
pub fn alias(id: SeekerId) -> String {
    let hex = id.0.simple().to_string().to_uppercase();
    format!("Seeker {}-{}", &hex[..4], &hex[28..32])
}
