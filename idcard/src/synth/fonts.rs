//! Finding the CJK fonts the card is drawn with (Debian's `fonts-noto-cjk`:
//! `scripts/install-deps.sh fonts-noto-cjk`), asked of fontconfig rather
//! than assumed at a path.

use std::path::PathBuf;
use std::process::Command;

use ab_glyph::FontVec;

/// The fonts a synthetic card uses.
pub struct Fonts {
    /// Labels and values (黑体-like).
    pub sans: FontVec,
    /// The name and the ID number.
    pub sans_bold: FontVec,
    /// Values on some cards, for variety.
    pub serif: FontVec,
}

/// Why the fonts could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum FontError {
    /// fontconfig knows no such font.
    #[error(
        "no \"{0}\" font found by fontconfig (fc-list) — install Debian's fonts-noto-cjk \
         (scripts/install-deps.sh fonts-noto-cjk)"
    )]
    NotFound(String),
    /// The file could not be read or parsed.
    #[error("the font file {path} could not be loaded: {detail}")]
    Unreadable {
        /// The font file.
        path: String,
        /// What went wrong.
        detail: String,
    },
}

impl Fonts {
    /// Loads Noto Sans CJK SC (regular and bold) and Noto Serif CJK SC.
    pub fn find() -> Result<Self, FontError> {
        Ok(Self {
            sans: load("Noto Sans CJK SC", "Regular")?,
            sans_bold: load("Noto Sans CJK SC", "Bold")?,
            serif: load("Noto Serif CJK SC", "Regular")?,
        })
    }
}

/// The file and collection index fontconfig lists for `family` in `style`.
fn locate(family: &str, style: &str) -> Option<(PathBuf, u32)> {
    let out = Command::new("fc-list")
        .args(["-f", "%{file}|%{index}|%{family}|%{style}\n"])
        .output()
        .ok()?;
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|line| {
            let mut parts = line.split('|');
            let (file, index, families, styles) =
                (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
            let family_matches = families.split(',').any(|f| f == family);
            let style_matches = styles.split(',').any(|s| s == style);
            (family_matches && style_matches)
                .then(|| (PathBuf::from(file), index.parse().unwrap_or(0)))
        })
}

fn load(family: &str, style: &str) -> Result<FontVec, FontError> {
    let (path, index) =
        locate(family, style).ok_or_else(|| FontError::NotFound(format!("{family} {style}")))?;
    let unreadable = |detail: String| FontError::Unreadable {
        path: path.display().to_string(),
        detail,
    };
    let data = std::fs::read(&path).map_err(|e| unreadable(e.to_string()))?;
    FontVec::try_from_vec_and_index(data, index).map_err(|e| unreadable(e.to_string()))
}
