//! "Scan the ID card" on a form that takes a citizen ID number: a photo of
//! the card's front, read on the device by the face's
//! [`CardReader`](beatbook_core::idcard::CardReader), fills the form for the
//! officer to check; doubtful fields are marked, and nothing is saved until
//! the officer saves. The photo is dropped once read.

use std::sync::Arc;

use beatbook_core::idcard::{self, CardError, CardReader, CardReading, Filled};
use beatbook_schema::text::Text;
use dioxus::prelude::*;

use super::editing::SessionSignal;
use super::i18n::{tr, use_lang};
use super::uploads::{chosen_files, off_the_ui};
use super::{Ui, UiOptions};

/// The scan button and what the last scan did.
#[component]
pub fn ScanCard(session: SessionSignal, filled: Signal<Option<Filled>>) -> Element {
    let options = use_context::<UiOptions>();
    let ui = use_context::<Ui>();
    let l = *use_lang().read();
    let Some(reader) = options.card_reader.clone() else {
        return rsx! {};
    };
    let mut reading = use_signal(|| false);
    let mut filled = filled;
    let input_id = "scan-card-input";
    rsx! {
        div { class: "scan-card",
            label { class: "secondary photo-button", id: "scan-card",
                if reading() { {tr(l, "正在识别…", "Reading the card…")} } else { {tr(l, "扫描身份证", "Scan the ID card")} }
                input { id: "{input_id}", r#type: "file", accept: "image/*", capture: "environment", disabled: reading(),
                    onchange: move |e| {
                        let (options, reader) = (options.clone(), reader.clone());
                        spawn(async move {
                            let Some(image) = chosen_files(&options, input_id, e.files()).await.into_iter().next() else {
                                return;
                            };
                            reading.set(true);
                            let result = read_off_the_ui(reader, image).await;
                            reading.set(false);
                            let outcome = result.map_err(|e| e.0).and_then(|card| {
                                let mut guard = session.write();
                                let s = guard.as_mut().ok_or_else(|| Text::new("表单已关闭", "The form was closed"))?;
                                idcard::fill(s, &card).map_err(|e| {
                                    let en = e.to_string();
                                    Text::new(format!("无法填入识别结果：{en}"), format!("The card could not be filled in: {en}"))
                                })
                            });
                            match outcome {
                                Ok(f) if f.fields.is_empty() => {
                                    filled.set(None);
                                    ui.changed(tr(l, "未能识别身份证，请对准证件正面重拍，或手动填写", "The card could not be read: photograph its front again, or type it in"));
                                }
                                Ok(f) => filled.set(Some(f)),
                                Err(t) => ui.changed(t.get(*ui.lang.peek()).to_owned()),
                            }
                        });
                    }
                }
            }
            if let Some(f) = filled() {
                div { class: "banner info", id: "scan-result", role: "status",
                    if f.doubtful.is_empty() {
                        {tr(l, "已识别身份证：请核对后保存", "Card read: check it, then save")}
                    } else {
                        {tr(l, "已识别身份证：请特别核对标黄的项目，然后保存", "Card read: check the fields marked in yellow, then save")}
                    }
                    for n in f.notes.iter() { div { class: "hint", {n.get(l).to_owned()} } }
                }
            }
        }
    }
}

/// Reads the card off the UI: recognition takes most of a second.
async fn read_off_the_ui(
    reader: Arc<dyn CardReader>,
    image: Vec<u8>,
) -> Result<CardReading, CardError> {
    off_the_ui(move || reader.read(&image))
        .await
        .unwrap_or_else(|| {
            Err(CardError(Text::new(
                "识别意外中止，请重试",
                "Reading stopped unexpectedly; try again",
            )))
        })
}
