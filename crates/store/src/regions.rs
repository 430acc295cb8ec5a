//! The regions Anxin serves and which of them are open (the phased
//! roll-out). The list is shipped by a migration; only `open` changes.
use crate::audit::{self, Actor};
use crate::Result;
use anxin_domain::region::{Area, Region};
use sqlx::postgres::PgRow;
use sqlx::{PgPool, Row};

fn region(r: &PgRow) -> std::result::Result<Region, sqlx::Error> {
    let area: String = r.try_get("area")?;
    Ok(Region {
        code: r.try_get("code")?,
        pinyin: r.try_get("pinyin")?,
        name_zh: r.try_get("name_zh")?,
        name_en: r.try_get("name_en")?,
        area: Area::parse(&area).ok_or_else(|| sqlx::Error::ColumnDecode {
            index: "area".into(),
            source: format!("unknown area {area:?}").into(),
        })?,
        open: r.try_get("open")?,
    })
}

const COLUMNS: &str = "code, pinyin, name_zh, name_en, area, open";

/// Every region, by area and code.
#[tracing::instrument(skip_all)]
pub async fn list(pool: &PgPool) -> Result<Vec<Region>> {
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM regions ORDER BY area, code"
    ))
    .fetch_all(pool)
    .await?;
    Ok(rows
        .iter()
        .map(region)
        .collect::<std::result::Result<_, _>>()?)
}

/// Opens or closes a region, audited in the same transaction; `None` when
/// there is no such region.
#[tracing::instrument(skip(pool, by))]
pub async fn set_open(pool: &PgPool, by: &Actor, code: &str, open: bool) -> Result<Option<Region>> {
    let mut tx = pool.begin().await?;
    let Some(row) = sqlx::query(&format!(
        "UPDATE regions SET open = $2, changed_at = now() WHERE code = $1 RETURNING {COLUMNS}"
    ))
    .bind(code)
    .bind(open)
    .fetch_optional(&mut *tx)
    .await?
    else {
        return Ok(None);
    };
    audit::record(
        &mut tx,
        by,
        if open { "region.open" } else { "region.close" },
        "region",
        uuid::Uuid::nil(),
        serde_json::json!({ "code": code }),
    )
    .await?;
    tx.commit().await?;
    Ok(Some(region(&row)?))
}
