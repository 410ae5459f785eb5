//! The commands behind the `beatbook-server` binary: serving, setting up a
//! station, managing grids, accounts and devices, seeding the demo district
//! and showing what a data directory holds. Each prints a table or a line a
//! person can read; errors say what to do next.

use std::future::Future;
use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use beatbook_schema::ids::{DeviceId, GridId};
use beatbook_schema::protocol::Role;
use chrono::{DateTime, FixedOffset, Utc};

use crate::accounts::{self, AccountError};
use crate::blobs::BlobDir;
use crate::config::{Config, Database};
use crate::demo::{self, DemoError, DemoReport, DemoSize};
use crate::deploy;
use crate::enrollment::{self, IssueError};
use crate::state::AppState;
use beatbook_store::{Grid, Station, Store};
use beatbook_store_postgres::from_sqlite::{self, Step};
use beatbook_store_sqlite::SqliteStore;

pub use crate::accounts::{AccountSpec, MIN_PASSWORD_CHARS};

// ---------------------------------------------------------------- opening

/// Opens the data directory of `config`, creating it and its database if needed.
pub async fn open(config: Config) -> Result<AppState> {
    let dir = config.data_dir.clone();
    crate::open(config)
        .await
        .with_context(|| format!("cannot open the data directory {}", dir.display()))
}

/// Opens a data directory that must already hold a database, so that a
/// mistyped `--data-dir` (or `--database`) does not quietly create an empty
/// one. A PostgreSQL database is taken as it is.
pub async fn open_existing(config: Config) -> Result<AppState> {
    if let Database::Sqlite(db) = config.database() {
        if !db.exists() {
            bail!(
                "no Beatbook database at {db}: create one with `beatbook-server --data-dir {dir} init …` \
                 (or `… demo`), or point --data-dir (or --database) at an existing one",
                db = db.display(),
                dir = config.data_dir.display()
            );
        }
    }
    open(config).await
}

// ---------------------------------------------------------------- serve

/// Serves the API on `config.listen` until `shutdown` resolves, after the
/// checks of [`crate::deploy`] (all before the address is bound).
pub async fn serve(
    config: Config,
    allow_remote: bool,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<()> {
    deploy::check_listen(&config, allow_remote)?;
    let tls = crate::net::tls::acceptor(&config)?;
    let addr = config.listen;
    let state = open(config).await?;
    deploy::check_accounts(&state).await?;
    if state.store.users().await?.is_empty() {
        eprintln!(
            "note: no accounts yet: create one with `beatbook-server init` or seed `beatbook-server demo`"
        );
    }
    crate::net::slots::raise_open_file_limit();
    let listener = tokio::net::TcpListener::bind(addr).await.with_context(|| {
        format!("cannot listen on {addr}: is another server running there? Pick another address with --listen")
    })?;
    let local = listener
        .local_addr()
        .context("the listener has no address")?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    println!("listening on {scheme}://{local}");
    crate::serve_with(state, listener, tls, shutdown).await;
    println!("stopped");
    Ok(())
}

/// Resolves on Ctrl-C or, on Unix, SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    eprintln!("shutting down: finishing requests in flight");
}

// ---------------------------------------------------------------- passwords

/// The password from the environment variable's value if it was set, else
/// one line of standard input (prompting on a terminal); refuses an empty
/// or short one.
pub fn read_password(from_env: Option<String>, env_name: &str, whose: &str) -> Result<String> {
    let password = match from_env {
        Some(p) => p,
        None => read_password_line(env_name, whose)?,
    };
    check_password(&password, env_name)?;
    Ok(password)
}

fn read_password_line(env_name: &str, whose: &str) -> Result<String> {
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        eprint!(
            "Password for {whose} (密码, at least {MIN_PASSWORD_CHARS} characters; \
             typing is visible — set {env_name} to avoid that): "
        );
        std::io::stderr().flush().ok();
    }
    let mut line = String::new();
    stdin
        .lock()
        .read_line(&mut line)
        .context("cannot read the password from standard input")?;
    Ok(line.trim_end_matches(['\r', '\n']).to_owned())
}

/// Refuses an empty password, one shorter than [`MIN_PASSWORD_CHARS`], or one
/// longer than sign-in accepts (see [`accounts::check_password`]).
pub fn check_password(password: &str, env_name: &str) -> Result<()> {
    accounts::check_password(password).map_err(|e| match e {
        AccountError::EmptyPassword => anyhow::anyhow!(
            "the password is empty: set {env_name} or give it as one line on standard input"
        ),
        other => other.into(),
    })
}

/// An [`AccountError`] for the terminal, with the command that helps.
fn cli(e: AccountError) -> anyhow::Error {
    let hint = match &e {
        AccountError::NoStation(s) => format!(": `beatbook-server station add {s} NAME`"),
        AccountError::NoGrid(g) => {
            format!(": `beatbook-server grid add {g} --station S --name NAME`")
        }
        AccountError::StationTaken(_) => " (see `beatbook-server station list`)".to_owned(),
        AccountError::GridTaken(_) => " (see `beatbook-server grid list`)".to_owned(),
        AccountError::BadgeTaken(_) | AccountError::NoAccount(_) => {
            " (see `beatbook-server user list`)".to_owned()
        }
        AccountError::NoDevice(_) => " (see `beatbook-server device list`)".to_owned(),
        AccountError::NeedsGrids(_) => " with --grid (see `beatbook-server grid list`)".to_owned(),
        _ => String::new(),
    };
    anyhow::anyhow!("{e}{hint}")
}

// ---------------------------------------------------------------- init

/// Sets up a new data directory: the first station and an admin account.
/// Refuses a directory that already has accounts.
pub async fn init(state: &AppState, station: Station, admin: AccountSpec) -> Result<()> {
    let dir = state.config.data_dir.display().to_string();
    let users = state.store.users().await?;
    if !users.is_empty() {
        bail!(
            "{dir} already has {} account(s): add more with `beatbook-server user add …`, \
             or initialise another --data-dir",
            users.len()
        );
    }
    let stations = state.store.stations().await?;
    if !stations.iter().any(|s| s.id == station.id) {
        add_station(state.store.as_ref(), station.clone()).await?;
    }
    let badge = admin.badge.clone();
    add_user(state.store.as_ref(), admin).await?;
    println!(
        "initialised {dir}: station {} {}, admin {badge}",
        station.id, station.name
    );
    println!("next: `beatbook-server grid add …`, `beatbook-server user add …`, then `beatbook-server serve`");
    Ok(())
}

// ---------------------------------------------------------------- stations and grids

/// Adds a station.
pub async fn add_station(store: &dyn Store, station: Station) -> Result<()> {
    accounts::add_station(store, station.clone())
        .await
        .map_err(cli)?;
    println!("added station {} {}", station.id, station.name);
    Ok(())
}

/// Lists stations.
pub async fn list_stations(store: &dyn Store) -> Result<()> {
    let grids = store.grids().await?;
    let mut table = Table::new(["station", "name", "grids"]);
    for s in store.stations().await? {
        let n = grids.iter().filter(|g| g.station == s.id).count();
        table.row([s.id.to_string(), s.name, n.to_string()]);
    }
    table.print("no stations yet: add one with `beatbook-server station add ID NAME`");
    Ok(())
}

/// Adds a grid to an existing station.
pub async fn add_grid(store: &dyn Store, grid: Grid) -> Result<()> {
    accounts::add_grid(store, grid.clone()).await.map_err(cli)?;
    println!(
        "added grid {} {} to station {}",
        grid.id, grid.name, grid.station
    );
    Ok(())
}

/// Lists grids with the accounts assigned to each.
pub async fn list_grids(store: &dyn Store) -> Result<()> {
    let users = store.users().await?;
    let mut table = Table::new(["grid", "name", "station", "assigned"]);
    for g in store.grids().await? {
        let assigned: Vec<String> = users
            .iter()
            .filter(|u| u.info.grids.contains(&g.id))
            .map(|u| format!("{} {}", u.info.badge, u.info.name))
            .collect();
        table.row([
            g.id.to_string(),
            g.name,
            g.station.to_string(),
            assigned.join(", "),
        ]);
    }
    table.print("no grids yet: add one with `beatbook-server grid add ID --station S --name NAME`");
    Ok(())
}

// ---------------------------------------------------------------- accounts

/// Adds an account after checking its station, grids and password.
pub async fn add_user(store: &dyn Store, spec: AccountSpec) -> Result<()> {
    let (role, badge, name, station) = (
        spec.role,
        spec.badge.clone(),
        spec.name.clone(),
        spec.station.clone(),
    );
    let grids = grid_list(&spec.grids);
    accounts::add_user(store, spec).await.map_err(cli)?;
    println!(
        "added {} {badge} {name} at station {station}{}",
        role_name(role),
        if grids.is_empty() {
            String::new()
        } else {
            format!(", grids {grids}")
        }
    );
    Ok(())
}

fn grid_list(grids: &[GridId]) -> String {
    grids
        .iter()
        .map(GridId::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Lists accounts.
pub async fn list_users(store: &dyn Store) -> Result<()> {
    let mut table = Table::new(["badge", "name", "role", "station", "grids", "status"]);
    for a in store.users().await? {
        let grids: Vec<String> = a.info.grids.iter().map(GridId::to_string).collect();
        table.row([
            a.info.badge,
            a.info.name,
            role_name(a.info.role),
            a.info.station.to_string(),
            grids.join(", "),
            if a.disabled {
                "disabled 停用"
            } else {
                "active"
            }
            .to_owned(),
        ]);
    }
    table.print("no accounts yet: create the first with `beatbook-server init`");
    Ok(())
}

/// Sets an account's password.
pub async fn set_password(store: &dyn Store, badge: &str, password: String) -> Result<()> {
    accounts::set_password(store, badge, password)
        .await
        .map_err(cli)?;
    println!("password of {badge} changed; its review sessions ended and its devices were signed out: they keep their data, and the officer enrolls them again with the new password");
    Ok(())
}

/// Disables or re-enables an account.
pub async fn set_disabled(store: &dyn Store, badge: &str, disabled: bool) -> Result<()> {
    accounts::set_disabled(store, badge, disabled)
        .await
        .map_err(cli)?;
    if disabled {
        println!("disabled {badge}: it can no longer enroll or sync (its devices are refused until it is enabled)");
    } else {
        println!("enabled {badge}");
    }
    Ok(())
}

/// Changes an account's role and grids; its devices' next sync follows them.
pub async fn set_role(
    store: &dyn Store,
    badge: &str,
    role: Role,
    grids: Vec<GridId>,
) -> Result<()> {
    let list = grid_list(&grids);
    accounts::set_role_and_grids(store, badge, role, grids)
        .await
        .map_err(cli)?;
    println!(
        "{badge} is now {}{}: its devices' next sync follows",
        role_name(role),
        if list.is_empty() {
            String::new()
        } else {
            format!(" of grids {list}")
        }
    );
    Ok(())
}

/// A role as the tables show it, e.g. `officer 社区民警`.
fn role_name(role: Role) -> String {
    format!("{} {}", role.name(), role.label().zh)
}

// ---------------------------------------------------------------- devices

/// Lists enrolled devices.
pub async fn list_devices(state: &AppState) -> Result<()> {
    let offset = state.policy.local_offset;
    let mut table = Table::new(["device", "badge", "name", "enrolled", "last push", "status"]);
    for d in state.store.devices().await? {
        table.row([
            d.id.to_string(),
            d.badge,
            d.name,
            local_time(d.enrolled_at, offset),
            d.last_seen_at
                .map_or("never".to_owned(), |t| local_time(t, offset)),
            match (d.revoked_at, d.signed_in) {
                (Some(t), _) => format!("revoked 已注销 {}", local_time(t, offset)),
                (None, true) => "active".to_owned(),
                (None, false) => "signed out 需重新绑定".to_owned(),
            },
        ]);
    }
    table.print("no devices yet: a device appears here when an officer signs in on it");
    Ok(())
}

/// Revokes a device: its token stops working and its next contact wipes it.
pub async fn revoke_device(store: &dyn Store, device: DeviceId) -> Result<()> {
    accounts::revoke_device(store, device).await.map_err(cli)?;
    println!(
        "revoked {device}: its token stops working now, and its next contact wipes its local data"
    );
    Ok(())
}

/// Makes a one-time enrollment code for the account `badge`, in the name of
/// the supervisor or admin `by` (whose scope applies, and whose audit entry
/// it is), and prints it; `png`: also writes its QR code there. The QR code
/// names `server`, else the configured `public_url`.
pub async fn enrollment_code(
    state: &AppState,
    badge: &str,
    by: &str,
    server: Option<String>,
    png: Option<PathBuf>,
) -> Result<()> {
    let server = server.or_else(|| state.config.public_url.clone()).context(
        "no server address for the QR code: pass --server https://… (the address phones \
             reach this server at) or set public_url",
    )?;
    let maker = state
        .store
        .user_by_badge(by)
        .await?
        .with_context(|| format!("no account {by} (see `beatbook-server user list`)"))?;
    let issued = enrollment::issue_code(state, &maker.info, badge, Utc::now())
        .await
        .map_err(|e| match e {
            IssueError::NoSuchUser => {
                anyhow::anyhow!("no account {badge} (see `beatbook-server user list`)")
            }
            IssueError::NotYours => anyhow::anyhow!(
                "{by} may not enroll {badge}: a supervisor enrolls the officers and auxiliaries \
                 of their own station; name an admin with --by"
            ),
            IssueError::Disabled => {
                anyhow::anyhow!("{badge} is disabled: enable it first (`user enable`)")
            }
            IssueError::Store(e) => e.into(),
        })?;
    let qr = issued.qr(&server);
    if let Some(path) = &png {
        let image = enrollment::qr_png(&qr.payload())?;
        std::fs::write(path, image)
            .with_context(|| format!("writing the QR code to {}", path.display()))?;
    }
    println!(
        "enrollment code for {} ({}): {}\nvalid until {}; works once\nQR text: {}",
        issued.user.name,
        issued.user.badge,
        beatbook_schema::enrollment::display_code(&issued.code),
        local_time(issued.expires_at, state.policy.local_offset),
        qr.payload()
    );
    if let Some(path) = png {
        println!("QR code written to {}", path.display());
    }
    Ok(())
}

fn local_time(t: DateTime<Utc>, offset: FixedOffset) -> String {
    t.with_timezone(&offset)
        .format("%Y-%m-%d %H:%M")
        .to_string()
}

// ---------------------------------------------------------------- demo

/// Seeds the demo district and prints what it made and how to sign in.
pub async fn demo(state: &AppState, size: DemoSize) -> Result<()> {
    let dir = state.config.data_dir.display().to_string();
    let already = |station: String| {
        anyhow::anyhow!(
            "{dir} already has data (station {station} exists). To start fresh, delete it \
             with `rm -r {dir}` (this deletes everything in it) or pass another --data-dir"
        )
    };
    let has_accounts = |n: usize| {
        anyhow::anyhow!(
            "{dir} 已有 {n} 个账号，拒绝写入演示数据：演示账号使用公开的密码，不能混入真实数据。\
             请用另一个 --data-dir 生成演示数据。\n\
             {dir} already has {n} account(s): refusing to add the demo, whose accounts have a \
             published password, to real data. Seed the demo into another --data-dir"
        )
    };
    demo::check(state, &size).await.map_err(|e| match e {
        DemoError::AlreadySeeded(station) => already(station),
        DemoError::HasAccounts(n) => has_accounts(n),
        other => other.into(),
    })?;
    println!(
        "seeding the demo district into {dir}: {} addresses, {} households, {} hazards, {} visits",
        size.addresses, size.households, size.hazards, size.visits
    );
    let started = Instant::now();
    let mut printer = ProgressPrinter::default();
    let report = demo::seed(state, &size, &mut |p| {
        printer.show(p.stage, p.done as u64, p.total as u64)
    })
    .await
    .map_err(|e| match e {
        DemoError::AlreadySeeded(station) => already(station),
        other => anyhow::Error::from(other).context(format!(
            "seeding stopped half-way: {dir} now holds a partial demo — remove it with \
                 `rm -r {dir}` before trying again"
        )),
    })?;
    let serve_args = match &state.config.database {
        // A URL with a password shows as ***: such a URL belongs in BEATBOOK_DATABASE.
        Some(db) => format!("--data-dir {dir} --database {db}"),
        None => format!("--data-dir {dir}"),
    };
    print_demo_report(&report, started.elapsed().as_secs_f64(), &serve_args);
    Ok(())
}

/// Prints a line per 1,000 items and at the end of each stage.
#[derive(Default)]
struct ProgressPrinter {
    stage: &'static str,
    printed: u64,
}

impl ProgressPrinter {
    fn show(&mut self, stage: &'static str, done: u64, total: u64) {
        if stage != self.stage {
            self.stage = stage;
            self.printed = 0;
        }
        if done / 1_000 > self.printed / 1_000 || done == total {
            self.printed = done;
            println!("  {stage:<22} {done:>6} / {total}");
        }
    }
}

fn print_demo_report(report: &DemoReport, seconds: f64, serve_args: &str) {
    let records: usize = report.records.values().sum();
    println!(
        "done in {seconds:.1} s: {records} records ({} changes in {} pushes, all accepted), {} photos",
        report.changes, report.batches, report.photos
    );
    let mut counts = Table::new(["form", "records"]);
    for (form, n) in &report.records {
        counts.row([(*form).to_owned(), n.to_string()]);
    }
    counts.print("");
    println!();
    let mut grids = Table::new(["grid", "community"]);
    for (id, name) in &report.grids {
        grids.row([id.to_string(), name.clone()]);
    }
    grids.print("");
    println!();
    println!("accounts (password: {}):", demo::PASSWORD);
    let mut accounts = Table::new(["badge", "name", "role", "grids"]);
    for a in &report.accounts {
        let grids = match a.role {
            Role::Supervisor => "all of the station".to_owned(),
            Role::Admin => "all".to_owned(),
            _ => a.grids.join(", "),
        };
        accounts.row([a.badge.clone(), a.name.clone(), role_name(a.role), grids]);
    }
    accounts.print("");
    println!();
    println!(
        "next: `beatbook-server {serve_args} serve`, then sign in on a device with a badge above"
    );
}

// ---------------------------------------------------------------- gc

/// Runs one janitor sweep (what the server does every
/// `janitor_interval_secs`) and prints what it removed.
pub async fn gc(state: &AppState) -> Result<()> {
    let sweep = crate::janitor::sweep(state)
        .await
        .context("the sweep stopped (what it removed so far stays removed): run it again")?;
    let line = |what: &str, r: crate::blobs::Removed| {
        println!("{what}: {} files, {} bytes", r.files, r.bytes);
    };
    line("expired unfinished uploads", sweep.partials);
    line("unreferenced blobs", sweep.blobs);
    line("blob files the database did not know", sweep.strays);
    Ok(())
}

// ---------------------------------------------------------------- migrate-to

/// Copies the data directory's SQLite database into the empty PostgreSQL
/// database at `url` and prints the verification; copies the complete blob
/// files into `blob_dir` when given (first: a failure there leaves the
/// database uncopied, so the command can simply run again).
pub async fn migrate_to(config: &Config, url: &str, blob_dir: Option<PathBuf>) -> Result<()> {
    let db = match config.database() {
        Database::Sqlite(db) if db.exists() => db,
        Database::Sqlite(db) => bail!(
            "no SQLite database to migrate at {}: point --data-dir (or --database) at the one \
             the server ran on",
            db.display()
        ),
        Database::Postgres(_) => bail!(
            "the configured database is already PostgreSQL: migrate-to copies from the SQLite \
             database, so point --database (or the configuration's `database`) at that file"
        ),
    };
    let target = Database::from(url.to_owned());
    if !matches!(target, Database::Postgres(_)) {
        // Not repeated: a mistyped scheme would show its password.
        bail!("the target is not a PostgreSQL URL: give postgres://user@host:port/database");
    }
    from_sqlite::check_url(url)?;
    // Brings an older file to this release's schema, as starting the server would.
    drop(SqliteStore::open(&db).with_context(|| format!("cannot open {}", db.display()))?);

    let started = Instant::now();
    match &blob_dir {
        Some(dest) => {
            println!(
                "copying the photos in {} to {}",
                config.blob_dir().display(),
                dest.display()
            );
            let from = BlobDir::open(&config.blob_dir())
                .with_context(|| format!("cannot open {}", config.blob_dir().display()))?;
            let to = BlobDir::open(dest)
                .with_context(|| format!("cannot create the blob directory {}", dest.display()))?;
            let mut printer = ProgressPrinter::default();
            let copied = from
                .copy_complete_to(&to, move |done, total| printer.show("photos", done, total))
                .await
                .context("copying the photos stopped (nothing was written to PostgreSQL yet)")?;
            println!(
                "  {} photos copied ({} bytes), {} already there",
                copied.files, copied.bytes, copied.skipped
            );
        }
        None => println!(
            "photos stay in {}: every server instance on PostgreSQL must use that directory \
             (blob_dir in its configuration, on storage they share), or run migrate-to again \
             with --blob-dir DIR to copy them",
            config.blob_dir().display()
        ),
    }

    println!("copying {} into {target}", db.display());
    let mut printer = ProgressPrinter::default();
    let mut step = None;
    let report = from_sqlite::copy(&db, url, &mut |p| {
        if step != Some(p.step) {
            step = Some(p.step);
            println!(
                "{}",
                match p.step {
                    Step::Copy => "copying (one transaction):",
                    Step::Verify => "committed; reading back to verify:",
                }
            );
        }
        // The verification's figures are the table printed below.
        if p.step == Step::Copy {
            printer.show(p.table, p.done, p.total);
        }
    })
    .await
    .with_context(|| format!("migrate-to {target} failed"))?;

    println!();
    let mut table = Table::new(["table", "rows", "SHA-256 (SQLite = PostgreSQL)"]);
    for t in &report.tables {
        table.row([t.table.to_owned(), t.rows.to_string(), t.checksum.clone()]);
    }
    table.print("");
    println!();
    println!(
        "verified in {:.1} s: every table has the same rows in both databases. Devices keep \
         their cursors; new changes get cursors after {}.",
        started.elapsed().as_secs_f64(),
        report.log_head
    );
    println!(
        "next: keep the SQLite data directory as a backup, point the server instances at \
         PostgreSQL, and start them"
    );
    Ok(())
}

// ---------------------------------------------------------------- status

/// Prints what the data directory holds: organisation, accounts, devices,
/// batches and records per form.
pub async fn status(state: &AppState) -> Result<()> {
    let store = state.store.as_ref();
    let users = store.users().await?;
    let devices = store.devices().await?;
    let batches = store.batches(u32::MAX).await?;
    println!("data directory {}", state.config.data_dir.display());

    let mut overview = Table::new(["what", "count", "detail"]);
    overview.row([
        "stations".to_owned(),
        store.stations().await?.len().to_string(),
        String::new(),
    ]);
    overview.row([
        "grids".to_owned(),
        store.grids().await?.len().to_string(),
        String::new(),
    ]);
    let disabled = users.iter().filter(|u| u.disabled).count();
    overview.row([
        "users".to_owned(),
        users.len().to_string(),
        format!(
            "officer {}, auxiliary {}, supervisor {}, admin {}; disabled {disabled}",
            count_role(&users, Role::Officer),
            count_role(&users, Role::Auxiliary),
            count_role(&users, Role::Supervisor),
            count_role(&users, Role::Admin)
        ),
    ]);
    let revoked = devices.iter().filter(|d| d.revoked_at.is_some()).count();
    overview.row([
        "devices".to_owned(),
        devices.len().to_string(),
        format!("{revoked} revoked"),
    ]);
    let rejected: u64 = batches.iter().map(|b| b.rejected).sum();
    let conflicts: u64 = batches.iter().map(|b| b.conflicts).sum();
    overview.row([
        "batches".to_owned(),
        batches.len().to_string(),
        format!("{rejected} changes rejected, {conflicts} hard conflicts"),
    ]);
    overview.print("");
    println!();

    let forms = state.forms();
    let mut records = Table::new(["form", "title", "records"]);
    for (form, n) in store.record_counts().await? {
        let title = forms
            .latest(&form)
            .map(|f| f.title().zh.clone())
            .unwrap_or_default();
        records.row([form, title, n.to_string()]);
    }
    records.print("no records yet");
    Ok(())
}

fn count_role(users: &[beatbook_store::Account], role: Role) -> usize {
    users.iter().filter(|u| u.info.role == role).count()
}

// ---------------------------------------------------------------- tables

/// A plain-text table whose columns line up in a terminal, counting CJK
/// characters as two columns.
struct Table {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    fn new<const N: usize>(header: [&str; N]) -> Self {
        Self {
            header: header.iter().map(|h| (*h).to_owned()).collect(),
            rows: Vec::new(),
        }
    }

    fn row<const N: usize>(&mut self, cells: [String; N]) {
        self.rows.push(cells.into());
    }

    /// Prints the table, or `empty` if it has no rows.
    fn print(&self, empty: &str) {
        if self.rows.is_empty() {
            if !empty.is_empty() {
                println!("{empty}");
            }
            return;
        }
        let widths: Vec<usize> = (0..self.header.len())
            .map(|i| {
                std::iter::once(&self.header)
                    .chain(&self.rows)
                    .map(|r| r.get(i).map_or(0, |c| display_width(c)))
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let line = |cells: &[String]| {
            let padded: Vec<String> = cells
                .iter()
                .zip(&widths)
                .map(|(c, w)| format!("{c}{}", " ".repeat(w.saturating_sub(display_width(c)))))
                .collect();
            println!("{}", padded.join("  ").trim_end());
        };
        line(&self.header);
        let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
        line(&rule);
        for r in &self.rows {
            line(r);
        }
    }
}

/// Terminal columns of `s`: East Asian wide and full-width characters take two.
fn display_width(s: &str) -> usize {
    s.chars()
        .map(|c| match u32::from(c) {
            0x1100..=0x115F
            | 0x2E80..=0x303E
            | 0x3041..=0x33FF
            | 0x3400..=0x4DBF
            | 0x4E00..=0x9FFF
            | 0xA000..=0xA4CF
            | 0xAC00..=0xD7A3
            | 0xF900..=0xFAFF
            | 0xFE30..=0xFE4F
            | 0xFF00..=0xFF60
            | 0xFFE0..=0xFFE6
            | 0x20000..=0x3FFFD => 2,
            _ => 1,
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_password_names_the_variable_to_set() {
        let e = check_password("", "BEATBOOK_PASSWORD").expect_err("empty");
        assert!(e.to_string().contains("set BEATBOOK_PASSWORD"), "{e}");
        assert!(check_password("1234567", "X").is_err());
        assert!(check_password("12345678", "X").is_ok());
    }

    #[test]
    fn chinese_counts_two_columns() {
        assert_eq!(display_width("abc"), 3);
        assert_eq!(display_width("施建军"), 6);
        assert_eq!(display_width("officer 社区民警"), 16);
    }
}
