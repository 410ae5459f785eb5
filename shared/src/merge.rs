//! Field-level merge of concurrent edits, pure so that it is tested by property
//! tests alone and runs the same wherever it is used.
//!
//! A change names the revision it was based on. Fields nobody else touched
//! since that base apply cleanly; if others changed *other* fields meanwhile
//! the merge is soft. The same field changed on two devices is a hard conflict:
//! the higher hybrid logical clock wins, whatever order the changes arrive in,
//! and the losing value is reported so it can be kept in the record's history.
//! A repeat group is one field for this purpose.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

use crate::form::Values;
use crate::hlc::Hlc;

/// The current state of one field of a stored record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FieldState {
    /// Current value (`null` when cleared).
    pub value: Json,
    /// Timestamp of the write that set it.
    pub hlc: Hlc,
    /// Record revision at which it was set.
    pub revision: u64,
}

/// How a change met the stored record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MergeKind {
    /// Based on the current revision: nothing concurrent.
    Clean,
    /// Based on an older revision, but the concurrent edits touched other fields.
    Soft,
    /// The same field was edited concurrently.
    Hard,
}

/// One field edited on two devices: who won and the value that lost.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FieldConflict {
    /// The field name.
    pub field: String,
    /// The value that stands.
    #[cfg_attr(feature = "openapi", schema(value_type = Value))]
    pub winning_value: Json,
    /// Timestamp of the winning write.
    pub winner: Hlc,
    /// The value that lost (kept in history, shown to the supervisor).
    #[cfg_attr(feature = "openapi", schema(value_type = Value))]
    pub losing_value: Json,
    /// Timestamp of the losing write.
    pub loser: Hlc,
    /// Who wrote the winning value (the officer's name), when the server
    /// knows it; the merge itself never does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub winner_name: Option<String>,
}

/// What to write for a change.
#[derive(Debug, Clone, PartialEq)]
pub struct Merge {
    /// Fields to set, with the change's timestamp.
    pub apply: Values,
    /// Fields the change wanted but lost.
    pub conflicts: Vec<FieldConflict>,
    /// Classification.
    pub kind: MergeKind,
}

/// Merges a change (`fields` written at `hlc`, based on `base_revision`) into a
/// record whose fields are `current` at `current_revision`.
///
/// A field written since the base *by the same device* is not concurrent: a
/// device's own edits are ordered by its clock (an officer who finalizes a
/// record twice before syncing has not conflicted with herself).
pub fn merge(
    current: &BTreeMap<String, FieldState>,
    current_revision: u64,
    base_revision: u64,
    hlc: Hlc,
    fields: &Values,
) -> Merge {
    let concurrent = |st: &FieldState| st.revision > base_revision && st.hlc.device != hlc.device;
    let mut apply = Values::new();
    let mut conflicts = Vec::new();
    for (name, value) in fields {
        match current.get(name) {
            Some(st) if concurrent(st) && st.value != *value => {
                if hlc > st.hlc {
                    conflicts.push(FieldConflict {
                        field: name.clone(),
                        winning_value: value.clone(),
                        winner: hlc,
                        losing_value: st.value.clone(),
                        loser: st.hlc,
                        winner_name: None,
                    });
                    apply.insert(name.clone(), value.clone());
                } else {
                    conflicts.push(FieldConflict {
                        field: name.clone(),
                        winning_value: st.value.clone(),
                        winner: st.hlc,
                        losing_value: value.clone(),
                        loser: hlc,
                        winner_name: None,
                    });
                }
            }
            // Concurrently set to the same value: agreement, not a conflict.
            Some(st) if concurrent(st) => {}
            // The device's own later write already stands (a replayed older edit).
            Some(st) if st.revision > base_revision && st.hlc > hlc => {}
            _ => {
                apply.insert(name.clone(), value.clone());
            }
        }
    }
    let others_wrote = current_revision > base_revision && current.values().any(concurrent);
    let kind = if !conflicts.is_empty() {
        MergeKind::Hard
    } else if others_wrote {
        MergeKind::Soft
    } else {
        MergeKind::Clean
    };
    Merge {
        apply,
        conflicts,
        kind,
    }
}

/// Applies a merge to a record's field states, producing the next revision.
pub fn apply(
    current: &mut BTreeMap<String, FieldState>,
    merge: &Merge,
    hlc: Hlc,
    new_revision: u64,
) {
    for (name, value) in &merge.apply {
        current.insert(
            name.clone(),
            FieldState {
                value: value.clone(),
                hlc,
                revision: new_revision,
            },
        );
    }
}

/// The plain values of a record's field states, cleared fields left out.
pub fn values(current: &BTreeMap<String, FieldState>) -> Values {
    current
        .iter()
        .filter(|(_, st)| !st.value.is_null())
        .map(|(k, st)| (k.clone(), st.value.clone()))
        .collect()
}

/// [`values`], taking the field states.
pub fn into_values(current: BTreeMap<String, FieldState>) -> Values {
    current
        .into_iter()
        .filter(|(_, st)| !st.value.is_null())
        .map(|(k, st)| (k, st.value))
        .collect()
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use serde_json::json;
    use uuid::Uuid;

    use super::*;
    use crate::ids::DeviceId;

    fn hlc(ms: u64, dev: u128) -> Hlc {
        Hlc {
            wall_ms: ms,
            counter: 0,
            device: DeviceId(Uuid::from_u128(dev)),
        }
    }

    fn vals(pairs: &[(&str, Json)]) -> Values {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect()
    }

    /// A stored record, created at revision 1 by device 0.
    fn stored() -> BTreeMap<String, FieldState> {
        let mut s = BTreeMap::new();
        let m = merge(
            &s,
            0,
            0,
            hlc(1, 0),
            &vals(&[("phone", json!("13800000000")), ("use", json!("rented"))]),
        );
        apply(&mut s, &m, hlc(1, 0), 1);
        s
    }

    #[test]
    fn change_on_current_revision_is_clean() {
        let s = stored();
        let m = merge(
            &s,
            1,
            1,
            hlc(5, 1),
            &vals(&[("phone", json!("13900000000"))]),
        );
        assert_eq!(m.kind, MergeKind::Clean);
        assert_eq!(m.apply.len(), 1);
    }

    #[test]
    fn disjoint_concurrent_edits_merge_softly() {
        let mut s = stored();
        let a = merge(
            &s,
            1,
            1,
            hlc(5, 1),
            &vals(&[("phone", json!("13900000000"))]),
        );
        apply(&mut s, &a, hlc(5, 1), 2);
        let b = merge(&s, 2, 1, hlc(4, 2), &vals(&[("use", json!("vacant"))]));
        assert_eq!(b.kind, MergeKind::Soft);
        apply(&mut s, &b, hlc(4, 2), 3);
        assert_eq!(
            values(&s),
            vals(&[("phone", json!("13900000000")), ("use", json!("vacant"))])
        );
    }

    #[test]
    fn same_field_conflict_goes_to_the_later_clock_and_keeps_the_loser() {
        let mut s = stored();
        let a = merge(&s, 1, 1, hlc(9, 1), &vals(&[("use", json!("vacant"))]));
        apply(&mut s, &a, hlc(9, 1), 2);
        // Arrives later but was made earlier: loses.
        let b = merge(
            &s,
            2,
            1,
            hlc(7, 2),
            &vals(&[("use", json!("group_rented"))]),
        );
        assert_eq!(b.kind, MergeKind::Hard);
        assert!(b.apply.is_empty());
        assert_eq!(b.conflicts[0].losing_value, json!("group_rented"));
        assert_eq!(b.conflicts[0].winning_value, json!("vacant"));
    }

    #[test]
    fn concurrent_identical_values_are_not_a_conflict() {
        let mut s = stored();
        let a = merge(&s, 1, 1, hlc(9, 1), &vals(&[("use", json!("vacant"))]));
        apply(&mut s, &a, hlc(9, 1), 2);
        let b = merge(&s, 2, 1, hlc(7, 2), &vals(&[("use", json!("vacant"))]));
        assert_eq!(b.kind, MergeKind::Soft);
        assert!(b.conflicts.is_empty());
    }

    fn field_edits() -> impl Strategy<Value = Values> {
        proptest::collection::btree_map("[a-d]", 0u8..4, 1..4)
            .prop_map(|m| m.into_iter().map(|(k, v)| (k, json!(v))).collect())
    }

    #[test]
    fn a_devices_own_sequential_edits_do_not_conflict() {
        let mut s = stored();
        let first = merge(&s, 1, 1, hlc(5, 1), &vals(&[("use", json!("vacant"))]));
        apply(&mut s, &first, hlc(5, 1), 2);
        // The same device edits again before it learnt revision 2.
        let second = merge(
            &s,
            2,
            1,
            hlc(6, 1),
            &vals(&[("use", json!("group_rented"))]),
        );
        assert_eq!(second.kind, MergeKind::Clean);
        assert_eq!(second.apply["use"], json!("group_rented"));
        // Replayed out of order, the older edit does not undo the newer one.
        apply(&mut s, &second, hlc(6, 1), 3);
        let stale = merge(&s, 3, 1, hlc(5, 1), &vals(&[("use", json!("vacant"))]));
        assert!(stale.apply.is_empty() && stale.conflicts.is_empty());
    }

    proptest! {
        /// Two devices edit the same base concurrently: whatever order the
        /// server sees them in, the record converges to the same values.
        #[test]
        fn concurrent_edits_converge_in_any_order(
            a in field_edits(), b in field_edits(), ta in 2u64..100, tb in 2u64..100,
        ) {
            let (ha, hb) = (hlc(ta, 1), hlc(tb, 2));
            let run = |first: (&Values, Hlc), second: (&Values, Hlc)| {
                let mut s = stored();
                let m1 = merge(&s, 1, 1, first.1, first.0);
                apply(&mut s, &m1, first.1, 2);
                let m2 = merge(&s, 2, 1, second.1, second.0);
                apply(&mut s, &m2, second.1, 3);
                values(&s)
            };
            prop_assert_eq!(run((&a, ha), (&b, hb)), run((&b, hb), (&a, ha)));
        }
    }
}
