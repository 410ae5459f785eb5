//! The grid's unfinished hazards, for whoever walks it (the auxiliary
//! officer of the village, the grid's officers): every hazard on the device
//! not yet verified — open, rectifying, or rectified and waiting for the
//! supervisor's check — overdue ones first, with the deadline and a failed
//! verification's reason. Following one up opens that hazard, never a new one.

use std::cmp::Reverse;

use beatbook_schema::catalogue::{form_ids, hazard};
use chrono::NaiveDate;
use serde_json::Value as Json;

use crate::error::CoreError;
use crate::service::Core;
use crate::store::LocalRecord;

/// One hazard still to be followed up.
#[derive(Debug, Clone, PartialEq)]
pub struct OpenHazard {
    /// The hazard.
    pub record: LocalRecord,
    /// Its status (`open`, `rectifying`, `rectified`).
    pub status: String,
    /// Rectify by.
    pub deadline: Option<NaiveDate>,
    /// Days past the deadline, while it is not rectified yet.
    pub overdue_days: Option<i64>,
    /// Why the supervisor's last check failed, while it is being rectified again.
    pub failed_reason: Option<String>,
}

impl OpenHazard {
    fn of(record: LocalRecord, today: NaiveDate) -> Self {
        let text = |name: &str| record.values.get(name).and_then(Json::as_str);
        let status = text(hazard::STATUS).unwrap_or(hazard::OPEN).to_owned();
        let deadline =
            text(hazard::DEADLINE).and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok());
        let overdue_days = deadline
            .filter(|_| status != hazard::RECTIFIED)
            .map(|d| (today - d).num_days())
            .filter(|days| *days > 0);
        let failed_reason = (text(hazard::VERIFICATION) == Some(hazard::FAILED)
            && status != hazard::RECTIFIED)
            .then(|| text(hazard::VERIFICATION_REASON).map(str::to_owned))
            .flatten();
        Self {
            status,
            deadline,
            overdue_days,
            failed_reason,
            record,
        }
    }
}

/// The statuses of a hazard not yet verified.
const UNFINISHED: [&str; 3] = [hazard::OPEN, hazard::RECTIFYING, hazard::RECTIFIED];

impl Core {
    /// The unfinished hazards on this device (the officer's grids): the
    /// overdue first (most overdue first), then by deadline (soonest first,
    /// none last), then the most recently changed.
    pub fn open_hazards(&self) -> Result<Vec<OpenHazard>, CoreError> {
        let today = self.platform().today();
        let mut list: Vec<OpenHazard> = self
            .store()
            .records_in(form_ids::HAZARD, hazard::STATUS, &UNFINISHED)?
            .into_iter()
            .map(|r| OpenHazard::of(r, today))
            .collect();
        // The store gives them newest first; a stable sort keeps that among equals.
        list.sort_by_key(|h| {
            (
                Reverse(h.overdue_days.unwrap_or(0)),
                h.deadline.is_none(),
                h.deadline,
            )
        });
        Ok(list)
    }
}

#[cfg(test)]
mod tests {
    use chrono::Duration;
    use serde_json::json;

    use super::*;
    use crate::photos::synthetic_camera_jpeg;
    use crate::testing::{enrolled_core, obj};

    /// A hazard reported today, at `status`, due `due_in` days from today.
    fn reported(
        core: &Core,
        n: u8,
        status: &str,
        due_in: Option<i64>,
    ) -> beatbook_schema::ids::RecordId {
        let today = core.platform().today();
        let mut values = obj(json!({
            "category": "other", "description": format!("隐患 {n}"), "severity": "low",
            "status": status,
        }));
        if let Some(days) = due_in {
            values.insert(
                "deadline".into(),
                json!((today + Duration::days(days)).to_string()),
            );
            // A deadline may not be before the hazard was found.
            values.insert(
                "found_date".into(),
                json!((today + Duration::days(days.min(0))).to_string()),
            );
        }
        let mut s = core
            .new_record(form_ids::HAZARD, None, values)
            .expect("new hazard");
        s.add_photo(
            "photos",
            &synthetic_camera_jpeg(64, 48, n.into()).expect("jpeg"),
        )
        .expect("photo");
        if matches!(status, hazard::RECTIFIED | hazard::VERIFIED) {
            s.add_photo(
                "after_photos",
                &synthetic_camera_jpeg(64, 48, 100 + u64::from(n)).expect("jpeg"),
            )
            .expect("after-photo");
        }
        s.finalize().expect("finalizes");
        s.id()
    }

    #[test]
    fn overdue_first_then_soonest_deadline_and_no_verified_hazard() {
        let (_dir, core) = enrolled_core();
        let none = reported(&core, 1, hazard::OPEN, None);
        let later = reported(&core, 2, hazard::RECTIFYING, Some(5));
        let late = reported(&core, 3, hazard::OPEN, Some(-2));
        let later_still = reported(&core, 4, hazard::RECTIFIED, Some(9));
        let very_late = reported(&core, 5, hazard::RECTIFYING, Some(-7));
        reported(&core, 6, hazard::VERIFIED, Some(-20));
        let list = core.open_hazards().expect("open hazards");
        let order: Vec<_> = list.iter().map(|h| h.record.id).collect();
        assert_eq!(order, [very_late, late, later, later_still, none]);
        assert_eq!(list[0].overdue_days, Some(7));
        assert_eq!(
            list[3].overdue_days, None,
            "rectified: waits for the check, not late"
        );
    }
}
