//! A browser on the supervisors' review pages: keeps cookies, never follows
//! redirects (tests look at them), and sends each form with the CSRF token
//! of the last page it saw.

use std::collections::BTreeMap;
use std::sync::Mutex;

use reqwest::header::{HeaderMap, LOCATION, SET_COOKIE};
use reqwest::StatusCode;

use crate::TestServer;

/// An answer from the review pages.
#[derive(Debug)]
pub struct Page {
    /// HTTP status.
    pub status: StatusCode,
    /// Response headers.
    pub headers: HeaderMap,
    /// The body as text.
    pub body: String,
}

impl Page {
    /// Where a redirect points ("" if none).
    pub fn location(&self) -> &str {
        self.headers
            .get(LOCATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    /// The CSRF token of the page's forms.
    pub fn csrf(&self) -> Option<String> {
        let at = self.body.find("name=\"csrf\" value=\"")? + "name=\"csrf\" value=\"".len();
        let end = self.body[at..].find('"')?;
        Some(self.body[at..at + end].to_owned())
    }
}

/// A browser (see the module docs).
pub struct Browser {
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    /// Its HTTP client.
    pub http: reqwest::Client,
    /// Cookies by name.
    pub cookies: Mutex<BTreeMap<String, String>>,
    /// The CSRF token of the last page seen.
    pub csrf: Mutex<Option<String>>,
}

impl Browser {
    /// A browser on `server`, not signed in.
    pub fn new(server: &TestServer) -> Self {
        Self::at(&server.url)
    }

    /// A browser on the server at `base`, not signed in.
    pub fn at(base: &str) -> Self {
        Self {
            base: base.to_owned(),
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("client"),
            cookies: Mutex::new(BTreeMap::new()),
            csrf: Mutex::new(None),
        }
    }

    /// Signs in as `badge`, panicking if refused.
    pub async fn signed_in(server: &TestServer, badge: &str) -> Self {
        Self::signed_in_at(&server.url, badge).await
    }

    /// Signs in as `badge` on the server at `base`, panicking if refused.
    pub async fn signed_in_at(base: &str, badge: &str) -> Self {
        let b = Self::at(base);
        let page = b.sign_in(badge, crate::PASSWORD).await;
        assert_eq!(
            page.status,
            StatusCode::SEE_OTHER,
            "{badge} signs in: {}",
            page.body
        );
        b
    }

    /// Opens the sign-in page and posts it.
    pub async fn sign_in(&self, badge: &str, password: &str) -> Page {
        let form = self.get("/review/login").await;
        assert_eq!(form.status, StatusCode::OK);
        self.post("/review/login", &[("badge", badge), ("password", password)])
            .await
    }

    /// The `cookie` header this browser sends.
    pub fn cookie_header(&self) -> String {
        self.cookies
            .lock()
            .unwrap()
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    /// Sends a request with the cookies, keeping the cookies and CSRF token it answers.
    pub async fn send(&self, req: reqwest::RequestBuilder) -> Page {
        let res = req
            .header("cookie", self.cookie_header())
            .send()
            .await
            .expect("request");
        let status = res.status();
        let headers = res.headers().clone();
        for c in headers.get_all(SET_COOKIE) {
            let c = c.to_str().expect("ascii cookie");
            let (pair, attrs) = c.split_once(';').unwrap_or((c, ""));
            let (k, v) = pair.split_once('=').expect("name=value");
            if attrs.contains("Max-Age=0") {
                self.cookies.lock().unwrap().remove(k);
            } else {
                self.cookies
                    .lock()
                    .unwrap()
                    .insert(k.to_owned(), v.to_owned());
            }
        }
        let body = res.text().await.unwrap_or_default();
        let page = Page {
            status,
            headers,
            body,
        };
        if let Some(t) = page.csrf() {
            *self.csrf.lock().unwrap() = Some(t);
        }
        page
    }

    /// Loads a page.
    pub async fn get(&self, path: &str) -> Page {
        self.send(self.http.get(format!("{}{path}", self.base)))
            .await
    }

    /// Downloads bytes (a photo, an export).
    pub async fn get_bytes(&self, path: &str) -> (StatusCode, HeaderMap, Vec<u8>) {
        let res = self
            .http
            .get(format!("{}{path}", self.base))
            .header("cookie", self.cookie_header())
            .send()
            .await
            .expect("request");
        let (status, headers) = (res.status(), res.headers().clone());
        (status, headers, res.bytes().await.expect("body").to_vec())
    }

    /// Posts a form with the CSRF token of the last page seen.
    pub async fn post(&self, path: &str, fields: &[(&str, &str)]) -> Page {
        let csrf = self.csrf.lock().unwrap().clone().unwrap_or_default();
        let mut all: Vec<(&str, &str)> = vec![("csrf", &csrf)];
        all.extend_from_slice(fields);
        self.post_as_is(path, &all).await
    }

    /// Posts exactly these fields.
    pub async fn post_as_is(&self, path: &str, fields: &[(&str, &str)]) -> Page {
        self.send(self.http.post(format!("{}{path}", self.base)).form(fields))
            .await
    }

    /// Opens a page (to pick up its CSRF token) and checks it loads.
    pub async fn open(&self, path: &str) -> Page {
        let page = self.get(path).await;
        assert_eq!(page.status, StatusCode::OK, "{path}: {}", page.body);
        page
    }
}

/// The rows of a downloaded CSV export, which starts with a byte-order mark for Excel.
pub fn csv_rows(bytes: &[u8]) -> Vec<Vec<String>> {
    let text = std::str::from_utf8(bytes).expect("utf-8");
    let text = text
        .strip_prefix('\u{feff}')
        .expect("a byte-order mark for Excel");
    csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(text.as_bytes())
        .records()
        .map(|r| r.expect("csv row").iter().map(str::to_owned).collect())
        .collect()
}
