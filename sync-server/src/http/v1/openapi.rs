//! `GET /v1/openapi.json`: the API description.

use axum::Json;
use serde_json::{json, Value};

pub(super) async fn document() -> Json<Value> {
    Json(json!({
        "openapi": "3.1.0",
        "info": {"title": "Beatbook sync API", "version": "1"},
        "paths": {}
    }))
}
