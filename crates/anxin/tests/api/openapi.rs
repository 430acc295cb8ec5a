//! The served OpenAPI document is exact about what can go wrong: every
//! operation lists the refusals its shape makes possible, each with the
//! `ErrorBody` schema, every credential it takes is a declared scheme, and
//! what the service answers to a probe of each operation is a status the
//! document lists for it.
use crate::helpers::*;
use anxin_api::auth::Role;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use uuid::Uuid;

pub(crate) struct Operation<'d> {
    pub(crate) method: &'d str,
    pub(crate) path: &'d str,
    spec: &'d Value,
}

impl Operation<'_> {
    pub(crate) fn name(&self) -> String {
        format!("{} {}", self.method.to_uppercase(), self.path)
    }

    fn statuses(&self) -> Vec<&str> {
        self.spec["responses"]
            .as_object()
            .map(|r| r.keys().map(String::as_str).collect())
            .unwrap_or_default()
    }

    pub(crate) fn params_in(&self, place: &str) -> Vec<&Value> {
        self.spec["parameters"]
            .as_array()
            .map(|ps| ps.iter().filter(|p| p["in"] == place).collect())
            .unwrap_or_default()
    }

    /// The operation as the document states it.
    pub(crate) fn spec(&self) -> &Value {
        self.spec
    }

    pub(crate) fn takes_body(&self) -> bool {
        self.spec.get("requestBody").is_some()
    }

    fn security(&self) -> Vec<&serde_json::Map<String, Value>> {
        self.spec["security"]
            .as_array()
            .map(|rs| rs.iter().filter_map(Value::as_object).collect())
            .unwrap_or_default()
    }

    /// A credential is required: some requirement is named, and none is the
    /// empty one that makes it optional.
    pub(crate) fn needs_credential(&self) -> bool {
        let requirements = self.security();
        !requirements.is_empty() && requirements.iter().all(|r| !r.is_empty())
    }

    /// Some credential is taken, if maybe not required (a page that says
    /// how to sign in without one).
    pub(crate) fn takes_credential(&self) -> bool {
        self.security().iter().any(|r| !r.is_empty())
    }

    fn accepts(&self, scheme: &str) -> bool {
        self.security().iter().any(|r| r.contains_key(scheme))
    }

    pub(crate) fn http_method(&self) -> Method {
        Method::from_bytes(self.method.to_uppercase().as_bytes()).unwrap()
    }

    /// The path with each `{parameter}` set to `fill(segment before it,
    /// parameter's name)`.
    pub(crate) fn path_with(&self, mut fill: impl FnMut(&str, &str) -> String) -> String {
        let mut before = "";
        let mut parts = Vec::new();
        for part in self.path.split('/') {
            match part.strip_prefix('{').and_then(|p| p.strip_suffix('}')) {
                Some(name) => parts.push(fill(before, name)),
                None => parts.push(part.to_string()),
            }
            before = part;
        }
        parts.join("/")
    }
}

pub(crate) async fn document(app: &TestApp) -> Value {
    let r = app
        .client
        .get(app.url("/openapi.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    r.json().await.unwrap()
}

pub(crate) fn operations(doc: &Value) -> Vec<Operation<'_>> {
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, spec) in item.as_object().unwrap() {
            if ["get", "put", "post", "delete", "patch"].contains(&method.as_str()) {
                out.push(Operation { method, path, spec });
            }
        }
    }
    assert!(out.len() >= 26, "only {} operations documented", out.len());
    out
}

#[tokio::test]
async fn every_operation_lists_the_refusals_its_shape_allows_with_the_error_body() {
    let app = spawn_app().await;
    let doc = document(&app).await;
    let mut missing = Vec::new();
    for op in operations(&doc) {
        let listed = op.statuses();
        let mut expect = |status: &str, why: &str| {
            if !listed.contains(&status) {
                missing.push(format!("{}: no {status} ({why})", op.name()));
            }
        };
        if op.needs_credential() {
            expect("401", "it needs a credential");
            expect("403", "it needs a credential");
            expect("503", "it reads or writes Postgres or Redis");
        }
        if !op.params_in("path").is_empty() {
            expect("400", "a path parameter");
            expect("404", "a path parameter");
        }
        if !op.params_in("query").is_empty() || !op.params_in("header").is_empty() {
            expect("400", "a query or header parameter");
        }
        if op.takes_body() {
            expect("400", "a request body");
        }
        for (status, response) in op.spec["responses"].as_object().unwrap() {
            let is_error = status.starts_with('4') || status.starts_with('5');
            // Readiness answers 503 with the state of each backend instead.
            if !is_error || (op.path == "/readyz" && status == "503") {
                continue;
            }
            assert_eq!(
                response["content"]["application/json"]["schema"]["$ref"],
                "#/components/schemas/ErrorBody",
                "{} {status}",
                op.name()
            );
        }
    }
    assert!(missing.is_empty(), "{missing:#?}");
}

#[tokio::test]
async fn credentials_are_declared_schemes_links_name_operations_and_every_v1_operation_needs_one() {
    let app = spawn_app().await;
    let doc = document(&app).await;
    let schemes = &doc["components"]["securitySchemes"];
    assert_eq!(schemes["bearer"]["type"], "http");
    assert_eq!(schemes["bearer"]["scheme"], "bearer");
    assert_eq!(schemes["session"]["type"], "apiKey");
    assert_eq!(schemes["session"]["in"], "cookie");
    assert_eq!(schemes["session"]["name"], anxin_api::auth::SESSION_COOKIE);
    for op in operations(&doc) {
        for requirement in op.security() {
            for scheme in requirement.keys() {
                assert!(
                    schemes.get(scheme).is_some(),
                    "{} names an undeclared scheme {scheme}",
                    op.name()
                );
            }
        }
        for response in op.spec["responses"].as_object().unwrap().values() {
            for (name, link) in response["links"].as_object().into_iter().flatten() {
                let target = link["operationId"].as_str().unwrap_or_default();
                assert!(
                    operations(&doc)
                        .iter()
                        .any(|o| o.spec["operationId"] == target),
                    "{}: link {name} names no operation ({link})",
                    op.name()
                );
            }
        }
        // Alipay's notification carries Alipay's signature instead, and the
        // vocabulary, the regions, an organisation's application and the
        // published organisations are for anyone (the contract's "anyone").
        let open = [
            "/v1/payments/alipay/notify",
            "/v1/vocabulary",
            "/v1/regions",
            "/v1/organisation-applications",
            "/v1/organisations",
        ];
        if op.path.starts_with("/v1/") && !open.contains(&op.path) {
            assert!(op.needs_credential(), "{} needs no credential", op.name());
            // Ending a session is the one thing only a session does.
            if op.path != "/v1/sessions/end" {
                assert!(op.accepts("bearer"), "{}", op.name());
            }
        }
        // Whatever takes a bearer token takes a person's session too.
        if op.accepts("bearer") || op.path.starts_with("/ops/experts/") {
            assert!(op.accepts("session"), "{}", op.name());
        }
    }
}

/// The operation's URL with each path parameter set to `value`.
fn url_of(app: &TestApp, op: &Operation<'_>, value: &str) -> String {
    app.url(&op.path_with(|_, _| value.to_string()))
}

#[tokio::test]
async fn every_answer_to_a_probe_of_each_operation_is_a_documented_status() {
    let app = spawn_app().await;
    let doc = document(&app).await;
    let callers = [
        ("no credential", None),
        ("a seeker", Some(new_seeker())),
        (
            "an expert",
            Some(token(Role::Expert, &Uuid::new_v4().to_string())),
        ),
        ("an operator", Some(operator())),
    ];
    let nil = Uuid::nil().to_string();
    let mut undocumented = Vec::new();
    let mut refused_id = Vec::new();
    for op in operations(&doc) {
        let listed = op.statuses();
        let ids: &[&str] = if op.params_in("path").is_empty() {
            &[""]
        } else {
            &["not-a-uuid", &nil]
        };
        for id in ids {
            for (who, credential) in &callers {
                let mut request = app.client.request(op.http_method(), url_of(&app, &op, id));
                if let Some(token) = credential {
                    request = request.bearer_auth(token);
                }
                if op.takes_body() {
                    request = request.json(&json!({}));
                }
                let r = request.send().await.unwrap();
                let status = r.status();
                if !listed.contains(&status.as_str()) {
                    let body = r.text().await.unwrap_or_default();
                    undocumented.push(format!(
                        "{} by {who} (id {id:?}): {status} {body}",
                        op.name()
                    ));
                    continue;
                }
                if op.needs_credential() && credential.is_none() {
                    assert_error(r, StatusCode::UNAUTHORIZED, "unauthorized").await;
                } else if *id == "not-a-uuid" && status == StatusCode::BAD_REQUEST {
                    refused_id.push(op.name());
                }
            }
        }
    }
    assert!(undocumented.is_empty(), "{undocumented:#?}");
    // Every operation on an id refuses a malformed one, for some caller.
    for op in operations(&doc) {
        if op.params_in("path").iter().any(|p| p["name"] == "id") {
            assert!(
                refused_id.contains(&op.name()),
                "{} took a malformed id",
                op.name()
            );
        }
    }
}
