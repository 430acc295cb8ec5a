//! The audit log: who did what to which record. Written in the same
//! transaction as the change it records.
use crate::Result;
use sqlx::PgConnection;
use uuid::Uuid;

/// Who acted: a role and an id that is safe to keep (an operator's or
/// expert's subject, or a seeker's pseudonymous id, never a host-app subject).
#[derive(Debug, Clone)]
pub struct Actor {
    pub role: &'static str,
    pub id: String,
}

#[tracing::instrument(skip(conn, detail))]
pub async fn record(
    conn: &mut PgConnection,
    actor: &Actor,
    action: &str,
    target_type: &str,
    target_id: Uuid,
    detail: serde_json::Value,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO audit_log (actor_role, actor_id, action, target_type, target_id, detail)
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(actor.role)
    .bind(&actor.id)
    .bind(action)
    .bind(target_type)
    .bind(target_id)
    .bind(detail)
    .execute(conn)
    .await?;
    Ok(())
}
