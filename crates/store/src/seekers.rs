//! Seekers, known only by a pseudonymous id and a keyed hash of the host app's
//! subject.
use crate::Result;
use anxin_domain::ids::SeekerId;
use anxin_domain::seeker::PriorityGroup;
use sqlx::PgPool;
use uuid::Uuid;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SeekerRow {
    #[sqlx(try_from = "Uuid")]
    pub id: SeekerId,
    #[sqlx(try_from = "String")]
    pub priority_group: PriorityGroup,
    pub region: Option<String>,
}

/// The seeker with this subject hash, created on first sight.
#[tracing::instrument(skip_all)]
pub async fn resolve(pool: &PgPool, subject_hash: &[u8]) -> Result<SeekerRow> {
    if let Some(row) =
        sqlx::query_as("SELECT id, priority_group, region FROM seekers WHERE subject_hash = $1")
            .bind(subject_hash)
            .fetch_optional(pool)
            .await?
    {
        return Ok(row);
    }
    Ok(sqlx::query_as(
        "INSERT INTO seekers (id, subject_hash) VALUES ($1, $2)
         ON CONFLICT (subject_hash) DO UPDATE SET subject_hash = EXCLUDED.subject_hash
         RETURNING id, priority_group, region",
    )
    .bind(Uuid::new_v4())
    .bind(subject_hash)
    .fetch_one(pool)
    .await?)
}

#[tracing::instrument(skip(pool))]
pub async fn update(
    pool: &PgPool,
    id: SeekerId,
    priority_group: Option<PriorityGroup>,
    region: Option<&str>,
) -> Result<SeekerRow> {
    Ok(sqlx::query_as(
        "UPDATE seekers SET priority_group = COALESCE($2, priority_group),
                            region = COALESCE($3, region), updated_at = now()
          WHERE id = $1 RETURNING id, priority_group, region",
    )
    .bind(id.0)
    .bind(priority_group.map(PriorityGroup::as_str))
    .bind(region)
    .fetch_one(pool)
    .await?)
}
