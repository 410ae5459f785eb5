//! `GET /v1/openapi.json`: the API description (OpenAPI 3.1), generated from
//! the handlers' `#[utoipa::path]` annotations and the schema crate's wire
//! types, so it cannot drift from what the handlers take and answer.

use std::sync::OnceLock;

use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use beatbook_schema::protocol::ErrorBody;
use utoipa::openapi::schema::{AdditionalProperties, Object, Schema};
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::openapi::RefOr;
use utoipa::{Modify, OpenApi, ToSchema};

use super::{blobs, enroll, sync};

/// The whole API.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Beatbook sync API",
        version = "1",
        description = "Offline-first field data collection: devices enroll, push batches of \
            changes, pull what changed in their scope, and upload attachments resumably. Every \
            error is an `ErrorBody` with a stable `code`. Bodies may be gzip- or \
            zstd-compressed both ways (`Content-Encoding`, `Accept-Encoding`)."
    ),
    paths(
        enroll::enroll,
        enroll::enroll_with_code,
        enroll::me,
        sync::push,
        sync::pull,
        blobs::missing,
        blobs::upload,
        blobs::download,
        document,
        healthz,
        metrics,
    ),
    components(schemas(ErrorBody)),
    modifiers(&BearerAuth, &ClosedVariants),
    tags(
        (name = "devices", description = "Enrollment and the signed-in user."),
        (name = "sync", description = "Pushing changes and pulling what changed."),
        (name = "blobs", description = "Attachments, addressed by their SHA-256."),
        (name = "operations", description = "The API description, health and metrics."),
    ),
)]
struct ApiDoc;

/// The `bearer` scheme: the device token answered by `POST /v1/enroll`.
struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let mut http = Http::new(HttpAuthScheme::Bearer);
        http.description = Some(
            "The device token answered by `POST /v1/enroll` (`Authorization: Bearer bb1_…`)."
                .into(),
        );
        openapi
            .components
            .get_or_insert_with(Default::default)
            .add_security_scheme("bearer", SecurityScheme::Http(http));
    }
}

/// The schema crate's enums with `#[serde(deny_unknown_fields)]`.
const CLOSED_ENUMS: [&str; 3] = ["FieldKind", "Derivation", "DefaultValue"];

/// Closes the variants of [`CLOSED_ENUMS`] (`additionalProperties: false`).
/// utoipa closes `deny_unknown_fields` structs but not enum variants, while
/// serde refuses unknown keys in their struct and newtype variants. An
/// internally tagged unit variant (`{"type": "note"}`) still ignores unknown
/// keys in serde, so it stays open.
struct ClosedVariants;

impl Modify for ClosedVariants {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let Some(components) = openapi.components.as_mut() else {
            return;
        };
        for name in CLOSED_ENUMS {
            let Some(RefOr::T(Schema::OneOf(one_of))) = components.schemas.get_mut(name) else {
                continue; // the fixture tests notice
            };
            for variant in &mut one_of.items {
                if let RefOr::T(Schema::Object(object)) = variant {
                    if !is_tag_only(object) {
                        object.additional_properties =
                            Some(Box::new(AdditionalProperties::FreeForm(false)));
                    }
                }
            }
        }
    }
}

/// Whether a variant schema holds nothing but its one-valued tag.
fn is_tag_only(object: &Object) -> bool {
    let one_value = |p: &RefOr<Schema>| match p {
        RefOr::T(Schema::Object(tag)) => tag.enum_values.as_ref().is_some_and(|v| v.len() == 1),
        _ => false,
    };
    object.properties.len() == 1 && object.properties.values().all(one_value)
}

/// The document as served.
fn json() -> &'static str {
    static JSON: OnceLock<String> = OnceLock::new();
    JSON.get_or_init(|| {
        ApiDoc::openapi()
            .to_json()
            .expect("the API document serializes")
    })
}

/// This document.
#[utoipa::path(
    get,
    path = "/v1/openapi.json",
    tag = "operations",
    operation_id = "openapi",
    responses(
        (status = 200, description = "The OpenAPI 3.1 description of this API.", content_type = "application/json", body = Object),
    ),
)]
pub(super) async fn document() -> Response {
    ([(CONTENT_TYPE, "application/json")], json()).into_response()
}

/// The answer of `GET /healthz`.
#[derive(ToSchema)]
#[allow(dead_code)] // describes JSON built in `http::health`
struct Health {
    status: HealthStatus,
}

/// Always `ok`: an unhealthy server answers 503 instead.
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
#[allow(dead_code)]
enum HealthStatus {
    Ok,
}

/// Liveness and storage check (outside /v1; served by `http::health`).
#[utoipa::path(
    get,
    path = "/healthz",
    tag = "operations",
    operation_id = "healthz",
    responses(
        (status = 200, description = "The server and its storage answer.", body = Health),
        (status = 503, description = "`internal`: the storage does not answer.", body = ErrorBody),
    ),
)]
#[allow(dead_code)] // documentation only: the route is in `http::router`
fn healthz() {}

/// Prometheus metrics (outside /v1; served by `http::metrics`).
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "operations",
    operation_id = "metrics",
    responses(
        (status = 200, description = "Prometheus text exposition format 0.0.4.", content_type = "text/plain", body = String),
        (status = 401, description = "`unauthorized`: `metrics_token` is set and the request does not carry it as `Authorization: Bearer …`.", body = ErrorBody),
        (status = 404, description = "`not_found`: no `metrics_token` is set and the request did not come directly from this machine (loopback, not through a trusted proxy).", body = ErrorBody),
    ),
)]
#[allow(dead_code)] // documentation only: the route is in `http::router`
fn metrics() {}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::path::PathBuf;

    use axum::body::to_bytes;
    use beatbook_schema::protocol::{
        BlobQuery, BlobQueryResponse, BlobStatus, CodeEnrollRequest, EnrollRequest, EnrollResponse,
        PullPage, PushRequest, PushResponse, RecordVersion,
    };
    use serde::de::DeserializeOwned;
    use serde_json::{json, Value};

    use super::*;

    /// Operations anyone may call; every other one needs the bearer token.
    const PUBLIC: [&str; 5] = [
        "enroll",
        "enroll_with_code",
        "openapi",
        "healthz",
        "metrics",
    ];
    const METHODS: [&str; 5] = ["get", "put", "post", "delete", "patch"];

    fn doc() -> Value {
        serde_json::from_str(json()).expect("the document is JSON")
    }

    /// `(method, path)` of every `.route(path, method(..).method(..))` in a
    /// router's source.
    fn routes_in(source: &str, prefix: &str) -> BTreeSet<(String, String)> {
        let mut routes = BTreeSet::new();
        for call in source.split(".route(").skip(1) {
            let mut depth = 1;
            let end = call
                .char_indices()
                .find(|&(_, c)| {
                    depth += match c {
                        '(' => 1,
                        ')' => -1,
                        _ => 0,
                    };
                    depth == 0
                })
                .map(|(i, _)| i)
                .expect("the .route( call closes");
            let args = &call[..end];
            let path = args.split('"').nth(1).expect("a route path literal");
            let methods = args.split_once(',').expect("a method router").1;
            for method in METHODS {
                let called = methods.match_indices(&format!("{method}(")).any(|(i, _)| {
                    methods[..i]
                        .chars()
                        .next_back()
                        .is_none_or(|c| !(c.is_alphanumeric() || c == '_' || c == ':'))
                });
                if called {
                    routes.insert((method.to_owned(), format!("{prefix}{path}")));
                }
            }
        }
        routes
    }

    /// `(method, path)` of every documented operation.
    fn operations(doc: &Value) -> BTreeSet<(String, String)> {
        let mut ops = BTreeSet::new();
        for (path, item) in doc["paths"].as_object().expect("paths") {
            for method in item.as_object().expect("a path item").keys() {
                ops.insert((method.clone(), path.clone()));
            }
        }
        ops
    }

    #[test]
    fn every_route_is_documented_with_its_method() {
        let doc = doc();
        let documented = operations(&doc);
        let v1 = routes_in(include_str!("mod.rs"), "/v1");
        assert!(v1.len() >= 8, "parsed too few routes: {v1:?}");
        let documented_v1: BTreeSet<_> = documented
            .iter()
            .filter(|(_, path)| path.starts_with("/v1/"))
            .cloned()
            .collect();
        assert_eq!(documented_v1, v1, "the /v1 routes and the document differ");

        let outside = routes_in(include_str!("../mod.rs"), "");
        for op in documented.difference(&documented_v1) {
            assert!(outside.contains(op), "{op:?} is documented but not routed");
        }
    }

    #[test]
    fn authenticated_operations_need_the_bearer_token_and_errors_are_error_bodies() {
        let doc = doc();
        let bearer = &doc["components"]["securitySchemes"]["bearer"];
        assert_eq!(
            (&bearer["type"], &bearer["scheme"]),
            (&json!("http"), &json!("bearer"))
        );
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                let id = op["operationId"].as_str().expect("an operation id");
                if PUBLIC.contains(&id) {
                    assert!(op.get("security").is_none(), "{method} {path} is public");
                } else {
                    assert_eq!(op["security"], json!([{"bearer": []}]), "{method} {path}");
                    assert!(op["responses"].get("401").is_some(), "{method} {path}: 401");
                }
                for (status, response) in op["responses"].as_object().unwrap() {
                    if status.starts_with('4') || status.starts_with('5') {
                        assert_eq!(
                            response["content"]["application/json"]["schema"]["$ref"],
                            "#/components/schemas/ErrorBody",
                            "{method} {path} {status}"
                        );
                    }
                }
            }
        }
    }

    /// A validator for one component schema, `$ref`s resolved within the
    /// document's components (OpenAPI 3.1 schemas are JSON Schema 2020-12).
    fn validator(doc: &Value, schema: &str) -> jsonschema::Validator {
        assert!(
            doc["components"]["schemas"].get(schema).is_some(),
            "no component schema {schema}"
        );
        let root = json!({
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "$ref": format!("#/components/schemas/{schema}"),
            "components": doc["components"],
        });
        jsonschema::options()
            .should_validate_formats(true)
            .build(&root)
            .unwrap_or_else(|e| panic!("{schema} does not compile: {e}"))
    }

    fn parses<T: DeserializeOwned>(value: &Value) -> bool {
        serde_json::from_value::<T>(value.clone()).is_ok()
    }

    /// Whether serde takes `value` as the wire type the schema describes.
    fn serde_accepts(schema: &str, value: &Value) -> bool {
        match schema {
            "BlobQuery" => parses::<BlobQuery>(value),
            "BlobQueryResponse" => parses::<BlobQueryResponse>(value),
            "BlobStatus" => parses::<BlobStatus>(value),
            "CodeEnrollRequest" => parses::<CodeEnrollRequest>(value),
            "EnrollRequest" => parses::<EnrollRequest>(value),
            "EnrollResponse" => parses::<EnrollResponse>(value),
            "ErrorBody" => parses::<ErrorBody>(value),
            "PullPage" => parses::<PullPage>(value),
            "PushRequest" => parses::<PushRequest>(value),
            "PushResponse" => parses::<PushResponse>(value),
            "RecordVersion" => parses::<RecordVersion>(value),
            other => panic!("no wire type for the schema {other}"),
        }
    }

    /// `push_request` → `PushRequest`.
    fn schema_of(fixture: &str) -> String {
        fixture
            .split('_')
            .map(|w| w[..1].to_uppercase() + &w[1..])
            .collect()
    }

    fn fixture(name: &str) -> Value {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../shared/tests/fixtures")
            .join(format!("{name}.json"));
        let text =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        serde_json::from_str(&text).expect("a fixture is JSON")
    }

    #[test]
    fn every_golden_fixture_validates_against_its_schema() {
        let doc = doc();
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/tests/fixtures");
        let mut names: Vec<String> = std::fs::read_dir(&dir)
            .expect("the fixtures directory")
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "json"))
            .map(|p| p.file_stem().unwrap().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert!(names.len() >= 9, "found only {names:?}");
        for name in names {
            let schema = schema_of(&name);
            let value = fixture(&name);
            let errors: Vec<String> = validator(&doc, &schema)
                .iter_errors(&value)
                .map(|e| format!("{} at {}", e, e.instance_path()))
                .collect();
            assert!(errors.is_empty(), "{name} against {schema}: {errors:#?}");
            assert!(serde_accepts(&schema, &value), "{name} does not parse");
        }
    }

    /// The first field of the form in `pull_page.json`.
    const FIELD: &str = "/items/0/definition/sections/0/fields/0";

    /// A fixture with the value at `pointer` replaced, added or (`None`) removed.
    fn edited(name: &str, pointer: &str, value: Option<&Value>) -> Value {
        let pointer = pointer.replace("{field}", FIELD);
        let mut doc = fixture(name);
        let (parent, key) = pointer.rsplit_once('/').expect("a JSON pointer");
        match (doc.pointer_mut(parent), value) {
            (Some(Value::Object(o)), Some(v)) => drop(o.insert(key.to_owned(), v.clone())),
            (Some(Value::Object(o)), None) => {
                o.remove(key)
                    .unwrap_or_else(|| panic!("{name}: nothing at {pointer}"));
            }
            (Some(Value::Array(a)), Some(v)) => a[key.parse::<usize>().unwrap()] = v.clone(),
            _ => panic!("{name}: cannot edit {pointer}"),
        }
        doc
    }

    /// Broken copies of the fixtures (and odd but valid ones): each schema
    /// refuses exactly what serde refuses, so it is neither vacuous nor stricter.
    #[test]
    fn schemas_refuse_what_serde_refuses() {
        let cases: &[(&str, &str, Option<Value>, bool)] = &[
            (
                "push_request",
                "/changes/0/op",
                Some(json!("upsertt")),
                false,
            ),
            ("push_request", "/changes/0/fields", None, false),
            (
                "push_request",
                "/changes/0/attachments",
                Some(Value::Null),
                false,
            ),
            ("push_request", "/changes/0/attachments", None, true),
            (
                "push_request",
                "/changes/0/hlc/counter",
                Some(json!(-1)),
                false,
            ),
            (
                "push_request",
                "/changes/0/record_id",
                Some(json!("house-1")),
                false,
            ),
            (
                "push_request",
                "/changes/1/at",
                Some(json!("yesterday")),
                false,
            ),
            (
                "push_request",
                "/changes/1/note",
                Some(json!("ignored")),
                true,
            ),
            ("push_request", "/batch_id", None, false),
            ("push_response", "/results/0/revision", None, false),
            (
                "push_response",
                "/results/0/outcome",
                Some(json!("ignored")),
                false,
            ),
            (
                "push_response",
                "/results/2/conflicts/0/losing_value",
                None,
                false,
            ),
            (
                "push_response",
                "/results/2/conflicts/0/losing_value",
                Some(Value::Null),
                true,
            ),
            (
                "push_response",
                "/results/3/errors/0/code",
                Some(json!("nope")),
                false,
            ),
            ("error_body", "/code", None, false),
            ("error_body", "/code", Some(json!("teapot")), false),
            ("error_body", "/message/en", None, false),
            ("error_body", "/errors", Some(Value::Null), false),
            ("error_body", "/errors", Some(json!([])), true),
            (
                "blob_query",
                "/hashes/0",
                Some(json!("z".repeat(64))),
                false,
            ),
            ("blob_query", "/hashes/0", Some(json!("abc")), false),
            ("blob_status", "/received", Some(json!(-1)), false),
            ("enroll_request", "/password", None, false),
            ("enroll_response", "/user/role", Some(json!("chief")), false),
            ("pull_page", "/items/0/kind", Some(json!("grid")), false),
            (
                "pull_page",
                "/items/0/definition/colour",
                Some(json!("red")),
                false,
            ),
            ("pull_page", "{field}/kind/rows", Some(json!(3)), false),
            (
                "pull_page",
                "{field}/kind",
                Some(json!({"type": "note", "rows": 3})),
                true,
            ),
            (
                "pull_page",
                "{field}/kind",
                Some(json!({"type": "photo", "min": 1})),
                false,
            ),
            (
                "pull_page",
                "{field}/default",
                Some(json!({"value": 1, "device": "now"})),
                false,
            ),
            (
                "pull_page",
                "{field}/default",
                Some(json!({"device": "now"})),
                true,
            ),
            (
                "pull_page",
                "{field}/derived",
                Some(json!({"source": "citizen_id", "field": "id", "part": "age", "x": 1})),
                false,
            ),
            (
                "pull_page",
                "{field}/derived",
                Some(json!({"source": "citizen_id", "field": "id", "part": "star_sign"})),
                false,
            ),
            ("pull_page", "/items/1/version/record/values", None, false),
            (
                "pull_page",
                "/items/1/version/review/decision",
                Some(json!("maybe")),
                false,
            ),
            ("pull_page", "/items/1/version/review/reason", None, false),
        ];
        let doc = doc();
        for (name, pointer, value, valid) in cases {
            let schema = schema_of(name);
            let instance = edited(name, pointer, value.as_ref());
            let case = format!("{name} with {pointer} = {value:?}");
            assert_eq!(serde_accepts(&schema, &instance), *valid, "{case}: serde");
            assert_eq!(
                validator(&doc, &schema).is_valid(&instance),
                *valid,
                "{case}: the {schema} schema disagrees with serde"
            );
        }
    }

    #[tokio::test]
    async fn the_document_is_served_as_json() {
        let response = document().await;
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()[CONTENT_TYPE], "application/json");
        let body = to_bytes(response.into_body(), usize::MAX).await.unwrap();
        let served: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(served["openapi"], "3.1.0");
        assert_eq!(served, doc());
    }
}
