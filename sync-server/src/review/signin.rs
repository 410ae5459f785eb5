//! Signing in to the review pages: supervisors and admins only, with badge
//! number and password (the sign-in workflow of device enrollment,
//! [`crate::auth::signin`]: one throttle, one Argon2id limit).
//!
//! A session id is 32 random bytes, kept only in the browser's cookie
//! (`HttpOnly`, `SameSite=Strict`, `Secure` behind HTTPS); the server stores
//! its SHA-256. Sessions end 12 hours after sign-in, after 2 idle hours, on
//! sign-out, or when the account is disabled or loses its role. The CSRF token of every form
//! is derived from the session id (a synchronizer token the database never
//! holds), and checked by [`super::guard`] on every POST.

use axum::extract::{FromRequestParts, Query, State};
use axum::http::header::{LOCATION, RETRY_AFTER, SET_COOKIE};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Form;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use beatbook_schema::protocol::Role;
use beatbook_schema::text::Lang;
use chrono::{Duration, Utc};
use rand::RngCore;
use serde::Deserialize;
use serde_json::json;

use super::error::ReviewError;
use super::i18n::{cookie, lang_of, Tr};
use super::layout;
use super::links::safe_next;
pub use super::reviewer::{csrf_token, same_secret, Reviewer};
use crate::auth::{hash_token, sign_in, Attempt, ClientAddr, SignInError};
use crate::state::AppState;
use crate::sync::read_scope;
use beatbook_store::{NewAudit, NewWebSession};

/// The session cookie.
pub const SESSION_COOKIE: &str = "bb_review";
/// The sign-in form's own CSRF cookie (double submit: there is no session yet).
pub const LOGIN_COOKIE: &str = "bb_review_login";
/// A session ends this long after sign-in at the latest.
const LIFETIME_HOURS: i64 = 12;
/// ... or after this long without a request.
const IDLE_MINUTES: i64 = 120;
/// Activity is written down at most this often.
const TOUCH_MINUTES: i64 = 5;

/// A fresh random secret for a cookie.
fn random_secret(prefix: &str) -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    format!("{prefix}{}", URL_SAFE_NO_PAD.encode(bytes))
}

/// Whether cookies get the `Secure` flag for this request: when a proxy in
/// front says it came over HTTPS. (A server configured for HTTPS marks every
/// cookie `Secure` anyway: see `http::https`.)
fn secure(headers: &HeaderMap) -> bool {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_ascii_lowercase()
    };
    header("x-forwarded-proto").trim() == "https" || header("forwarded").contains("proto=https")
}

/// A `Set-Cookie` value for the review pages (`max_age` 0 deletes it).
fn set_cookie(name: &str, value: &str, max_age: i64, headers: &HeaderMap) -> HeaderValue {
    let secure = if secure(headers) { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{name}={value}; Path=/review; Max-Age={max_age}; HttpOnly; SameSite=Strict{secure}"
    ))
    .unwrap_or_else(|_| HeaderValue::from_static(""))
}

impl FromRequestParts<AppState> for Reviewer {
    type Rejection = ReviewError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let here = parts
            .extensions
            .get::<axum::extract::OriginalUri>()
            .map_or_else(|| parts.uri.clone(), |u| u.0.clone());
        let here = here
            .path_and_query()
            .map_or("/review/batches", |p| p.as_str())
            .to_owned();
        let sign_in = || ReviewError::SignIn {
            next: (parts.method == Method::GET).then(|| here.clone()),
        };
        let token = cookie(&parts.headers, SESSION_COOKIE).ok_or_else(sign_in)?;
        let hash = hash_token(token);
        let session = state.store.web_session(hash).await?.ok_or_else(sign_in)?;
        let now = Utc::now();
        let allowed = matches!(session.user.role, Role::Supervisor | Role::Admin);
        if now >= session.expires_at
            || now - session.last_seen_at >= Duration::minutes(IDLE_MINUTES)
            || session.disabled
            || !allowed
        {
            state.store.end_web_session(hash).await?;
            return Err(sign_in());
        }
        if now - session.last_seen_at >= Duration::minutes(TOUCH_MINUTES) {
            state.store.touch_web_session(hash, now).await?;
        }
        let all_grids = state.store.grids().await?;
        let scope = read_scope(&session.user, &all_grids);
        let grids = all_grids
            .into_iter()
            .filter(|g| scope.contains(&g.id))
            .collect();
        let station_name = state
            .store
            .stations()
            .await?
            .into_iter()
            .find(|s| s.id == session.user.station)
            .map_or_else(|| session.user.station.to_string(), |s| s.name);
        Ok(Reviewer {
            csrf: csrf_token(token),
            lang: lang_of(parts.uri.query(), &parts.headers),
            offset: state.policy.local_offset,
            user: session.user,
            scope,
            grids,
            station_name,
            here,
        })
    }
}

/// Query of the sign-in page.
#[derive(Debug, Deserialize)]
pub struct LoginQuery {
    next: Option<String>,
}

/// The sign-in page. Already signed in: straight on.
pub async fn login_page(
    reviewer: Result<Reviewer, ReviewError>,
    headers: HeaderMap,
    uri: axum::http::Uri,
    Query(q): Query<LoginQuery>,
) -> Response {
    let next = safe_next(q.next.as_deref()).to_owned();
    if reviewer.is_ok() {
        return (StatusCode::SEE_OTHER, [(LOCATION, next)]).into_response();
    }
    let lang = lang_of(uri.query(), &headers);
    login_form(&headers, lang, &next, None, StatusCode::OK)
}

fn login_form(
    headers: &HeaderMap,
    lang: Lang,
    next: &str,
    problem: Option<&str>,
    status: StatusCode,
) -> Response {
    let token = random_secret("");
    let body = layout::login(lang, &token, next, problem);
    (
        status,
        [(SET_COOKIE, set_cookie(LOGIN_COOKIE, &token, 3600, headers))],
        body,
    )
        .into_response()
}

/// The sign-in form.
#[derive(Debug, Deserialize)]
pub struct LoginForm {
    badge: String,
    password: String,
    next: Option<String>,
}

/// Signs in.
pub async fn login(
    State(state): State<AppState>,
    ClientAddr(client): ClientAddr,
    headers: HeaderMap,
    uri: axum::http::Uri,
    Form(form): Form<LoginForm>,
) -> Result<Response, ReviewError> {
    let lang = lang_of(uri.query(), &headers);
    let next = safe_next(form.next.as_deref()).to_owned();
    let refuse = |status: StatusCode, problem: &str| {
        Ok(login_form(&headers, lang, &next, Some(problem), status))
    };
    // The same workflow and throttle as device enrollment: one budget of
    // guesses per badge and address, whichever door they knock on.
    let attempt = Attempt {
        badge: &form.badge,
        password: &form.password,
        device_name: None,
        client,
    };
    let account = match sign_in(&state, attempt).await {
        Ok(account) => account,
        Err(SignInError::Missing) => {
            let problem = lang.t("请输入警号和密码", "Enter your badge number and password");
            return refuse(StatusCode::BAD_REQUEST, problem);
        }
        Err(SignInError::TooLong(field)) => {
            let text = field.too_long();
            return refuse(StatusCode::BAD_REQUEST, lang.t(&text.zh, &text.en));
        }
        Err(SignInError::Throttled(wait)) => {
            let secs = wait.as_secs().max(1);
            let minutes = secs.div_ceil(60);
            let problem = match lang {
                Lang::Zh => format!("密码错误次数过多，请 {minutes} 分钟后再试"),
                Lang::En => format!("Too many failed sign-ins: try again in {minutes} minutes"),
            };
            let mut res = refuse(StatusCode::TOO_MANY_REQUESTS, &problem)?;
            res.headers_mut()
                .insert(RETRY_AFTER, HeaderValue::from(secs));
            return Ok(res);
        }
        Err(SignInError::WrongCredentials) => {
            let problem = lang.t("警号或密码错误", "Wrong badge number or password");
            return refuse(StatusCode::UNAUTHORIZED, problem);
        }
        Err(SignInError::Disabled) => {
            let problem = lang.t(
                "账号已停用，请联系管理员",
                "The account is disabled: ask an administrator",
            );
            return refuse(StatusCode::UNAUTHORIZED, problem);
        }
        Err(SignInError::Store(e)) => return Err(e.into()),
    };
    if !matches!(account.info.role, Role::Supervisor | Role::Admin) {
        let problem = lang.t(
            "审核页面仅供所领导和管理员使用；民警和辅警请使用手机应用",
            "The review pages are for supervisors and administrators; officers use the phone app",
        );
        return refuse(StatusCode::FORBIDDEN, problem);
    }
    let token = random_secret("bbw_");
    let now = Utc::now();
    state
        .store
        .create_web_session(NewWebSession {
            id_hash: hash_token(&token),
            user: account.info.id,
            created_at: now,
            expires_at: now + Duration::hours(LIFETIME_HOURS),
        })
        .await?;
    state
        .store
        .append_audit(NewAudit::by(
            &account.info,
            "sign_in",
            "",
            json!({ "ip": client.to_string() }),
        ))
        .await?;
    tracing::info!("reviewer signed in");
    let mut res = (StatusCode::SEE_OTHER, [(LOCATION, next)]).into_response();
    let h = res.headers_mut();
    h.append(
        SET_COOKIE,
        set_cookie(SESSION_COOKIE, &token, LIFETIME_HOURS * 3600, &headers),
    );
    h.append(SET_COOKIE, set_cookie(LOGIN_COOKIE, "", 0, &headers));
    Ok(res)
}

/// Signs out (a POST, so a link elsewhere cannot sign anyone out).
pub async fn logout(
    State(state): State<AppState>,
    reviewer: Result<Reviewer, ReviewError>,
    headers: HeaderMap,
) -> Result<Response, ReviewError> {
    if let Some(token) = cookie(&headers, SESSION_COOKIE) {
        state.store.end_web_session(hash_token(token)).await?;
    }
    if let Ok(r) = reviewer {
        state
            .store
            .append_audit(r.audit("sign_out", "", json!({})))
            .await?;
    }
    let mut res = (StatusCode::SEE_OTHER, [(LOCATION, "/review/login")]).into_response();
    res.headers_mut()
        .append(SET_COOKIE, set_cookie(SESSION_COOKIE, "", 0, &headers));
    Ok(res)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csrf_tokens_belong_to_their_session() {
        let (a, b) = (random_secret("bbw_"), random_secret("bbw_"));
        assert_ne!(a, b);
        assert_eq!(csrf_token(&a), csrf_token(&a));
        assert_ne!(csrf_token(&a), csrf_token(&b));
        assert_ne!(csrf_token(&a), URL_SAFE_NO_PAD.encode(hash_token(&a)));
        assert!(same_secret(&csrf_token(&a), &csrf_token(&a)));
        assert!(!same_secret(&csrf_token(&a), &csrf_token(&b)));
        assert!(!same_secret("abc", "abcd"));
    }

    #[test]
    fn cookies_are_http_only_and_strict() {
        let c = set_cookie(SESSION_COOKIE, "x", 60, &HeaderMap::new());
        let c = c.to_str().unwrap();
        assert!(
            c.contains("HttpOnly") && c.contains("SameSite=Strict") && c.contains("Path=/review")
        );
        let mut behind_tls = HeaderMap::new();
        behind_tls.insert("x-forwarded-proto", HeaderValue::from_static("https"));
        assert!(!c.contains("Secure"));
        let c = set_cookie(SESSION_COOKIE, "x", 60, &behind_tls);
        assert!(c.to_str().unwrap().ends_with("; Secure"));
    }
}
