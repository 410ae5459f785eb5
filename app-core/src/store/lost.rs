//! Values of this device that lost a same-field conflict (DESIGN.md
//! invariant 4): the server kept another device's value for the field. The
//! device learns of it from the push answer (its change came second) or
//! from a pulled version (another device's change came second and won), and
//! keeps it here until the officer re-applies the value or keeps the
//! winner, or a later version makes the field hold the officer's value.

use beatbook_schema::form::Values;
use beatbook_schema::ids::{DeviceId, RecordId};
use beatbook_schema::merge::FieldConflict;
use rusqlite::{params, Connection, Transaction};
use serde_json::Value as Json;

use super::{LocalStore, LocalStoreError};

/// One of the officer's values that another device's value beat.
#[derive(Debug, Clone, PartialEq)]
pub struct LostValue {
    /// The record.
    pub record: RecordId,
    /// The field (top-level; a repeat group is one field).
    pub field: String,
    /// The officer's value, which lost.
    pub mine: Json,
    /// The value that stands.
    pub winning: Json,
    /// Who wrote the winning value, when the server said.
    pub winner_name: Option<String>,
    /// The device that wrote it.
    pub winner_device: DeviceId,
}

/// Keeps `conflict` of `record` if this device's value (`device`) lost it.
/// The same loss reported twice (push answer, then pull) is kept once, and
/// the winner's name is filled in if the second report has it.
pub(super) fn note(
    tx: &Transaction<'_>,
    device: DeviceId,
    record: RecordId,
    conflict: &FieldConflict,
) -> Result<(), LocalStoreError> {
    if conflict.loser.device != device || conflict.winner.device == device {
        return Ok(());
    }
    tx.prepare_cached(
        "INSERT INTO lost_values (record_id, field, lost_write, mine, winning, winner_name, winner_device)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
         ON CONFLICT (record_id, field, lost_write) DO UPDATE
             SET winner_name = COALESCE(lost_values.winner_name, excluded.winner_name)",
    )?
    .execute(params![
        record.to_string(),
        conflict.field,
        serde_json::to_string(&conflict.loser)?,
        serde_json::to_string(&conflict.losing_value)?,
        serde_json::to_string(&conflict.winning_value)?,
        conflict.winner_name,
        conflict.winner.device.to_string(),
    ])?;
    Ok(())
}

/// Forgets the losses of `record` that `values` (its version now, as JSON
/// text: parsed only when the record has losses) settled: the field holds
/// the officer's value again.
pub(super) fn settle(
    tx: &Transaction<'_>,
    record: RecordId,
    values: &str,
) -> Result<(), LocalStoreError> {
    let lost = read(tx, Some(record))?;
    if lost.is_empty() {
        return Ok(());
    }
    let values: Values = serde_json::from_str(values)?;
    for lost in lost {
        if values.get(&lost.field).unwrap_or(&Json::Null) == &lost.mine {
            forget(tx, record, &lost.field)?;
        }
    }
    Ok(())
}

fn forget(c: &Connection, record: RecordId, field: &str) -> Result<(), LocalStoreError> {
    c.prepare_cached("DELETE FROM lost_values WHERE record_id = ?1 AND field = ?2")?
        .execute(params![record.to_string(), field])?;
    Ok(())
}

fn read(c: &Connection, record: Option<RecordId>) -> Result<Vec<LostValue>, LocalStoreError> {
    type Row = (String, String, String, String, Option<String>, String);
    // One record's through the primary key (a pulled page asks for each of
    // its records): `?1 IS NULL OR record_id = ?1` would read every row.
    let sql = match record {
        Some(_) => {
            "SELECT record_id, field, mine, winning, winner_name, winner_device FROM lost_values
             WHERE record_id = ?1 ORDER BY rowid"
        }
        None => {
            "SELECT record_id, field, mine, winning, winner_name, winner_device FROM lost_values
             WHERE ?1 IS NULL ORDER BY rowid"
        }
    };
    let rows: Vec<Row> = c
        .prepare_cached(sql)?
        .query_map([record.map(|r| r.to_string())], |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
            ))
        })?
        .collect::<Result<_, _>>()?;
    let mut lost: Vec<LostValue> = Vec::with_capacity(rows.len());
    for (record, field, mine, winning, winner_name, winner_device) in rows {
        let record: RecordId = parse(&record)?;
        // Reported for several writes of the field: the newest loss stands.
        lost.retain(|l| l.record != record || l.field != field);
        lost.push(LostValue {
            record,
            field,
            mine: serde_json::from_str(&mine)?,
            winning: serde_json::from_str(&winning)?,
            winner_name,
            winner_device: parse(&winner_device)?,
        });
    }
    Ok(lost)
}

fn parse<T: std::str::FromStr>(text: &str) -> Result<T, LocalStoreError> {
    text.parse().map_err(|_| {
        LocalStoreError::Corrupt(serde::de::Error::custom(format!(
            "a stored id is malformed: {text}"
        )))
    })
}

impl LocalStore {
    /// The officer's values that lost a conflict and still stand lost, of
    /// one record or of all, oldest first.
    pub fn lost_values(&self, record: Option<RecordId>) -> Result<Vec<LostValue>, LocalStoreError> {
        read(&self.conn, record)
    }

    /// Forgets a lost value: the officer re-applied it or keeps the winner.
    pub fn forget_lost(&self, record: RecordId, field: &str) -> Result<(), LocalStoreError> {
        forget(&self.conn, record, field)
    }
}

#[cfg(test)]
mod tests {
    use beatbook_schema::hlc::Hlc;
    use beatbook_schema::ids::{FormId, GridId, UserId};
    use serde_json::json;

    use super::*;
    use crate::keys::PinKeys;

    fn conflict(loser: DeviceId, winner: DeviceId, name: Option<&str>) -> FieldConflict {
        FieldConflict {
            field: "observations".into(),
            winning_value: json!("楼道堆放纸箱"),
            winner: Hlc {
                wall_ms: 2,
                counter: 0,
                device: winner,
            },
            losing_value: json!("灭火器过期"),
            loser: Hlc {
                wall_ms: 1,
                counter: 0,
                device: loser,
            },
            winner_name: name.map(str::to_owned),
        }
    }

    fn noted(store: &mut LocalStore, record: RecordId, conflicts: &[FieldConflict]) {
        let device = store.device();
        let tx = store.conn.transaction().unwrap();
        for c in conflicts {
            note(&tx, device, record, c).unwrap();
        }
        tx.commit().unwrap();
    }

    #[test]
    fn a_loss_is_kept_once_named_when_known_and_only_when_this_device_lost() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = LocalStore::open(dir.path(), "246810", &PinKeys::fast_for_tests()).unwrap();
        let record = store
            .create_draft(
                (&FormId::new("visit"), 2),
                &GridId::new("G1"),
                UserId::new_v7(),
                &Values::new(),
            )
            .unwrap();
        let (me, other, third) = (store.device(), DeviceId::new_v7(), DeviceId::new_v7());

        noted(
            &mut store,
            record,
            &[
                conflict(other, me, Some("张警官")),
                conflict(other, third, None),
            ],
        );
        assert!(
            store.lost_values(None).unwrap().is_empty(),
            "this device's value did not lose"
        );

        // From the push answer without a name, then from the pull with one.
        noted(&mut store, record, &[conflict(me, other, None)]);
        noted(&mut store, record, &[conflict(me, other, Some("李警官"))]);
        let lost = store.lost_values(Some(record)).unwrap();
        assert_eq!(
            lost,
            [LostValue {
                record,
                field: "observations".into(),
                mine: json!("灭火器过期"),
                winning: json!("楼道堆放纸箱"),
                winner_name: Some("李警官".into()),
                winner_device: other,
            }]
        );
        assert!(store
            .lost_values(Some(RecordId::new_v7()))
            .unwrap()
            .is_empty());

        // A version that holds another value settles nothing; one that holds mine settles it.
        let tx = store.conn.transaction().unwrap();
        settle(&tx, record, &json!({"observations": "别的"}).to_string()).unwrap();
        assert_eq!(read(&tx, Some(record)).unwrap().len(), 1);
        settle(
            &tx,
            record,
            &json!({"observations": "灭火器过期"}).to_string(),
        )
        .unwrap();
        assert!(read(&tx, Some(record)).unwrap().is_empty());
        tx.commit().unwrap();

        noted(&mut store, record, &[conflict(me, other, None)]);
        store.forget_lost(record, "observations").unwrap();
        assert!(
            store.lost_values(None).unwrap().is_empty(),
            "kept the winner"
        );
    }
}
