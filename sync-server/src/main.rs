//! `beatbook-server`: the sync server and its admin commands. This file only
//! parses arguments and dispatches to [`beatbook_server::admin`].

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{anyhow, Context, Result};
use beatbook_schema::ids::{DeviceId, GridId, StationId};
use beatbook_schema::protocol::Role;
use beatbook_server::admin::{self, AccountSpec};
use beatbook_server::demo::{self, DemoSize};
use beatbook_server::{Config, Database, Retirement};
use beatbook_store::{Grid, Station};
use clap::{Parser, Subcommand, ValueEnum};
use tracing_subscriber::EnvFilter;

// A push builds and drops many small JSON values per record. Under
// callgrind glibc's malloc and free were a quarter of the writer's
// instructions; jemalloc cut the writer's total by a fifth (the README's
// performance notes have the memory it costs).
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// Environment variable holding the password for `init`.
const ADMIN_PASSWORD_ENV: &str = "BEATBOOK_ADMIN_PASSWORD";
/// Environment variable holding the password for `user add` and `user passwd`.
const PASSWORD_ENV: &str = "BEATBOOK_PASSWORD";

#[derive(Debug, Parser)]
#[command(
    name = "beatbook-server",
    version,
    about = "Beatbook sync server and admin tool (同步服务器与管理工具)",
    after_help = "Settings come from defaults, then --config (or ./beatbook.toml), then BEATBOOK_* \
                  environment variables (e.g. BEATBOOK_LISTEN), then --data-dir / --database / --listen.\n\
                  Passwords are read from BEATBOOK_ADMIN_PASSWORD (init) or BEATBOOK_PASSWORD \
                  (user add, user passwd), else from one line of standard input."
)]
struct Cli {
    /// Configuration file (TOML) [default: ./beatbook.toml if present]
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Data directory: database and photos (数据目录); overrides the configuration
    #[arg(long, global = true, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Database: a SQLite file or a postgres:// URL [default: <data-dir>/beatbook.sqlite3];
    /// overrides the configuration. A URL with a password belongs in BEATBOOK_DATABASE or the
    /// configuration file: command lines are visible to every user of the machine
    #[arg(long, global = true, value_name = "PATH|URL")]
    database: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the sync server (启动同步服务)
    Serve {
        /// Address to listen on, e.g. 127.0.0.1:8700; overrides the configuration
        #[arg(long, value_name = "ADDR")]
        listen: Option<SocketAddr>,
        /// Allow a non-loopback address; also needs TLS (tls_cert and tls_key) or a TLS proxy
        /// in front (trusted_proxies), and no demo account with the demo password
        #[arg(long)]
        allow_remote: bool,
    },
    /// Create the data directory, the first station and an admin account (初始化)
    Init {
        /// The admin's badge number (警号)
        #[arg(long, value_name = "BADGE")]
        admin_badge: String,
        /// The admin's name (姓名)
        #[arg(long, value_name = "NAME")]
        admin_name: String,
        /// The station's code
        #[arg(long, value_name = "ID", default_value = demo::STATION_ID)]
        station_id: String,
        /// The station's name (派出所名称)
        #[arg(long, value_name = "NAME", default_value = demo::STATION_NAME)]
        station_name: String,
    },
    /// Stations (派出所)
    #[command(subcommand)]
    Station(StationCommand),
    /// Grids (网格)
    #[command(subcommand)]
    Grid(GridCommand),
    /// Accounts (账号)
    #[command(subcommand)]
    User(UserCommand),
    /// Enrolled devices (设备)
    #[command(subcommand)]
    Device(DeviceCommand),
    /// Seed the demo district of Haimen (海门区演示数据) into the data directory
    Demo {
        /// Standard addresses to make
        #[arg(long, value_name = "N", default_value_t = 3_000)]
        addresses: usize,
        /// Households to make (2–4 people each, unless vacant)
        #[arg(long, value_name = "N", default_value_t = 300)]
        households: usize,
    },
    /// Counts of records per form, users, devices and batches (数据概况)
    Status,
    /// Remove expired unfinished uploads and photos no record uses (清理附件);
    /// the running server does this every janitor_interval_secs
    Gc,
    /// Form definitions (表单)
    #[command(subcommand)]
    Form(FormCommand),
    /// Copy this data directory's database into an empty PostgreSQL database and verify it
    /// (迁移到 PostgreSQL). Stop the server first: what it writes during the copy stays behind.
    #[command(
        after_help = "The target must be empty: create it (CREATE DATABASE beatbook) and start no \
                      server on it before migrate-to. Everything is copied in one transaction and \
                      then read back and compared table by table (rows and SHA-256). Enrolled \
                      devices keep their tokens and cursors. The SQLite data directory is left in \
                      place: keep it as a backup. Photos are not in the database: give \
                      --blob-dir to copy them to the new instances' blob directory, or have the \
                      new instances use this one."
    )]
    MigrateTo {
        /// The target, e.g. postgres://beatbook@127.0.0.1:5432/beatbook (a password in it is
        /// never printed)
        #[arg(value_name = "POSTGRES_URL")]
        url: String,
        /// Copy the photo files (complete uploads, each checked against its SHA-256) into this
        /// directory; files already there intact are skipped
        #[arg(long, value_name = "DIR")]
        blob_dir: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
enum FormCommand {
    /// Publish a form version from its JSON definition; devices receive it with their next sync
    Publish {
        /// The definition, e.g. assets/forms/bench/household_survey.v1.json
        file: PathBuf,
    },
    /// Import a form from an XLSForm workbook (survey, choices and settings sheets, as ODK and
    /// KoboToolbox design them; see docs/xlsform.md) and publish it like `form publish`
    Import {
        /// The workbook, e.g. household_check.xlsx (without a form_id in its settings sheet the
        /// file name is the form id)
        file: PathBuf,
        /// Only read and check the workbook and print what is wrong; publish nothing
        #[arg(long)]
        check: bool,
    },
    /// Write a published form as an XLSForm workbook, to edit in Excel and import again
    Export {
        /// The form, e.g. house
        form_id: String,
        /// The workbook to write, e.g. house.xlsx
        file: PathBuf,
        /// The version (default: the latest published)
        #[arg(long)]
        version: Option<u32>,
    },
    /// List the published form versions
    List,
    /// Retire a form: devices stop offering it after their next sync and the server takes no
    /// new records of it; records that exist may still be edited (publishing a later version
    /// brings it back)
    Retire {
        /// The form, e.g. dispute
        form_id: String,
    },
}

#[derive(Debug, Subcommand)]
enum StationCommand {
    /// Add a station
    Add {
        /// Code, e.g. 320614-02
        id: String,
        /// Name, e.g. 海门区公安局三厂派出所
        name: String,
    },
    /// List stations
    List,
}

#[derive(Debug, Subcommand)]
enum GridCommand {
    /// Add a grid to a station
    Add {
        /// Code, e.g. 320614-01-04
        id: String,
        /// The station it belongs to
        #[arg(long, value_name = "STATION")]
        station: String,
        /// Name, usually the community's (社区名称)
        #[arg(long, value_name = "NAME")]
        name: String,
    },
    /// List grids and who is assigned to each
    List,
}

#[derive(Debug, Subcommand)]
enum UserCommand {
    /// Add an account (password from BEATBOOK_PASSWORD or stdin)
    Add {
        /// Badge number (警号), unique
        #[arg(long, value_name = "BADGE")]
        badge: String,
        /// Name (姓名)
        #[arg(long, value_name = "NAME")]
        name: String,
        /// Role (角色)
        #[arg(long, value_enum)]
        role: RoleArg,
        /// Station
        #[arg(long, value_name = "STATION")]
        station: String,
        /// A grid the account works in; repeat for several
        #[arg(long = "grid", value_name = "GRID")]
        grids: Vec<String>,
    },
    /// List accounts
    List,
    /// Set an account's password and sign it out of its devices and review sessions
    /// (password from BEATBOOK_PASSWORD or stdin)
    Passwd {
        /// Badge number
        badge: String,
    },
    /// Disable an account: it can no longer enroll or sync (停用)
    Disable {
        /// Badge number
        badge: String,
    },
    /// Enable a disabled account again (启用)
    Enable {
        /// Badge number
        badge: String,
    },
    /// Change an account's role and grids (its grids are replaced); its devices'
    /// next sync follows
    Role {
        /// Badge number
        badge: String,
        /// Role (角色)
        #[arg(long, value_enum)]
        role: RoleArg,
        /// A grid the account works in; repeat for several
        #[arg(long = "grid", value_name = "GRID")]
        grids: Vec<String>,
    },
}

#[derive(Debug, Subcommand)]
enum DeviceCommand {
    /// List enrolled devices
    List,
    /// Revoke a lost or stolen device: its next contact wipes its data (注销)
    Revoke {
        /// The device id (see `device list`)
        device_id: DeviceId,
    },
    /// Make a one-time enrollment code for an officer's phone (绑定码): the
    /// phone scans its QR code instead of typing address and password
    Code {
        /// The officer's badge number
        badge: String,
        /// The supervisor or admin making it (audited as theirs)
        #[arg(long)]
        by: String,
        /// The address phones reach this server at (default: public_url)
        #[arg(long)]
        server: Option<String>,
        /// Also write the QR code to this PNG file
        #[arg(long)]
        png: Option<std::path::PathBuf>,
    },
}

/// Roles as typed on the command line.
#[derive(Debug, Clone, Copy, ValueEnum)]
enum RoleArg {
    /// Community officer (社区民警)
    Officer,
    /// Auxiliary officer (辅警/网格员)
    Auxiliary,
    /// Supervisor (所领导)
    Supervisor,
    /// Administrator (管理员)
    Admin,
}

impl From<RoleArg> for Role {
    fn from(r: RoleArg) -> Self {
        match r {
            RoleArg::Officer => Role::Officer,
            RoleArg::Auxiliary => Role::Auxiliary,
            RoleArg::Supervisor => Role::Supervisor,
            RoleArg::Admin => Role::Admin,
        }
    }
}

/// Passwords given in the environment. They are taken out of it before the
/// configuration is read (every `BEATBOOK_*` variable is read as a setting,
/// and unknown settings are refused) and before any thread starts, so no
/// child process inherits them either.
struct Secrets {
    admin: Option<String>,
    user: Option<String>,
}

impl Secrets {
    fn take_from_env() -> Self {
        Self {
            admin: take_env(ADMIN_PASSWORD_ENV),
            user: take_env(PASSWORD_ENV),
        }
    }
}

/// What the C code (SQLite) allocates goes through glibc's malloc, whose
/// mmap threshold rises after a large block is freed, so later large blocks
/// came from the heap and stayed: 500 phones enrolling once left the server
/// holding 600 MB–1 GB (then from Argon2's 19 MiB blocks, which jemalloc
/// now serves; `attack_signin` measures the resident memory of a sign-in
/// flood). A fixed threshold keeps large blocks in their own mappings,
/// returned to the system when freed.
fn return_large_blocks_to_the_system() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes allocator parameters; called first thing
    // in main, before any other thread exists.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 128 * 1024);
    }
}

fn take_env(name: &str) -> Option<String> {
    let value = std::env::var(name).ok();
    if value.is_some() {
        // Sound: still single-threaded, no runtime started yet.
        std::env::remove_var(name);
    }
    value
}

fn main() -> ExitCode {
    return_large_blocks_to_the_system();
    let cli = Cli::parse();
    let secrets = Secrets::take_from_env();
    match run(cli, secrets) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli, secrets: Secrets) -> Result<()> {
    let config = load_config(&cli)?;
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?
        .block_on(dispatch(cli.command, config, secrets))
}

fn load_config(cli: &Cli) -> Result<Config> {
    let mut config = Config::load(cli.config.as_deref()).map_err(|e| {
        anyhow!("cannot read the configuration: {e} — check --config, ./beatbook.toml and BEATBOOK_* variables")
    })?;
    if let Some(dir) = &cli.data_dir {
        config.data_dir = dir.clone();
    }
    if let Some(db) = &cli.database {
        config.database = Some(Database::from(db.clone()));
    }
    if let Command::Serve {
        listen: Some(addr), ..
    } = &cli.command
    {
        config.listen = *addr;
    }
    Ok(config)
}

async fn dispatch(command: Command, config: Config, secrets: Secrets) -> Result<()> {
    match command {
        Command::Serve { allow_remote, .. } => {
            init_tracing();
            admin::serve(config, allow_remote, admin::shutdown_signal()).await
        }
        Command::Init {
            admin_badge,
            admin_name,
            station_id,
            station_name,
        } => {
            let password = admin::read_password(secrets.admin, ADMIN_PASSWORD_ENV, &admin_badge)?;
            let station = Station {
                id: StationId::new(station_id),
                name: station_name,
            };
            let account = AccountSpec {
                badge: admin_badge,
                name: admin_name,
                role: Role::Admin,
                station: station.id.clone(),
                grids: Vec::new(),
                password,
            };
            let state = admin::open(config).await?;
            admin::init(&state, station, account).await
        }
        Command::Demo {
            addresses,
            households,
        } => {
            let state = admin::open(config).await?;
            admin::demo(&state, DemoSize::new(addresses, households)).await
        }
        Command::Status => admin::status(&admin::open_existing(config).await?).await,
        Command::Gc => admin::gc(&admin::open_existing(config).await?).await,
        Command::Form(c) => form(c, config).await,
        Command::MigrateTo { url, blob_dir } => admin::migrate_to(&config, &url, blob_dir).await,
        Command::Station(c) => station(c, config).await,
        Command::Grid(c) => grid(c, config).await,
        Command::User(c) => user(c, config, secrets).await,
        Command::Device(c) => device(c, config).await,
    }
}

async fn station(command: StationCommand, config: Config) -> Result<()> {
    let state = admin::open_existing(config).await?;
    match command {
        StationCommand::Add { id, name } => {
            let station = Station {
                id: StationId::new(id),
                name,
            };
            admin::add_station(state.store.as_ref(), station).await
        }
        StationCommand::List => admin::list_stations(state.store.as_ref()).await,
    }
}

async fn grid(command: GridCommand, config: Config) -> Result<()> {
    let state = admin::open_existing(config).await?;
    match command {
        GridCommand::Add { id, station, name } => {
            let grid = Grid {
                id: GridId::new(id),
                station: StationId::new(station),
                name,
            };
            admin::add_grid(state.store.as_ref(), grid).await
        }
        GridCommand::List => admin::list_grids(state.store.as_ref()).await,
    }
}

async fn user(command: UserCommand, config: Config, secrets: Secrets) -> Result<()> {
    let state = admin::open_existing(config).await?;
    let store = state.store.as_ref();
    match command {
        UserCommand::Add {
            badge,
            name,
            role,
            station,
            grids,
        } => {
            let password = admin::read_password(secrets.user, PASSWORD_ENV, &badge)?;
            let account = AccountSpec {
                badge,
                name,
                role: role.into(),
                station: StationId::new(station),
                grids: grids.into_iter().map(GridId::new).collect(),
                password,
            };
            admin::add_user(store, account).await
        }
        UserCommand::List => admin::list_users(store).await,
        UserCommand::Passwd { badge } => {
            let password = admin::read_password(secrets.user, PASSWORD_ENV, &badge)?;
            admin::set_password(store, &badge, password).await
        }
        UserCommand::Disable { badge } => admin::set_disabled(store, &badge, true).await,
        UserCommand::Enable { badge } => admin::set_disabled(store, &badge, false).await,
        UserCommand::Role { badge, role, grids } => {
            let grids = grids.into_iter().map(GridId::new).collect();
            admin::set_role(store, &badge, role.into(), grids).await
        }
    }
}

async fn form(command: FormCommand, config: Config) -> Result<()> {
    if let FormCommand::Import { file, check } = &command {
        let def = read_workbook(file)?;
        if *check {
            println!(
                "{}: {} v{} reads without problems",
                file.display(),
                def.form_id,
                def.version
            );
            return Ok(());
        }
        let state = admin::open_existing(config).await?;
        return publish(&state, &def).await;
    }
    let state = admin::open_existing(config).await?;
    match command {
        FormCommand::Publish { file } => {
            let json = std::fs::read_to_string(&file)
                .with_context(|| format!("cannot read {}", file.display()))?;
            let def: beatbook_schema::form::FormDef = serde_json::from_str(&json)
                .with_context(|| format!("{} is not a form definition", file.display()))?;
            publish(&state, &def).await?;
        }
        FormCommand::Import { .. } => {}
        FormCommand::Export {
            form_id,
            file,
            version,
        } => {
            let forms = state.forms();
            let form = match version {
                Some(v) => forms.get(&form_id, v),
                None => forms.latest(&form_id),
            }
            .ok_or_else(|| {
                anyhow!(
                    "no published form {form_id}{}: see `form list`",
                    version.map_or(String::new(), |v| format!(" v{v}"))
                )
            })?;
            let bytes = beatbook_xlsform::export(form.def())?;
            std::fs::write(&file, bytes)
                .with_context(|| format!("cannot write {}", file.display()))?;
            println!(
                "wrote {} v{} to {}",
                form.id(),
                form.version(),
                file.display()
            );
        }
        FormCommand::List => {
            let forms = state.forms();
            let mut all: Vec<_> = forms.all().collect();
            all.sort_by(|a, b| (a.id(), a.version()).cmp(&(b.id(), b.version())));
            for f in all {
                let retired = if f.def().retired { "  (retired)" } else { "" };
                println!("{} v{}  {}{retired}", f.id(), f.version(), f.title().zh);
            }
        }
        FormCommand::Retire { form_id } => match state.retire_form(&form_id).await? {
            Retirement::Retired(v) => println!(
                "retired {form_id} (v{v}): devices stop offering it after their next sync; \
                 its records may still be edited"
            ),
            Retirement::AlreadyRetired(v) => {
                println!("{form_id} was already retired (v{v}): nothing changed")
            }
            Retirement::NotPublished => {
                return Err(anyhow!("no published form {form_id}: see `form list`"))
            }
        },
    }
    Ok(())
}

async fn publish(
    state: &beatbook_server::AppState,
    def: &beatbook_schema::form::FormDef,
) -> Result<()> {
    let (id, version) = (&def.form_id, def.version);
    if state.publish_form(def).await? {
        println!("published {id} v{version}");
    } else {
        println!("{id} v{version} was already published (unchanged)");
    }
    Ok(())
}

/// An XLSForm workbook as a form definition; every problem printed, each
/// with its sheet, row and column, when it does not read.
fn read_workbook(file: &std::path::Path) -> Result<beatbook_schema::form::FormDef> {
    let bytes = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
    let name = file.file_name().and_then(|n| n.to_str());
    match beatbook_xlsform::import_named(&bytes, name) {
        Ok(imported) => {
            for note in &imported.notes {
                println!("note: {note}");
            }
            Ok(imported.form)
        }
        Err(problems) => {
            for p in &problems {
                eprintln!("{p}");
            }
            Err(anyhow!(
                "{} problem(s) in {}: nothing was published — fix them in the workbook and import it again",
                problems.len(),
                file.display()
            ))
        }
    }
}

async fn device(command: DeviceCommand, config: Config) -> Result<()> {
    let state = admin::open_existing(config).await?;
    match command {
        DeviceCommand::List => admin::list_devices(&state).await,
        DeviceCommand::Revoke { device_id } => {
            admin::revoke_device(state.store.as_ref(), device_id).await
        }
        DeviceCommand::Code {
            badge,
            by,
            server,
            png,
        } => admin::enrollment_code(&state, &badge, &by, server, png).await,
    }
}

/// Logs to standard error, filtered by `RUST_LOG` (default `info,tower_http=info`).
fn init_tracing() {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,tower_http=info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}
