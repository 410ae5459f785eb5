//! A record as the supervisor reviews it (a card: labelled values, photos,
//! place, conflicts, the decision buttons), the record page with its history,
//! and the decision on one record.

use std::collections::HashMap;

use axum::extract::{Path, State};
use axum::response::Response;
use axum::Form;
use beatbook_schema::catalogue::form_ids;
use beatbook_schema::form::{FormDef, Values};
use beatbook_schema::ids::{BatchId, RecordId, UserId};
use beatbook_schema::protocol::{ChangeOutcome, RecordVersion, Review, ReviewDecision};
use beatbook_schema::record::RecordStatus;
use maud::{html, Markup};
use serde::Deserialize;
use serde_json::json;

use super::actions::{action_of, edit_one, notice_of, parse_decision, reason_of, MAX_REASON_CHARS};
use super::error::ReviewError;
use super::i18n::local_time;
use super::layout::{self, badge, status_badge, Nav, NoticeQuery};
use super::reviewer::{csrf_field, Reviewer};
use super::values::{self, sections, summary, Fmt, Labelled, Shown};
use crate::state::AppState;
use crate::sync::Forms;
use beatbook_store::{ConflictEntry, StoreError, StoredRecord};

/// What the cards of one page share.
pub struct Cards<'a> {
    /// Who is looking.
    pub r: &'a Reviewer,
    /// The published forms.
    pub forms: &'a Forms,
    /// Labels of referenced records in scope, by id.
    pub refs: HashMap<String, String>,
    /// Account names, by id.
    pub people: HashMap<UserId, String>,
}

/// What a card shows besides the record.
#[derive(Default)]
pub struct CardExtra<'a> {
    /// A later batch edited it again.
    pub superseded_by: Option<BatchId>,
    /// What the push answered for it.
    pub outcome: Option<&'a ChangeOutcome>,
    /// Its hard conflicts.
    pub conflicts: &'a [ConflictEntry],
    /// Show the decision buttons.
    pub actions: bool,
}

/// The definition of a record's form version (the newest if that version is gone).
pub fn def_of<'a>(forms: &'a Forms, record: &StoredRecord) -> Option<&'a FormDef> {
    forms
        .get(record.form_id.as_str(), record.form_version)
        .or_else(|| forms.latest(record.form_id.as_str()))
        .map(|f| f.def())
}

impl<'a> Cards<'a> {
    /// Prepares the cards of `records`: resolves the records they reference
    /// (in scope only) and the names of their authors.
    pub async fn load(
        state: &AppState,
        r: &'a Reviewer,
        forms: &'a Forms,
        records: &[&StoredRecord],
    ) -> Result<Cards<'a>, ReviewError> {
        let fmt = Fmt {
            lang: r.lang,
            offset: r.offset,
        };
        let mut refs = HashMap::new();
        for record in records {
            let Some(def) = def_of(forms, record) else {
                continue;
            };
            let vals = beatbook_schema::merge::values(&record.fields);
            for id in values::references(def, &vals) {
                if refs.contains_key(&id) {
                    continue;
                }
                let Ok(rid) = id.parse::<RecordId>() else {
                    continue;
                };
                if let Some(target) = state.store.record(rid).await? {
                    if r.scope.contains(&target.grid) {
                        if let Some(tdef) = def_of(forms, &target) {
                            let tvals = beatbook_schema::merge::values(&target.fields);
                            let label = summary(tdef, &tvals, fmt, &HashMap::new());
                            // A standard address speaks for itself; other
                            // records say what they are.
                            let label = if tdef.form_id.as_str() == form_ids::ADDRESS {
                                label
                            } else {
                                format!("{} · {label}", tdef.title.get(r.lang))
                            };
                            refs.insert(id, label);
                        }
                    }
                }
            }
        }
        let people = state.user_names().await?;
        Ok(Cards {
            r,
            forms,
            refs,
            people,
        })
    }

    fn fmt(&self) -> Fmt {
        Fmt {
            lang: self.r.lang,
            offset: self.r.offset,
        }
    }

    /// An account's name.
    pub fn person(&self, id: &UserId) -> String {
        self.people
            .get(id)
            .cloned()
            .unwrap_or_else(|| self.r.t("未知", "unknown").to_owned())
    }

    /// A record's title line: its form and summary.
    pub fn title(&self, record: &StoredRecord) -> (String, String) {
        match def_of(self.forms, record) {
            Some(def) => {
                let vals = beatbook_schema::merge::values(&record.fields);
                (
                    def.title.get(self.r.lang).to_owned(),
                    summary(def, &vals, self.fmt(), &self.refs),
                )
            }
            None => (record.form_id.to_string(), String::new()),
        }
    }

    /// A value, shown.
    pub fn value(&self, shown: &Shown) -> Markup {
        let r = self.r;
        match shown {
            Shown::Text(s) => html! { (s) },
            Shown::Choices(c) => html! {
                @for (i, label) in c.iter().enumerate() {
                    @if i > 0 { span.sep { (r.t("、", "; ")) } }
                    span.choice { (label) }
                }
            },
            Shown::Photos(p) => photos(r, p),
            Shown::Place {
                lat,
                lon,
                accuracy_m,
            } => html! {
                span.place {
                    (format!("{lat:.6}, {lon:.6}"))
                    @if let Some(a) = accuracy_m { span.muted { (format!(" ±{a:.0} m")) } }
                }
            },
            Shown::Ref(id) => match self.refs.get(id) {
                Some(label) => html! { a href=(format!("/review/records/{id}")) { (label) } },
                None => html! { span.muted.mono title=(id) { (values::short_id(id)) } },
            },
            Shown::Entries(rows) => self.entries(rows),
        }
    }

    fn entries(&self, rows: &[Vec<Labelled>]) -> Markup {
        // Columns: every child field that has a value in some entry, in form order.
        let mut columns: Vec<(&str, &str, bool)> = Vec::new();
        for row in rows {
            for l in row {
                if !columns.iter().any(|(n, _, _)| *n == l.name) {
                    columns.push((&l.name, &l.label, l.derived));
                }
            }
        }
        html! {
            table.entries {
                thead { tr {
                    th { "#" }
                    @for (_, label, derived) in &columns {
                        th { (label) @if *derived { " " (derived_tag(self.r)) } }
                    }
                } }
                tbody {
                    @for (i, row) in rows.iter().enumerate() {
                        tr {
                            td.muted { (i + 1) }
                            @for (name, _, _) in &columns {
                                td { @match row.iter().find(|l| l.name == *name) {
                                    Some(l) => (self.value(&l.shown)),
                                    None => span.muted { (layout::dash()) },
                                } }
                            }
                        }
                    }
                }
            }
        }
    }

    /// The labelled values of a record, by section.
    pub fn values(&self, record: &StoredRecord) -> Markup {
        let Some(def) = def_of(self.forms, record) else {
            return html! { p.muted { (self.r.t("表单定义缺失，无法显示", "The form definition is missing")) } };
        };
        let vals: Values = beatbook_schema::merge::values(&record.fields);
        html! {
            div.sections {
                @for (title, fields) in sections(def, &vals, self.fmt()) {
                    section.fields {
                        h4 { (title) }
                        dl {
                            @for l in &fields {
                                div.row .wide[matches!(l.shown, Shown::Entries(_) | Shown::Photos(_))] {
                                    dt { (l.label) @if l.derived { " " (derived_tag(self.r)) } }
                                    dd { (self.value(&l.shown)) }
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /// A record card.
    pub fn card(&self, record: &StoredRecord, extra: CardExtra<'_>) -> Markup {
        let r = self.r;
        let (form, label) = self.title(record);
        let decidable = extra.actions && !record.deleted && extra.superseded_by.is_none();
        html! {
            article.record id=(format!("r-{}", record.id)) {
                header {
                    div.title {
                        span.form { (form) }
                        a href=(format!("/review/records/{}", record.id)) {
                            @if label.is_empty() { (values::short_id(&record.id.to_string())) } @else { (label) }
                        }
                    }
                    div.meta {
                        (status_badge(r.lang, record.status))
                        @if record.deleted { (badge("grey", r.t("已删除", "Deleted"))) }
                        @if record.conflicted { (badge("red", r.t("有冲突", "Conflict"))) }
                        @if let Some(ChangeOutcome::Merged { .. }) = extra.outcome { (badge("grey", r.t("已合并", "Merged"))) }
                        span { (r.t("网格", "Grid")) " " (r.grid_name(record.grid.as_str())) }
                        span { (r.t("填报", "By")) " " (self.person(&record.author)) }
                        span { (local_time(record.updated_at, r.offset)) }
                        span.muted { (r.t("版本", "rev.")) " " (record.revision) }
                    }
                }
                @if let Some(review) = &record.review { (review_note(r, review)) }
                @if let Some(later) = extra.superseded_by {
                    p.alert.info {
                        (r.t("该记录已在后续批次中再次修改，请在该批次中审核：", "Edited again in a later batch; review it there: "))
                        a href=(format!("/review/batches/{later}#r-{}", record.id)) { (r.t("查看后续批次", "open the later batch")) }
                    }
                }
                (self.values(record))
                @if !extra.conflicts.is_empty() { (self.conflicts(record, extra.conflicts)) }
                @if decidable { (review_forms(r, record)) }
            }
        }
    }

    /// The hard conflicts of a record: both values and who wrote them.
    pub fn conflicts(&self, record: &StoredRecord, conflicts: &[ConflictEntry]) -> Markup {
        let r = self.r;
        let def = def_of(self.forms, record);
        let show = |field: &str, v: &serde_json::Value| -> Markup {
            let shown = def
                .and_then(|d| Some((d, values::field(d, field)?)))
                .and_then(|(d, f)| values::show(d, f, v, self.fmt()));
            match shown {
                Some(s) => self.value(&s),
                None => html! { span.muted { (r.t("（空）", "(empty)")) } },
            }
        };
        let who = |w: &Option<beatbook_store::Writer>| match w {
            Some(w) => format!("{}（{}，{}）", w.name, w.badge, w.device_name),
            None => r.t("审核页面", "the review pages").to_owned(),
        };
        html! {
            div.conflicts {
                h4 { (r.t("同一字段在两台设备上被修改", "The same field was edited on two devices")) }
                table.compact {
                    thead { tr {
                        th { (r.t("字段", "Field")) }
                        th { (r.t("保留的值", "Value kept")) }
                        th { (r.t("被覆盖的值", "Value overwritten")) }
                        th { (r.t("版本", "Rev.")) }
                    } }
                    tbody {
                        @for c in conflicts {
                            tr {
                                td { (def.and_then(|d| values::field(d, &c.conflict.field)).map_or(c.conflict.field.clone(), |f| f.label.get(r.lang).to_owned())) }
                                td { (show(&c.conflict.field, &c.conflict.winning_value)) div.small.muted { (who(&c.winner)) } }
                                td.lost { (show(&c.conflict.field, &c.conflict.losing_value)) div.small.muted { (who(&c.loser)) } }
                                td.muted { (c.revision) }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn derived_tag(r: &Reviewer) -> Markup {
    html! {
        span.derived title=(r.t("由其他字段自动推导，非手工录入", "Derived from another field, not typed")) {
            (r.t("自动", "auto"))
        }
    }
}

/// Photos as thumbnails that open full size.
pub fn photos(r: &Reviewer, photos: &[beatbook_schema::ids::Sha256]) -> Markup {
    html! {
        div.thumbs {
            @for (i, p) in photos.iter().enumerate() {
                a href=(format!("/review/photos/{p}")) target="_blank" rel="noopener" {
                    img src=(format!("/review/photos/{p}/thumb")) loading="lazy"
                        alt=(format!("{} {}", r.t("照片", "Photo"), i + 1));
                }
            }
        }
    }
}

fn review_note(r: &Reviewer, review: &Review) -> Markup {
    let when = local_time(review.at, r.offset);
    match &review.decision {
        ReviewDecision::Approve => html! {
            p.note.ok { (r.t("已通过", "Approved")) " · " (review.by) " · " (when) }
        },
        ReviewDecision::Return { reason } => html! {
            p.note.warn {
                strong { (r.t("退回原因：", "Returned: ")) } (reason)
                span.muted { " · " (review.by) " · " (when) }
            }
        },
    }
}

/// Approve and return (with a required reason) buttons for one record.
fn review_forms(r: &Reviewer, record: &StoredRecord) -> Markup {
    let action = format!("/review/records/{}/decide", record.id);
    let back = format!("{}#r-{}", strip_fragment(&r.here), record.id);
    html! {
        footer.actions {
            @if record.status != RecordStatus::Approved {
                form.inline method="post" action=(action) {
                    (csrf_field(r))
                    input type="hidden" name="revision" value=(record.revision);
                    input type="hidden" name="back" value=(back);
                    button.approve type="submit" name="decision" value="approve" {
                        (r.t("通过", "Approve"))
                    }
                }
            }
            @if record.status != RecordStatus::Returned { details.return {
                summary.button.return { (r.t("退回…", "Return…")) }
                form method="post" action=(action) {
                    (csrf_field(r))
                    input type="hidden" name="revision" value=(record.revision);
                    input type="hidden" name="back" value=(back);
                    input type="hidden" name="decision" value="return";
                    label {
                        (r.t("退回原因（必填，民警将在手机上看到）", "Reason (required; the officer sees it on the phone)"))
                        textarea name="reason" rows="2" maxlength=(MAX_REASON_CHARS) required {}
                    }
                    button.return type="submit" { (r.t("确认退回", "Return to officer")) }
                }
            } }
        }
    }
}

fn strip_fragment(s: &str) -> &str {
    s.split('#').next().unwrap_or(s)
}

/// The decision form of one record.
#[derive(Debug, Deserialize)]
pub struct DecideForm {
    decision: String,
    reason: Option<String>,
    revision: Option<u64>,
    back: Option<String>,
}

/// `POST /review/records/{id}/decide`.
pub async fn review_record(
    State(state): State<AppState>,
    r: Reviewer,
    Path(id): Path<String>,
    Form(form): Form<DecideForm>,
) -> Result<Response, ReviewError> {
    let id: RecordId = id.parse().map_err(|_| ReviewError::not_found())?;
    let review = parse_decision(&r, &form.decision, form.reason.as_deref())?;
    let action = action_of(&review);
    let expected = HashMap::from([(id, form.revision.unwrap_or(0))]);
    let entry = r.audit(
        action,
        format!("record:{id}"),
        json!({ "revision": form.revision, "reason": reason_of(&review) }),
    );
    let edit = super::rules::review(r.scope.clone(), expected, review, false);
    let fallback = format!("/review/records/{id}");
    edit_one(
        &state,
        id,
        edit,
        entry,
        (form.back.as_deref(), &fallback),
        notice_of(action),
    )
    .await
}

/// `GET /review/records/{id}`: the record, its conflicts and its history.
pub async fn show(
    State(state): State<AppState>,
    r: Reviewer,
    Path(id): Path<String>,
    axum::extract::Query(nq): axum::extract::Query<NoticeQuery>,
) -> Result<Markup, ReviewError> {
    let id: RecordId = id.parse().map_err(|_| ReviewError::not_found())?;
    let record = match state.store.record(id).await? {
        Some(rec) if r.scope.contains(&rec.grid) => rec,
        _ => return Err(ReviewError::not_found()),
    };
    let forms = state.recent_forms().await?;
    let conflicts = state.store.record_conflicts(id).await?;
    let batches = state.store.record_batches(id).await?;
    let history: Vec<RecordVersion> = state
        .store
        .record_history(id)
        .await?
        .into_iter()
        .map(|v| {
            serde_json::from_value(v)
                .map_err(|e| StoreError::Corrupt(format!("a stored version of record {id}: {e}")))
        })
        .collect::<Result<_, _>>()?;
    let cards = Cards::load(&state, &r, &forms, &[&record]).await?;
    let (form, label) = cards.title(&record);
    let latest_batch = batches.values().next_back().copied();
    let superseded_by = None;
    let body = html! {
        nav.crumbs {
            a href="/review/batches" { (r.t("同步批次", "Batches")) }
            @if let Some(b) = latest_batch {
                " › " a href=(format!("/review/batches/{b}")) { (r.t("最近批次", "Latest batch")) }
            }
            " › " span { (form) }
        }
        h1 { (form) " · " (label) }
        (cards.card(&record, CardExtra { superseded_by, outcome: None, conflicts: &conflicts, actions: true }))
        section.history {
            h2 { (r.t("修改历史", "History")) }
            (timeline(&cards, &record, &history, &batches))
        }
    };
    Ok(layout::page(
        &r,
        Nav::Batches,
        &form,
        layout::notice(&r, &nq),
        body,
    ))
}

fn timeline(
    cards: &Cards<'_>,
    record: &StoredRecord,
    history: &[RecordVersion],
    batches: &std::collections::BTreeMap<u64, BatchId>,
) -> Markup {
    let r = cards.r;
    let def = def_of(cards.forms, record);
    let fmt = cards.fmt();
    let mut items = Vec::new();
    let empty = Values::new();
    for (i, v) in history.iter().enumerate() {
        let prev = i.checked_sub(1).map(|p| &history[p]);
        let before = prev.map_or(&empty, |p| &p.record.values);
        let changed: Vec<(String, Option<Shown>, Option<Shown>)> = def
            .map(|d| {
                values::fields(d)
                    .filter(|f| before.get(&f.name) != v.record.values.get(&f.name))
                    .map(|f| {
                        let show = |vals: &Values| {
                            vals.get(&f.name).and_then(|x| values::show(d, f, x, fmt))
                        };
                        (
                            f.label.get(r.lang).to_owned(),
                            show(before),
                            show(&v.record.values),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        let source = match batches.get(&v.revision) {
            Some(b) => html! {
                (r.t("同步批次", "Batch")) " "
                a href=(format!("/review/batches/{b}#r-{}", record.id)) { (values::short_id(&b.to_string())) }
                " · " (local_time(v.record.updated_at, r.offset))
            },
            None if prev.is_none_or(|p| p.review != v.review) => match &v.review {
                Some(review) => html! {
                    (match review.decision {
                        ReviewDecision::Approve => r.t("审核通过", "Approved"),
                        ReviewDecision::Return { .. } => r.t("退回民警", "Returned to the officer"),
                    })
                    " · " (review.by) " · " (local_time(review.at, r.offset))
                    @if let ReviewDecision::Return { reason } = &review.decision { div.note.warn { (reason) } }
                },
                None => html! { (r.t("服务器修改", "Server edit")) },
            },
            None => html! {
                (r.t("所领导复查（审核页面）", "Supervisor's check (review pages)")) " · " (local_time(v.record.updated_at, r.offset))
            },
        };
        items.push(html! {
            li {
                div.rev { (r.t("版本", "Rev.")) " " (v.revision) " " (status_badge(r.lang, v.record.status)) }
                div.what { (source) }
                @if !changed.is_empty() && prev.is_some() {
                    ul.changes {
                        @for (label, old, new) in &changed {
                            li {
                                span.label { (label) } "："
                                span.old { @match old { Some(s) => (cards.value(s)), None => (layout::dash()) } }
                                " → "
                                span.new { @match new { Some(s) => (cards.value(s)), None => (layout::dash()) } }
                            }
                        }
                    }
                } @else if prev.is_none() {
                    div.small.muted { (r.t("首次提交", "First submitted")) }
                }
            }
        });
    }
    items.reverse();
    html! { ol.timeline { @for item in items { (item) } } }
}

/// Whether a record still waits for a decision in its batch.
pub fn is_pending(record: &StoredRecord, superseded: bool) -> bool {
    !record.deleted && !superseded && record.status == RecordStatus::Submitted
}
