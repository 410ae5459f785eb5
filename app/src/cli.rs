//! The command-line face of the core: enroll, import, sync and report status
//! without a window — for scripting, tests and benchmarks.

use std::io::{BufRead, IsTerminal};
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{bail, Context};
use beatbook_core::idcard::CardReader;
use beatbook_core::keys::PinKeys;
use beatbook_core::platform::gpsd::Gpsd;
use beatbook_core::platform::{Desktop, Fix, Platform};
use beatbook_core::store::{LocalState, RecordFilter};
use beatbook_core::sync::Phase;
use beatbook_core::{Core, CoreError};
use beatbook_schema::form::Values;
use beatbook_schema::ids::GridId;
use beatbook_schema::text::Lang;
use clap::{Parser, Subcommand};
use zeroize::Zeroizing;

use crate::card::IdCardReader;
use crate::ui::LiveviewAccess;

/// Beatbook field app (基础信息采集). Without a command, opens the app window.
///
/// Commands that open the local data need the officer's PIN (6–12 digits):
/// from BEATBOOK_PIN, else the first line of standard input (typed at a
/// prompt, not shown, on a terminal). Never as an argument: arguments are
/// visible to every user of the machine.
#[derive(Debug, Parser)]
#[command(version, about)]
pub struct Cli {
    /// The device directory (database, photos).
    #[arg(long, env = "BEATBOOK_DEVICE_DIR", default_value = "beatbook-device")]
    pub dir: PathBuf,
    /// A fixed position to report as the device's location, "LAT,LON" (a
    /// desktop has no GPS; for demos and tests).
    #[arg(long, env = "BEATBOOK_FIX", value_parser = parse_fix)]
    pub fix: Option<Fix>,
    /// Take the position from gpsd at this address, e.g. 127.0.0.1:2947 (a
    /// GPS receiver on this machine; instead of --fix).
    #[arg(long, env = "BEATBOOK_GPSD", conflicts_with = "fix")]
    pub gpsd: Option<std::net::SocketAddr>,
    /// The ID card reader's models (`scripts/ocr-models.sh` fetches them);
    /// without them the app has no "scan the ID card".
    #[arg(long, env = "BEATBOOK_OCR_MODELS")]
    pub ocr_models: Option<PathBuf>,
    /// Seconds between looks at the position while a patrol runs.
    #[arg(long, env = "BEATBOOK_TRACK_EVERY", default_value_t = 10,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub track_every: u64,
    /// Positions less accurate than this many metres are flagged on the form.
    #[arg(long, env = "BEATBOOK_ACCURACY_LIMIT_M", default_value_t = 50.0)]
    pub accuracy_limit_m: f64,
    /// The language of what this prints: `zh` (the default) or `en`.
    #[arg(long, env = "BEATBOOK_LANG", default_value = "zh", value_parser = parse_lang)]
    pub lang: Lang,
    /// Seconds between the syncs the app window makes by itself (it also
    /// syncs when the network comes back, and retries failures sooner).
    #[arg(long, env = "BEATBOOK_SYNC_EVERY", default_value_t = 600,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub sync_every: u64,
    /// The map renderer's files (`scripts/map-assets.sh` installs them);
    /// without them the map screen says how to install them.
    #[arg(long, env = "BEATBOOK_MAP_ASSETS", default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/../map-assets"))]
    pub map_assets: PathBuf,
    /// An offline basemap drawn under the map's data: a raster PMTiles file
    /// an admin supplies (none: the data is drawn on a plain ground).
    #[arg(long, env = "BEATBOOK_BASEMAP")]
    pub basemap: Option<PathBuf>,
    /// Cheap key derivation (tests and benchmarks only: weak against PIN guessing).
    #[arg(long, hide = true)]
    pub insecure_fast_keys: bool,
    /// What to do.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Binds this device to an officer (绑定设备). The password is read from
    /// BEATBOOK_PASSWORD or the next line of standard input (after the PIN,
    /// when that comes from there too).
    Enroll {
        /// Server address: https://…, or http:// on this machine only
        /// (e.g. http://127.0.0.1:8700).
        #[arg(long)]
        server: String,
        /// Badge number (警号).
        #[arg(long)]
        badge: String,
        /// A name for this device.
        #[arg(long, default_value = "Beatbook")]
        name: String,
    },
    /// Imports records from NDJSON (one JSON object of field values per line),
    /// validating and queueing each like a finalized form.
    Import {
        /// The form of the records.
        #[arg(long)]
        form: String,
        /// The grid (default: the officer's first).
        #[arg(long)]
        grid: Option<String>,
        /// The file ("-" for standard input).
        file: PathBuf,
    },
    /// Syncs with the server (上传/下载).
    Sync {
        /// Use this server address instead of the enrolled one, this time only.
        #[arg(long)]
        server: Option<String>,
    },
    /// Shows counts and the outbox.
    Status,
    /// Lists records.
    List {
        /// Only this form.
        #[arg(long)]
        form: Option<String>,
        /// At most this many.
        #[arg(long, default_value_t = 20)]
        limit: u32,
    },
    /// Searches the standard addresses (characters, pinyin initials, door numbers).
    Search {
        /// The query.
        query: String,
    },
    /// Serves the app to a browser (liveview) on a loopback address, for
    /// browser-driven tests and demos. Prints the address to open: it holds
    /// a key made for this launch, without which nothing is served.
    Liveview {
        /// Where to listen (port 0: any free port).
        #[arg(long, default_value = "127.0.0.1:8780")]
        listen: std::net::SocketAddr,
        /// The server address offered at enrollment.
        #[arg(long, default_value = "http://127.0.0.1:8700")]
        server: String,
    },
}

fn parse_fix(raw: &str) -> Result<Fix, String> {
    let (lat, lon) = raw
        .split_once(',')
        .ok_or("expected LAT,LON, e.g. 31.87,121.17")?;
    let lat: f64 = lat
        .trim()
        .parse()
        .map_err(|_| format!("latitude '{lat}' is not a number"))?;
    let lon: f64 = lon
        .trim()
        .parse()
        .map_err(|_| format!("longitude '{lon}' is not a number"))?;
    if !(-90.0..=90.0).contains(&lat) || !(-180.0..=180.0).contains(&lon) {
        return Err(format!("{lat},{lon} is not a position on Earth"));
    }
    Ok(Fix {
        lat,
        lon,
        accuracy_m: 10.0,
        at: None,
    })
}

/// A secret from the environment variable `var`, else one line of standard
/// input — read at a prompt without echo when it is a terminal.
fn read_secret(var: &str, what: &str) -> anyhow::Result<Zeroizing<String>> {
    if let Ok(value) = std::env::var(var) {
        return Ok(Zeroizing::new(value));
    }
    let stdin = std::io::stdin();
    let mut line = Zeroizing::new(String::new());
    if stdin.is_terminal() {
        eprint!("{what}: ");
        read_line_hidden(&stdin, &mut line)
    } else {
        stdin.lock().read_line(&mut line).map(drop)
    }
    .with_context(|| format!("reading the {what} from standard input"))?;
    let trimmed = line.trim_end_matches(['\r', '\n']);
    if trimmed.is_empty() {
        bail!("no {what}: set {var} or type it on standard input");
    }
    Ok(Zeroizing::new(trimmed.to_owned()))
}

/// Reads a line from the terminal with echo off.
#[cfg(unix)]
fn read_line_hidden(stdin: &std::io::Stdin, line: &mut String) -> std::io::Result<()> {
    use rustix::termios::{tcgetattr, tcsetattr, LocalModes, OptionalActions};
    let shown = tcgetattr(stdin)?;
    let mut hidden = shown.clone();
    hidden.local_modes.remove(LocalModes::ECHO);
    hidden.local_modes.insert(LocalModes::ECHONL);
    tcsetattr(stdin, OptionalActions::Now, &hidden)?;
    let read = stdin.lock().read_line(line);
    tcsetattr(stdin, OptionalActions::Now, &shown)?;
    read.map(drop)
}

/// Reads a line from the terminal (no way to hide it here).
#[cfg(not(unix))]
fn read_line_hidden(stdin: &std::io::Stdin, line: &mut String) -> std::io::Result<()> {
    stdin.lock().read_line(line).map(drop)
}

/// A core error as the officer should read it: both languages where the
/// core has them.
fn explained(e: CoreError) -> anyhow::Error {
    match e.message() {
        Some(m) => anyhow::anyhow!("{}\n{}", m.zh, m.en),
        None => e.into(),
    }
}

/// Opens the core of the device directory.
pub fn open(cli: &Cli) -> anyhow::Result<Core> {
    let keys = if cli.insecure_fast_keys {
        PinKeys::fast_for_tests()
    } else {
        PinKeys::default()
    };
    let pin = read_secret("BEATBOOK_PIN", "PIN")?;
    Core::open(&cli.dir, &pin, &keys, platform(cli))
        .map_err(explained)
        .with_context(|| format!("could not open the device data in {}", cli.dir.display()))
}

/// Where the position comes from: gpsd when asked, else the fixed position.
fn platform(cli: &Cli) -> Arc<dyn Platform> {
    match cli.gpsd {
        Some(addr) => Arc::new(Gpsd::watch(addr)),
        None => Arc::new(Desktop { fix: cli.fix }),
    }
}

/// The ID card reader, if its models are where the command line says (or in
/// the build's cache); else none, and the log says why.
fn card_reader(cli: &Cli) -> Option<Arc<dyn CardReader>> {
    let dir = cli
        .ocr_models
        .clone()
        .unwrap_or_else(beatbook_idcard::default_models_dir);
    match IdCardReader::load(&dir) {
        Ok(reader) => Some(Arc::new(reader)),
        Err(e) => {
            tracing::warn!(error = %e, dir = %dir.display(), "no ID card scanning");
            None
        }
    }
}

/// The UI's start-up options for this command line.
pub fn ui_options(cli: &Cli, server: &str) -> crate::ui::UiOptions {
    crate::ui::UiOptions {
        dir: cli.dir.clone(),
        fast_keys: cli.insecure_fast_keys,
        server: server.to_owned(),
        platform: platform(cli),
        uploads: Default::default(),
        // Set by liveview_router; a desktop window gets files directly.
        upload_path: String::new(),
        nudge: Default::default(),
        sync_every: std::time::Duration::from_secs(cli.sync_every),
        card_reader: card_reader(cli),
        accuracy_limit_m: cli.accuracy_limit_m,
        track_every: std::time::Duration::from_secs(cli.track_every),
        // The URLs are set by liveview_router, which serves the files; a
        // desktop window has no server, so its map says how to get one.
        map: crate::ui::MapSource {
            assets_dir: Some(cli.map_assets.clone()),
            basemap: cli.basemap.clone(),
            ..Default::default()
        },
    }
}

/// Runs a command.
pub async fn run(cli: &Cli, command: &Command) -> anyhow::Result<()> {
    if let Command::Liveview { listen, server } = command {
        if !listen.ip().is_loopback() {
            bail!("liveview serves loopback addresses only (127.0.0.1 or ::1), not {listen}");
        }
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .with_context(|| format!("cannot listen on {listen}"))?;
        let access = LiveviewAccess::new(listener.local_addr()?);
        let url = access.url();
        println!(
            "{}",
            say(
                cli,
                &format!("外勤应用地址 {url}"),
                &format!("field app on {url}")
            )
        );
        axum::serve(
            listener,
            crate::ui::liveview_router(ui_options(cli, server), &access),
        )
        .await?;
        return Ok(());
    }
    let core = open(cli)?;
    match command {
        Command::Enroll {
            server,
            badge,
            name,
        } => {
            let password = read_secret("BEATBOOK_PASSWORD", "password")?;
            let user = core
                .enroll(server, badge, &password, name)
                .await
                .map_err(explained)?;
            let grids = user
                .grids
                .iter()
                .map(|g| g.as_str())
                .collect::<Vec<_>>()
                .join(", ");
            let role = user.role.label();
            println!(
                "{}",
                say(
                    cli,
                    &format!("已绑定：{}（{}），网格 {grids}", user.name, role.zh),
                    &format!("enrolled: {} ({}), grids {grids}", user.name, role.en),
                )
            );
        }
        Command::Import { form, grid, file } => import(cli, &core, form, grid.as_deref(), file)?,
        Command::Sync { server } => {
            let report = core
                .sync_via(server.as_deref(), &|p| {
                    let label = match p.phase {
                        Phase::Uploading => say(cli, "照片", "photos"),
                        Phase::Pushing => say(cli, "已发送", "pushed"),
                        Phase::Pulling => say(cli, "已接收", "pulled"),
                        Phase::Done => return,
                    };
                    match p.total {
                        Some(t) => eprintln!("{label} {}/{t}", p.done),
                        None => eprintln!("{label} {}", p.done),
                    }
                })
                .await
                .map_err(explained)?;
            println!("{}", serde_json::to_string(&report)?);
        }
        Command::Status => {
            let status = core.status()?;
            if let Some(user) = core.user()? {
                println!(
                    "{} {} ({})",
                    say(cli, "民警：", "officer:"),
                    user.name,
                    user.badge
                );
            } else {
                println!("{}", say(cli, "尚未绑定", "not enrolled"));
            }
            for (state, n) in &status.states {
                println!("{:>8}  {}", n, state.label().get(cli.lang));
            }
            println!("{} {}", say(cli, "待发送：", "outbox:"), status.outbox);
            let last = status
                .last_sync
                .map_or_else(|| say(cli, "从未", "never").to_owned(), |t| t.to_rfc3339());
            println!("{} {last}", say(cli, "上次同步：", "last sync:"));
        }
        Command::List { form, limit } => {
            let filter = RecordFilter {
                form: form.clone(),
                limit: Some(*limit),
                ..Default::default()
            };
            for r in core.records(&filter)? {
                println!(
                    "{}  {:<8} {:<10} {}",
                    r.id,
                    r.form_id,
                    r.state.label().get(cli.lang),
                    r.updated_at.format("%Y-%m-%d %H:%M")
                );
            }
        }
        Command::Search { query } => {
            for (id, label) in core.search_addresses(query, 20)? {
                println!("{id}  {label}");
            }
        }
        Command::Liveview { .. } => {}
    }
    Ok(())
}

/// `zh` or `en` as the language of [`say`], whichever is chosen.
fn say<'a>(cli: &Cli, zh: &'a str, en: &'a str) -> &'a str {
    match cli.lang {
        Lang::Zh => zh,
        Lang::En => en,
    }
}

fn parse_lang(s: &str) -> Result<Lang, String> {
    match s {
        "zh" => Ok(Lang::Zh),
        "en" => Ok(Lang::En),
        other => Err(format!("{other:?} is not a language: use zh or en")),
    }
}

fn import(
    cli: &Cli,
    core: &Core,
    form: &str,
    grid: Option<&str>,
    file: &PathBuf,
) -> anyhow::Result<()> {
    let reader: Box<dyn BufRead> = if file.as_os_str() == "-" {
        Box::new(std::io::stdin().lock())
    } else {
        Box::new(std::io::BufReader::new(
            std::fs::File::open(file).with_context(|| format!("opening {}", file.display()))?,
        ))
    };
    let grid = grid.map(GridId::new);
    let (mut queued, mut refused) = (0u64, 0u64);
    let mut unreadable = 0u64;
    let mut read_error = None;
    let rows = reader
        .lines()
        .enumerate()
        .map_while(|(n, line)| match line {
            Ok(line) => Some((n + 1, line)),
            Err(e) => {
                read_error = Some(e);
                None
            }
        });
    let rows = rows
        .filter(|(_, line)| !line.trim().is_empty())
        .filter_map(|(line, text)| match serde_json::from_str::<Values>(&text) {
            Ok(values) => Some((line, values)),
            Err(e) => {
                let zh = format!("第 {line} 行不是 JSON 对象：{e}");
                let en = format!("line {line}: not a JSON object: {e}");
                eprintln!("{}", say(cli, &zh, &en));
                unreadable += 1;
                None
            }
        });
    core.import(form, grid.as_ref(), rows, |row| match row.result {
        Ok(_) => {
            queued += 1;
            if queued % 1000 == 0 {
                eprintln!(
                    "{}",
                    say(
                        cli,
                        &format!("已入队 {queued}"),
                        &format!("{queued} queued")
                    )
                );
            }
        }
        Err(e) => {
            refused += 1;
            let line = row.line;
            eprintln!(
                "{}",
                say(
                    cli,
                    &format!("第 {line} 行：{e}"),
                    &format!("line {line}: {e}")
                )
            );
        }
    })?;
    if let Some(e) = read_error {
        return Err(e).with_context(|| format!("reading {}", file.display()));
    }
    refused += unreadable;
    let drafts = core
        .records(&RecordFilter {
            states: vec![LocalState::Draft],
            ..Default::default()
        })?
        .len();
    let zh = format!("已入队 {queued}，未通过 {refused}（存为草稿：{drafts}）");
    let en = format!("queued {queued}, refused {refused} (kept as drafts: {drafts})");
    println!("{}", say(cli, &zh, &en));
    Ok(())
}
