//! What every handler shares.

use std::collections::HashMap;
use std::sync::Arc;

use beatbook_schema::form::{Form, FormDef};
use beatbook_schema::ids::UserId;
use chrono::FixedOffset;

use crate::blobs::BlobDir;
use crate::config::Config;
use crate::sync::{Forms, Policy, PublishedForms};
use crate::throttle::{Limits, Throttle};
use crate::thumbs::Thumbnails;
use beatbook_store::{Store, StoreError};

/// Shared server state.
#[derive(Clone)]
pub struct AppState {
    /// Storage.
    pub store: Arc<dyn Store>,
    /// The published forms, compiled; read again when a form may have been
    /// published elsewhere.
    pub forms: Arc<PublishedForms>,
    /// Configuration.
    pub config: Arc<Config>,
    /// Attachment bytes.
    pub blobs: BlobDir,
    /// Failed-login throttle.
    pub throttle: Arc<Throttle>,
    /// Sync rules.
    pub policy: Policy,
    /// Thumbnails of photos for the review pages.
    pub thumbnails: Arc<Thumbnails>,
    /// Turns for exports in progress (see [`Config::max_concurrent_exports`]).
    pub export_turns: Arc<tokio::sync::Semaphore>,
}

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The database could not be opened (its URL shown without a password).
    #[error("{database}: {source}")]
    Open {
        /// The database, as [`crate::Database`] displays it.
        database: String,
        /// Why.
        source: StoreError,
    },
    /// A published form does not compile.
    #[error("a published form is broken: {0}")]
    Form(#[from] beatbook_schema::form::FormError),
    /// The blob directory is unusable.
    #[error("blob directory: {0}")]
    Io(#[from] std::io::Error),
}

/// What [`AppState::retire_form`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retirement {
    /// Retired by publishing this version.
    Retired(u32),
    /// Retired already, by this version: nothing published.
    AlreadyRetired(u32),
    /// No such form is published.
    NotPublished,
}

impl AppState {
    /// Builds the state over a store: publishes the standard forms if new and compiles them.
    pub async fn new(store: Arc<dyn Store>, config: Config) -> Result<Self, StartError> {
        for form in beatbook_schema::catalogue::standard_forms()? {
            store.publish_form(form.def()).await?;
        }
        let forms = Forms::compile(store.forms().await?)?;
        let blobs = BlobDir::open(&config.blob_dir())?;
        let policy = Policy {
            max_clock_ahead_ms: config.max_clock_ahead_secs.saturating_mul(1000),
            local_offset: FixedOffset::east_opt(
                config.local_utc_offset_hours.clamp(-12, 14) * 3600,
            )
            .unwrap_or(Policy::default().local_offset),
        };
        let thumbnails = Arc::new(Thumbnails::new(
            config.data_dir.join("thumbs"),
            config.thumbnail_max_pixels,
            config.thumbnail_concurrent_decodes,
        ));
        let export_turns = Arc::new(tokio::sync::Semaphore::new(
            config
                .max_concurrent_exports
                .clamp(1, tokio::sync::Semaphore::MAX_PERMITS),
        ));
        Ok(Self {
            store,
            forms: Arc::new(PublishedForms::new(forms)),
            throttle: Arc::new(Throttle::new(Limits::of(&config))),
            config: Arc::new(config),
            blobs,
            policy,
            thumbnails,
            export_turns,
        })
    }

    /// The compiled forms as last loaded, without asking the store: for
    /// this process's own work (the CLI, the demo seeder). Requests use
    /// [`AppState::recent_forms`] or [`PublishedForms::covering`], which see
    /// versions published by other processes.
    pub fn forms(&self) -> Arc<Forms> {
        self.forms.current()
    }

    /// The compiled forms, read from the store at most
    /// [`crate::sync::RELOAD_FLOOR`] ago (see [`PublishedForms::recent`]).
    pub async fn recent_forms(&self) -> Result<Arc<Forms>, StoreError> {
        self.forms.recent(self.store.as_ref()).await
    }

    /// Every account's name by user id, for showing who wrote a record.
    pub async fn user_names(&self) -> Result<HashMap<UserId, String>, StoreError> {
        Ok(self
            .store
            .users()
            .await?
            .into_iter()
            .map(|a| (a.info.id, a.info.name))
            .collect())
    }

    /// Publishes a form version and recompiles the published forms, so pushes
    /// of the new version validate at once (other instances and processes
    /// read the forms again when they meet the version); devices receive the definition
    /// with their next pull. A definition that does not compile is refused
    /// before anything is stored. Publishing a version again changes nothing
    /// (a published version is never edited: publish a new version instead).
    /// Returns whether the version was new.
    pub async fn publish_form(&self, def: &FormDef) -> Result<bool, StartError> {
        Form::compile(def.clone())?;
        let new = self.store.publish_form(def).await?;
        self.forms.reload(self.store.as_ref()).await?;
        Ok(new)
    }

    /// Retires a form: publishes its newest version again as a new version
    /// marked retired ([`beatbook_schema::audience::retired`]), so devices
    /// drop it from their choosers on their next pull and the server refuses
    /// new records of it, while records that exist may still be edited.
    pub async fn retire_form(&self, form_id: &str) -> Result<Retirement, StartError> {
        let forms = self.forms.reload(self.store.as_ref()).await?;
        let Some(latest) = forms.latest(form_id) else {
            return Ok(Retirement::NotPublished);
        };
        if latest.def().retired {
            return Ok(Retirement::AlreadyRetired(latest.version()));
        }
        let def = beatbook_schema::audience::retired(latest.def());
        self.publish_form(&def).await?;
        Ok(Retirement::Retired(def.version))
    }
}
