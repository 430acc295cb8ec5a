//! Organisations: applying, vetting into published batches, suspension
//! (which suspends the organisation's experts, with the protections a
//! suspended expert's seekers have), and which organisation a volunteer
//! applies to.
use crate::error::{AppError, AppResult, ErrorCode};
use crate::state::AppState;
use crate::token::Principal;
use anxin_domain::error::ValidationError;
use anxin_domain::expert::ExpertStatus;
use anxin_domain::ids::ExpertId;
use anxin_domain::organisation::{
    reject_reason, OrganisationInput, OrganisationKind, OrganisationStatus,
};
use anxin_store::audit;
use anxin_store::organisations::{self, OrganisationRow};
use anxin_store::StoreError;
use uuid::Uuid;

/// Files an application (status `applied`); the contact's phone is sealed.
pub async fn apply(state: &AppState, input: &OrganisationInput) -> AppResult<Uuid> {
    let mut application = input.validate(&state.config.phone_country_code)?;
    application.region =
        crate::flows::regions::resolve(state, "region", &application.region).await?;
    let sealed = state.cipher.seal(&application.contact_phone);
    Ok(organisations::insert(&state.pool, &application, &sealed).await?)
}

pub async fn get(state: &AppState, id: Uuid) -> AppResult<OrganisationRow> {
    organisations::get(&state.pool, id)
        .await?
        .ok_or(AppError::NotFound("organisation"))
}

/// The public list: approved organisations, by batch.
pub async fn published(
    state: &AppState,
    region: Option<&str>,
    kind: Option<OrganisationKind>,
) -> AppResult<Vec<OrganisationRow>> {
    let region = match region {
        Some(raw) => Some(crate::flows::regions::resolve(state, "region", raw).await?),
        None => None,
    };
    Ok(organisations::published(&state.pool, region.as_deref(), kind).await?)
}

/// The vetting queue.
pub async fn applied(state: &AppState) -> AppResult<Vec<OrganisationRow>> {
    Ok(organisations::with_status(&state.pool, OrganisationStatus::Applied).await?)
}

/// Moves an organisation on (audited in the same transaction); 404 for no
/// such organisation, 409 `invalid_transition` when it is not in a state
/// the move starts from.
async fn transition(
    state: &AppState,
    principal: &Principal,
    id: Uuid,
    from: &[OrganisationStatus],
    to: OrganisationStatus,
    batch: Option<i32>,
    reason: Option<&str>,
) -> AppResult<OrganisationRow> {
    may_read(state, principal, id).await?;
    let mut tx = state.pool.begin().await.map_err(StoreError::from)?;
    let batch = match (to, batch) {
        (OrganisationStatus::Approved, None) => Some(organisations::current_batch(&mut tx).await?),
        (_, b) => b,
    };
    let Some(row) = organisations::transition(&mut tx, id, from, to, batch, reason).await? else {
        return Err(AppError::conflict(
            ErrorCode::InvalidTransition,
            format!("the organisation can't become {to} from where it is"),
        ));
    };
    audit::record(
        &mut tx,
        &principal.actor(),
        &format!("organisation.{}", to.as_str()),
        "organisation",
        id,
        serde_json::json!({ "batch": row.batch }),
    )
    .await?;
    tx.commit().await.map_err(StoreError::from)?;
    Ok(row)
}

/// Approves an application (or a suspended organisation again) into a
/// batch: the one named, else the latest.
pub async fn approve(
    state: &AppState,
    principal: &Principal,
    id: Uuid,
    batch: Option<i32>,
) -> AppResult<OrganisationRow> {
    if batch.is_some_and(|b| !(1..=10_000).contains(&b)) {
        return Err(ValidationError::new("batch", "must be 1 to 10000").into());
    }
    use OrganisationStatus::*;
    transition(
        state,
        principal,
        id,
        &[Applied, Approved, Suspended],
        Approved,
        batch,
        None,
    )
    .await
}

/// Rejects an application, saying why.
pub async fn reject(
    state: &AppState,
    principal: &Principal,
    id: Uuid,
    reason: &str,
) -> AppResult<OrganisationRow> {
    let reason = reject_reason(reason)?;
    use OrganisationStatus::*;
    transition(
        state,
        principal,
        id,
        &[Applied, Rejected],
        Rejected,
        None,
        Some(&reason),
    )
    .await
}

/// Suspends an organisation and every approved expert of it; each expert's
/// upcoming bookings are handed over or cancelled and refunded, as for any
/// suspended expert. Answers the organisation and how many experts were
/// suspended.
pub async fn suspend(
    state: &AppState,
    principal: &Principal,
    id: Uuid,
) -> AppResult<(OrganisationRow, usize)> {
    use OrganisationStatus::*;
    let row = transition(
        state,
        principal,
        id,
        &[Approved, Suspended],
        Suspended,
        None,
        None,
    )
    .await?;
    let experts = organisations::experts_with_status(&state.pool, id, "approved").await?;
    let by = principal.actor();
    for expert in &experts {
        crate::flows::experts::set_status(
            state,
            &by,
            ExpertId(*expert),
            ExpertStatus::Suspended,
            None,
        )
        .await?;
    }
    Ok((row, experts.len()))
}

/// Whose organisation a caller acts for: `None` for an operator (national,
/// or of an area: `flows::reach`),
/// the organisation for its administrator while it is approved (403 once
/// it is suspended, as its experts are; 403 for anyone else).
pub async fn reach(state: &AppState, principal: &Principal) -> AppResult<Option<Uuid>> {
    use crate::token::Role;
    match principal.role {
        Role::Operator => Ok(None),
        Role::OrgAdmin => {
            let org = anxin_store::sign_in::organisation_of(&state.pool, &principal.sub)
                .await?
                .ok_or(AppError::Forbidden(
                    "this account administers no organisation",
                ))?;
            if get(state, org).await?.status != OrganisationStatus::Approved {
                return Err(AppError::Forbidden(
                    "the organisation is suspended: its administrators act again once an \
                     operator approves it",
                ));
            }
            Ok(Some(org))
        }
        _ => Err(AppError::Forbidden("this role may not do that")),
    }
}

/// A national operator may act on any expert; an organisation's
/// administrator on their own organisation's only (404 for the others, as
/// if they did not exist).
pub async fn may_manage_expert(
    state: &AppState,
    principal: &Principal,
    expert: ExpertId,
) -> AppResult<()> {
    match reach(state, principal).await? {
        // An area's operator: experts of its area's regions only.
        None if crate::flows::reach::area(state, principal).await?.is_some() => {
            let region = match anxin_store::experts::get(&state.pool, expert).await {
                Ok(row) => row.region,
                Err(anxin_store::StoreError::NotFound) => return Err(AppError::NotFound("expert")),
                Err(e) => return Err(e.into()),
            };
            crate::flows::reach::sees(state, principal, Some(&region), "expert").await
        }
        None => Ok(()),
        Some(org) if organisations::of_expert(&state.pool, expert.0).await? == Some(org) => Ok(()),
        Some(_) => Err(AppError::NotFound("expert")),
    }
}

/// A national operator may read any organisation, an area's operator those
/// of its area's regions, its administrator their own only (404 for the
/// others).
pub async fn may_read(
    state: &AppState,
    principal: &Principal,
    id: Uuid,
) -> AppResult<OrganisationRow> {
    match reach(state, principal).await? {
        Some(org) if org != id => Err(AppError::NotFound("organisation")),
        _ => {
            let org = get(state, id).await?;
            crate::flows::reach::sees(state, principal, Some(&org.region), "organisation").await?;
            Ok(org)
        }
    }
}

/// The organisation's experts.
pub async fn members(state: &AppState, id: Uuid) -> AppResult<Vec<organisations::MemberRow>> {
    Ok(organisations::members(&state.pool, id).await?)
}

/// The organisation a volunteer applies to: it must be approved. 422 naming
/// `organisation_id` otherwise.
pub async fn open_to_volunteers(state: &AppState, id: Uuid) -> AppResult<OrganisationRow> {
    match organisations::get(&state.pool, id).await? {
        Some(org) if org.status == OrganisationStatus::Approved => Ok(org),
        _ => Err(ValidationError::new(
            "organisation_id",
            "names no approved organisation (GET /v1/organisations)",
        )
        .into()),
    }
}
