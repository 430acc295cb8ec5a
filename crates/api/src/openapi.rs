//! The OpenAPI 3 document, generated from the handlers' annotations so it
//! can't drift from the code.
//!
//! An annotation declares what is particular to its operation: the success,
//! and the refusals only it makes (409 `hold_limit`, 422 for a phone, 429).
//! The refusals that follow from an operation's shape are added here, once,
//! from what the annotation already declares (`CommonErrors`):
//! * any input (a path, query or header parameter, or a body): 400;
//! * a path parameter (an id): 404;
//! * a required credential: 401 and 403, and 503, because every such
//!   operation reads or writes Postgres or Redis and answers `unavailable`
//!   while one of them is down.
//!
//! An annotation that documents one of these itself (say, 400 "bad window")
//! keeps its own wording.
use crate::error::ErrorBody;
use crate::routes::{
    apply, bookings, experts, payments, portal, referrals, seekers, service, sign_in,
};
use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::path::{Operation, ParameterIn, PathItem};
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::openapi::security::{
    ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme,
};
use utoipa::openapi::{ContentBuilder, Ref, RefOr, ResponseBuilder};
use utoipa::{Modify, OpenApi, ToSchema};

/// The security scheme of `Authorization: Bearer <JWT>`.
pub const BEARER: &str = "bearer";
/// The security scheme of a person's session cookie.
pub const SESSION: &str = "session";

#[derive(OpenApi)]
#[openapi(
    info(title = "Anxin", description = "Expert matching and two-way call booking: a balanced slate of volunteer experts, atomic holds, bookings and masked two-way calls."),
    paths(
        service::healthz, service::readyz, service::metrics, openapi, crate::routes::vocabulary::vocabulary,
        crate::routes::regions::list, crate::routes::regions::switch,
        crate::routes::organisations::apply, crate::routes::organisations::list, crate::routes::organisations::approve,
        crate::routes::organisations::reject, crate::routes::organisations::suspend, crate::routes::organisations::list_page,
        crate::routes::organisations::apply_page, crate::routes::organisations::apply_form,
        crate::routes::organisations::admins, crate::routes::organisations::experts, crate::routes::organisations::summary,
        crate::routes::organisations::page,
        crate::routes::resources::list, crate::routes::resources::create, crate::routes::resources::update, crate::routes::resources::retire,
        crate::routes::supervision::create_module, crate::routes::supervision::modules, crate::routes::supervision::training,
        crate::routes::supervision::complete, crate::routes::supervision::flags, crate::routes::supervision::supervisor,
        crate::routes::supervision::debriefs, crate::routes::supervision::done, crate::routes::supervision::page,
        crate::routes::waitlist::join, crate::routes::waitlist::get, crate::routes::waitlist::leave,
        crate::routes::help_now::offer, crate::routes::help_now::ask, crate::routes::help_now::get,
        crate::routes::help_now::leave, crate::routes::help_now::get_duty,
        crate::routes::help_now::set_duty, crate::routes::help_now::record_outcome,
        crate::routes::help_now::taken,
        experts::create_expert, experts::apply, experts::approve, experts::suspend,
        experts::get_availability, experts::put_availability, experts::slots, experts::get_me, experts::my_bookings,
        seekers::slate, seekers::update_me, seekers::erase_me, seekers::my_bookings, seekers::place_hold, seekers::release_hold,
        bookings::confirm, bookings::get, bookings::cancel,
        payments::start, payments::get, payments::simulated_get, payments::simulated_pay,
        payments::alipay_notify,
        sign_in::create_link, sign_in::link, sign_in::use_link, sign_in::end,
        referrals::record_outcome, referrals::list, referrals::resolve, referrals::callback,
        portal::page, crate::routes::app::page,
        apply::page, apply::submit,
        crate::ops::summary, crate::ops::board, crate::ops::page, crate::ops::sign_in,
        crate::pages::asset, crate::ops::approve_expert, crate::ops::suspend_expert, crate::ops::decline_experts,
    ),
    components(schemas(ErrorBody)),
    modifiers(&SecuritySchemes, &SessionEverywhere, &CommonErrors, &LinkFieldNames),
)]
struct ApiDoc;

struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            BEARER,
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some(
                        "A JWT with `sub`, `role` (seeker, expert or operator) and `exp`.",
                    ))
                    .build(),
            ),
        );
        components.add_security_scheme(
            SESSION,
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                crate::auth::SESSION_COOKIE,
                "A person's session (an expert's or an operator's), started by a sign-in link \
                 (`POST /sign-in/{secret}`) or the dashboard's token sign-in. Every route that \
                 takes a bearer token takes it too, with the same role rules. A state-changing \
                 request made with it must also send `X-Anxin-Session: 1` (else 403 `csrf`).",
            ))),
        );
    }
}

/// Every operation that takes a bearer token also takes the session cookie
/// (`auth::Authorized`), so each says so.
struct SessionEverywhere;

impl Modify for SessionEverywhere {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let session = SecurityRequirement::new(SESSION, Vec::<String>::new());
        for item in openapi.paths.paths.values_mut() {
            for operation in operations(item) {
                let Some(requirements) = operation.security.as_mut() else {
                    continue;
                };
                let bearer = SecurityRequirement::new(BEARER, Vec::<String>::new());
                if requirements.contains(&bearer) && !requirements.contains(&session) {
                    requirements.push(session.clone());
                }
            }
        }
    }
}

struct CommonErrors;

impl Modify for CommonErrors {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for item in openapi.paths.paths.values_mut() {
            for operation in operations(item) {
                add_common_errors(operation);
            }
        }
    }
}

fn operations(item: &mut PathItem) -> impl Iterator<Item = &mut Operation> {
    [
        &mut item.get,
        &mut item.put,
        &mut item.post,
        &mut item.delete,
        &mut item.patch,
        &mut item.head,
        &mut item.options,
        &mut item.trace,
    ]
    .into_iter()
    .filter_map(Option::as_mut)
}

/// Whether the operation refuses a caller without a credential: it names at
/// least one security requirement, and none of them is the empty one that
/// makes a credential optional.
fn needs_credential(operation: &Operation) -> bool {
    operation.security.as_ref().is_some_and(|requirements| {
        !requirements.is_empty() && !requirements.contains(&SecurityRequirement::default())
    })
}

fn add_common_errors(operation: &mut Operation) {
    let params = operation.parameters.as_deref().unwrap_or_default();
    let takes = |place: ParameterIn| params.iter().any(|p| p.parameter_in == place);
    let identified = takes(ParameterIn::Path);
    let protected = needs_credential(operation);
    let mut malformed = Vec::new();
    if identified {
        malformed.push("`invalid_id` or `invalid_path` (a path parameter)");
    }
    if takes(ParameterIn::Query) {
        malformed.push("`invalid_query` (a query parameter, or one it does not take)");
    }
    if takes(ParameterIn::Header) {
        malformed.push("`invalid_idempotency_key` (a header)");
    }
    if operation.request_body.is_some() {
        malformed.push(
            "`malformed_json`, `invalid_field` (a wrong type, or a field it does not take), \
             `unsupported_media_type`, `body_too_large` or `invalid_body` (the body)",
        );
    }
    let mut add = |status: &str, description: String, retry_after: bool| {
        operation
            .responses
            .responses
            .entry(status.to_string())
            .or_insert_with(|| error_response(description, retry_after).into());
    };
    if !malformed.is_empty() {
        let codes = malformed.join("; ");
        add(
            "400",
            format!("Malformed request: {codes}. `field` names the input at fault."),
            false,
        );
    }
    if identified {
        add(
            "404",
            "`not_found`: no such resource, or not one this caller may know of.".into(),
            false,
        );
    }
    if protected {
        add(
            "401",
            "`unauthorized`: no credential, or one that is malformed, forged or expired.".into(),
            false,
        );
        add(
            "403",
            "`forbidden`: this role (or this subject) may not do this.".into(),
            false,
        );
        add(
            "503",
            "`unavailable`: Postgres or Redis does not answer; try again after `Retry-After` \
             seconds."
                .into(),
            true,
        );
    }
}

/// An error answer: the `ErrorBody` JSON, with `Retry-After` where the
/// caller is told when to come back.
fn error_response(description: impl Into<String>, retry_after: bool) -> utoipa::openapi::Response {
    let mut response = ResponseBuilder::new().description(description).content(
        "application/json",
        ContentBuilder::new()
            .schema(Some(Ref::from_schema_name(ErrorBody::name())))
            .build(),
    );
    if retry_after {
        response = response.header(
            "Retry-After",
            HeaderBuilder::new()
                .schema(
                    ObjectBuilder::new()
                        .schema_type(Type::Integer)
                        .minimum(Some(1)),
                )
                .description(Some("Seconds to wait before trying again."))
                .build(),
        );
    }
    response.build()
}

/// utoipa 5.5 writes a link's `operationId` and `requestBody` as
/// `operation_id` and `request_body`, which no client reads; they are moved to
/// their OpenAPI names.
struct LinkFieldNames;

impl Modify for LinkFieldNames {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for item in openapi.paths.paths.values_mut() {
            for operation in operations(item) {
                for response in operation.responses.responses.values_mut() {
                    let RefOr::T(response) = response else {
                        continue;
                    };
                    for link in response.links.values_mut() {
                        let RefOr::T(link) = link else { continue };
                        let named = link.extensions.get_or_insert_with(Default::default);
                        let operation_id = std::mem::take(&mut link.operation_id);
                        if !operation_id.is_empty() {
                            named.insert("operationId".into(), operation_id.into());
                        }
                        if let Some(body) = link.request_body.take() {
                            named.insert("requestBody".into(), body);
                        }
                    }
                }
            }
        }
    }
}

pub fn document() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

/// Serves this document. It lives beside the document, so `routes` never
/// refers back to `openapi`.
#[utoipa::path(get, path = "/openapi.json", tag = "service", responses((status = 200, description = "This document")))]
pub async fn openapi() -> actix_web::HttpResponse {
    actix_web::HttpResponse::Ok().json(document())
}
