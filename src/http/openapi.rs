//! The OpenAPI 3.1 description of the HTTP API, generated from the handlers'
//! `#[utoipa::path]` annotations and the types they take and answer, so the
//! contract integrators read cannot drift from the code. Served at
//! `/api/openapi.json` with a Swagger UI at `/api/docs/`; `lineup openapi`
//! prints it, and `openapi.json` at the repository root is that output, checked
//! by a test.

use super::error::{ErrorBody, ErrorDetail};
use super::{admin, concerts, fairness, gate, health, payments, queue, reservations, users};
use crate::domain::{ConcertId, PaymentId, ReservationId, ScheduleId, UserId};
use crate::payment::Payment;
use crate::queue::{QueueSettings, QueueSettingsChange, QueueStats, QueueTicket, TicketStatus};
use crate::reservation::{Reservation, SeatMap, SeatStatus, SeatView};
use crate::wallet::{Balance, Charged};
use axum::Router;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{Ref, RefOr};
use utoipa::{Modify, OpenApi};
use utoipa_swagger_ui::SwaggerUi;

/// Where the spec is served.
pub const SPEC_PATH: &str = "/api/openapi.json";
/// Where the Swagger UI is served (`/api/docs` redirects to `/api/docs/`).
pub const DOCS_PATH: &str = "/api/docs";

#[derive(OpenApi)]
#[openapi(
    info(
        title = "lineup",
        description = "A waiting room and seat reservations for concert ticket sales. \
            JSON in and out, times in RFC 3339 UTC, money as integer won. Every error reads \
            `{\"error\": {\"code\", \"message\"}}`, with any extra fields beside `error`; a 429 \
            or 503 carries `Retry-After`."
    ),
    paths(
        health::healthz,
        health::readyz,
        users::sign_up,
        users::balance,
        users::charge,
        concerts::list,
        concerts::schedules,
        fairness::fairness,
        queue::join,
        queue::status,
        queue::leave,
        gate::admission,
        gate::gate,
        gate::jwks,
        reservations::seats,
        reservations::hold,
        reservations::get_one,
        reservations::release,
        payments::pay,
        payments::history,
        admin::create_concert,
        admin::list_concerts,
        admin::queue_settings,
        admin::change_queue_settings,
        admin::pause,
        admin::resume,
        admin::close_sale,
        admin::evict,
    ),
    components(schemas(
        ErrorBody,
        ErrorDetail,
        ConcertId,
        ScheduleId,
        ReservationId,
        PaymentId,
        UserId,
        QueueTicket,
        TicketStatus,
        QueueSettings,
        QueueSettingsChange,
        QueueStats,
        Reservation,
        SeatMap,
        SeatView,
        SeatStatus,
        reservations::SeatNumber,
        Payment,
        Balance,
        Charged,
        crate::fairness::FairnessReport,
        gate::AdmissionRequest,
        gate::AdmissionResponse,
        gate::JwkSet,
        gate::Jwk,
    )),
    modifiers(&BearerTokens, &SignUpBodyIsNeverNull),
    tags(
        (name = "users", description = "Sign-up, balances and charges"),
        (name = "concerts", description = "What is on sale"),
        (name = "queue", description = "The waiting line"),
        (name = "admission", description = "Admissions other sites check: the admission token and cookie, the gate of reverse proxies, the public keys"),
        (name = "reservations", description = "Seat maps and holds"),
        (name = "payments", description = "Paying a hold"),
        (name = "admin", description = "Operators: concerts and the line's settings"),
        (name = "health", description = "Liveness and readiness"),
    )
)]
struct ApiDoc;

/// The three kinds of bearer token, as security schemes.
struct BearerTokens;

impl Modify for BearerTokens {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        let bearer = |format: Option<&str>, description: &str| {
            let mut builder = HttpBuilder::new()
                .scheme(HttpAuthScheme::Bearer)
                .description(Some(description));
            if let Some(format) = format {
                builder = builder.bearer_format(format);
            }
            SecurityScheme::Http(builder.build())
        };
        components.add_security_scheme(
            "access_token",
            bearer(
                Some("JWT"),
                "Who you are: the `access_token` of POST /api/v1/users (HS256, `typ: access`).",
            ),
        );
        components.add_security_scheme(
            "queue_token",
            bearer(
                Some("JWT"),
                "Your place in one concert's line: the `token` of a QueueTicket (EdDSA with a `kid` of /.well-known/jwks.json, `typ: queue`).",
            ),
        );
        components.add_security_scheme(
            "admission_token",
            bearer(
                Some("JWT"),
                "An admission to one concert: the `admission_token` of POST /api/v1/queue/admission (EdDSA, `typ: admission`), or the same token in the admission cookie (LINEUP_ADMISSION_COOKIE, `lineup_admission` by default).",
            ),
        );
        components.add_security_scheme(
            "admin_token",
            bearer(
                None,
                "An operator's token: LINEUP_ADMIN_TOKEN or one of LINEUP_ADMIN_TOKENS.",
            ),
        );
    }
}

/// A sign-up's body is optional, but when there is one it is `{}`, never `null`;
/// utoipa spells an optional body as nullable, so the null is taken out here.
struct SignUpBodyIsNeverNull;

impl Modify for SignUpBodyIsNeverNull {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let content = openapi
            .paths
            .paths
            .get_mut("/api/v1/users")
            .and_then(|item| item.post.as_mut())
            .and_then(|operation| operation.request_body.as_mut())
            .and_then(|body| body.content.get_mut("application/json"));
        if let Some(content) = content {
            content.schema = Some(RefOr::Ref(Ref::from_schema_name("SignUpBody")));
        }
    }
}

/// The API's OpenAPI document.
pub fn spec() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

/// The document as `lineup openapi` prints it and `openapi.json` holds it:
/// pretty JSON ending in a newline.
pub fn spec_json() -> String {
    let mut text = spec()
        .to_pretty_json()
        .expect("the OpenAPI document serializes");
    text.push('\n');
    text
}

/// `GET /api/openapi.json` and the Swagger UI reading it.
pub fn router<S: Clone + Send + Sync + 'static>() -> Router<S> {
    SwaggerUi::new(DOCS_PATH).url(SPEC_PATH, spec()).into()
}

#[cfg(test)]
mod tests {
    //! The list of codes, [`ErrorCode::ALL`], against the README's error-code
    //! table and the OpenAPI document: a code added, renamed or answered with
    //! another status fails here until both say so.

    use super::spec;
    use crate::error::ErrorCode;
    use crate::http::error::EXTRA_FIELDS;
    use std::collections::{BTreeMap, BTreeSet};

    /// Codes that no operation of the document answers: the fallbacks of
    /// unknown paths and methods, a bug, and the redirect listener's refusal
    /// (it serves no API). The README lists them.
    const OUTSIDE_THE_OPERATIONS: [ErrorCode; 4] = [
        ErrorCode::NotFound,
        ErrorCode::MethodNotAllowed,
        ErrorCode::Internal,
        ErrorCode::InvalidHost,
    ];

    /// The README's error-code table: code -> status.
    fn readme_codes() -> BTreeMap<String, u16> {
        let readme = include_str!("../../README.md");
        let section = readme
            .split("\n### Error codes\n")
            .nth(1)
            .expect("the README has a ### Error codes section");
        let section = section.split("\n#").next().unwrap_or(section);
        let mut codes = BTreeMap::new();
        for row in section.lines().filter(|l| l.starts_with("| `")) {
            let cells: Vec<&str> = row.split('|').map(str::trim).collect();
            let code = cells[1].trim_matches('`').to_owned();
            let status = cells[2].parse().unwrap_or_else(|_| panic!("{row}"));
            assert!(codes.insert(code, status).is_none(), "{row} twice");
        }
        codes
    }

    /// Every backticked error code in the document's error answers: code ->
    /// the statuses it is documented under.
    fn openapi_codes() -> BTreeMap<String, BTreeSet<u16>> {
        let spec = serde_json::to_value(spec()).unwrap();
        let mut codes: BTreeMap<String, BTreeSet<u16>> = BTreeMap::new();
        for item in spec["paths"].as_object().unwrap().values() {
            for operation in item.as_object().unwrap().values() {
                for (status, response) in operation["responses"].as_object().unwrap() {
                    let status: u16 = status.parse().unwrap();
                    if status < 400 {
                        continue;
                    }
                    let description = response["description"].as_str().unwrap_or_default();
                    for word in description.split('`').skip(1).step_by(2) {
                        let is_name = word.bytes().all(|b| b.is_ascii_lowercase() || b == b'_');
                        if is_name && !EXTRA_FIELDS.contains(&word) {
                            codes.entry(word.to_owned()).or_default().insert(status);
                        }
                    }
                }
            }
        }
        codes
    }

    #[test]
    fn the_readme_lists_every_code_with_its_status_and_nothing_else() {
        let declared: BTreeMap<String, u16> = ErrorCode::ALL
            .iter()
            .map(|c| (c.wire_name().to_owned(), c.status()))
            .collect();
        assert_eq!(
            readme_codes(),
            declared,
            "README.md's error-code table differs from ErrorCode (src/error.rs)"
        );
    }

    #[test]
    fn the_openapi_document_names_every_code_under_its_status_and_no_other() {
        let documented = openapi_codes();
        for (name, statuses) in &documented {
            let code = ErrorCode::ALL
                .iter()
                .find(|c| c.wire_name() == name)
                .unwrap_or_else(|| panic!("the OpenAPI document names an unknown code `{name}`"));
            assert_eq!(
                statuses,
                &BTreeSet::from([code.status()]),
                "`{name}` is documented under the wrong status"
            );
        }
        for code in ErrorCode::ALL {
            if !OUTSIDE_THE_OPERATIONS.contains(code) {
                assert!(
                    documented.contains_key(code.wire_name()),
                    "no operation of the OpenAPI document answers `{code}`"
                );
            }
        }
    }
}
