//! Supervision and training (督导与培训): the modules operators define and
//! volunteers complete before approval, supervisors and whom they
//! supervise, and the debriefs hard sessions open for them. Who may see an
//! expert's training or debriefs: that expert, their supervisor, their
//! organisation's administrators and operators; anyone else gets 404, as if
//! the expert did not exist. Every mark, assignment and closure is audited.
use crate::error::{AppError, AppResult, ErrorCode};
use crate::state::AppState;
use crate::token::{Principal, Role};
use anxin_domain::ids::ExpertId;
use anxin_domain::referral::{OutcomeInput, SessionOutcome};
use anxin_domain::supervision::{
    debrief_for, DebriefStatus, ModuleInput, SessionSignals, ABSENT_STREAK, MAX_BODY_CHARS,
};
use anxin_domain::ValidationError;
use anxin_store::audit::{self, Actor};
use anxin_store::supervision::{
    self as store, DebriefRow, ModuleRow, Progress, Standing, SupervisedRow, Whose,
};
use anxin_store::StoreError;
use uuid::Uuid;

/// How many debriefs one listing shows.
const LISTED_AT_MOST: i64 = 200;

#[tracing::instrument(skip_all)]
pub async fn create_module(
    state: &AppState,
    principal: &Principal,
    input: &ModuleInput,
) -> AppResult<Uuid> {
    if crate::flows::reach::area(state, principal).await?.is_some() {
        return Err(AppError::Forbidden(
            "training modules are the same everywhere: national operators define them",
        ));
    }
    let module = input.validate()?;
    let id = store::insert_module(&state.pool, &module).await?;
    let mut conn = state.pool.acquire().await.map_err(StoreError::from)?;
    audit::record(
        &mut conn,
        &principal.actor(),
        "training.module.create",
        "training_module",
        id,
        serde_json::json!({"required": module.required, "self_attest": module.self_attest}),
    )
    .await?;
    Ok(id)
}

pub async fn modules(state: &AppState) -> AppResult<Vec<ModuleRow>> {
    Ok(store::modules(&state.pool).await?)
}

/// How the caller stands to an expert in supervision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Relation {
    Themselves,
    Supervisor,
    /// An operator, or an administrator of the expert's organisation.
    Manager,
}

/// The caller's relation to the expert, or 404 `expert` when they have none.
pub async fn relation(
    state: &AppState,
    principal: &Principal,
    expert: ExpertId,
) -> AppResult<(Relation, Standing)> {
    let standing = store::standing(&state.pool, expert)
        .await?
        .ok_or(AppError::NotFound("expert"))?;
    let relation = match principal.role {
        Role::Expert if principal.expert_id() == Some(expert) => Relation::Themselves,
        Role::Expert
            if principal.expert_id().is_some()
                && principal.expert_id() == standing.supervisor_id =>
        {
            Relation::Supervisor
        }
        Role::Operator | Role::OrgAdmin => {
            crate::flows::organisations::may_manage_expert(state, principal, expert).await?;
            // An area's operator: the experts of its area's regions only.
            crate::flows::reach::sees(state, principal, Some(&standing.region), "expert").await?;
            Relation::Manager
        }
        _ => return Err(AppError::NotFound("expert")),
    };
    Ok((relation, standing))
}

pub async fn progress(
    state: &AppState,
    principal: &Principal,
    expert: ExpertId,
) -> AppResult<Vec<Progress>> {
    relation(state, principal, expert).await?;
    Ok(store::progress(&state.pool, expert).await?)
}

/// Marks a module complete: the expert themselves only for a self-attest
/// module (403 otherwise), their supervisor, organisation administrator or
/// an operator for any. Marking again changes nothing.
#[tracing::instrument(skip(state, principal))]
pub async fn complete(
    state: &AppState,
    principal: &Principal,
    expert: ExpertId,
    module: Uuid,
) -> AppResult<()> {
    let (relation, _) = relation(state, principal, expert).await?;
    let m = store::get_module(&state.pool, module)
        .await?
        .ok_or(AppError::NotFound("training module"))?;
    if relation == Relation::Themselves && !m.module.self_attest {
        return Err(AppError::Forbidden(
            "this module is marked complete by a supervisor, the organisation or an operator",
        ));
    }
    let by = principal.actor();
    let mut tx = state.pool.begin().await.map_err(StoreError::from)?;
    if store::complete(&mut tx, expert, module, &by).await? {
        audit::record(
            &mut tx,
            &by,
            "training.complete",
            "expert",
            expert.0,
            serde_json::json!({"module_id": module}),
        )
        .await?;
    }
    tx.commit().await.map_err(StoreError::from)?;
    Ok(())
}

/// 409 `training_incomplete` naming the required modules the expert has not
/// completed, if any: checked in the approval's transaction.
pub async fn require_trained(
    conn: &mut anxin_store::Connection,
    expert: ExpertId,
) -> AppResult<()> {
    let missing = store::missing_required(conn, expert).await?;
    if missing.is_empty() {
        return Ok(());
    }
    Err(AppError::conflict(
        ErrorCode::TrainingIncomplete,
        format!("required training is not complete: {}", missing.join(", ")),
    ))
}

/// Gives or takes the supervisor flag (an approved expert's only); taking
/// it unassigns the experts they supervised.
#[tracing::instrument(skip(state, principal))]
pub async fn set_flag(
    state: &AppState,
    principal: &Principal,
    expert: ExpertId,
    supervisor: bool,
) -> AppResult<()> {
    let (relation, standing) = relation(state, principal, expert).await?;
    if relation != Relation::Manager {
        return Err(AppError::Forbidden("this role may not do that"));
    }
    if supervisor && !standing.approved {
        return Err(AppError::conflict(
            ErrorCode::InvalidTransition,
            "only an approved expert can be a supervisor",
        ));
    }
    let by = principal.actor();
    let mut tx = state.pool.begin().await.map_err(StoreError::from)?;
    store::set_flag(&mut tx, expert, supervisor).await?;
    // Taking the flag ends their supervision: whom they supervised has no
    // supervisor until one is assigned (else they would still mark training
    // and record debriefs as one).
    let released = if supervisor {
        0
    } else {
        store::release_supervised(&mut tx, expert).await?
    };
    audit::record(
        &mut tx,
        &by,
        "expert.supervisor_flag",
        "expert",
        expert.0,
        serde_json::json!({"supervisor": supervisor, "released": released}),
    )
    .await?;
    tx.commit().await.map_err(StoreError::from)?;
    Ok(())
}

/// Assigns the expert's supervisor (or none): an approved expert with the
/// flag, of the same organisation (422 naming `supervisor_id` otherwise).
#[tracing::instrument(skip(state, principal))]
pub async fn assign(
    state: &AppState,
    principal: &Principal,
    expert: ExpertId,
    supervisor: Option<ExpertId>,
) -> AppResult<()> {
    let (relation, standing) = relation(state, principal, expert).await?;
    if relation != Relation::Manager {
        return Err(AppError::Forbidden("this role may not do that"));
    }
    if let Some(s) = supervisor {
        let theirs = store::standing(&state.pool, s).await?;
        let fits = theirs.is_some_and(|t| {
            t.supervisor && t.approved && t.organisation_id == standing.organisation_id
        });
        if !fits || s == expert {
            return Err(ValidationError::new(
                "supervisor_id",
                "must be another approved expert of the same organisation with the supervisor flag",
            )
            .into());
        }
    }
    let by = principal.actor();
    let mut tx = state.pool.begin().await.map_err(StoreError::from)?;
    store::set_supervisor(&mut tx, expert, supervisor).await?;
    audit::record(
        &mut tx,
        &by,
        "expert.supervisor",
        "expert",
        expert.0,
        serde_json::json!({"supervisor_id": supervisor.map(|s| s.0)}),
    )
    .await?;
    tx.commit().await.map_err(StoreError::from)?;
    Ok(())
}

/// In the outcome's transaction: opens the session's debrief when the rule
/// (`domain::supervision::debrief_for`) says so. The outcome is already
/// recorded, so the absent streak counts this session.
pub async fn after_outcome(
    tx: &mut anxin_store::Connection,
    by: &Actor,
    expert: ExpertId,
    session: anxin_store::referrals::Session,
    input: &OutcomeInput,
) -> AppResult<Option<Uuid>> {
    let recent = store::recent_outcomes(tx, expert, ABSENT_STREAK as i64).await?;
    let absent_in_a_row = recent
        .iter()
        .take_while(|o| **o == SessionOutcome::SeekerAbsent)
        .count();
    let Some((reason, due_in)) = debrief_for(SessionSignals {
        outcome: input.outcome,
        urgency: input.urgency,
        requested: input.debrief,
        absent_in_a_row,
    }) else {
        return Ok(None);
    };
    let opened = store::open_debrief(tx, expert, session, reason, due_in).await?;
    if let Some(id) = opened {
        audit::record(
            tx,
            by,
            "debrief.open",
            "debrief",
            id,
            serde_json::json!({"reason": reason.as_str(), "session": session.id()}),
        )
        .await?;
    }
    Ok(opened)
}

/// Whose debriefs the caller may list: a supervisor their experts', an
/// organisation's administrator its experts', an operator all; an expert
/// without the flag their own (so the portal can say one is arranged).
async fn whose(state: &AppState, principal: &Principal) -> AppResult<Whose> {
    match principal.role {
        Role::Operator => Ok(
            match crate::flows::reach::regions(state, principal).await? {
                Some(codes) => Whose::Regions(codes),
                None => Whose::All,
            },
        ),
        Role::OrgAdmin => match crate::flows::organisations::reach(state, principal).await? {
            Some(org) => Ok(Whose::Organisation(org)),
            None => Ok(Whose::All),
        },
        Role::Expert => {
            let me = principal
                .expert_id()
                .ok_or(AppError::Forbidden("this role may not do that"))?;
            let standing = store::standing(&state.pool, me).await?;
            Ok(match standing {
                Some(s) if s.supervisor => Whose::SupervisedBy(me),
                _ => Whose::Expert(me),
            })
        }
        Role::Seeker => Err(AppError::Forbidden("this role may not do that")),
    }
}

pub async fn debriefs(
    state: &AppState,
    principal: &Principal,
    status: Option<DebriefStatus>,
) -> AppResult<Vec<DebriefRow>> {
    let whose = whose(state, principal).await?;
    Ok(store::debriefs(&state.pool, whose, status, LISTED_AT_MOST).await?)
}

/// An expert's own open debriefs, for their portal.
pub async fn arranged_for(state: &AppState, expert: ExpertId) -> AppResult<Vec<DebriefRow>> {
    Ok(store::debriefs(
        &state.pool,
        Whose::Expert(expert),
        Some(DebriefStatus::Open),
        LISTED_AT_MOST,
    )
    .await?)
}

/// Records a debrief done, with the supervisor's note (sealed): the expert's
/// supervisor or an operator (404 for anyone else); 409 when already done.
#[tracing::instrument(skip(state, principal, note))]
pub async fn done(state: &AppState, principal: &Principal, id: Uuid, note: &str) -> AppResult<()> {
    let note = note.trim();
    if note.is_empty() || note.chars().count() > MAX_BODY_CHARS {
        return Err(ValidationError::new("note", "must be 1 to 4,000 characters").into());
    }
    let by = principal.actor();
    let mut tx = state.pool.begin().await.map_err(StoreError::from)?;
    let row = store::lock_debrief(&mut tx, id)
        .await?
        .ok_or(AppError::NotFound("debrief"))?;
    let allowed = match principal.role {
        Role::Operator => crate::flows::reach::covers(state, principal, Some(&row.region)).await?,
        Role::Expert => {
            principal.expert_id().is_some() && principal.expert_id() == row.supervisor_id
        }
        _ => false,
    };
    if !allowed {
        return Err(AppError::NotFound("debrief"));
    }
    if row.status == DebriefStatus::Done {
        return Err(AppError::conflict(
            ErrorCode::InvalidTransition,
            "this debrief is already recorded as done",
        ));
    }
    store::close_debrief(&mut tx, id, &state.cipher.seal_text(note), &by).await?;
    audit::record(
        &mut tx,
        &by,
        "debrief.done",
        "debrief",
        id,
        serde_json::json!({"expert_id": row.expert_id.0}),
    )
    .await?;
    tx.commit().await.map_err(StoreError::from)?;
    Ok(())
}

/// The supervisor's experts with their week's load and recent outcomes.
pub async fn supervised(state: &AppState, supervisor: ExpertId) -> AppResult<Vec<SupervisedRow>> {
    Ok(store::supervised(&state.pool, supervisor).await?)
}

/// Open debriefs and how many of them are past due, of an organisation's
/// experts, of these regions' experts, or all.
pub async fn open_counts(
    state: &AppState,
    organisation: Option<Uuid>,
    regions: Option<&[String]>,
) -> AppResult<(i64, i64)> {
    Ok(store::open_counts(&state.pool, organisation, regions).await?)
}
