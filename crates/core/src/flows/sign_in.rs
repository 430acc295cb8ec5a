//! People's sign-in: one-time links, and the sessions they start.
//!
//! An operator asks for a link for an expert (or `anxin sign-in-link
//! --operator` makes one for an operator); the hotline sends it by its own
//! channel. Opening the link shows a page; only its POST uses the link up
//! (messaging apps fetch links to preview them), starting a session: a
//! random secret in an `HttpOnly; SameSite=Strict` cookie, stored as a hash
//! in Postgres, so ending it (signing out, suspending the expert) takes
//! effect on the next request, on every instance. Links and sessions are
//! both stored only as hashes of their secrets, so a database dump signs no
//! one in. Every link made and used is in the audit log.
use crate::error::{AppError, AppResult, ErrorCode, OrNotFound};
use crate::state::AppState;
use crate::token::{Principal, Role};
use anxin_domain::expert::ExpertStatus;
use anxin_domain::ids::ExpertId;
use anxin_store::audit::{self, Actor};
use anxin_store::crypto::{new_secret, secret_hash};
use anxin_store::sign_in::{self, LinkState, Person};
use anxin_store::{experts, StoreError};
use chrono::{DateTime, Utc};

/// The path of a link; its URL is `ANXIN_PUBLIC_URL` followed by it.
pub const LINK_PATH: &str = "/sign-in";

/// A link as handed to the operator.
#[derive(Debug, Clone)]
pub struct Link {
    pub url: String,
    pub expires_at: DateTime<Utc>,
}

/// A session just started.
#[derive(Debug, Clone)]
pub struct Started {
    /// The cookie's value; never stored.
    pub secret: String,
    pub principal: Principal,
    pub expires_at: DateTime<Utc>,
}

fn principal(person: &Person) -> Principal {
    match person {
        Person::Expert(id) => Principal::new(Role::Expert, id.to_string()),
        Person::Operator(_, name) => Principal::new(Role::Operator, name.clone()),
        Person::OrgAdmin(_, name, _) => Principal::new(Role::OrgAdmin, name.clone()),
    }
}

fn after(ttl: std::time::Duration) -> DateTime<Utc> {
    Utc::now() + chrono::Duration::from_std(ttl).unwrap_or(chrono::Duration::hours(12))
}

async fn create_link(
    state: &AppState,
    conn: &mut anxin_store::Connection,
    by: &Actor,
    person: &Person,
) -> AppResult<Link> {
    let (secret, hash) = new_secret();
    let expires_at = after(state.config.sign_in_link_ttl);
    sign_in::create_link(conn, person, &hash, expires_at).await?;
    let target = match person {
        Person::Expert(_) => "expert",
        Person::Operator(..) => "operator",
        Person::OrgAdmin(..) => "org_admin",
    };
    audit::record(
        conn,
        by,
        "sign_in_link.create",
        target,
        person.id(),
        serde_json::json!({"expires_at": expires_at}),
    )
    .await?;
    Ok(Link {
        url: format!("{}{LINK_PATH}/{secret}", state.config.public_url),
        expires_at,
    })
}

/// A link for the expert: 404 for no such expert, 409 `expert_suspended`.
#[tracing::instrument(skip(state, by))]
pub async fn link_for_expert(state: &AppState, by: &Actor, expert: ExpertId) -> AppResult<Link> {
    let mut tx = state.pool.begin().await.map_err(StoreError::from)?;
    let row = experts::lock(&mut tx, expert)
        .await
        .or_not_found("expert")?;
    if row.status == ExpertStatus::Suspended {
        return Err(AppError::conflict(
            ErrorCode::ExpertSuspended,
            "the expert is suspended; approve them again before sending a link",
        ));
    }
    let link = create_link(state, &mut tx, by, &Person::Expert(expert)).await?;
    tx.commit().await.map_err(StoreError::from)?;
    Ok(link)
}

/// A link for the operator with this name, who is created if new (and
/// national), their area left as it is.
pub async fn link_for_operator(state: &AppState, by: &Actor, name: &str) -> AppResult<Link> {
    link_for_operator_in(state, by, name, sign_in::OperatorArea::Keep).await
}

/// A link for the operator with this name, who is created if new, scoped
/// to `area` as asked (audited with the link).
#[tracing::instrument(skip(state, by))]
pub async fn link_for_operator_in(
    state: &AppState,
    by: &Actor,
    name: &str,
    area: sign_in::OperatorArea,
) -> AppResult<Link> {
    let name = operator_name(name)?;
    let mut tx = state.pool.begin().await.map_err(StoreError::from)?;
    let person = sign_in::ensure_operator(&mut tx, name, area).await?;
    if area != sign_in::OperatorArea::Keep {
        let scoped = match area {
            sign_in::OperatorArea::Area(a) => a.as_str(),
            _ => "national",
        };
        audit::record(
            &mut tx,
            by,
            "operator.area",
            "operator",
            person.id(),
            serde_json::json!({ "area": scoped }),
        )
        .await?;
    }
    let link = create_link(state, &mut tx, by, &person).await?;
    tx.commit().await.map_err(StoreError::from)?;
    Ok(link)
}

/// A link for an administrator of `organisation` with this name, who is
/// created if new; 409 when the name is another account's. Answers the
/// administrator's account id and the link.
#[tracing::instrument(skip(state, by))]
pub async fn link_for_org_admin(
    state: &AppState,
    by: &Actor,
    organisation: uuid::Uuid,
    name: &str,
) -> AppResult<(uuid::Uuid, Link)> {
    let name = operator_name(name)?;
    let mut tx = state.pool.begin().await.map_err(StoreError::from)?;
    let Some(person) = sign_in::ensure_org_admin(&mut tx, name, organisation).await? else {
        return Err(AppError::conflict(
            ErrorCode::InvalidTransition,
            "that name is another account's; choose another",
        ));
    };
    let link = create_link(state, &mut tx, by, &person).await?;
    tx.commit().await.map_err(StoreError::from)?;
    Ok((person.id(), link))
}

/// An operator's name: 1–100 visible characters.
fn operator_name(name: &str) -> AppResult<&str> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
        return Err(AppError::Unprocessable {
            code: ErrorCode::InvalidInput,
            message: "a name is 1-100 characters".into(),
            field: Some("name".into()),
        });
    }
    Ok(name)
}

/// What a link would do, without using it: the person it signs in, or why
/// it can't.
pub async fn peek(state: &AppState, secret: &str) -> AppResult<Result<Role, AppError>> {
    let link = sign_in::peek_link(&state.pool, &secret_hash(secret)).await?;
    Ok(match link {
        LinkState::Usable(person) => Ok(principal(&person).role),
        other => Err(refusal(&other)),
    })
}

fn refusal(state: &LinkState) -> AppError {
    match state {
        LinkState::Used => AppError::Gone {
            code: ErrorCode::SignInLinkUsed,
            message: "this sign-in link was already used; ask for a new one".into(),
        },
        LinkState::Expired => AppError::Gone {
            code: ErrorCode::SignInLinkExpired,
            message: "this sign-in link has expired; ask for a new one".into(),
        },
        // Says nothing about whether anyone's account exists.
        _ => AppError::NotFound("sign-in link"),
    }
}

/// Uses the link and starts a session: 410 `sign_in_link_used` or
/// `sign_in_link_expired`, 404 for a link that never was.
#[tracing::instrument(skip_all)]
pub async fn use_link(state: &AppState, secret: &str) -> AppResult<Started> {
    let (session_secret, session_hash) = new_secret();
    let expires_at = after(state.config.session_ttl);
    let mut tx = state.pool.begin().await.map_err(StoreError::from)?;
    let link = sign_in::use_link(&mut tx, &secret_hash(secret), &session_hash, expires_at).await?;
    let LinkState::Usable(person) = link else {
        return Err(refusal(&link));
    };
    let principal = principal(&person);
    audit::record(
        &mut tx,
        &principal.actor(),
        "session.start",
        principal.role.as_str(),
        person.id(),
        serde_json::json!({"via": "link"}),
    )
    .await?;
    tx.commit().await.map_err(StoreError::from)?;
    tracing::info!(role = principal.role.as_str(), "signed in by link");
    Ok(Started {
        secret: session_secret,
        principal,
        expires_at,
    })
}

/// A session for an operator who proved themselves with a bearer token (the
/// dashboard's token sign-in), lasting no longer than the token.
#[tracing::instrument(skip_all)]
pub async fn start_operator_session(
    state: &AppState,
    name: &str,
    token_expires_at: DateTime<Utc>,
) -> AppResult<Started> {
    let name = operator_name(name)?;
    let (secret, hash) = new_secret();
    let expires_at = after(state.config.session_ttl).min(token_expires_at);
    let mut tx = state.pool.begin().await.map_err(StoreError::from)?;
    let person = sign_in::ensure_operator(&mut tx, name, sign_in::OperatorArea::Keep).await?;
    sign_in::start_session(&mut tx, &person, &hash, expires_at).await?;
    let principal = principal(&person);
    audit::record(
        &mut tx,
        &principal.actor(),
        "session.start",
        "operator",
        person.id(),
        serde_json::json!({"via": "token"}),
    )
    .await?;
    tx.commit().await.map_err(StoreError::from)?;
    Ok(Started {
        secret,
        principal,
        expires_at,
    })
}

/// Who a session cookie speaks for, while the session is live.
pub async fn session(state: &AppState, secret: &str) -> AppResult<Option<Principal>> {
    let person = sign_in::session_person(&state.pool, &secret_hash(secret)).await?;
    Ok(person.as_ref().map(principal))
}

/// Ends the session; false when it had already ended.
pub async fn end(state: &AppState, secret: &str) -> AppResult<bool> {
    Ok(sign_in::end_session(&state.pool, &secret_hash(secret)).await?)
}

/// Refuses (401 `account_suspended`) the bearer token of an expert who is
/// suspended or an operator who is disabled. Sessions end at once with the
/// account (they are rows); tokens are checked here on every request,
/// against an answer at most `ACCOUNT_CHECK_TTL` old on this instance.
pub async fn require_active(state: &AppState, principal: &Principal) -> AppResult<()> {
    if principal.role == Role::Seeker {
        return Ok(());
    }
    let key = (principal.role, principal.sub.clone());
    let active = match state.accounts.get(&key) {
        Some(active) => active,
        None => {
            let active = match principal.role {
                Role::Expert => match principal.sub.parse::<uuid::Uuid>() {
                    Ok(id) => sign_in::expert_active(&state.pool, id).await?,
                    // No expert can have that id: the handlers refuse it.
                    Err(_) => true,
                },
                _ => sign_in::operator_active(&state.pool, &principal.sub).await?,
            };
            state.accounts.insert(key, active);
            active
        }
    };
    if active {
        Ok(())
    } else {
        Err(AppError::AccountSuspended)
    }
}

/// Disables or enables an operator account (`anxin operator disable|enable`),
/// audited. Disabling ends their sessions and lapses their links at once;
/// their bearer tokens stop within `ACCOUNT_CHECK_TTL` on every instance.
pub async fn set_operator_disabled(
    state: &AppState,
    by: &Actor,
    name: &str,
    disabled: bool,
) -> AppResult<()> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(anxin_domain::ValidationError::new("name", "1 to 100 characters").into());
    }
    let mut tx = state.pool.begin().await.map_err(StoreError::from)?;
    let person = sign_in::set_operator_disabled(&mut tx, name, disabled).await?;
    let action = if disabled {
        "operator.disable"
    } else {
        "operator.enable"
    };
    audit::record(
        &mut tx,
        by,
        action,
        "operator",
        person.id(),
        serde_json::json!({}),
    )
    .await?;
    tx.commit().await.map_err(StoreError::from)?;
    Ok(())
}
