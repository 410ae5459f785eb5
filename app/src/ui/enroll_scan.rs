//! "Scan enrollment code" (扫码绑定) on the enrollment screen: a photo of the
//! QR code a supervisor made on the review pages (or a saved image of it),
//! read on the device ([`beatbook_core::qr`]), gives the server's address
//! and a one-time code, so the officer types neither address nor password.

use beatbook_core::qr::read_enrollment_qr;
use beatbook_schema::enrollment::EnrollmentQr;
use beatbook_schema::text::Text;
use dioxus::prelude::*;

use super::i18n::{tr, use_lang};
use super::uploads::{chosen_files, off_the_ui};
use super::UiOptions;

/// The scan button; `on_read` gets the code read, or what to tell the officer.
#[component]
pub fn ScanEnrollment(on_read: EventHandler<Result<EnrollmentQr, Text>>) -> Element {
    let options = use_context::<UiOptions>();
    let l = *use_lang().read();
    let mut reading = use_signal(|| false);
    let input_id = "scan-enroll-input";
    rsx! {
        label { class: "secondary photo-button", id: "scan-enroll",
            if reading() { {tr(l, "正在识别二维码…", "Reading the QR code…")} } else { {tr(l, "扫码绑定", "Scan enrollment code")} }
            input { id: "{input_id}", r#type: "file", accept: "image/*", capture: "environment", disabled: reading(),
                onchange: move |e| {
                    let options = options.clone();
                    spawn(async move {
                        let Some(picture) = chosen_files(&options, input_id, e.files()).await.into_iter().next() else {
                            return;
                        };
                        reading.set(true);
                        let read = off_the_ui(move || read_enrollment_qr(&picture)).await;
                        reading.set(false);
                        on_read.call(match read {
                            Some(Ok(qr)) => Ok(qr),
                            Some(Err(e)) => Err(e.message()),
                            None => Err(Text::new("识别意外中止，请重试", "Reading stopped unexpectedly; try again")),
                        });
                    });
                }
            }
        }
    }
}
