//! Operators, one-time sign-in links and the sessions they start. Links and
//! sessions are stored by the hash of their secret only (`crypto::new_secret`).
use crate::Result;
use anxin_domain::ids::ExpertId;
use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

/// Who a link or session is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Person {
    Expert(ExpertId),
    /// An operator by id, with their name (their subject).
    Operator(Uuid, String),
    /// An organisation's administrator: an operator account scoped to the
    /// organisation (the last id).
    OrgAdmin(Uuid, String, Uuid),
}

impl Person {
    /// The id the audit log records as the target.
    pub fn id(&self) -> Uuid {
        match self {
            Self::Expert(id) => id.0,
            Self::Operator(id, _) | Self::OrgAdmin(id, _, _) => *id,
        }
    }

    fn columns(&self) -> (Option<Uuid>, Option<Uuid>) {
        match self {
            Self::Expert(id) => (Some(id.0), None),
            Self::Operator(id, _) | Self::OrgAdmin(id, _, _) => (None, Some(*id)),
        }
    }
}

/// Where an operator account's authority reaches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OperatorArea {
    /// As it is (a new account: national).
    Keep,
    National,
    Area(anxin_domain::region::Area),
}

/// The operator with this name, created if new, with its area set as asked
/// (an organisation's administrator's account is left as it is).
#[tracing::instrument(skip(conn))]
pub async fn ensure_operator(
    conn: &mut PgConnection,
    name: &str,
    area: OperatorArea,
) -> Result<Person> {
    let (set, value) = match area {
        OperatorArea::Keep => (false, None),
        OperatorArea::National => (true, None),
        OperatorArea::Area(a) => (true, Some(a.as_str())),
    };
    let id: Uuid = sqlx::query_scalar(
        "INSERT INTO operators (id, name, area) VALUES ($1, $2, $4)
         ON CONFLICT (name) DO UPDATE
            SET area = CASE WHEN $3 AND operators.organisation_id IS NULL THEN EXCLUDED.area
                            ELSE operators.area END
         RETURNING id",
    )
    .bind(Uuid::new_v4())
    .bind(name)
    .bind(set)
    .bind(value)
    .fetch_one(conn)
    .await?;
    Ok(Person::Operator(id, name.to_string()))
}

/// The area an operator account is scoped to (`None`: national, or no such
/// account).
pub async fn area_of(pool: &PgPool, name: &str) -> Result<Option<anxin_domain::region::Area>> {
    let area: Option<String> =
        sqlx::query_scalar::<_, Option<String>>("SELECT area FROM operators WHERE name = $1")
            .bind(name)
            .fetch_optional(pool)
            .await?
            .flatten();
    Ok(area.as_deref().and_then(anxin_domain::region::Area::parse))
}

/// An administrator of `organisation` with this name, created if new;
/// `None` when the name is another account's (a national operator's, or
/// another organisation's administrator).
#[tracing::instrument(skip(conn))]
pub async fn ensure_org_admin(
    conn: &mut PgConnection,
    name: &str,
    organisation: Uuid,
) -> Result<Option<Person>> {
    sqlx::query(
        "INSERT INTO operators (id, name, organisation_id) VALUES ($1, $2, $3)
         ON CONFLICT (name) DO NOTHING",
    )
    .bind(Uuid::new_v4())
    .bind(name)
    .bind(organisation)
    .execute(&mut *conn)
    .await?;
    let found: Option<(Uuid, Option<Uuid>)> =
        sqlx::query_as("SELECT id, organisation_id FROM operators WHERE name = $1")
            .bind(name)
            .fetch_optional(conn)
            .await?;
    Ok(match found {
        Some((id, Some(org))) if org == organisation => {
            Some(Person::OrgAdmin(id, name.to_string(), org))
        }
        _ => None,
    })
}

/// The organisation an operator account administers (`None`: a national
/// operator, or no such account).
pub async fn organisation_of(pool: &PgPool, name: &str) -> Result<Option<Uuid>> {
    Ok(sqlx::query_scalar::<_, Option<Uuid>>(
        "SELECT organisation_id FROM operators WHERE name = $1",
    )
    .bind(name)
    .fetch_optional(pool)
    .await?
    .flatten())
}

#[tracing::instrument(skip(conn, secret_hash))]
pub async fn create_link(
    conn: &mut PgConnection,
    person: &Person,
    secret_hash: &[u8],
    expires_at: DateTime<Utc>,
) -> Result<()> {
    insert_secret(conn, "sign_in_links", person, secret_hash, expires_at).await
}

/// A link's or a session's row: the same columns in each table.
async fn insert_secret(
    conn: &mut PgConnection,
    table: &str,
    person: &Person,
    secret_hash: &[u8],
    expires_at: DateTime<Utc>,
) -> Result<()> {
    let (expert, operator) = person.columns();
    sqlx::query(&format!(
        "INSERT INTO {table} (secret_hash, expert_id, operator_id, expires_at)
         VALUES ($1, $2, $3, $4)"
    ))
    .bind(secret_hash)
    .bind(expert)
    .bind(operator)
    .bind(expires_at)
    .execute(conn)
    .await?;
    Ok(())
}

/// What a link is, as seen without using it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkState {
    Unknown,
    Used,
    Expired,
    Usable(Person),
}

#[derive(sqlx::FromRow)]
struct LinkRow {
    expert_id: Option<Uuid>,
    operator_id: Option<Uuid>,
    operator_name: Option<String>,
    organisation_id: Option<Uuid>,
    expires_at: DateTime<Utc>,
    used_at: Option<DateTime<Utc>>,
    expert_status: Option<String>,
    operator_disabled: bool,
}

/// An operator account as a person: national, or an organisation's
/// administrator.
fn operator(id: Uuid, name: String, organisation: Option<Uuid>) -> Person {
    match organisation {
        Some(org) => Person::OrgAdmin(id, name, org),
        None => Person::Operator(id, name),
    }
}

const LINK_SELECT: &str =
    "SELECT l.expert_id, l.operator_id, o.name AS operator_name, o.organisation_id, l.expires_at,
                                  l.used_at, e.status AS expert_status,
                                  o.disabled_at IS NOT NULL AS operator_disabled
                           FROM sign_in_links l
                           LEFT JOIN experts e ON e.id = l.expert_id
                           LEFT JOIN operators o ON o.id = l.operator_id
                           WHERE l.secret_hash = $1";

fn link_state(row: Option<LinkRow>, now: DateTime<Utc>) -> LinkState {
    let Some(row) = row else {
        return LinkState::Unknown;
    };
    if row.used_at.is_some() {
        return LinkState::Used;
    }
    // A suspended expert's (or disabled operator's) links lapse with it.
    if row.expires_at <= now
        || row.expert_status.as_deref() == Some("suspended")
        || row.operator_disabled
    {
        return LinkState::Expired;
    }
    match (row.expert_id, row.operator_id, row.operator_name) {
        (Some(e), _, _) => LinkState::Usable(Person::Expert(ExpertId(e))),
        (None, Some(o), Some(name)) => LinkState::Usable(operator(o, name, row.organisation_id)),
        _ => LinkState::Unknown,
    }
}

/// The link's state; reading it never uses it up.
#[tracing::instrument(skip_all)]
pub async fn peek_link(pool: &PgPool, secret_hash: &[u8]) -> Result<LinkState> {
    let row = sqlx::query_as::<_, LinkRow>(LINK_SELECT)
        .bind(secret_hash)
        .fetch_optional(pool)
        .await?;
    Ok(link_state(row, Utc::now()))
}

/// Uses the link up and starts a session for its person, atomically: of two
/// concurrent uses, one signs in and the other sees `Used`. Returns the
/// link's state before; a session exists only when that was `Usable`.
#[tracing::instrument(skip_all)]
pub async fn use_link(
    conn: &mut PgConnection,
    secret_hash: &[u8],
    session_hash: &[u8],
    session_expires_at: DateTime<Utc>,
) -> Result<LinkState> {
    let row = sqlx::query_as::<_, LinkRow>(&format!("{LINK_SELECT} FOR UPDATE OF l"))
        .bind(secret_hash)
        .fetch_optional(&mut *conn)
        .await?;
    let state = link_state(row, Utc::now());
    if let LinkState::Usable(person) = &state {
        sqlx::query("UPDATE sign_in_links SET used_at = now() WHERE secret_hash = $1")
            .bind(secret_hash)
            .execute(&mut *conn)
            .await?;
        start_session(conn, person, session_hash, session_expires_at).await?;
    }
    Ok(state)
}

#[tracing::instrument(skip(conn, session_hash))]
pub async fn start_session(
    conn: &mut PgConnection,
    person: &Person,
    session_hash: &[u8],
    expires_at: DateTime<Utc>,
) -> Result<()> {
    insert_secret(conn, "sessions", person, session_hash, expires_at).await
}

/// A session's expert, or its operator with their name and organisation.
type SessionRow = (Option<Uuid>, Option<Uuid>, Option<String>, Option<Uuid>);

/// The person a live session is for: not ended, not expired, and not a
/// suspended expert's or a disabled operator's.
#[tracing::instrument(skip_all)]
pub async fn session_person(pool: &PgPool, session_hash: &[u8]) -> Result<Option<Person>> {
    let row: Option<SessionRow> = sqlx::query_as(
        "SELECT s.expert_id, s.operator_id, o.name, o.organisation_id
         FROM sessions s
         LEFT JOIN experts e ON e.id = s.expert_id
         LEFT JOIN operators o ON o.id = s.operator_id
         WHERE s.secret_hash = $1 AND s.ended_at IS NULL AND s.expires_at > now()
           AND (s.expert_id IS NULL OR e.status <> 'suspended')
           AND (s.operator_id IS NULL OR o.disabled_at IS NULL)",
    )
    .bind(session_hash)
    .fetch_optional(pool)
    .await?;
    Ok(match row {
        Some((Some(e), _, _, _)) => Some(Person::Expert(ExpertId(e))),
        Some((None, Some(o), Some(name), org)) => Some(operator(o, name, org)),
        _ => None,
    })
}

/// Ends one session; false when it was not live.
#[tracing::instrument(skip_all)]
pub async fn end_session(pool: &PgPool, session_hash: &[u8]) -> Result<bool> {
    let done = sqlx::query(
        "UPDATE sessions SET ended_at = now() WHERE secret_hash = $1 AND ended_at IS NULL",
    )
    .bind(session_hash)
    .execute(pool)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Ends every session of the expert and lapses their unused links (on
/// suspension, in its transaction). Returns the sessions ended.
#[tracing::instrument(skip(conn))]
pub async fn end_expert_access(conn: &mut PgConnection, expert: ExpertId) -> Result<u64> {
    let ended = sqlx::query(
        "UPDATE sessions SET ended_at = now() WHERE expert_id = $1 AND ended_at IS NULL",
    )
    .bind(expert.0)
    .execute(&mut *conn)
    .await?;
    sqlx::query(
        "UPDATE sign_in_links SET expires_at = now()
         WHERE expert_id = $1 AND used_at IS NULL AND expires_at > now()",
    )
    .bind(expert.0)
    .execute(&mut *conn)
    .await?;
    Ok(ended.rows_affected())
}

/// Disables or enables the operator with this name (created if new, so a
/// name can be disabled before its first sign-in). Disabling ends their
/// sessions and lapses their links; their bearer tokens are refused from
/// then on (`operator_active`). Returns the operator.
#[tracing::instrument(skip(conn))]
pub async fn set_operator_disabled(
    conn: &mut PgConnection,
    name: &str,
    disabled: bool,
) -> Result<Person> {
    let person = ensure_operator(&mut *conn, name, OperatorArea::Keep).await?;
    sqlx::query(
        "UPDATE operators SET disabled_at = CASE WHEN $2 THEN COALESCE(disabled_at, now()) END
          WHERE id = $1",
    )
    .bind(person.id())
    .bind(disabled)
    .execute(&mut *conn)
    .await?;
    if disabled {
        sqlx::query(
            "UPDATE sessions SET ended_at = now() WHERE operator_id = $1 AND ended_at IS NULL",
        )
        .bind(person.id())
        .execute(&mut *conn)
        .await?;
        sqlx::query(
            "UPDATE sign_in_links SET expires_at = now()
              WHERE operator_id = $1 AND used_at IS NULL AND expires_at > now()",
        )
        .bind(person.id())
        .execute(&mut *conn)
        .await?;
    }
    Ok(person)
}

/// Whether the expert's bearer tokens may act: not suspended. An id with
/// no expert behind it has nothing to revoke (the handlers answer 404).
#[tracing::instrument(skip(pool))]
pub async fn expert_active(pool: &PgPool, expert: Uuid) -> Result<bool> {
    let status: Option<String> = sqlx::query_scalar("SELECT status FROM experts WHERE id = $1")
        .bind(expert)
        .fetch_optional(pool)
        .await?;
    Ok(status.as_deref() != Some("suspended"))
}

/// Whether the operator's bearer tokens may act: not disabled. Tokens are
/// signed by `anxin token`, which records the name as an account, so a
/// name with no account yet has nothing to revoke.
#[tracing::instrument(skip(pool))]
pub async fn operator_active(pool: &PgPool, name: &str) -> Result<bool> {
    let disabled: Option<bool> =
        sqlx::query_scalar("SELECT disabled_at IS NOT NULL FROM operators WHERE name = $1")
            .bind(name)
            .fetch_optional(pool)
            .await?;
    Ok(disabled != Some(true))
}
