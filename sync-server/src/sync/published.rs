//! The published forms as this instance knows them: compiled once, and read
//! again from the store when they may have changed elsewhere. A form version
//! is published through any process (another instance, the admin CLI); no
//! instance hears of it, so each re-reads the store when it meets a version
//! it lacks, or when a page wants forms no staler than [`RELOAD_FLOOR`].

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use beatbook_store::{Store, StoreError};

use super::forms::Forms;

/// The shortest time between two reloads of the published forms. Pushes
/// naming a version no one published (a stale or hostile device) cost at
/// most one read of the forms per floor, whatever their number.
pub const RELOAD_FLOOR: Duration = Duration::from_secs(1);

/// The compiled published forms of this instance.
#[derive(Debug)]
pub struct PublishedForms {
    compiled: RwLock<Arc<Forms>>,
    /// When the latest reload began. Held while reloading, so callers that
    /// want a reload at once share one.
    last_reload: tokio::sync::Mutex<Instant>,
    reloads: AtomicU64,
}

impl PublishedForms {
    /// Starts from forms just compiled from the store.
    pub fn new(forms: Forms) -> Self {
        Self {
            compiled: RwLock::new(Arc::new(forms)),
            last_reload: tokio::sync::Mutex::new(Instant::now()),
            reloads: AtomicU64::new(0),
        }
    }

    /// The forms as last loaded, without asking the store.
    pub fn current(&self) -> Arc<Forms> {
        self.compiled
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// How many times the store was asked for the forms again since start.
    pub fn reloads(&self) -> u64 {
        self.reloads.load(Ordering::Relaxed)
    }

    /// Forms holding every `(form_id, version)` of `wanted` if the store
    /// publishes them, read at most [`RELOAD_FLOOR`] ago: a newest version
    /// published elsewhere (one that retires a form or changes who may
    /// enter it) holds here within the floor. When a wanted version is
    /// missing, the forms are read again, no sooner than [`RELOAD_FLOOR`]
    /// after the last reload (the caller waits for it) and after this call
    /// began, so every version whose publish committed before the call is
    /// in the answer.
    pub async fn covering<'a>(
        &self,
        store: &dyn Store,
        wanted: impl IntoIterator<Item = (&'a str, u32)>,
    ) -> Result<Arc<Forms>, StoreError> {
        let asked = Instant::now();
        let forms = self.recent(store).await?;
        if wanted.into_iter().all(|(id, v)| forms.get(id, v).is_some()) {
            return Ok(forms);
        }
        self.reload_since(store, asked, true).await
    }

    /// Forms read from the store at most [`RELOAD_FLOOR`] ago: for pages that
    /// show forms by their latest version, which no lookup can tell is missing.
    pub async fn recent(&self, store: &dyn Store) -> Result<Arc<Forms>, StoreError> {
        let since = Instant::now()
            .checked_sub(RELOAD_FLOOR)
            .unwrap_or_else(Instant::now);
        self.reload_since(store, since, false).await
    }

    /// Reads the forms again now (after this process published one).
    pub async fn reload(&self, store: &dyn Store) -> Result<Arc<Forms>, StoreError> {
        self.reload_since(store, Instant::now(), false).await
    }

    /// The forms as read by a reload that began at or after `since`: the
    /// latest one if it did, else a new one — after the floor has passed
    /// since the last if `wait_for_floor`.
    async fn reload_since(
        &self,
        store: &dyn Store,
        since: Instant,
        wait_for_floor: bool,
    ) -> Result<Arc<Forms>, StoreError> {
        let mut last = self.last_reload.lock().await;
        if *last >= since {
            return Ok(self.current());
        }
        if wait_for_floor {
            tokio::time::sleep_until((*last + RELOAD_FLOOR).into()).await;
        }
        *last = Instant::now();
        self.reloads.fetch_add(1, Ordering::Relaxed);
        // Published versions are never removed: as many as compiled here
        // means none is new, and reading and compiling them all again (a
        // millisecond in front of the push that asked) would change nothing.
        let current = self.current();
        if store.forms_published().await? == current.versions() as u64 {
            return Ok(current);
        }
        let forms = Forms::compile(store.forms().await?).map_err(|e| {
            // Published by a build that knows more than this one: every
            // instance must run a build that compiles what is published.
            StoreError::Corrupt(format!(
                "a published form does not compile in this build: {e}"
            ))
        })?;
        let forms = Arc::new(forms);
        *self.compiled.write().unwrap_or_else(|p| p.into_inner()) = forms.clone();
        Ok(forms)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use beatbook_schema::catalogue::standard_forms;
    use beatbook_store::Store;
    use beatbook_store_sqlite::SqliteStore;

    use super::{Forms, PublishedForms};

    #[tokio::test]
    async fn forms_are_compiled_again_only_when_a_version_was_published() {
        let dir = tempfile::tempdir().expect("directory");
        let store = SqliteStore::open(&dir.path().join("server.db")).expect("store");
        let defs: Vec<_> = standard_forms()
            .expect("standard forms")
            .iter()
            .map(|f| f.def().clone())
            .collect();
        for def in &defs {
            store.publish_form(def).await.expect("publish");
        }
        let published = PublishedForms::new(
            Forms::compile(store.forms().await.expect("forms")).expect("compile"),
        );
        let compiled = published.current();

        let unchanged = published.reload(&store).await.expect("reload");
        assert!(
            Arc::ptr_eq(&unchanged, &compiled),
            "nothing new: the same forms"
        );
        assert_eq!(published.reloads(), 1, "the store was asked");

        let mut v2 = defs[0].clone();
        v2.version += 1;
        store.publish_form(&v2).await.expect("publish");
        let reloaded = published.reload(&store).await.expect("reload");
        assert_eq!(reloaded.versions(), compiled.versions() + 1);
        assert!(reloaded.get(v2.form_id.as_str(), v2.version).is_some());
        assert!(Arc::ptr_eq(&published.current(), &reloaded));
    }
}
