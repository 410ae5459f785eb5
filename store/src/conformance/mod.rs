//! The conformance suite: the promises of [`crate::Store`] (the crate docs'
//! list and each method's contract) checked against a real backend.
//!
//! A backend's test binary provides a [`Backend`] and expands
//! [`crate::conformance_tests!`] once:
//!
//! ```ignore
//! beatbook_store::conformance_tests!(MyBackend::new());
//! ```
//!
//! Each case is then its own `#[tokio::test]`, named for what it checks.
//! The cases push with a plain decider ([`fixture::decider`]): they check
//! storage, not the server's sync rules.

use std::sync::Arc;

use async_trait::async_trait;

use crate::Store;

pub mod accounts;
pub mod blobs;
pub mod compaction;
pub mod duplicates;
pub mod enrollment;
pub mod fixture;
pub mod forms;
pub mod group;
pub mod migration;
pub mod pull;
pub mod push;
pub mod review;
pub mod revisions;
pub mod sessions;
pub mod signin;

/// What a backend gives the suite: new, empty databases.
#[async_trait]
pub trait Backend: Send + Sync + 'static {
    /// A new, empty store.
    async fn fresh(&self) -> Fresh;
}

/// Opens more handles onto one database: what several server instances
/// sharing it have (another pool, or the same file opened again).
#[async_trait]
pub trait Reopen: Send + Sync {
    /// A new handle onto the same database, sharing no state with the others
    /// but the database itself.
    async fn open(&self) -> Arc<dyn Store>;
}

/// A new, empty store and a way to open more handles onto it. Whatever the
/// database needs to stay alive (a temporary directory) lives in `again`.
pub struct Fresh {
    /// The first handle.
    pub store: Arc<dyn Store>,
    /// Opens more handles onto the same database.
    pub again: Box<dyn Reopen>,
}

/// Expands to one `#[tokio::test]` (multi-threaded) per conformance case,
/// each running on a fresh database from the given [`Backend`] expression.
#[macro_export]
macro_rules! conformance_tests {
    ($backend:expr) => {
        $crate::conformance_tests!(@cases $backend;
            push::replayed_push_changes_nothing,
            push::partial_replay_returns_stored_outcomes,
            push::answer_is_stored_and_replayed,
            push::deferred_change_stores_nothing_and_succeeds_later,
            push::push_counts_batches_and_marks_device_seen,
            push::a_push_of_many_edits_decides_each_on_its_record,
            push::a_decision_made_ahead_is_taken_at_its_revision_only,
            group::pushes_waiting_together_each_get_their_own_outcomes,
            pull::concurrent_writers_never_make_a_reader_skip,
            pull::pull_filters_by_scope,
            pull::pages_report_has_more_and_next,
            pull::pull_resumes_from_stored_cursor_after_reopening,
            compaction::a_fresh_pull_gets_each_records_current_version_and_history_keeps_all,
            compaction::a_version_that_resolved_a_conflict_stays_in_the_log,
            compaction::a_device_mid_pull_while_records_are_edited_misses_nothing_and_gets_nothing_twice,
            revisions::concurrent_pushes_to_one_record_give_every_revision_once,
            revisions::reviews_and_edits_interleaved_with_pushes_keep_revisions,
            revisions::review_writes_a_version_devices_pull,
            revisions::deletes_are_tombstones_with_history,
            accounts::organisation_duplicates_and_unknowns,
            accounts::users_keep_role_scope_and_disabled_flag,
            accounts::set_password_signs_out_devices_and_sessions,
            accounts::enroll_refuses_another_users_or_revoked_device,
            accounts::revoke_device_stops_its_token,
            accounts::set_role_and_grids_replaces_both_and_the_token_sees_it,
            enrollment::enrollment_codes_enroll_once_before_they_expire,
            enrollment::long_expired_enrollment_codes_are_forgotten,
            enrollment::racing_redemptions_of_one_code_enroll_exactly_one_device,
            forms::publish_is_idempotent_and_lists_every_version,
            forms::concurrent_publish_of_one_version_is_new_once,
            blobs::missing_and_complete_blobs,
            blobs::blobs_not_held_by_device_and_scope,
            blobs::dropped_photo_leaves_scope_but_stays_in_history,
            blobs::unattached_bytes_count_until_attached,
            blobs::unreferenced_blobs_and_forget_blob,
            review::batch_page_filters_and_progress,
            review::batch_row_and_entries_respect_scope,
            review::record_batches_and_conflicts,
            review::edit_records_writes_refuses_and_audits_in_one_go,
            review::hazards_overdue_first_and_counts,
            review::export_pages_by_limit_bytes_and_dates,
            review::audit_log_order_filter_and_count,
            duplicates::duplicates_follow_every_write_within_scope,
            duplicates::a_pair_marked_distinct_is_not_listed_again,
            sessions::web_session_lifecycle,
            sessions::expired_web_sessions_are_forgotten,
            signin::a_counter_at_its_limit_refuses_counting_nothing_until_its_window_ends,
            signin::a_release_clears_or_takes_back_only_in_the_same_window,
            signin::reservations_at_once_through_several_handles_get_at_most_the_limit,
        );
    };
    (@cases $backend:expr; $($module:ident :: $case:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $case() {
                let backend = $backend;
                $crate::conformance::$module::$case(&backend).await;
            }
        )*
    };
}
