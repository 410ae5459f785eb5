//! The change log as schema 6 held it, for the backends' migration tests
//! (raw SQL, one backend each): the same rows on both, and what migrations
//! 7 and 9 must make of them.

/// Every version written at schema 6: `(cursor, record, revision, resolved
/// a conflict)`. r1 has three versions, the second resolved a conflict; r2
/// has one. Cursor 5 is a form's item ([`FORM_ITEM`]).
pub const VERSIONS: [(i64, &str, i64, bool); 4] = [
    (1, "r1", 1, false),
    (2, "r2", 1, false),
    (3, "r1", 2, true),
    (4, "r1", 3, false),
];

/// The form item at cursor 5.
pub const FORM_ITEM: &str = r#"{"kind":"form"}"#;

/// The cursors the log holds after migration 7 (and 9): r1's first version
/// left it, its conflict resolution stays.
pub const LOGGED_AFTER_7: [i64; 4] = [2, 3, 4, 5];

/// A log item of `record` at `revision`, with a resolved conflict or not.
pub fn item(cursor: i64, record: &str, revision: i64, conflicts: bool) -> String {
    let extra = if conflicts {
        r#","conflicts":[{"field":"note"}]"#
    } else {
        ""
    };
    format!(
        r#"{{"kind":"record","cursor":{cursor},"version":{{"record":{{"id":"{record}"}},"revision":{revision}{extra}}}}}"#
    )
}

/// After migration 7, a version row at `cursor`: `kept`, its own item;
/// `history`, its item or else its log row's.
pub fn check_after_7(cursor: i64, kept: Option<&str>, history: Option<&str>) {
    let (_, record, revision, conflicts) = version(cursor);
    assert_eq!(
        history,
        Some(item(cursor, record, revision, conflicts).as_str())
    );
    let superseded = record == "r1" && revision < 3;
    assert_eq!(kept.is_some(), superseded, "cursor {cursor}");
}

/// After migration 9, a version row at `cursor`: `kept`, its own item;
/// `in_log`, its log row's; `pulled`, what a pull reads (the log row's item,
/// else the version row's).
pub fn check_after_9(cursor: i64, kept: Option<&str>, in_log: Option<&str>, pulled: Option<&str>) {
    let (_, record, revision, conflicts) = version(cursor);
    let item = item(cursor, record, revision, conflicts);
    assert_eq!(
        kept,
        Some(item.as_str()),
        "cursor {cursor}: its version row holds it"
    );
    assert_eq!(
        in_log.is_some(),
        conflicts,
        "cursor {cursor}: a copy in the log only if it resolved conflicts"
    );
    if LOGGED_AFTER_7.contains(&cursor) {
        assert_eq!(
            pulled,
            Some(item.as_str()),
            "cursor {cursor}: pulled as before"
        );
    }
}

fn version(cursor: i64) -> (i64, &'static str, i64, bool) {
    VERSIONS
        .into_iter()
        .find(|v| v.0 == cursor)
        .unwrap_or_else(|| panic!("no version at cursor {cursor}"))
}
