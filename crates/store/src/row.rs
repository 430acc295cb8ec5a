//! Reading columns into domain types. A name that isn't one of its type's
//! names (a status, a call state, an outcome, a group) fails the read as
//! corrupt data; nothing reads as a default.
use anxin_domain::named::UnknownName;
use sqlx::postgres::PgRow;
use sqlx::Row;

/// A non-null text column holding one of `T`'s names.
pub(crate) fn named<T>(row: &PgRow, column: &str) -> Result<T, sqlx::Error>
where
    T: TryFrom<String, Error = UnknownName>,
{
    T::try_from(row.try_get::<String, _>(column)?).map_err(|e| unknown(column, e))
}

/// A nullable text column holding one of `T`'s names.
pub(crate) fn named_opt<T>(row: &PgRow, column: &str) -> Result<Option<T>, sqlx::Error>
where
    T: TryFrom<String, Error = UnknownName>,
{
    row.try_get::<Option<String>, _>(column)?
        .map(T::try_from)
        .transpose()
        .map_err(|e| unknown(column, e))
}

/// A uuid column as a typed id.
pub(crate) fn id<T: From<uuid::Uuid>>(row: &PgRow, column: &str) -> Result<T, sqlx::Error> {
    Ok(T::from(row.try_get(column)?))
}

fn unknown(column: &str, e: UnknownName) -> sqlx::Error {
    sqlx::Error::ColumnDecode {
        index: column.to_string(),
        source: Box::new(e),
    }
}

/// A sealed value stored as `<prefix>_ciphertext` and `<prefix>_key_id`,
/// `None` when there is none (or it was erased).
pub(crate) fn sealed(
    row: &PgRow,
    prefix: &str,
) -> Result<Option<crate::crypto::Sealed>, sqlx::Error> {
    let bytes: Option<Vec<u8>> = row.try_get(format!("{prefix}_ciphertext").as_str())?;
    let key_id: Option<String> = row.try_get(format!("{prefix}_key_id").as_str())?;
    Ok(bytes
        .zip(key_id)
        .map(|(bytes, key_id)| crate::crypto::Sealed { key_id, bytes }))
}

/// A span as the seconds `make_interval(secs => …)` takes.
pub(crate) fn seconds(d: chrono::Duration) -> f64 {
    d.num_milliseconds() as f64 / 1000.0
}
