//! Forms: the published ones with version, audience and retirement; an
//! XLSForm workbook uploaded → every problem located (sheet, row, column),
//! or a preview as the phone shows it → published with its audience.
//!
//! The workbook travels from the preview to the publish form as a hidden
//! field and is read again on publishing, so what is published is what the
//! import makes of the file, never a definition the browser sent.

use std::collections::BTreeMap;

use axum::extract::{Multipart, Path, Query, State};
use axum::response::Response;
use axum::Form;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use beatbook_schema::form::FormDef;
use beatbook_schema::protocol::Role;
use beatbook_xlsform::{import_named, Imported, Problem};
use maud::{html, Markup};
use serde_json::json;

use super::preview;
use super::{audit, done, page, unprocessable, Admin, DoneQuery, Fields, Tab, UPLOAD_PATH};
use crate::review::error::ReviewError;
use crate::review::layout::{badge, dash};
use crate::review::reviewer::{csrf_field, Reviewer};
use crate::state::{AppState, Retirement};

/// Who may enter a form, as the list shows it.
fn audience(r: &Reviewer, def: &FormDef) -> Markup {
    match &def.roles {
        None => {
            html! { span.muted { (r.t("默认（辅警仅限巡查类表单）", "Standard (auxiliaries: patrol forms only)")) } }
        }
        Some(roles) => html! {
            @for (i, role) in roles.iter().enumerate() {
                @if i > 0 { "、" }
                (role.label().get(r.lang))
            }
        },
    }
}

fn upload_form(r: &Reviewer) -> Markup {
    html! {
        section.card.admin-form {
            h2 { (r.t("导入 XLSForm 表单", "Import an XLSForm workbook")) }
            p.muted.small { (r.t("上传 survey / choices / settings 三个工作表的 .xlsx 文件；发布前先预览手机上的样子。",
                                 "Upload an .xlsx with survey, choices and settings sheets; you see it as the phone will before publishing.")) }
            form.admin method="post" action=(UPLOAD_PATH) enctype="multipart/form-data" {
                (csrf_field(r))
                label { (r.t("工作簿", "Workbook"))
                    input type="file" name="workbook" accept=".xlsx,.xls,.ods" required;
                }
                div.buttons { button.primary type="submit" { (r.t("预览", "Preview")) } }
            }
        }
    }
}

async fn list_page(
    state: &AppState,
    r: &Reviewer,
    notice: Option<Markup>,
) -> Result<Markup, ReviewError> {
    let forms = state.recent_forms().await?;
    let mut versions: BTreeMap<&str, u32> = BTreeMap::new();
    for f in forms.all() {
        *versions.entry(f.id().as_str()).or_default() += 1;
    }
    let latest: Vec<&FormDef> = versions
        .keys()
        .filter_map(|id| forms.latest(id))
        .map(|f| f.def())
        .collect();
    let body = html! {
        div.page-head {
            h1 { (r.t("表单管理", "Forms")) }
            p.muted { (r.t("已发布的表单在设备下次同步时送达；停用后设备不再提供新建，已有记录仍可修改。",
                           "Published forms reach devices with their next sync; a retired form is no longer offered for new records, while existing ones may still be edited.")) }
        }
        table.audit.forms {
            thead { tr {
                th { (r.t("表单", "Form")) }
                th { (r.t("名称", "Title")) }
                th.num { (r.t("版本", "Version")) }
                th { (r.t("适用角色", "Audience")) }
                th { (r.t("状态", "Status")) }
                th {}
            } }
            tbody {
                @for def in &latest {
                    tr data-form=(def.form_id) {
                        td.mono { (def.form_id) }
                        td { (def.title.get(r.lang)) }
                        td.num { "v" (def.version) }
                        td.small { (audience(r, def)) }
                        td {
                            @if def.retired { (badge("grey", r.t("已停用", "Retired"))) }
                            @else { (badge("green", r.t("使用中", "In use"))) }
                        }
                        td {
                            @if def.retired { (dash()) } @else {
                                form.inline method="post" action=(format!("/review/admin/forms/{}/retire", def.form_id)) {
                                    (csrf_field(r))
                                    button.small.return type="submit" { (r.t("停用", "Retire")) }
                                }
                            }
                        }
                    }
                }
            }
        }
        (upload_form(r))
    };
    Ok(page(r, Tab::Forms, r.t("表单管理", "Forms"), notice, body))
}

/// `GET /review/admin/forms`.
pub async fn list(
    State(state): State<AppState>,
    Admin(r): Admin,
    Query(q): Query<DoneQuery>,
) -> Result<Markup, ReviewError> {
    list_page(&state, &r, q.notice(&r)).await
}

/// Problems (or notes) of a workbook, each with its place.
fn located(r: &Reviewer, problems: &[Problem], class: &str) -> Markup {
    html! {
        table class=(format!("audit problems {class}")) {
            thead { tr {
                th { (r.t("工作表", "Sheet")) }
                th.num { (r.t("行", "Row")) }
                th { (r.t("列", "Column")) }
                th { (r.t("问题", "Problem")) }
            } }
            tbody {
                @for p in problems {
                    tr {
                        td.mono { @if p.sheet.is_empty() { (dash()) } @else { (p.sheet) } }
                        td.num { @match p.row { Some(n) => (n), None => (dash()) } }
                        td.mono { @match &p.column { Some(c) => { (c.letter) " " span.muted { (c.header) } }, None => (dash()) } }
                        td { (p.message.get(r.lang)) }
                    }
                }
            }
        }
    }
}

/// The page after a workbook that does not read.
fn problems_page(r: &Reviewer, file: &str, problems: &[Problem]) -> Markup {
    let body = html! {
        div.page-head {
            h1 { (r.t("工作簿有问题，未发布", "The workbook has problems: nothing was published")) }
            p.muted { (file) " · " (problems.len()) " " (r.t("个问题，请在 Excel 中改正后重新上传。", "problem(s): fix them in the workbook and upload it again.")) }
        }
        (located(r, problems, "errors"))
        (upload_form(r))
    };
    page(r, Tab::Forms, r.t("导入表单", "Import a form"), None, body)
}

/// The page that previews an imported form and offers to publish it.
fn preview_page(
    state_forms: &crate::sync::Forms,
    r: &Reviewer,
    file: &str,
    bytes: &[u8],
    imported: &Imported,
) -> Markup {
    let def = &imported.form;
    let published = state_forms.get(def.form_id.as_str(), def.version).is_some();
    let latest = state_forms
        .latest(def.form_id.as_str())
        .map(|f| f.version());
    let body = html! {
        div.page-head {
            h1 { (r.t("预览：", "Preview: ")) (def.title.get(r.lang)) " " span.muted.mono { (def.form_id) " v" (def.version) } }
            p.muted { (file) }
        }
        @if !imported.notes.is_empty() {
            div.alert.info { (r.t("导入时的说明：", "Notes from the import:")) }
            (located(r, &imported.notes, "notes"))
        }
        div.preview-layout {
            (preview::phone(def, r.lang))
            section.card.admin-form {
                h2 { (r.t("发布", "Publish")) }
                @if published {
                    div.alert.error role="alert" {
                        (r.t("该版本已发布过。请在 settings 工作表中提高 version 后重新上传。",
                             "This version is published already: raise version in the settings sheet and upload again."))
                    }
                } @else {
                    @if let Some(v) = latest {
                        p.small { (r.t("当前已发布版本：", "Published now: ")) "v" (v) }
                    }
                    form.admin method="post" action="/review/admin/forms/publish" {
                        (csrf_field(r))
                        input type="hidden" name="file" value=(file);
                        input type="hidden" name="workbook" value=(STANDARD.encode(bytes));
                        fieldset.roles {
                            legend { (r.t("适用角色（都不选则按默认规则）", "Who may enter it (none ticked: the standard rule)")) }
                            @for role in Role::ALL {
                                label.check {
                                    input type="checkbox" name="role" value=(role.name())
                                        checked[def.roles.as_ref().is_some_and(|rs| rs.contains(&role))];
                                    (role.label().get(r.lang))
                                }
                            }
                        }
                        div.buttons { button.primary type="submit" { (r.t("发布到设备", "Publish to devices")) } }
                    }
                }
                p { a href="/review/admin/forms" { "‹ " (r.t("返回表单列表", "Back to the forms")) } }
            }
        }
    };
    page(r, Tab::Forms, r.t("预览表单", "Preview a form"), None, body)
}

/// The workbook of an upload and its file name.
async fn workbook_of(mut multipart: Multipart) -> Result<(String, Vec<u8>), ReviewError> {
    let unreadable = || {
        ReviewError::bad_request(
            "上传内容无法读取，请重新选择文件上传",
            "the upload could not be read: choose the file and upload it again",
        )
    };
    while let Some(field) = multipart.next_field().await.map_err(|_| unreadable())? {
        if field.name() == Some("workbook") {
            let name = field.file_name().unwrap_or("workbook.xlsx").to_owned();
            let bytes = field.bytes().await.map_err(|_| unreadable())?;
            if bytes.is_empty() {
                return Err(ReviewError::bad_request(
                    "没有选择文件",
                    "no file was chosen: pick the workbook",
                ));
            }
            return Ok((name, bytes.to_vec()));
        }
    }
    Err(ReviewError::bad_request(
        "没有选择文件",
        "no file was chosen: pick the workbook",
    ))
}

/// `POST /review/admin/forms/preview` (multipart): the workbook's problems,
/// or its preview with the publish form.
pub async fn preview(
    State(state): State<AppState>,
    Admin(r): Admin,
    multipart: Multipart,
) -> Result<Response, ReviewError> {
    let (file, bytes) = workbook_of(multipart).await?;
    Ok(match import_named(&bytes, Some(&file)) {
        Err(problems) => unprocessable(problems_page(&r, &file, &problems)),
        Ok(imported) => {
            let forms = state.recent_forms().await?;
            axum::response::IntoResponse::into_response(preview_page(
                &forms, &r, &file, &bytes, &imported,
            ))
        }
    })
}

/// `POST /review/admin/forms/publish`: reads the workbook again and
/// publishes it with the audience ticked.
pub async fn publish(
    State(state): State<AppState>,
    Admin(r): Admin,
    Form(f): Form<Fields>,
) -> Result<Response, ReviewError> {
    let file = f.one("file").to_owned();
    let bytes = STANDARD.decode(f.one("workbook")).map_err(|_| {
        ReviewError::bad_request(
            "表单内容已损坏，请重新上传工作簿",
            "the form's content was damaged: upload the workbook again",
        )
    })?;
    let mut def = match import_named(&bytes, Some(&file)) {
        Ok(imported) => imported.form,
        Err(problems) => return Ok(unprocessable(problems_page(&r, &file, &problems))),
    };
    let roles: Vec<Role> = f.all("role").into_iter().filter_map(Role::named).collect();
    def.roles = (!roles.is_empty()).then_some(roles);
    let new = state.publish_form(&def).await.map_err(|e| match e {
        crate::StartError::Store(e) => ReviewError::from(e),
        other => {
            tracing::warn!("a form from the admin pages did not compile: {other}");
            ReviewError::bad_request(
                "该表单无法编译，未发布；请检查工作簿",
                "the form does not compile and was not published: check the workbook",
            )
        }
    })?;
    if !new {
        return Err(ReviewError::bad_request(
            "该版本已发布过，未作修改。请提高 settings 工作表中的 version 后重新上传。",
            "this version was published already and nothing changed: raise version in the settings sheet and upload again",
        ));
    }
    audit(
        &state,
        &r,
        "form_publish",
        format!("form:{}", def.form_id),
        json!({
            "version": def.version,
            "roles": def.roles.as_ref().map(|rs| rs.iter().map(|r| r.name()).collect::<Vec<_>>()),
            "file": file,
        }),
    )
    .await?;
    Ok(done(
        "/review/admin/forms",
        "published",
        &format!("{} v{}", def.form_id, def.version),
    ))
}

/// `POST /review/admin/forms/{id}/retire`.
pub async fn retire(
    State(state): State<AppState>,
    Admin(r): Admin,
    Path(id): Path<String>,
) -> Result<Response, ReviewError> {
    let retired = state.retire_form(&id).await.map_err(|e| match e {
        crate::StartError::Store(e) => ReviewError::from(e),
        other => {
            tracing::error!("retiring a form failed: {other}");
            ReviewError::page(
                axum::http::StatusCode::SERVICE_UNAVAILABLE,
                "服务器暂时无法处理，请稍后重试",
                "the server could not handle this right now: try again later",
            )
        }
    })?;
    match retired {
        Retirement::Retired(version) => {
            audit(
                &state,
                &r,
                "form_retire",
                format!("form:{id}"),
                json!({ "version": version }),
            )
            .await?;
            Ok(done("/review/admin/forms", "retired", &id))
        }
        Retirement::AlreadyRetired(_) => Ok(done("/review/admin/forms", "retired", &id)),
        Retirement::NotPublished => Err(ReviewError::not_found()),
    }
}
