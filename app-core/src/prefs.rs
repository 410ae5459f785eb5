//! The officer's choices that outlive a session and are no secret (the UI
//! language), in `prefs.json` beside the device's database. They are read
//! before the PIN, so they are stored plain; erasing a revoked device's files
//! removes them too.

use std::io;
use std::path::Path;

use beatbook_schema::text::Lang;
use serde::{Deserialize, Serialize};

use crate::files;

const FILE: &str = "prefs.json";

/// What the field app remembers between starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Prefs {
    /// The UI language.
    pub lang: Lang,
}

impl Prefs {
    /// The preferences kept in `dir`; the defaults when there are none yet.
    /// A file that cannot be read or parsed counts as none: losing a
    /// language choice is better than refusing to start.
    pub fn load(dir: &Path) -> Prefs {
        match files::read(&dir.join(FILE)) {
            Ok(bytes) => serde_json::from_slice(&bytes).unwrap_or_else(|e| {
                tracing::warn!(error = %e, "{FILE} is unreadable; using the defaults");
                Prefs::default()
            }),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Prefs::default(),
            Err(e) => {
                tracing::warn!(error = %e, "{FILE} cannot be read; using the defaults");
                Prefs::default()
            }
        }
    }

    /// Keeps these preferences in `dir` (made if missing), durably.
    pub fn save(&self, dir: &Path) -> io::Result<()> {
        files::create_dir_all(dir)?;
        let bytes = serde_json::to_vec(self).map_err(io::Error::other)?;
        files::replace(&dir.join(FILE), &bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_saved_language_is_loaded_again_and_a_broken_file_gives_the_default() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path().join("device");
        assert_eq!(Prefs::load(&dir), Prefs::default(), "nothing saved yet");
        Prefs { lang: Lang::En }.save(&dir).expect("save");
        assert_eq!(Prefs::load(&dir).lang, Lang::En);
        std::fs::write(dir.join(FILE), b"{not json").expect("write");
        assert_eq!(Prefs::load(&dir), Prefs::default());
    }
}
