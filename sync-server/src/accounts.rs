//! Stations, grids, accounts and devices as an administrator changes them:
//! the rules (codes, names, password length, grids that suit the role and
//! the station) and the store calls, once, for both the command line
//! ([`crate::admin`]) and the admin pages (`review::admin`). Each error has
//! a message in both languages that says what to do next.

use beatbook_schema::ids::{DeviceId, GridId, StationId, UserId};
use beatbook_schema::protocol::Role;
use beatbook_schema::text::Text;
use beatbook_store::{Grid, NewUser, Station, Store, StoreError};
use chrono::Utc;
use rand::Rng;

use crate::auth::hash_password;
use crate::auth::signin::{MAX_BADGE_BYTES, MAX_PASSWORD_BYTES};

/// Shortest password accepted for an account.
pub const MIN_PASSWORD_CHARS: usize = 8;

/// Length of a password made by [`new_password`].
const NEW_PASSWORD_CHARS: usize = 12;

/// Characters of a made password: no 0/O, 1/l/I, which read alike on paper.
const PASSWORD_ALPHABET: &[u8] = b"23456789abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ";

/// An account to create.
#[derive(Debug, Clone)]
pub struct AccountSpec {
    /// Badge number (警号).
    pub badge: String,
    /// Display name.
    pub name: String,
    /// Role.
    pub role: Role,
    /// Station.
    pub station: StationId,
    /// Grids (officers and auxiliary officers need at least one).
    pub grids: Vec<GridId>,
    /// Password in clear; hashed with Argon2id before it is stored.
    pub password: String,
}

/// Why a change was refused.
#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    /// A code (badge, station or grid id) is empty or has spaces.
    #[error("the {what} {code:?} must be a non-empty code without spaces, e.g. 320614-01")]
    BadCode {
        /// Which code, in English.
        what: &'static str,
        /// As given.
        code: String,
    },
    /// A name is empty.
    #[error("the {what} is empty: give the name people use")]
    EmptyName {
        /// Which name, in English.
        what: &'static str,
    },
    /// The badge is longer than sign-in takes.
    #[error("the badge {0:?} is longer than sign-in takes ({MAX_BADGE_BYTES} bytes)")]
    LongBadge(String),
    /// The password is empty.
    #[error("the password is empty")]
    EmptyPassword,
    /// The password is too short.
    #[error("the password has {0} characters: use at least {MIN_PASSWORD_CHARS}")]
    ShortPassword(usize),
    /// The password is longer than sign-in takes.
    #[error("the password has {0} bytes: sign-in takes at most {MAX_PASSWORD_BYTES}")]
    LongPassword(usize),
    /// No such station.
    #[error("no station {0}: add it first")]
    NoStation(StationId),
    /// No such grid.
    #[error("no grid {0}: add it to the account's station first")]
    NoGrid(GridId),
    /// A grid of another station.
    #[error(
        "grid {grid} belongs to station {of}, not {station}: pick grids of the account's station"
    )]
    GridOfAnotherStation {
        /// The grid.
        grid: GridId,
        /// Its station.
        of: StationId,
        /// The account's station.
        station: StationId,
    },
    /// A grid given twice.
    #[error("grid {0} is given twice: give each grid once")]
    GridTwice(GridId),
    /// Officers and auxiliaries work in grids.
    #[error("{} accounts work in grids: give at least one", .0.name())]
    NeedsGrids(Role),
    /// The badge is taken.
    #[error("badge {0} is taken")]
    BadgeTaken(String),
    /// The station exists.
    #[error("station {0} already exists")]
    StationTaken(StationId),
    /// The grid exists.
    #[error("grid {0} already exists")]
    GridTaken(GridId),
    /// No such account.
    #[error("no account with badge {0}")]
    NoAccount(String),
    /// No such device.
    #[error("no device {0}")]
    NoDevice(DeviceId),
    /// Hashing failed.
    #[error("cannot hash the password: {0}")]
    Hash(String),
    /// The store failed.
    #[error(transparent)]
    Store(StoreError),
}

impl AccountError {
    /// The message in both languages, for the pages.
    pub fn text(&self) -> Text {
        use AccountError as E;
        let en = self.to_string();
        let zh = match self {
            E::BadCode { what, code } => {
                format!(
                    "{}“{code}”须为不含空格的编号，例如 320614-01",
                    what_zh(what)
                )
            }
            E::EmptyName { what } => format!("{}不能为空", what_zh(what)),
            E::LongBadge(_) => format!("警号过长（最多 {MAX_BADGE_BYTES} 字节）"),
            E::EmptyPassword => "密码不能为空".to_owned(),
            E::ShortPassword(n) => {
                format!("密码只有 {n} 个字符，至少需要 {MIN_PASSWORD_CHARS} 个")
            }
            E::LongPassword(n) => {
                format!("密码有 {n} 字节，登录最多接受 {MAX_PASSWORD_BYTES} 字节")
            }
            E::NoStation(s) => format!("没有派出所 {s}，请先添加"),
            E::NoGrid(g) => format!("没有网格 {g}，请先在该派出所下添加"),
            E::GridOfAnotherStation { grid, of, .. } => {
                format!("网格 {grid} 属于派出所 {of}，请选择本所的网格")
            }
            E::GridTwice(g) => format!("网格 {g} 重复，请只选一次"),
            E::NeedsGrids(role) => format!("{}须分配至少一个网格", role.label().zh),
            E::BadgeTaken(b) => format!("警号 {b} 已被使用"),
            E::StationTaken(s) => format!("派出所 {s} 已存在"),
            E::GridTaken(g) => format!("网格 {g} 已存在"),
            E::NoAccount(b) => format!("没有警号为 {b} 的账号"),
            E::NoDevice(d) => format!("没有设备 {d}"),
            E::Hash(_) | E::Store(_) => "服务器暂时无法处理，请稍后重试".to_owned(),
        };
        let en = match self {
            E::Hash(_) | E::Store(_) => {
                "the server could not handle this right now: try again later".to_owned()
            }
            _ => en,
        };
        Text::new(zh, en)
    }
}

fn what_zh(what: &str) -> &'static str {
    match what {
        "badge" => "警号",
        "station id" => "派出所编号",
        "grid id" => "网格编号",
        "station name" => "派出所名称",
        "grid name" => "网格名称",
        _ => "姓名",
    }
}

// ---------------------------------------------------------------- checks

/// Refuses an empty password, one shorter than [`MIN_PASSWORD_CHARS`], or
/// one longer than sign-in accepts.
pub fn check_password(password: &str) -> Result<(), AccountError> {
    if password.is_empty() {
        return Err(AccountError::EmptyPassword);
    }
    let n = password.chars().count();
    if n < MIN_PASSWORD_CHARS {
        return Err(AccountError::ShortPassword(n));
    }
    if password.len() > MAX_PASSWORD_BYTES {
        return Err(AccountError::LongPassword(password.len()));
    }
    Ok(())
}

/// A new random password that passes [`check_password`], to hand to the
/// officer once.
pub fn new_password() -> String {
    let mut rng = rand::thread_rng();
    (0..NEW_PASSWORD_CHARS)
        .map(|_| char::from(PASSWORD_ALPHABET[rng.gen_range(0..PASSWORD_ALPHABET.len())]))
        .collect()
}

fn check_code(code: &str, what: &'static str) -> Result<(), AccountError> {
    if code.is_empty() || code.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(AccountError::BadCode {
            what,
            code: code.to_owned(),
        });
    }
    Ok(())
}

fn check_name(name: &str, what: &'static str) -> Result<(), AccountError> {
    if name.trim().is_empty() {
        return Err(AccountError::EmptyName { what });
    }
    Ok(())
}

async fn require_station(store: &dyn Store, station: &StationId) -> Result<(), AccountError> {
    let stations = store.stations().await.map_err(AccountError::Store)?;
    if stations.iter().any(|s| &s.id == station) {
        Ok(())
    } else {
        Err(AccountError::NoStation(station.clone()))
    }
}

/// Grids suit a role at a station: officers and auxiliaries need at least
/// one, each exists, belongs to the station and is given once.
async fn check_grids(
    store: &dyn Store,
    role: Role,
    station: &StationId,
    grids: &[GridId],
) -> Result<(), AccountError> {
    if matches!(role, Role::Officer | Role::Auxiliary) && grids.is_empty() {
        return Err(AccountError::NeedsGrids(role));
    }
    let known = store.grids().await.map_err(AccountError::Store)?;
    for (i, id) in grids.iter().enumerate() {
        match known.iter().find(|g| &g.id == id) {
            None => return Err(AccountError::NoGrid(id.clone())),
            Some(g) if &g.station != station => {
                return Err(AccountError::GridOfAnotherStation {
                    grid: id.clone(),
                    of: g.station.clone(),
                    station: station.clone(),
                })
            }
            Some(_) => {}
        }
        if grids[..i].contains(id) {
            return Err(AccountError::GridTwice(id.clone()));
        }
    }
    Ok(())
}

async fn hash(password: String) -> Result<String, AccountError> {
    tokio::task::spawn_blocking(move || hash_password(&password))
        .await
        .map_err(|e| AccountError::Hash(e.to_string()))?
        .map_err(|e| AccountError::Hash(e.to_string()))
}

fn no_such_badge(e: StoreError, badge: &str) -> AccountError {
    match e {
        StoreError::NotFound(_) => AccountError::NoAccount(badge.to_owned()),
        other => AccountError::Store(other),
    }
}

// ---------------------------------------------------------------- changes

/// Adds a station.
pub async fn add_station(store: &dyn Store, station: Station) -> Result<(), AccountError> {
    check_code(station.id.as_str(), "station id")?;
    check_name(&station.name, "station name")?;
    let id = station.id.clone();
    store.add_station(station).await.map_err(|e| match e {
        StoreError::Duplicate(_) => AccountError::StationTaken(id),
        other => AccountError::Store(other),
    })
}

/// Adds a grid to an existing station.
pub async fn add_grid(store: &dyn Store, grid: Grid) -> Result<(), AccountError> {
    check_code(grid.id.as_str(), "grid id")?;
    check_name(&grid.name, "grid name")?;
    require_station(store, &grid.station).await?;
    let id = grid.id.clone();
    store.add_grid(grid).await.map_err(|e| match e {
        StoreError::Duplicate(_) => AccountError::GridTaken(id),
        other => AccountError::Store(other),
    })
}

/// Adds an account after checking its badge, name, password, station and grids.
pub async fn add_user(store: &dyn Store, spec: AccountSpec) -> Result<UserId, AccountError> {
    check_code(&spec.badge, "badge")?;
    if spec.badge.len() > MAX_BADGE_BYTES {
        return Err(AccountError::LongBadge(spec.badge));
    }
    check_name(&spec.name, "name")?;
    check_password(&spec.password)?;
    require_station(store, &spec.station).await?;
    check_grids(store, spec.role, &spec.station, &spec.grids).await?;
    let badge = spec.badge.clone();
    store
        .add_user(NewUser {
            badge: spec.badge,
            name: spec.name.trim().to_owned(),
            role: spec.role,
            station: spec.station,
            grids: spec.grids,
            password_hash: hash(spec.password).await?,
        })
        .await
        .map_err(|e| match e {
            StoreError::Duplicate(_) => AccountError::BadgeTaken(badge),
            other => AccountError::Store(other),
        })
}

/// Sets an account's password: its review sessions end and its devices are
/// signed out (they keep their data; the officer enrolls them again).
pub async fn set_password(
    store: &dyn Store,
    badge: &str,
    password: String,
) -> Result<(), AccountError> {
    check_password(&password)?;
    let hashed = hash(password).await?;
    store
        .set_password(badge, hashed)
        .await
        .map_err(|e| no_such_badge(e, badge))
}

/// Disables or re-enables an account: a disabled one can neither enroll
/// nor sync.
pub async fn set_disabled(
    store: &dyn Store,
    badge: &str,
    disabled: bool,
) -> Result<(), AccountError> {
    store
        .set_disabled(badge, disabled)
        .await
        .map_err(|e| no_such_badge(e, badge))
}

/// Changes an account's role and grids (the grids must suit the role and
/// the account's station, as when it was created); its devices' next
/// requests see the change.
pub async fn set_role_and_grids(
    store: &dyn Store,
    badge: &str,
    role: Role,
    grids: Vec<GridId>,
) -> Result<(), AccountError> {
    let account = store
        .user_by_badge(badge)
        .await
        .map_err(AccountError::Store)?
        .ok_or_else(|| AccountError::NoAccount(badge.to_owned()))?;
    check_grids(store, role, &account.info.station, &grids).await?;
    store
        .set_role_and_grids(badge, role, grids)
        .await
        .map_err(|e| no_such_badge(e, badge))
}

/// Revokes a device: its token stops working and its next contact wipes it.
pub async fn revoke_device(store: &dyn Store, device: DeviceId) -> Result<(), AccountError> {
    store
        .revoke_device(device, Utc::now())
        .await
        .map_err(|e| match e {
            StoreError::NotFound(_) => AccountError::NoDevice(device),
            other => AccountError::Store(other),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_empty_and_long_passwords_are_refused() {
        assert!(matches!(
            check_password(""),
            Err(AccountError::EmptyPassword)
        ));
        assert!(matches!(
            check_password("1234567"),
            Err(AccountError::ShortPassword(7))
        ));
        assert!(check_password("12345678").is_ok());
        assert!(check_password("警察密码警察密码").is_ok());
        assert!(check_password(&"p".repeat(MAX_PASSWORD_BYTES)).is_ok());
        assert!(check_password(&"p".repeat(MAX_PASSWORD_BYTES + 1)).is_err());
    }

    #[test]
    fn made_passwords_pass_the_rules_and_differ() {
        let a = new_password();
        assert!(check_password(&a).is_ok());
        assert_eq!(a.chars().count(), NEW_PASSWORD_CHARS);
        assert!(a.bytes().all(|c| PASSWORD_ALPHABET.contains(&c)));
        assert_ne!(a, new_password());
    }
}
