//! Organisations: applications, vetting into numbered batches, the public
//! list, and which experts belong to which.
use crate::crypto::Sealed;
use crate::Result;
use anxin_domain::organisation::{OrganisationApplication, OrganisationKind, OrganisationStatus};
use chrono::{DateTime, Utc};
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, PgPool, Row};
use uuid::Uuid;

/// An organisation as operators see it (the contact phone stays sealed).
#[derive(Debug, Clone)]
pub struct OrganisationRow {
    pub id: Uuid,
    pub name: String,
    pub kind: OrganisationKind,
    pub region: String,
    pub contact_name: String,
    pub contact_phone: Sealed,
    pub description: String,
    pub status: OrganisationStatus,
    pub batch: Option<i32>,
    pub approved_at: Option<DateTime<Utc>>,
    pub reject_reason: Option<String>,
    pub created_at: DateTime<Utc>,
}

fn decode_err(index: &str, what: String) -> sqlx::Error {
    sqlx::Error::ColumnDecode {
        index: index.into(),
        source: what.into(),
    }
}

fn row(r: &PgRow) -> std::result::Result<OrganisationRow, sqlx::Error> {
    let kind: String = r.try_get("kind")?;
    let status: String = r.try_get("status")?;
    Ok(OrganisationRow {
        id: r.try_get("id")?,
        name: r.try_get("name")?,
        kind: OrganisationKind::parse(&kind).ok_or_else(|| decode_err("kind", kind.clone()))?,
        region: r.try_get("region")?,
        contact_name: r.try_get("contact_name")?,
        contact_phone: Sealed {
            key_id: r.try_get("contact_phone_key_id")?,
            bytes: r.try_get("contact_phone_ciphertext")?,
        },
        description: r.try_get("description")?,
        status: OrganisationStatus::parse(&status)
            .ok_or_else(|| decode_err("status", status.clone()))?,
        batch: r.try_get("batch")?,
        approved_at: r.try_get("approved_at")?,
        reject_reason: r.try_get("reject_reason")?,
        created_at: r.try_get("created_at")?,
    })
}

fn rows(list: Vec<PgRow>) -> Result<Vec<OrganisationRow>> {
    Ok(list
        .iter()
        .map(row)
        .collect::<std::result::Result<_, _>>()?)
}

const COLUMNS: &str = "id, name, kind, region, contact_name, contact_phone_ciphertext, \
                       contact_phone_key_id, description, status, batch, approved_at, \
                       reject_reason, created_at";

#[tracing::instrument(skip_all)]
pub async fn insert(pool: &PgPool, a: &OrganisationApplication, phone: &Sealed) -> Result<Uuid> {
    let id = Uuid::new_v4();
    sqlx::query(
        "INSERT INTO organisations (id, name, kind, region, contact_name, contact_phone_ciphertext,
                                    contact_phone_key_id, description)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(id)
    .bind(&a.name)
    .bind(a.kind.as_str())
    .bind(&a.region)
    .bind(&a.contact_name)
    .bind(&phone.bytes)
    .bind(&phone.key_id)
    .bind(&a.description)
    .execute(pool)
    .await?;
    Ok(id)
}

pub async fn get(pool: &PgPool, id: Uuid) -> Result<Option<OrganisationRow>> {
    let found = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM organisations WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(pool)
    .await?;
    Ok(found.as_ref().map(row).transpose()?)
}

/// Approved organisations, by batch and approval, of a region and kind when
/// given: the public list.
#[tracing::instrument(skip(pool))]
pub async fn published(
    pool: &PgPool,
    region: Option<&str>,
    kind: Option<OrganisationKind>,
) -> Result<Vec<OrganisationRow>> {
    rows(
        sqlx::query(&format!(
            "SELECT {COLUMNS} FROM organisations
              WHERE status = 'approved' AND ($1::text IS NULL OR region = $1)
                AND ($2::text IS NULL OR kind = $2)
              ORDER BY batch, approved_at, name"
        ))
        .bind(region)
        .bind(kind.map(OrganisationKind::as_str))
        .fetch_all(pool)
        .await?,
    )
}

/// Organisations with this status, oldest first (the vetting queue).
pub async fn with_status(
    pool: &PgPool,
    status: OrganisationStatus,
) -> Result<Vec<OrganisationRow>> {
    rows(
        sqlx::query(&format!(
            "SELECT {COLUMNS} FROM organisations WHERE status = $1 ORDER BY created_at, id LIMIT 200"
        ))
        .bind(status.as_str())
        .fetch_all(pool)
        .await?,
    )
}

/// The batch a new approval joins when none is named: the latest one, or
/// the first.
pub async fn current_batch(conn: &mut PgConnection) -> Result<i32> {
    let latest: Option<i32> = sqlx::query_scalar("SELECT max(batch) FROM organisations")
        .fetch_one(conn)
        .await?;
    Ok(latest.unwrap_or(1))
}

/// Moves an organisation from one of `from` to `to` (with the batch and
/// reason the move needs); `None` when it is in none of them.
pub async fn transition(
    conn: &mut PgConnection,
    id: Uuid,
    from: &[OrganisationStatus],
    to: OrganisationStatus,
    batch: Option<i32>,
    reason: Option<&str>,
) -> Result<Option<OrganisationRow>> {
    let from: Vec<&str> = from.iter().map(|s| s.as_str()).collect();
    let found = sqlx::query(&format!(
        "UPDATE organisations
            SET status = $3,
                batch = coalesce($4, batch),
                approved_at = CASE WHEN $3 = 'approved' THEN coalesce(approved_at, now()) ELSE approved_at END,
                reject_reason = CASE WHEN $3 = 'rejected' THEN $5 ELSE NULL END
          WHERE id = $1 AND status = ANY($2) RETURNING {COLUMNS}"
    ))
    .bind(id)
    .bind(&from)
    .bind(to.as_str())
    .bind(batch)
    .bind(reason)
    .fetch_optional(conn)
    .await?;
    Ok(found.as_ref().map(row).transpose()?)
}

/// The organisation's experts with this status.
pub async fn experts_with_status(pool: &PgPool, id: Uuid, status: &str) -> Result<Vec<Uuid>> {
    Ok(
        sqlx::query_scalar("SELECT id FROM experts WHERE organisation_id = $1 AND status = $2")
            .bind(id)
            .bind(status)
            .fetch_all(pool)
            .await?,
    )
}

/// The organisation an expert belongs to, if any.
pub async fn of_expert(pool: &PgPool, expert: Uuid) -> Result<Option<Uuid>> {
    Ok(
        sqlx::query_scalar::<_, Option<Uuid>>("SELECT organisation_id FROM experts WHERE id = $1")
            .bind(expert)
            .fetch_optional(pool)
            .await?
            .flatten(),
    )
}

/// An organisation's experts, as its administrators see them.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct MemberRow {
    pub id: Uuid,
    pub display_name: String,
    pub status: String,
    pub region: String,
    pub bio: Option<String>,
    pub created_at: DateTime<Utc>,
    pub supervisor: bool,
    /// Every required training module done.
    pub training_complete: bool,
}

pub async fn members(pool: &PgPool, organisation: Uuid) -> Result<Vec<MemberRow>> {
    Ok(sqlx::query_as(
        "SELECT e.id, e.display_name, e.status, e.region, e.bio, e.created_at, e.supervisor,
                NOT EXISTS (SELECT 1 FROM training_modules m
                             WHERE m.required AND NOT EXISTS (
                                   SELECT 1 FROM training_completions c
                                    WHERE c.module_id = m.id AND c.expert_id = e.id))
                  AS training_complete
           FROM experts e
          WHERE e.organisation_id = $1 ORDER BY e.status = 'approved', e.created_at, e.id LIMIT 1000",
    )
    .bind(organisation)
    .fetch_all(pool)
    .await?)
}

/// Puts an expert in an organisation.
pub async fn join(conn: &mut PgConnection, expert: Uuid, organisation: Uuid) -> Result<()> {
    sqlx::query("UPDATE experts SET organisation_id = $2 WHERE id = $1")
        .bind(expert)
        .bind(organisation)
        .execute(conn)
        .await?;
    Ok(())
}

/// The demo: the demo experts of a region with no organisation join this
/// one.
pub async fn adopt_demo_experts(
    conn: &mut PgConnection,
    organisation: Uuid,
    region: &str,
) -> Result<()> {
    sqlx::query(
        "UPDATE experts SET organisation_id = $1
          WHERE demo AND region = $2 AND organisation_id IS NULL",
    )
    .bind(organisation)
    .bind(region)
    .execute(conn)
    .await?;
    Ok(())
}

/// The names of these organisations.
#[tracing::instrument(skip_all, fields(organisations = ids.len()))]
pub async fn names(pool: &PgPool, ids: &[Uuid]) -> Result<Vec<(Uuid, String)>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    Ok(
        sqlx::query_as("SELECT id, name FROM organisations WHERE id = ANY($1)")
            .bind(ids)
            .fetch_all(pool)
            .await?,
    )
}
