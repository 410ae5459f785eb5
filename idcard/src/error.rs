//! What can go wrong when loading the models or reading a card.

/// Why the reader could not load its models or read an image.
#[derive(Debug, thiserror::Error)]
pub enum IdCardError {
    /// A model file is missing or unreadable.
    #[error("cannot read the OCR model file {path}: {source} — fetch the models with scripts/ocr-models.sh")]
    ModelFile {
        /// The file that could not be read.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A model file is not the one the reader was built and tested with.
    #[error(
        "the OCR model {file} has SHA-256 {actual}, not the one in idcard/models.sha256 — \
         fetch the models again with scripts/ocr-models.sh"
    )]
    ModelDigest {
        /// The model's file name.
        file: String,
        /// The digest of the bytes given.
        actual: String,
    },
    /// tract could not load or prepare a model.
    #[error("the OCR model {file} could not be prepared: {detail}")]
    Model {
        /// The model's file name.
        file: String,
        /// tract's explanation.
        detail: String,
    },
    /// The bytes are not an image the reader can decode.
    #[error("the image could not be read ({0}) — use a JPEG or PNG photo of the card")]
    Image(String),
    /// Running a model failed.
    #[error("text recognition failed ({0}) — try another photo; if it keeps failing, report it")]
    Inference(String),
}

impl IdCardError {
    pub(crate) fn model(file: &str, error: impl std::fmt::Display) -> Self {
        Self::Model {
            file: file.to_owned(),
            detail: format!("{error:#}"),
        }
    }

    pub(crate) fn inference(error: impl std::fmt::Display) -> Self {
        Self::Inference(format!("{error:#}"))
    }
}
