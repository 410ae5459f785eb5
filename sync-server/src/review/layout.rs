//! The chrome every page shares (header, navigation, language switch,
//! sign-out), the sign-in page, the stylesheet, and small pieces the pages
//! reuse: badges, notices after a decision, pagination.

use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::response::IntoResponse;
use beatbook_schema::protocol::Role;
use beatbook_schema::record::RecordStatus;
use beatbook_schema::text::Lang;
use maud::{html, Markup, PreEscaped, DOCTYPE};
use serde::Deserialize;

use super::i18n::Tr;
use super::links::form_urlencoded_component;
use super::reviewer::{csrf_field, Reviewer};

/// The stylesheet (no build step: plain CSS, embedded in the binary).
const CSS: &str = include_str!("review.css");
/// Where the stylesheet is served: the address names its content's hash,
/// so browsers may cache it for long and never keep a stale one.
pub fn css_href() -> &'static str {
    static HREF: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    HREF.get_or_init(|| {
        let hash = beatbook_schema::ids::Sha256::digest(CSS.as_bytes()).to_hex();
        format!("/review/static/review.css?v={}", &hash[..12])
    })
}

/// `GET /review/static/review.css`.
pub async fn css() -> impl IntoResponse {
    (
        [
            (CONTENT_TYPE, "text/css; charset=utf-8"),
            (CACHE_CONTROL, "public, max-age=31536000, immutable"),
        ],
        CSS,
    )
}

/// The sections of the pages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nav {
    /// 批次.
    Batches,
    /// 隐患.
    Hazards,
    /// 地图.
    Map,
    /// 任务.
    Tasks,
    /// 重复人员.
    Duplicates,
    /// 导出.
    Exports,
    /// 审计日志.
    Audit,
    /// 设备绑定.
    Enroll,
    /// 管理 (admins only).
    Admin,
}

fn html_lang(lang: Lang) -> &'static str {
    lang.t("zh-CN", "en")
}

fn head(lang: Lang, title: &str) -> Markup {
    html! {
        head {
            meta charset="utf-8";
            meta name="viewport" content="width=device-width, initial-scale=1";
            title { (title) " · Beatbook" }
            link rel="stylesheet" href=(css_href());
            meta name="color-scheme" content="light";
            @if lang == Lang::En { meta name="lang" content="en"; }
        }
    }
}

/// A page with the shared chrome.
pub fn page(r: &Reviewer, nav: Nav, title: &str, notice: Option<Markup>, body: Markup) -> Markup {
    let item = |target: Nav, href: &str, zh: &str, en: &str| {
        html! {
            a href=(href) class=@if target == nav { "active" } { (r.t(zh, en)) }
        }
    };
    let role = r.user.role.label();
    html! {
        (DOCTYPE)
        html lang=(html_lang(r.lang)) {
            (head(r.lang, title))
            body {
                header.top {
                    a.brand href="/review/batches" {
                        span.mark { "警" }
                        span.name { "Beatbook" }
                        span.sub { (r.t("基础信息审核", "Records review")) }
                    }
                    nav.main {
                        (item(Nav::Batches, "/review/batches", "同步批次", "Batches"))
                        (item(Nav::Hazards, "/review/hazards", "隐患整改", "Hazards"))
                        (item(Nav::Map, "/review/map", "辖区地图", "Map"))
                        (item(Nav::Tasks, "/review/tasks/board", "下派任务", "Tasks"))
                        (item(Nav::Duplicates, "/review/duplicates", "重复人员", "Duplicates"))
                        (item(Nav::Exports, "/review/exports", "数据导出", "Exports"))
                        (item(Nav::Audit, "/review/audit", "审计日志", "Audit log"))
                        (item(Nav::Enroll, "/review/enroll", "设备绑定", "Enroll a device"))
                        @if r.user.role == Role::Admin {
                            (item(Nav::Admin, "/review/admin/users", "系统管理", "Admin"))
                        }
                    }
                    div.who {
                        span.person { (r.user.name) " · " (role.get(r.lang)) }
                        span.station { (r.station_name) }
                        @if r.lang == Lang::Zh { a.lang href="?lang=en" title="English" { "EN" } }
                        @else { a.lang href="?lang=zh" title="中文" { "中文" } }
                        form.inline method="post" action="/review/logout" {
                            (csrf_field(r))
                            button.link type="submit" { (r.t("退出", "Sign out")) }
                        }
                    }
                }
                main.content {
                    @if let Some(n) = notice { (n) }
                    (body)
                }
                footer.foot {
                    (r.t("数据仅限本所工作使用，所有审核与导出均记入审计日志。",
                         "For official use within the station; every decision and export is written to the audit log."))
                }
            }
        }
    }
}

/// The sign-in page.
pub fn login(lang: Lang, token: &str, next: &str, problem: Option<&str>) -> Markup {
    let switch = |to: &str| {
        format!(
            "/review/login?lang={to}&next={}",
            form_urlencoded_component(next)
        )
    };
    html! {
        (DOCTYPE)
        html lang=(html_lang(lang)) {
            (head(lang, lang.t("登录", "Sign in")))
            body.bare {
                main.card.narrow.login {
                    div.brand.big {
                        span.mark { "警" }
                        div {
                            div.name { "Beatbook" }
                            div.sub { (lang.t("社区警务基础信息审核", "Community policing · records review")) }
                        }
                    }
                    @if let Some(p) = problem { p.alert.error role="alert" { (p) } }
                    form method="post" action="/review/login" {
                        input type="hidden" name="csrf" value=(token);
                        input type="hidden" name="next" value=(next);
                        label { (lang.t("警号", "Badge number"))
                            input type="text" name="badge" autocomplete="username" required autofocus; }
                        label { (lang.t("密码", "Password"))
                            input type="password" name="password" autocomplete="current-password" required; }
                        button.primary.wide type="submit" { (lang.t("登录", "Sign in")) }
                    }
                    p.muted.small {
                        (lang.t("仅限所领导和管理员。", "Supervisors and administrators only. "))
                        @if lang == Lang::Zh { a href=(switch("en")) { "English" } }
                        @else { a href=(switch("zh")) { "中文" } }
                    }
                }
            }
        }
    }
}

/// A coloured label.
pub fn badge(class: &str, text: &str) -> Markup {
    html! { span class=(format!("badge {class}")) { (text) } }
}

/// A record's review status as a badge.
pub fn status_badge(lang: Lang, status: RecordStatus) -> Markup {
    match status {
        RecordStatus::Draft => badge("grey", lang.t("草稿", "Draft")),
        RecordStatus::Submitted => badge("blue", lang.t("待审核", "Pending")),
        RecordStatus::Approved => badge("green", lang.t("已通过", "Approved")),
        RecordStatus::Returned => badge("amber", lang.t("已退回", "Returned")),
    }
}

/// The notice a page shows after a form sent the browser back to it.
#[derive(Debug, Default, Deserialize)]
pub struct NoticeQuery {
    notice: Option<String>,
    n: Option<String>,
    skipped: Option<String>,
}

/// Where to send the browser after a form: back to the page it came from, with a notice.
pub fn back_with(
    back: Option<&str>,
    fallback: &str,
    notice: &str,
    n: usize,
    skipped: usize,
) -> String {
    let base = match back {
        Some(b) if b.starts_with("/review/") && !b.contains("//") && !b.contains('\\') => b,
        _ => fallback,
    };
    let (base, fragment) = base
        .split_once('#')
        .map_or((base, String::new()), |(b, f)| (b, format!("#{f}")));
    // Drop an earlier notice from the query.
    let (path, query) = base.split_once('?').unwrap_or((base, ""));
    let mut kept: Vec<&str> = query
        .split('&')
        .filter(|p| !p.is_empty())
        .filter(|p| {
            !["notice=", "n=", "skipped="]
                .iter()
                .any(|k| p.starts_with(k))
        })
        .collect();
    let extra = format!("notice={notice}&n={n}&skipped={skipped}");
    kept.push(&extra);
    format!("{path}?{}{fragment}", kept.join("&"))
}

/// The notice of `q`, if any.
pub fn notice(r: &Reviewer, q: &NoticeQuery) -> Option<Markup> {
    let n: u64 = q.n.as_deref().and_then(|n| n.parse().ok()).unwrap_or(0);
    let skipped: u64 = q
        .skipped
        .as_deref()
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    let text = match (q.notice.as_deref()?, r.lang) {
        ("approved", Lang::Zh) => format!("已通过 {n} 条记录，将在民警下次同步时送达"),
        ("approved", Lang::En) => format!(
            "Approved {n} record(s); the officer's device receives the decision on its next sync"
        ),
        ("returned", Lang::Zh) => format!("已退回 {n} 条记录，民警下次同步后可修改重报"),
        ("returned", Lang::En) => {
            format!("Returned {n} record(s); the officer can correct them after the next sync")
        }
        ("verified", Lang::Zh) => "已复查该隐患，整改状态改为“已复查”".to_owned(),
        ("verified", Lang::En) => "Hazard verified: its status is now “Verified”".to_owned(),
        ("assigned", Lang::Zh) => format!("已下派 {n} 项任务，将在承办人下次同步时送达"),
        ("assigned", Lang::En) => {
            format!("Assigned {n} task(s); they reach the assignee's phone on its next sync")
        }
        ("task_reassigned", Lang::Zh) => "已改派该任务，新承办人下次同步时收到".to_owned(),
        ("task_reassigned", Lang::En) => {
            "Task reassigned; the new assignee receives it on the next sync".to_owned()
        }
        ("task_cancelled", Lang::Zh) => "已撤销该任务".to_owned(),
        ("task_cancelled", Lang::En) => "Task cancelled".to_owned(),
        ("verify_failed", Lang::Zh) => {
            "复查未通过：隐患退回“整改中”，原因将在下次同步时送达现场".to_owned()
        }
        ("verify_failed", Lang::En) => {
            "Verification failed: the hazard is back to “Rectifying”; the reason reaches the field on the next sync".to_owned()
        }
        ("hazard_assigned", Lang::Zh) => "已保存整改期限与责任人，将在下次同步时送达现场".to_owned(),
        ("hazard_assigned", Lang::En) => {
            "Deadline and responsible party saved; the field receives them on the next sync".to_owned()
        }
        ("kept", Lang::Zh) => "已保留一条记录，另一条已注销，将在民警下次同步时送达".to_owned(),
        ("kept", Lang::En) => {
            "One record kept and the other retired; devices receive it on their next sync"
                .to_owned()
        }
        ("moved", Lang::Zh) => "已登记迁移：保留新网格的记录，原网格的记录已注销".to_owned(),
        ("moved", Lang::En) => {
            "Move recorded: the record in the new grid is kept, the old one closed".to_owned()
        }
        ("distinct", Lang::Zh) => "已确认为不同的人，不再列出".to_owned(),
        ("distinct", Lang::En) => "Marked as different people; not listed again".to_owned(),
        _ => return None,
    };
    let skipped = (skipped > 0).then(|| match r.lang {
        Lang::Zh => format!("另有 {skipped} 条记录在此期间已被修改或已审核，未作处理。"),
        Lang::En => {
            format!("{skipped} record(s) changed or were decided meanwhile and were left alone.")
        }
    });
    Some(html! {
        div.alert.ok role="status" {
            (text)
            @if let Some(s) = skipped { " " span.muted { (s) } }
        }
    })
}

/// Page links, keeping the other query parameters.
pub fn pager(r: &Reviewer, params: &[(&str, String)], page: u32, pages: u32) -> Markup {
    if pages <= 1 {
        return html! {};
    }
    let href = |p: u32| {
        let mut q: Vec<String> = params
            .iter()
            .filter(|(_, v)| !v.is_empty())
            .map(|(k, v)| format!("{k}={}", form_urlencoded_component(v)))
            .collect();
        q.push(format!("page={p}"));
        format!("?{}", q.join("&"))
    };
    html! {
        nav.pager {
            @if page > 1 { a href=(href(page - 1)) { "‹ " (r.t("上一页", "Previous")) } }
            span.muted {
                @match r.lang {
                    Lang::Zh => { "第 " (page) " / " (pages) " 页" }
                    Lang::En => { "Page " (page) " of " (pages) }
                }
            }
            @if page < pages { a href=(href(page + 1)) { (r.t("下一页", "Next")) " ›" } }
        }
    }
}

/// A non-breaking dash for empty cells.
pub fn dash() -> Markup {
    PreEscaped("—".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_browser_goes_back_with_a_fresh_notice_and_never_elsewhere() {
        assert_eq!(
            back_with(
                Some("/review/batches/x?page=2&notice=approved&n=1&skipped=0"),
                "/review/batches",
                "returned",
                3,
                0
            ),
            "/review/batches/x?page=2&notice=returned&n=3&skipped=0"
        );
        assert_eq!(
            back_with(
                Some("/review/batches/x?page=2#r-1"),
                "/review/batches",
                "approved",
                1,
                0
            ),
            "/review/batches/x?page=2&notice=approved&n=1&skipped=0#r-1"
        );
        assert_eq!(
            back_with(
                Some("https://evil.example/"),
                "/review/hazards",
                "verified",
                1,
                0
            ),
            "/review/hazards?notice=verified&n=1&skipped=0"
        );
    }
}
