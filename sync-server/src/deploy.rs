//! Whether a data directory and configuration may be served beyond this
//! machine. `serve` checks before it binds the address, and refuses:
//!
//! - a non-loopback address without `--allow-remote`;
//! - a non-loopback address over plain HTTP: it needs TLS in the server
//!   (`tls_cert`, `tls_key`) or a TLS proxy in front (`trusted_proxies`);
//! - exposure (a non-loopback address, or trusted proxies in front) while a
//!   demo account still has the published demo password: it is printed in
//!   the README and the demo admin sees every station.
//!
//! Each refusal says, in Chinese and English, what to do next.

use std::net::SocketAddr;

use crate::config::Config;
use crate::demo;
use crate::state::AppState;
use beatbook_store::StoreError;

/// Why `serve` refuses to start.
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    /// A non-loopback address without `--allow-remote`.
    #[error(
        "拒绝在 {addr} 上服务：这不是本机回环地址。请改为 --listen 127.0.0.1:{port} 并在前面放置 \
         TLS 反向代理，或确需对外服务时加上 --allow-remote 并配置 TLS。\n\
         refusing to listen on {addr}: not a loopback address. Listen on 127.0.0.1 (e.g. --listen \
         127.0.0.1:{port}) behind a TLS reverse proxy, or pass --allow-remote and configure TLS if \
         you really mean to expose it",
        port = .addr.port()
    )]
    NotLoopback {
        /// The address asked for.
        addr: SocketAddr,
    },
    /// A non-loopback address with neither TLS nor a trusted proxy.
    #[error(
        "拒绝在 {addr} 上以明文 HTTP 对外服务：密码和会话会被窃听。请配置 tls_cert 和 tls_key \
         （PEM 文件，如 BEATBOOK_TLS_CERT=/etc/beatbook/cert.pem BEATBOOK_TLS_KEY=/etc/beatbook/key.pem），\
         或在 TLS 反向代理后面服务并把代理地址写入 trusted_proxies。\n\
         refusing to serve plain HTTP on {addr}: passwords and sessions would cross the network in \
         clear. Set tls_cert and tls_key (PEM files, e.g. BEATBOOK_TLS_CERT=/etc/beatbook/cert.pem \
         BEATBOOK_TLS_KEY=/etc/beatbook/key.pem), or serve behind a TLS reverse proxy and list its \
         address in trusted_proxies (e.g. BEATBOOK_TRUSTED_PROXIES='[\"127.0.0.1\"]')"
    )]
    PlainHttp {
        /// The address asked for.
        addr: SocketAddr,
    },
    /// Demo accounts still have the published password.
    #[error(
        "拒绝对外服务：演示账号 {badges} 仍使用公开的演示密码。请用 `beatbook-server user passwd <警号>` \
         修改密码，或用 `beatbook-server user disable <警号>` 停用这些账号；演示数据只应在本机 \
         (127.0.0.1) 上使用。\n\
         refusing to serve beyond this machine: the demo accounts {badges} still have the published \
         demo password. Change it with `beatbook-server user passwd BADGE` or disable them with \
         `beatbook-server user disable BADGE`; use the demo on 127.0.0.1 only",
        badges = .badges.join(", ")
    )]
    DemoPassword {
        /// The demo badges with the published password.
        badges: Vec<String>,
    },
    /// The accounts could not be read.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Whether the configuration exposes the server beyond this machine: a
/// non-loopback address, or proxies in front that forward others' requests.
pub fn exposed(config: &Config) -> bool {
    !config.listen.ip().is_loopback() || !config.trusted_proxies.is_empty()
}

/// Checks the listen address: loopback, or `allow_remote` with HTTPS
/// (the server's own TLS or a trusted TLS proxy).
pub fn check_listen(config: &Config, allow_remote: bool) -> Result<(), Refusal> {
    let addr = config.listen;
    if addr.ip().is_loopback() {
        return Ok(());
    }
    if !allow_remote {
        return Err(Refusal::NotLoopback { addr });
    }
    if !config.https() {
        return Err(Refusal::PlainHttp { addr });
    }
    Ok(())
}

/// Refuses an exposed server (see [`exposed`]) while a demo account has the
/// published demo password.
pub async fn check_accounts(state: &AppState) -> Result<(), Refusal> {
    if !exposed(&state.config) {
        return Ok(());
    }
    let badges = demo::accounts_with_published_password(state).await?;
    if badges.is_empty() {
        Ok(())
    } else {
        Err(Refusal::DemoPassword { badges })
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    fn listening(addr: &str) -> Config {
        Config {
            listen: addr.parse().expect("an address"),
            ..Config::default()
        }
    }

    #[test]
    fn loopback_is_served_as_it_is() {
        for addr in ["127.0.0.1:8700", "[::1]:8700"] {
            assert!(check_listen(&listening(addr), false).is_ok());
            assert!(!exposed(&listening(addr)));
        }
    }

    #[test]
    fn a_remote_address_needs_allow_remote_and_https() {
        let plain = listening("0.0.0.0:8700");
        let refused = check_listen(&plain, false).unwrap_err();
        assert!(matches!(refused, Refusal::NotLoopback { .. }));
        assert!(refused.to_string().contains("--allow-remote"));
        let refused = check_listen(&plain, true).unwrap_err();
        assert!(matches!(refused, Refusal::PlainHttp { .. }));
        assert!(refused.to_string().contains("tls_cert") && refused.to_string().contains("明文"));

        let tls = Config {
            tls_cert: Some(PathBuf::from("cert.pem")),
            tls_key: Some(PathBuf::from("key.pem")),
            ..plain.clone()
        };
        assert!(check_listen(&tls, true).is_ok());
        let proxied = Config {
            trusted_proxies: vec!["10.0.0.2".parse().expect("an address")],
            ..plain
        };
        assert!(check_listen(&proxied, true).is_ok());
        assert!(exposed(&proxied));
    }

    #[test]
    fn behind_a_proxy_even_loopback_is_exposed() {
        let config = Config {
            trusted_proxies: vec!["127.0.0.1".parse().expect("an address")],
            ..listening("127.0.0.1:8700")
        };
        assert!(exposed(&config));
    }
}
