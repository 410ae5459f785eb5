//! Which server addresses the app talks to: `https://` to any host, plain
//! `http://` only to this machine (127.0.0.0/8, ::1, localhost). Over any
//! other network, plain HTTP would hand the device token to whoever is on
//! the path and let them answer for the server — a forged `device_revoked`
//! wipes the device.

use std::net::IpAddr;

use beatbook_schema::text::Text;
use reqwest::Url;

/// Why a server address is refused (before any connection is made).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AddressError {
    /// Not a URL.
    #[error(
        "server address '{0}' is not a web address: write it like https://beatbook.example.gov.cn"
    )]
    Unreadable(String),
    /// Neither `https://` nor `http://`.
    #[error("server address '{0}': only https:// addresses are accepted")]
    Scheme(String),
    /// `http://` to another machine.
    #[error("server address '{0}': plain http:// is accepted only for this machine (127.0.0.1, ::1, localhost); use https://")]
    PlainHttp(String),
}

impl AddressError {
    /// What to tell the officer, in both languages.
    pub fn message(&self) -> Text {
        match self {
            AddressError::Unreadable(a) => Text::new(
                format!("服务器地址“{a}”格式不正确，请按 https://beatbook.example.gov.cn 的格式填写"),
                self.to_string(),
            ),
            AddressError::Scheme(a) => Text::new(
                format!("服务器地址“{a}”不受支持：请使用以 https:// 开头的地址"),
                self.to_string(),
            ),
            AddressError::PlainHttp(a) => Text::new(
                format!("服务器地址“{a}”未加密：http:// 仅限本机（127.0.0.1、::1、localhost），其他服务器请使用 https://"),
                self.to_string(),
            ),
        }
    }
}

/// Checks a server address; returns it parsed.
pub fn check(address: &str) -> Result<Url, AddressError> {
    let trimmed = address.trim();
    let url = Url::parse(trimmed).map_err(|_| AddressError::Unreadable(trimmed.to_owned()))?;
    let host = url
        .host_str()
        .filter(|h| !h.is_empty())
        .ok_or_else(|| AddressError::Unreadable(trimmed.to_owned()))?;
    match url.scheme() {
        "https" => Ok(url),
        "http" if is_loopback(host) => Ok(url),
        "http" => Err(AddressError::PlainHttp(trimmed.to_owned())),
        _ => Err(AddressError::Scheme(trimmed.to_owned())),
    }
}

/// `host` as the URL parser normalized it (IPv6 in brackets, names in lower case).
fn is_loopback(host: &str) -> bool {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    match bare.parse::<IpAddr>() {
        Ok(IpAddr::V4(ip)) => ip.is_loopback(),
        Ok(IpAddr::V6(ip)) => {
            ip.is_loopback() || ip.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
        Err(_) => bare == "localhost",
    }
}

#[cfg(test)]
mod tests {
    use rstest::rstest;

    use super::*;

    #[rstest]
    #[case("https://beatbook.example.gov.cn", true)]
    #[case("https://203.0.113.7:8443/", true)]
    #[case("https://localhost:8700", true)]
    #[case("http://127.0.0.1:8700", true)]
    #[case("http://127.8.9.10:8700/", true)]
    #[case("http://[::1]:8700", true)]
    #[case("http://[::ffff:127.0.0.1]:8700", true)]
    #[case("http://localhost:8700", true)]
    #[case("http://LOCALHOST:8700", true)]
    #[case("  http://127.0.0.1:8700  ", true)]
    #[case("http://beatbook.example.gov.cn", false)]
    #[case("http://192.168.1.20:8700", false)]
    #[case("http://10.0.0.1", false)]
    #[case("http://0.0.0.0:8700", false)]
    #[case("http://[::]:8700", false)]
    #[case("http://localhost.evil.example", false)]
    #[case("http://127.0.0.1.nip.io:8700", false)]
    #[case("http://2130706433:8700", true)] // 127.0.0.1 written as one number
    #[case("ftp://127.0.0.1", false)]
    #[case("ws://127.0.0.1:8700", false)]
    #[case("file:///etc/passwd", false)]
    #[case("127.0.0.1:8700", false)]
    #[case("beatbook.example.gov.cn", false)]
    #[case("", false)]
    fn https_anywhere_plain_http_only_on_this_machine(
        #[case] address: &str,
        #[case] accepted: bool,
    ) {
        assert_eq!(check(address).is_ok(), accepted, "{address}");
    }

    #[test]
    fn refusals_say_what_to_do_in_both_languages() {
        let e = check("http://192.168.1.20:8700").expect_err("plain http");
        assert_eq!(
            e,
            AddressError::PlainHttp("http://192.168.1.20:8700".into())
        );
        let m = e.message();
        assert!(
            m.zh.contains("https://") && m.en.contains("use https://"),
            "{m:?}"
        );
        assert!(matches!(check("ftp://x"), Err(AddressError::Scheme(_))));
        assert!(matches!(
            check("nonsense"),
            Err(AddressError::Unreadable(_))
        ));
    }
}
