//! Who is signed in to the review pages, as every page sees it, and the
//! CSRF token of their session (see [`super::session`] for signing in).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use beatbook_schema::protocol::UserInfo;
use beatbook_schema::text::Lang;
use beatbook_store::{Grid, NewAudit, ReadScope};
use chrono::FixedOffset;
use maud::{html, Markup};
use sha2::{Digest, Sha256};

use super::i18n::Tr;

/// A signed-in supervisor or admin, with what the pages need to know.
#[derive(Debug, Clone)]
pub struct Reviewer {
    /// The account.
    pub user: UserInfo,
    /// The records they may read and decide on.
    pub scope: ReadScope,
    /// The grids in scope, with names.
    pub grids: Vec<Grid>,
    /// Their station's name.
    pub station_name: String,
    /// The CSRF token every form of theirs carries.
    pub csrf: String,
    /// The page language.
    pub lang: Lang,
    /// Officers' local time.
    pub offset: FixedOffset,
    /// The page requested (path and query), to come back to after a form.
    pub here: String,
}

impl Reviewer {
    /// A grid's name.
    pub fn grid_name(&self, id: &str) -> String {
        self.grids
            .iter()
            .find(|g| g.id.as_str() == id)
            .map_or_else(|| id.to_owned(), |g| g.name.clone())
    }

    /// Text in the page's language.
    pub fn t<'a>(&self, zh: &'a str, en: &'a str) -> &'a str {
        self.lang.t(zh, en)
    }

    /// The start of an audit entry by this reviewer.
    pub fn audit(
        &self,
        action: &str,
        target: impl Into<String>,
        detail: serde_json::Value,
    ) -> NewAudit {
        NewAudit::by(&self.user, action, target, detail)
    }
}

/// The CSRF token of a session: unforgeable without the session id, and not
/// the session id's stored hash either.
pub fn csrf_token(session_id: &str) -> String {
    let mut h = Sha256::new();
    h.update(b"beatbook review csrf\0");
    h.update(session_id.as_bytes());
    URL_SAFE_NO_PAD.encode(h.finalize())
}

/// Compares secrets in time independent of where they differ.
pub fn same_secret(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// The hidden CSRF field of a form.
pub fn csrf_field(r: &Reviewer) -> Markup {
    html! { input type="hidden" name="csrf" value=(r.csrf); }
}
