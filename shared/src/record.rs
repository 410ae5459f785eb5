//! The record envelope: one filled form, as devices store it and sync it.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::form::Values;
use crate::ids::{DeviceId, FormId, GridId, RecordId, Sha256, UserId};

/// Where a record stands in its life: entered, sent for review, then approved
/// or returned to the officer with a reason.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecordStatus {
    /// Being entered on the device; may be incomplete; never leaves the device.
    Draft,
    /// Validated and finalized by the officer; synced for review.
    Submitted,
    /// A supervisor returned it with a reason; editable again on the device.
    Returned,
    /// A supervisor approved it.
    Approved,
}

/// A photo or file a record carries, addressed by its content.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct AttachmentRef {
    /// SHA-256 of the stored bytes (after downscaling on the device).
    pub sha256: Sha256,
    /// MIME type, e.g. `image/jpeg`.
    pub content_type: String,
    /// Size in bytes.
    pub size: u64,
}

/// One filled form.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// Generated on the device; stable across versions.
    pub id: RecordId,
    /// The form it fills.
    pub form_id: FormId,
    /// The form version it was entered with.
    pub form_version: u32,
    /// The grid it belongs to: the unit of access.
    pub grid: GridId,
    /// Who entered it first.
    pub author: UserId,
    /// The device it was entered on.
    pub device: DeviceId,
    /// Field values keyed by field name.
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub values: Values,
    /// Attachments referenced by photo fields.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attachments: Vec<AttachmentRef>,
    /// When it was first saved (device wall clock; data only, never used to order).
    pub created_at: DateTime<Utc>,
    /// When it was last saved (device wall clock; data only).
    pub updated_at: DateTime<Utc>,
    /// Review status.
    pub status: RecordStatus,
}

impl Record {
    /// Digests of the attachments, for validation of photo fields.
    pub fn attachment_hashes(&self) -> Vec<Sha256> {
        self.attachments.iter().map(|a| a.sha256).collect()
    }
}
