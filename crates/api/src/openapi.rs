//! The OpenAPI 3 document, generated from the handlers' annotations so it
//! can't drift from the code.
use crate::routes::{bookings, experts, seekers, service};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

#[derive(OpenApi)]
#[openapi(
    info(title = "Anxin", description = "Expert matching and two-way call booking. See shared/api.md."),
    paths(
        service::healthz, service::readyz, service::metrics, service::openapi,
        experts::create_expert, experts::apply, experts::approve, experts::suspend,
        experts::put_availability, experts::slots, experts::my_bookings,
        seekers::slate, seekers::update_me, seekers::place_hold, seekers::release_hold,
        bookings::confirm, bookings::get, bookings::cancel,
        crate::ops::summary, crate::ops::board, crate::ops::page, crate::ops::sign_in,
        crate::ops::sign_out, crate::ops::asset, crate::ops::approve_expert, crate::ops::suspend_expert,
    ),
    modifiers(&BearerAuth),
)]
struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
    }
}

pub fn document() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}
