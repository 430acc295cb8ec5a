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
    /// The group is the host app's word (the token's `group` claim), not the
    /// seeker's own; set per request, never stored on the seeker.
    #[sqlx(default)]
    pub priority_vouched: bool,
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

/// The seeker with this id.
#[tracing::instrument(skip(pool))]
pub async fn get(pool: &PgPool, id: SeekerId) -> Result<Option<SeekerRow>> {
    Ok(
        sqlx::query_as("SELECT id, priority_group, region FROM seekers WHERE id = $1")
            .bind(id.0)
            .fetch_optional(pool)
            .await?,
    )
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

/// Erases what could identify the seeker or reach them (their erasure, by
/// China's Personal Information Protection Law), in one transaction, and
/// audits it: every copy of their phone number (bookings, referrals), their
/// notes and the experts' sealed notes on their sessions, cancellation
/// reasons, the host app's `ref`, the request fingerprints (keyed hashes of
/// the number) and the link from the host-app subject (its hash is replaced
/// by random bytes, so the same subject starts afresh as a new seeker).
/// Their bookings stay, anonymous, for the statistics. Cancel their upcoming
/// bookings first: erasure does not cancel anything.
#[tracing::instrument(skip(pool))]
pub async fn erase(pool: &PgPool, seeker: SeekerId) -> Result<()> {
    let mut tx = pool.begin().await?;
    sqlx::query(
        "UPDATE bookings SET phone_ciphertext = NULL, phone_key_id = NULL, phone_masked = NULL,
                note = NULL, note_ciphertext = NULL, note_key_id = NULL,
                cancel_reason = NULL, cancel_reason_ciphertext = NULL, cancel_reason_key_id = NULL,
                seeker_ref_ciphertext = NULL, seeker_ref_key_id = NULL,
                idempotency_key = NULL, request_hash = NULL
          WHERE seeker_id = $1",
    )
    .bind(seeker.0)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "UPDATE waitlist SET seeker_ref_ciphertext = NULL, seeker_ref_key_id = NULL,
                status = CASE WHEN status IN ('waiting', 'offered') THEN 'cancelled' ELSE status END
          WHERE seeker_id = $1",
    )
    .bind(seeker.0)
    .execute(&mut *tx)
    .await?;
    // Help now: a live request ends (its call, if any, hangs up) and every
    // request forgets the number, the note and the key.
    crate::help_now::end_live(&mut tx, seeker, None).await?;
    sqlx::query(
        "UPDATE help_now_requests
            SET phone_ciphertext = NULL, phone_key_id = NULL, note_ciphertext = NULL,
                note_key_id = NULL, idempotency_key = NULL, region = NULL
          WHERE seeker_id = $1",
    )
    .bind(seeker.0)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "UPDATE referrals SET phone_ciphertext = NULL, phone_key_id = NULL, region = NULL
          WHERE seeker_id = $1",
    )
    .bind(seeker.0)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "UPDATE session_outcomes o SET note_ciphertext = NULL, note_key_id = NULL
           FROM help_now_requests h WHERE h.id = o.help_now_id AND h.seeker_id = $1",
    )
    .bind(seeker.0)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "UPDATE session_outcomes o SET note_ciphertext = NULL, note_key_id = NULL
           FROM bookings b WHERE b.id = o.booking_id AND b.seeker_id = $1",
    )
    .bind(seeker.0)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "UPDATE seekers SET subject_hash = sha256(gen_random_uuid()::text::bytea), region = NULL,
                updated_at = now()
          WHERE id = $1",
    )
    .bind(seeker.0)
    .execute(&mut *tx)
    .await?;
    crate::audit::record(
        &mut tx,
        &crate::audit::Actor {
            role: "seeker",
            id: seeker.to_string(),
        },
        "seeker.erase",
        "seeker",
        seeker.0,
        serde_json::json!({}),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// The regions the seekers gave (those who gave none are left out): what
/// their referral would name, read to show where they can turn.
#[tracing::instrument(skip_all, fields(seekers = seekers.len()))]
pub async fn regions_of(pool: &PgPool, seekers: &[SeekerId]) -> Result<Vec<(Uuid, String)>> {
    let ids: Vec<Uuid> = seekers.iter().map(|s| s.0).collect();
    Ok(
        sqlx::query_as("SELECT id, region FROM seekers WHERE id = ANY($1) AND region IS NOT NULL")
            .bind(ids)
            .fetch_all(pool)
            .await?,
    )
}
