//! Session outcomes and referrals (see `anxin_domain::referral`).
use crate::audit::Actor;
use crate::crypto::Sealed;
use crate::{row, Result};
use anxin_domain::call::{CallOutcome, CallState};
use anxin_domain::ids::{BookingId, CallTaskId, ExpertId, SeekerId};
use anxin_domain::referral::{
    FollowUp, OutcomeInput, ReferralStatus, Resolution, SessionOutcome, Urgency,
};
use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool, Row};
use uuid::Uuid;

/// The session an outcome, a referral or a debrief is about: a booked
/// call, or a help-now call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Session {
    Booking(BookingId),
    HelpNow(Uuid),
}

impl Session {
    /// The column that names it in `session_outcomes`, `referrals` and
    /// `debriefs`.
    pub(crate) fn column(self) -> &'static str {
        match self {
            Self::Booking(_) => "booking_id",
            Self::HelpNow(_) => "help_now_id",
        }
    }

    pub fn booking(self) -> Option<BookingId> {
        match self {
            Self::Booking(b) => Some(b),
            Self::HelpNow(_) => None,
        }
    }

    pub fn help_now(self) -> Option<Uuid> {
        match self {
            Self::HelpNow(h) => Some(h),
            Self::Booking(_) => None,
        }
    }

    /// Its id, whichever kind it is.
    pub fn id(self) -> Uuid {
        match self {
            Self::Booking(b) => b.0,
            Self::HelpNow(h) => h,
        }
    }
}

/// A session's outcome as stored.
#[derive(Debug, Clone)]
pub struct OutcomeRow {
    pub booking_id: BookingId,
    pub outcome: SessionOutcome,
    pub follow_up: FollowUp,
    pub urgency: Option<Urgency>,
    pub note: Option<Sealed>,
    pub recorded_at: DateTime<Utc>,
}

/// Records (or corrects) the outcome of the session.
#[tracing::instrument(skip(conn, input, note, by))]
pub async fn record_outcome(
    conn: &mut PgConnection,
    session: Session,
    input: &OutcomeInput,
    note: Option<&Sealed>,
    by: &Actor,
) -> Result<()> {
    let query = format!(
        "INSERT INTO session_outcomes (booking_id, outcome, follow_up, urgency, note_ciphertext,
                                       note_key_id, recorded_by_role, recorded_by_id, wellbeing,
                                       debrief_requested, help_now_id)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
         ON CONFLICT ({}) DO UPDATE SET
             outcome = EXCLUDED.outcome, follow_up = EXCLUDED.follow_up,
             urgency = EXCLUDED.urgency, note_ciphertext = EXCLUDED.note_ciphertext,
             note_key_id = EXCLUDED.note_key_id, recorded_by_role = EXCLUDED.recorded_by_role,
             recorded_by_id = EXCLUDED.recorded_by_id, recorded_at = now(),
             wellbeing = EXCLUDED.wellbeing, debrief_requested = EXCLUDED.debrief_requested",
        session.column()
    );
    sqlx::query(&query)
        .bind(session.booking().map(|b| b.0))
        .bind(input.outcome.as_str())
        .bind(input.follow_up.as_str())
        .bind(input.urgency.map(Urgency::as_str))
        .bind(note.map(|n| n.bytes.clone()))
        .bind(note.map(|n| n.key_id.clone()))
        .bind(by.role)
        .bind(&by.id)
        .bind(input.wellbeing.map(i16::from))
        .bind(input.debrief)
        .bind(session.help_now())
        .execute(conn)
        .await?;
    Ok(())
}

/// The outcomes of these bookings (those recorded).
#[tracing::instrument(skip_all)]
pub async fn outcomes_of(pool: &PgPool, bookings: &[BookingId]) -> Result<Vec<OutcomeRow>> {
    let ids: Vec<Uuid> = bookings.iter().map(|b| b.0).collect();
    let rows = sqlx::query(
        "SELECT booking_id, outcome, follow_up, urgency, note_ciphertext, note_key_id, recorded_at
           FROM session_outcomes WHERE booking_id = ANY($1)",
    )
    .bind(&ids)
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|r| {
            let note = match (
                r.try_get::<Option<Vec<u8>>, _>("note_ciphertext")?,
                r.try_get::<Option<String>, _>("note_key_id")?,
            ) {
                (Some(bytes), Some(key_id)) => Some(Sealed { key_id, bytes }),
                _ => None,
            };
            Ok(OutcomeRow {
                booking_id: row::id(r, "booking_id")?,
                outcome: row::named(r, "outcome")?,
                follow_up: row::named(r, "follow_up")?,
                urgency: row::named_opt(r, "urgency")?,
                note,
                recorded_at: r.try_get("recorded_at")?,
            })
        })
        .collect::<std::result::Result<_, sqlx::Error>>()
        .map_err(Into::into)
}

/// Opens the session's referral (once: a second call returns the first),
/// carrying a sealed copy of the seeker's number and their region.
#[tracing::instrument(skip(conn))]
pub async fn open_referral(
    conn: &mut PgConnection,
    session: Session,
    urgency: Urgency,
) -> Result<Uuid> {
    let query = match session {
        Session::Booking(_) => {
            "INSERT INTO referrals (id, booking_id, expert_id, seeker_id, urgency, region,
                                    phone_ciphertext, phone_key_id)
             SELECT $1, b.id, b.expert_id, b.seeker_id, $3, s.region, b.phone_ciphertext,
                    b.phone_key_id
               FROM bookings b JOIN seekers s ON s.id = b.seeker_id
              WHERE b.id = $2
             ON CONFLICT (booking_id) DO NOTHING"
        }
        Session::HelpNow(_) => {
            "INSERT INTO referrals (id, help_now_id, expert_id, seeker_id, urgency, region,
                                    phone_ciphertext, phone_key_id)
             SELECT $1, h.id, h.expert_id, h.seeker_id, $3, s.region, h.phone_ciphertext,
                    h.phone_key_id
               FROM help_now_requests h JOIN seekers s ON s.id = h.seeker_id
              WHERE h.id = $2 AND h.expert_id IS NOT NULL
             ON CONFLICT (help_now_id) DO NOTHING"
        }
    };
    sqlx::query(query)
        .bind(Uuid::new_v4())
        .bind(session.id())
        .bind(urgency.as_str())
        .execute(&mut *conn)
        .await?;
    referral_of(conn, session)
        .await?
        .ok_or(crate::StoreError::NotFound)
}

/// The session's referral, if it has one.
#[tracing::instrument(skip(conn))]
pub async fn referral_of(conn: &mut PgConnection, session: Session) -> Result<Option<Uuid>> {
    let query = format!("SELECT id FROM referrals WHERE {} = $1", session.column());
    Ok(sqlx::query_scalar(&query)
        .bind(session.id())
        .fetch_optional(conn)
        .await?)
}

/// A referral as operators see it: never the number.
#[derive(Debug, Clone)]
pub struct ReferralRow {
    pub id: Uuid,
    /// The session it came from: a booking's, or a help-now call's.
    pub session: Session,
    pub expert_id: ExpertId,
    pub seeker_id: SeekerId,
    pub urgency: Urgency,
    pub region: Option<String>,
    pub status: ReferralStatus,
    pub resolution: Option<Resolution>,
    pub centre: Option<String>,
    pub created_at: DateTime<Utc>,
    pub resolved_at: Option<DateTime<Utc>>,
    /// The latest callback, if an operator asked for one.
    pub callback: Option<CallbackRow>,
}

/// Where an operator's callback on a referral stands.
#[derive(Debug, Clone)]
pub struct CallbackRow {
    pub call_id: CallTaskId,
    pub call_state: CallState,
    pub outcome: Option<CallOutcome>,
}

/// Where a referral is: the seeker's region, else (none given) the region
/// of the session's expert.
const PLACE: &str = "COALESCE(r.region, (SELECT x.region FROM experts x WHERE x.id = r.expert_id))";

const REFERRAL_SELECT: &str =
    "SELECT id, booking_id, help_now_id, expert_id, seeker_id, urgency, region, status,
            resolution, centre,
            created_at, resolved_at, callback_id, callback_state, callback_outcome
       FROM referrals r
       LEFT JOIN LATERAL (
            SELECT t.id AS callback_id, t.call_state AS callback_state,
                   t.outcome AS callback_outcome
              FROM call_tasks t WHERE t.referral_id = r.id
             ORDER BY t.created_at DESC LIMIT 1) c ON true";

fn referral(r: &sqlx::postgres::PgRow) -> Result<ReferralRow> {
    Ok(ReferralRow {
        id: r.try_get("id")?,
        session: session(r)?,
        expert_id: row::id(r, "expert_id")?,
        seeker_id: row::id(r, "seeker_id")?,
        urgency: row::named(r, "urgency")?,
        region: r.try_get("region")?,
        status: row::named(r, "status")?,
        resolution: row::named_opt(r, "resolution")?,
        centre: r.try_get("centre")?,
        created_at: r.try_get("created_at")?,
        resolved_at: r.try_get("resolved_at")?,
        callback: match r.try_get::<Option<Uuid>, _>("callback_id")? {
            Some(id) => Some(CallbackRow {
                call_id: CallTaskId(id),
                call_state: row::named(r, "callback_state")?,
                outcome: row::named_opt(r, "callback_outcome")?,
            }),
            None => None,
        },
    })
}

/// The session a row names (its `booking_id` or `help_now_id`).
pub(crate) fn session(r: &sqlx::postgres::PgRow) -> std::result::Result<Session, sqlx::Error> {
    let booking: Option<Uuid> = r.try_get("booking_id")?;
    let help_now: Option<Uuid> = r.try_get("help_now_id")?;
    match (booking, help_now) {
        (Some(b), None) => Ok(Session::Booking(BookingId(b))),
        (None, Some(h)) => Ok(Session::HelpNow(h)),
        _ => Err(sqlx::Error::ColumnDecode {
            index: "booking_id".into(),
            source: "a session is one booking or one help-now request".into(),
        }),
    }
}

/// Referrals in this status, most urgent first, then oldest first.
#[tracing::instrument(skip(pool))]
pub async fn list(
    pool: &PgPool,
    status: ReferralStatus,
    organisation: Option<Uuid>,
    regions: Option<&[String]>,
    limit: i64,
) -> Result<Vec<ReferralRow>> {
    let rows = sqlx::query(&format!(
        "{REFERRAL_SELECT} WHERE status = $1
            AND ($3::uuid IS NULL
                 OR expert_id IN (SELECT id FROM experts WHERE organisation_id = $3))
            AND ($4::text[] IS NULL OR {PLACE} = ANY($4))
          ORDER BY CASE urgency WHEN 'emergency' THEN 0 WHEN 'urgent' THEN 1 ELSE 2 END,
                   created_at, id
          LIMIT $2"
    ))
    .bind(status.as_str())
    .bind(limit)
    .bind(organisation)
    .bind(regions)
    .fetch_all(pool)
    .await?;
    rows.iter().map(referral).collect()
}

#[tracing::instrument(skip(pool))]
pub async fn get(pool: &PgPool, id: Uuid) -> Result<ReferralRow> {
    let row = sqlx::query(&format!("{REFERRAL_SELECT} WHERE id = $1"))
        .bind(id)
        .fetch_one(pool)
        .await?;
    referral(&row)
}

/// Where a referral is (see `PLACE`).
#[tracing::instrument(skip(pool))]
pub async fn place_of(pool: &PgPool, id: Uuid) -> Result<Option<String>> {
    Ok(sqlx::query_scalar::<_, Option<String>>(&format!(
        "SELECT {PLACE} FROM referrals r WHERE r.id = $1"
    ))
    .bind(id)
    .fetch_optional(pool)
    .await?
    .flatten())
}

/// The referral's sealed copy of the seeker's number (none once erased).
#[tracing::instrument(skip(pool))]
pub async fn sealed_phone(pool: &PgPool, id: Uuid) -> Result<Option<Sealed>> {
    let (bytes, key_id): (Option<Vec<u8>>, Option<String>) =
        sqlx::query_as("SELECT phone_ciphertext, phone_key_id FROM referrals WHERE id = $1")
            .bind(id)
            .fetch_one(pool)
            .await?;
    Ok(bytes
        .zip(key_id)
        .map(|(bytes, key_id)| Sealed { key_id, bytes }))
}

/// Resolves an open referral; false when it was already resolved.
#[tracing::instrument(skip(conn, centre))]
pub async fn resolve(
    conn: &mut PgConnection,
    id: Uuid,
    resolution: Resolution,
    centre: Option<&str>,
    resource_id: Option<Uuid>,
) -> Result<bool> {
    let done = sqlx::query(
        "UPDATE referrals SET status = 'resolved', resolution = $2, centre = $3, resource_id = $4,
                resolved_at = now()
          WHERE id = $1 AND status = 'open'",
    )
    .bind(id)
    .bind(resolution.as_str())
    .bind(centre)
    .bind(resource_id)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Open referrals by urgency, for the dashboard's summary.
#[tracing::instrument(skip(pool))]
pub async fn open_counts(pool: &PgPool, regions: Option<&[String]>) -> Result<Vec<(Urgency, i64)>> {
    let rows: Vec<(String, i64)> = sqlx::query_as(&format!(
        "SELECT urgency, count(*) FROM referrals r
          WHERE status = 'open' AND ($1::text[] IS NULL OR {PLACE} = ANY($1))
          GROUP BY urgency"
    ))
    .bind(regions)
    .fetch_all(pool)
    .await?;
    rows.into_iter()
        .map(|(u, n)| Ok((Urgency::try_from(u)?, n)))
        .collect()
}
