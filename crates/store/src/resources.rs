//! The directory of resources for referral, per region.
use crate::Result;
use anxin_domain::resource::{Resource, ResourceKind};
use sqlx::postgres::PgRow;
use sqlx::{PgPool, Row};
use uuid::Uuid;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceRow {
    pub id: Uuid,
    pub resource: Resource,
}

fn row(r: &PgRow) -> std::result::Result<ResourceRow, sqlx::Error> {
    let kind: String = r.try_get("kind")?;
    Ok(ResourceRow {
        id: r.try_get("id")?,
        resource: Resource {
            name: r.try_get("name")?,
            kind: ResourceKind::parse(&kind).ok_or_else(|| sqlx::Error::ColumnDecode {
                index: "kind".into(),
                source: format!("unknown resource kind {kind:?}").into(),
            })?,
            region: r.try_get("region")?,
            phone: r.try_get("phone")?,
            hours: r.try_get("hours")?,
            address: r.try_get("address")?,
        },
    })
}

const COLUMNS: &str = "id, name, kind, region, phone, hours, address";

/// Resources in service, of a region and a kind when given, hotlines first
/// then by name.
#[tracing::instrument(skip(pool))]
pub async fn list(
    pool: &PgPool,
    region: Option<&str>,
    kind: Option<ResourceKind>,
) -> Result<Vec<ResourceRow>> {
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM resources
          WHERE retired_at IS NULL AND ($1::text IS NULL OR region = $1)
            AND ($2::text IS NULL OR kind = $2)
          ORDER BY region, kind <> 'hotline', name, id"
    ))
    .bind(region)
    .bind(kind.map(ResourceKind::as_str))
    .fetch_all(pool)
    .await?;
    Ok(rows
        .iter()
        .map(row)
        .collect::<std::result::Result<_, _>>()?)
}

#[tracing::instrument(skip_all)]
pub async fn insert(pool: &PgPool, r: &Resource) -> Result<Uuid> {
    let id = Uuid::new_v4();
    sqlx::query(
        "INSERT INTO resources (id, name, kind, region, phone, hours, address)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(id)
    .bind(&r.name)
    .bind(r.kind.as_str())
    .bind(&r.region)
    .bind(&r.phone)
    .bind(&r.hours)
    .bind(&r.address)
    .execute(pool)
    .await?;
    Ok(id)
}

/// Replaces a resource in service; `None` when there is none with this id.
#[tracing::instrument(skip(pool, r))]
pub async fn update(pool: &PgPool, id: Uuid, r: &Resource) -> Result<Option<ResourceRow>> {
    let found = sqlx::query(&format!(
        "UPDATE resources SET name = $2, kind = $3, region = $4, phone = $5, hours = $6, address = $7
          WHERE id = $1 AND retired_at IS NULL RETURNING {COLUMNS}"
    ))
    .bind(id)
    .bind(&r.name)
    .bind(r.kind.as_str())
    .bind(&r.region)
    .bind(&r.phone)
    .bind(&r.hours)
    .bind(&r.address)
    .fetch_optional(pool)
    .await?;
    Ok(found.as_ref().map(row).transpose()?)
}

/// Takes a resource out of service; false when there is none in service.
#[tracing::instrument(skip(pool))]
pub async fn retire(pool: &PgPool, id: Uuid) -> Result<bool> {
    let done =
        sqlx::query("UPDATE resources SET retired_at = now() WHERE id = $1 AND retired_at IS NULL")
            .bind(id)
            .execute(pool)
            .await?;
    Ok(done.rows_affected() == 1)
}

/// A resource in service.
#[tracing::instrument(skip(pool))]
pub async fn get(pool: &PgPool, id: Uuid) -> Result<Option<ResourceRow>> {
    let found = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM resources WHERE id = $1 AND retired_at IS NULL"
    ))
    .bind(id)
    .fetch_optional(pool)
    .await?;
    Ok(found.as_ref().map(row).transpose()?)
}

/// Whether a resource is in service.
pub async fn exists(pool: &PgPool, id: Uuid) -> Result<bool> {
    Ok(sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM resources WHERE id = $1 AND retired_at IS NULL)",
    )
    .bind(id)
    .fetch_one(pool)
    .await?)
}
