//! The organisation test servers start with: stations, grids and accounts,
//! and the one function that adds them to a server.

use beatbook_schema::form::FormDef;
use beatbook_schema::protocol::Role;
use beatbook_server::AppState;
use beatbook_store::{Grid, NewUser, Station};

use crate::PASSWORD;

/// The organisation every test server starts with.
///
/// Station `S1` has grids `G1`, `G2`, `G3`; station `S2` has grid `H1`.
/// Accounts: `o1` officer of G1+G2, `o2` officer of G3, `a1` auxiliary of G1,
/// `s1` supervisor of S1, `s2` supervisor of S2, `h1` officer of H1, `admin`.
pub const ACCOUNTS: &[(&str, Role, &str, &[&str])] = &[
    ("o1", Role::Officer, "S1", &["G1", "G2"]),
    ("o2", Role::Officer, "S1", &["G3"]),
    ("a1", Role::Auxiliary, "S1", &["G1"]),
    ("s1", Role::Supervisor, "S1", &[]),
    ("s2", Role::Supervisor, "S2", &[]),
    ("h1", Role::Officer, "S2", &["H1"]),
    ("admin", Role::Admin, "S1", &[]),
];

/// Stations, grids and accounts to seed (every account's password is [`PASSWORD`]).
#[derive(Debug, Clone)]
pub struct Org {
    /// `(id, name)`.
    pub stations: Vec<(String, String)>,
    /// `(id, station)`.
    pub grids: Vec<(String, String)>,
    /// `(badge, role, station, grids)`.
    pub accounts: Vec<(String, Role, String, Vec<String>)>,
}

impl Org {
    /// The organisation of [`crate::TestServer`] (see [`ACCOUNTS`]).
    pub fn standard() -> Self {
        Self {
            stations: vec![
                ("S1".into(), "一号派出所".into()),
                ("S2".into(), "二号派出所".into()),
            ],
            grids: [("G1", "S1"), ("G2", "S1"), ("G3", "S1"), ("H1", "S2")]
                .iter()
                .map(|(g, s)| ((*g).into(), (*s).into()))
                .collect(),
            accounts: ACCOUNTS
                .iter()
                .map(|(b, r, s, g)| {
                    (
                        (*b).into(),
                        *r,
                        (*s).into(),
                        g.iter().map(|x| (*x).into()).collect(),
                    )
                })
                .collect(),
        }
    }

    /// One station with `n` grids `L001…`, each with one officer `lo001…`, and an admin.
    pub fn district(n: usize) -> Self {
        let grids: Vec<String> = (1..=n).map(|i| format!("L{i:03}")).collect();
        let mut accounts: Vec<_> = grids
            .iter()
            .enumerate()
            .map(|(i, g)| {
                (
                    format!("lo{:03}", i + 1),
                    Role::Officer,
                    "S1".to_owned(),
                    vec![g.clone()],
                )
            })
            .collect();
        accounts.push(("admin".into(), Role::Admin, "S1".into(), vec![]));
        Self {
            stations: vec![("S1".into(), "一号派出所".into())],
            grids: grids.into_iter().map(|g| (g, "S1".to_owned())).collect(),
            accounts,
        }
    }
}

/// Adds `org`'s stations, grids and accounts (password [`PASSWORD`]) to an
/// open server state and publishes `forms`.
pub async fn seed_state(state: &AppState, org: &Org, forms: &[FormDef]) {
    let store = &state.store;
    for (id, name) in &org.stations {
        store
            .add_station(Station {
                id: id.as_str().into(),
                name: name.clone(),
            })
            .await
            .expect("station");
    }
    for (id, station) in &org.grids {
        store
            .add_grid(Grid {
                id: id.as_str().into(),
                station: station.as_str().into(),
                name: format!("网格{id}"),
            })
            .await
            .expect("grid");
    }
    let hash = tokio::task::spawn_blocking(|| beatbook_server::auth::hash_password(PASSWORD))
        .await
        .expect("hash task")
        .expect("hash");
    for (badge, role, station, grids) in &org.accounts {
        store
            .add_user(NewUser {
                badge: badge.clone(),
                name: format!("测试{badge}"),
                role: *role,
                station: station.as_str().into(),
                grids: grids.iter().map(|g| g.as_str().into()).collect(),
                password_hash: hash.clone(),
            })
            .await
            .expect("user");
    }
    for def in forms {
        state.publish_form(def).await.expect("form publishes");
    }
}
