//! The pages speak Simplified Chinese unless asked otherwise: `?lang=en`
//! switches to English and a cookie remembers it (`?lang=zh` switches back).

use axum::http::header::COOKIE;
use axum::http::HeaderMap;
use beatbook_schema::text::Lang;
use chrono::{DateTime, FixedOffset, Utc};

/// The cookie that remembers the language.
pub const LANG_COOKIE: &str = "bb_lang";

/// Text in the page's language.
pub trait Tr {
    /// `zh` or `en`.
    fn t<'a>(self, zh: &'a str, en: &'a str) -> &'a str;
}

impl Tr for Lang {
    fn t<'a>(self, zh: &'a str, en: &'a str) -> &'a str {
        match self {
            Lang::Zh => zh,
            Lang::En => en,
        }
    }
}

/// The language a `lang` query parameter asks for, if any.
pub fn lang_in_query(query: Option<&str>) -> Option<Lang> {
    query?.split('&').find_map(|pair| match pair {
        "lang=en" => Some(Lang::En),
        "lang=zh" => Some(Lang::Zh),
        _ => None,
    })
}

/// A cookie's value from the request headers.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim())
}

/// The page language: the query's, else the cookie's, else Chinese.
pub fn lang_of(query: Option<&str>, headers: &HeaderMap) -> Lang {
    lang_in_query(query).unwrap_or_else(|| match cookie(headers, LANG_COOKIE) {
        Some("en") => Lang::En,
        _ => Lang::Zh,
    })
}

/// A server time as local time, to the minute.
pub fn local_time(t: DateTime<Utc>, offset: FixedOffset) -> String {
    t.with_timezone(&offset)
        .format("%Y-%m-%d %H:%M")
        .to_string()
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    #[test]
    fn the_query_wins_over_the_cookie_and_chinese_is_the_default() {
        let mut headers = HeaderMap::new();
        assert_eq!(lang_of(None, &headers), Lang::Zh);
        headers.insert(COOKIE, HeaderValue::from_static("a=1; bb_lang=en"));
        assert_eq!(lang_of(None, &headers), Lang::En);
        assert_eq!(lang_of(Some("x=1&lang=zh"), &headers), Lang::Zh);
        assert_eq!(cookie(&headers, "a"), Some("1"));
        assert_eq!(cookie(&headers, "b"), None);
    }
}
