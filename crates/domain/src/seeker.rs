//! Seekers: known to Anxin only by a pseudonymous id and an alias derived from
//! it. The host app's subject is never stored, only a keyed hash of it.
use crate::ids::SeekerId;
use serde::{Deserialize, Serialize};

crate::named! {
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
    #[serde(rename_all = "snake_case")]
    #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
    pub enum PriorityGroup as "priority group" {
        MedicalWorker = "medical_worker",
        Patient = "patient",
        BereavedFamily = "bereaved_family",
        General = "general",
    }
}

impl PriorityGroup {
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
