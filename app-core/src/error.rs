//! [`CoreError`]: why a core operation failed, and what to tell the officer.

use beatbook_schema::form::FieldError;
use beatbook_schema::text::Text;

use crate::lockout::UnlockError;
use crate::store::LocalStoreError;
use crate::sync::{self, SyncError};

/// Why a core operation failed.
#[derive(Debug, thiserror::Error)]
pub enum CoreError {
    /// The store failed (disk, corrupt data, a PIN that is not 6–12 digits, ...).
    #[error(transparent)]
    Store(#[from] LocalStoreError),
    /// The PIN did not unlock the device: wrong, too soon after wrong ones,
    /// or one too many (the data was erased).
    #[error(transparent)]
    Unlock(UnlockError),
    /// Sync failed.
    #[error(transparent)]
    Sync(#[from] SyncError),
    /// A photo could not be used.
    #[error("photo: {0}")]
    Photo(String),
    /// The device is not enrolled.
    #[error("this device is not enrolled: enroll with badge number and password first")]
    NotEnrolled,
    /// No such form on the device.
    #[error("no form '{0}' on this device: sync to receive it")]
    UnknownForm(String),
    /// A new record of a form this user may not start: the form is retired,
    /// or the user's role may not enter it (the server would refuse it).
    #[error("no new '{0}' record can be started: the form is retired or not for your role (sync, then choose from Other forms)")]
    NotOffered(String),
    /// A field path does not exist.
    #[error("no field '{0}' in this form")]
    UnknownField(String),
    /// A field was used as what it is not.
    #[error("field '{path}': {}", .misuse.text().en)]
    MisusedField {
        /// The field's path.
        path: String,
        /// How it was misused.
        misuse: FieldMisuse,
    },
    /// A visit was asked of a record that is not a place (an address, a
    /// house or a unit); holds the record's form.
    #[error("a '{0}' record is not a place to visit: pick an address, a house or a unit")]
    NotAPlace(String),
    /// The record does not validate; every field error at once.
    #[error("{} field(s) need attention: {}", .0.len(), .0.iter().map(|e| format!("{} ({})", e.path, e.message.en)).collect::<Vec<_>>().join("; "))]
    Invalid(Vec<FieldError>),
}

/// How a field was used as what it is not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldMisuse {
    /// A derived field was typed into: its value is computed.
    Derived,
    /// Entries were added to a field that is not a repeat group.
    NotRepeat,
    /// A photo was added to a field that is not a photo field.
    NotPhoto,
    /// A field this officer may not change here: an approved hazard's
    /// report, or the supervisor's verification.
    Locked,
}

impl FieldMisuse {
    /// What went wrong, in both languages.
    pub fn text(self) -> Text {
        match self {
            FieldMisuse::Derived => {
                Text::new("由系统计算，不能手动填写", "is derived and cannot be typed")
            }
            FieldMisuse::NotRepeat => Text::new("不是可添加多项的分组", "is not a repeat group"),
            FieldMisuse::NotPhoto => Text::new("不是照片项", "is not a photo field"),
            FieldMisuse::Locked => Text::new(
                "在此不能修改（已审核通过的隐患只能填写整改部分，复查结果由所领导填写）",
                "cannot be changed here (an approved hazard takes only its rectification; the supervisor sets the verification)",
            ),
        }
    }
}

impl CoreError {
    /// What to tell the officer, in both languages, where the error has more
    /// to say than its English text: a refused PIN, a refused server
    /// address, a revoked device and what it lost.
    pub fn message(&self) -> Option<Text> {
        match self {
            CoreError::Unlock(e) => e.message(),
            CoreError::Sync(SyncError::Address(e)) => Some(e.message()),
            CoreError::Sync(SyncError::Revoked { unsent }) => Some(sync::revoked_message(unsent)),
            CoreError::Store(LocalStoreError::NotDiscardable { state, .. }) => {
                let state = state.label();
                Some(Text::new(
                    format!(
                        "只能删除从未提交过的草稿：这条记录（{}）已提交或已在服务器上，不能删除；如需更改，请打开修改",
                        state.zh
                    ),
                    format!(
                        "Only a draft never submitted can be discarded: this record ({}) was submitted or is on the server, so it stays; open it to change it",
                        state.en.to_lowercase()
                    ),
                ))
            }
            _ => None,
        }
    }
}

impl From<UnlockError> for CoreError {
    fn from(e: UnlockError) -> Self {
        match e {
            UnlockError::Store(e) => CoreError::Store(e),
            other => CoreError::Unlock(other),
        }
    }
}
