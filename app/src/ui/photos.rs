//! A photo field: take or choose photos, see them as thumbnails, open one
//! full size, remove a wrong one before saving. Images come from the
//! encrypted photo store through the core and reach the page as `data:`
//! URLs: no plain copy is ever written to disk.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use beatbook_schema::ids::Sha256;
use dioxus::prelude::*;

use beatbook_core::{Core, CoreError};

use super::editing::{edit, SessionSignal};
use super::errors::error_text;
use super::i18n::{tr, use_lang};
use super::uploads::chosen_files;
use super::{Ui, UiOptions};

/// The longest edge of a thumbnail, in pixels (about 2× its on-screen size).
const THUMB_EDGE: u32 = 192;

/// A JPEG as a `data:` URL.
fn data_url(jpeg: &[u8]) -> String {
    format!("data:image/jpeg;base64,{}", STANDARD.encode(jpeg))
}

/// A JPEG the core makes (a thumbnail, a whole photo) as a `data:` URL, or
/// why it could not be read, in the UI's language (and logged).
fn read(
    ui: Ui,
    jpeg: impl FnOnce(&Core) -> Result<Vec<u8>, CoreError>,
) -> Option<Result<String, String>> {
    let core = ui.core()?;
    Some(jpeg(&core).map(|j| data_url(&j)).map_err(|e| {
        tracing::error!(error = %e, "a stored photo could not be read");
        error_text(*ui.lang.peek(), &e)
    }))
}

/// The photo field of `path` in the open session.
#[component]
pub fn Photos(
    session: SessionSignal,
    path: String,
    id: String,
    max: u32,
    attachments: usize,
) -> Element {
    let options = use_context::<UiOptions>();
    let ui = use_context::<Ui>();
    let l = *use_lang().read();
    // The photo open full size, if any.
    let mut viewing = use_signal(|| None::<Sha256>);
    let shas = session
        .read()
        .as_ref()
        .map(|s| s.photos(&path))
        .unwrap_or_default();
    let count = shas.len();
    let input_id = format!("{id}-input");
    let remove = use_callback({
        let path = path.clone();
        move |sha: Sha256| {
            edit(ui, session, |s| s.remove_photo(&path, &sha));
            viewing.set(None);
        }
    });
    rsx! {
        div { class: "photos", id: "{id}",
            span { class: "count", {tr(l, &format!("已拍 {count}/{max} 张", ), &format!("{count} of {max} photos"))} }
            label { class: "secondary photo-button",
                {tr(l, "拍照/选择照片", "Take or choose a photo")}
                input { id: "{input_id}", r#type: "file", accept: "image/*", capture: "environment", multiple: true,
                    onchange: move |e| {
                        let (options, input_id, path) = (options.clone(), input_id.clone(), path.clone());
                        spawn(async move {
                            let payloads = chosen_files(&options, &input_id, e.files()).await;
                            for bytes in payloads {
                                edit(ui, session, |s| s.add_photo(&path, &bytes));
                            }
                        });
                    }
                }
            }
            if count > 0 {
                ul { class: "thumbs",
                    for sha in shas {
                        li { key: "{sha}", class: "thumb", "data-sha": "{sha}",
                            button { r#type: "button", class: "open", title: tr(l, "查看大图", "Open full size"),
                                onclick: move |_| viewing.set(Some(sha)),
                                Thumb { sha }
                            }
                            button { r#type: "button", class: "remove", title: tr(l, "删除这张照片", "Remove this photo"),
                                onclick: move |_| remove.call(sha), "✕"
                            }
                        }
                    }
                }
            }
            if attachments > 0 { span { class: "hint", {tr(l, "照片已加密保存在本机", "Photos are stored encrypted on this phone")} } }
        }
        if let Some(sha) = viewing() {
            FullView { sha, on_close: move |_| viewing.set(None), on_remove: move |_| remove.call(sha) }
        }
    }
}

/// One thumbnail, made once per photo shown.
#[component]
fn Thumb(sha: Sha256) -> Element {
    let ui = use_context::<Ui>();
    let l = *use_lang().read();
    let src = use_hook(|| read(ui, |c| c.photo_thumbnail(&sha, THUMB_EDGE)));
    match src {
        Some(Ok(src)) => rsx! { img { src: "{src}", alt: tr(l, "照片", "Photo") } },
        Some(Err(why)) => {
            rsx! { span { class: "error", title: "{why}", {tr(l, "照片无法读取", "Photo unreadable")} } }
        }
        None => rsx! {},
    }
}

/// A photo full size over the screen, with remove and close.
#[component]
fn FullView(sha: Sha256, on_close: EventHandler<()>, on_remove: EventHandler<()>) -> Element {
    let ui = use_context::<Ui>();
    let l = *use_lang().read();
    let src = use_hook(|| read(ui, |c| c.photo(&sha)));
    let shown = match src {
        Some(Ok(src)) => {
            rsx! { img { id: "photo-full", src: "{src}", alt: tr(l, "照片", "Photo") } }
        }
        Some(Err(why)) => rsx! {
            p { class: "error", {tr(l, "照片无法读取，请删除后重拍：", "This photo cannot be read; remove it and take it again: ")} "{why}" }
        },
        None => rsx! {},
    };
    rsx! {
        div { class: "photo-view", id: "photo-view", role: "dialog",
            {shown}
            div { class: "photo-view-actions",
                button { r#type: "button", id: "photo-remove", class: "secondary danger", onclick: move |_| on_remove.call(()),
                    {tr(l, "删除这张照片", "Remove this photo")}
                }
                button { r#type: "button", id: "photo-close", class: "primary", onclick: move |_| on_close.call(()),
                    {tr(l, "关闭", "Close")}
                }
            }
        }
    }
}
