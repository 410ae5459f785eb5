//! First start: server, badge and password (or a scanned enrollment code),
//! then a PIN; later starts: the PIN.

use std::time::Duration;

use beatbook_core::keys::PinKeys;
use beatbook_core::lockout::{self, PinPolicy, UnlockError};
use beatbook_core::prefs::Prefs;
use beatbook_core::sync::SyncError;
use beatbook_core::{Core, CoreError};
use beatbook_schema::enrollment::EnrollmentQr;
use beatbook_schema::text::Lang;
use dioxus::prelude::*;

use super::enroll_scan::ScanEnrollment;
use super::errors::error_text;
use super::i18n::{text, tr, use_lang};
use super::{Ui, UiOptions};

#[derive(Debug, Clone, Copy, PartialEq)]
enum Step {
    Credentials,
    SetPin,
    Pin,
}

fn open(options: &UiOptions, pin: &str) -> Result<Core, CoreError> {
    let keys = if options.fast_keys {
        PinKeys::fast_for_tests()
    } else {
        PinKeys::default()
    };
    Core::open(&options.dir, pin, &keys, options.platform.clone())
}

/// The unlock and enrollment screens.
#[component]
pub fn Unlock() -> Element {
    let options = use_context::<UiOptions>();
    let mut ui = use_context::<Ui>();
    let lang = use_lang();
    let l = *lang.read();
    let mut step = use_signal(|| {
        // An unreadable device directory: the PIN step, whose open says what is wrong.
        if beatbook_core::store::has_device(&options.dir).unwrap_or(true) {
            Step::Pin
        } else {
            Step::Credentials
        }
    });
    let mut server = use_signal(|| options.server.clone());
    let mut badge = use_signal(String::new);
    let mut password = use_signal(String::new);
    // A code read from a QR code: enroll with it instead of badge and password.
    let mut scanned = use_signal(|| None::<EnrollmentQr>);
    let mut pin = use_signal(String::new);
    let mut pin2 = use_signal(String::new);
    let mut error = use_signal(|| None::<String>);
    let mut busy = use_signal(|| false);
    let mut opened = use_signal(|| None::<Core>);
    // Seconds before the next PIN is accepted, counted down on screen.
    let mut wait = use_signal(|| {
        lockout::wait_secs(&options.dir, &PinPolicy::default(), options.platform.now())
    });
    use_future(move || async move {
        loop {
            beatbook_core::timer::sleep(Duration::from_secs(1)).await;
            let left = *wait.peek();
            if left > 0 {
                wait.set(left - 1);
            }
        }
    });

    let enroll = move |core: Core| {
        let (server, badge, mut password, code) = (server(), badge(), password(), scanned());
        spawn(async move {
            busy.set(true);
            let result = match &code {
                Some(qr) => core.enroll_with_code(qr, "Beatbook").await,
                None => {
                    core.enroll(&server, badge.trim(), &password, "Beatbook")
                        .await
                }
            };
            busy.set(false);
            // A code is tried once: after a refusal the officer scans again.
            scanned.set(None);
            match result {
                Ok(_) => {
                    password.clear();
                    ui.core.set(Some(core));
                    ui.changed(tr(l, "设备已绑定，正在同步…", "Device enrolled, syncing…"));
                }
                Err(e) => {
                    opened.set(Some(core));
                    step.set(Step::Credentials);
                    error.set(Some(match &e {
                        CoreError::Sync(SyncError::Network(_)) => tr(
                            l,
                            "连不上服务器，请检查地址和网络",
                            "Cannot reach the server: check the address and the network",
                        ),
                        _ => error_text(l, &e),
                    }));
                }
            }
        });
    };

    // A refused PIN: say why, start the wait, and after an erase start over.
    let mut refused = move |e: &UnlockError| {
        pin.set(String::new());
        wait.set(e.wait_secs());
        if matches!(e, UnlockError::Erased { .. }) {
            opened.set(None);
            step.set(Step::Credentials);
        }
        // While there is a wait, the countdown below says how long.
        error.set(match e {
            UnlockError::WrongPin { left, wait_secs } if *wait_secs > 0 => Some(tr(
                l,
                &format!("PIN错误（再错 {left} 次将清除本机数据）"),
                &format!("Wrong PIN ({left} more wrong PINs erase the data on this phone)"),
            )),
            UnlockError::Wait { .. } => None,
            other => other.message().map(|m| text(l, &m)),
        });
    };

    // A code read: on to the PIN (or, with the store open, enroll now).
    let on_scan = move |read: Result<EnrollmentQr, beatbook_schema::text::Text>| match read {
        Ok(qr) => {
            error.set(None);
            server.set(qr.server.clone());
            scanned.set(Some(qr));
            match opened() {
                Some(core) => enroll(core),
                None => step.set(Step::SetPin),
            }
        }
        Err(message) => error.set(Some(text(l, &message))),
    };

    let mut submit_pin = move |_: ()| {
        error.set(None);
        if wait() > 0 {
            return;
        }
        match step() {
            Step::Credentials => {
                if badge().trim().is_empty() || password().is_empty() {
                    error.set(Some(tr(
                        l,
                        "请填写警号和密码",
                        "Fill in badge number and password",
                    )));
                } else if let Some(core) = opened() {
                    enroll(core);
                } else {
                    step.set(Step::SetPin);
                }
            }
            Step::SetPin => {
                if pin() != pin2() {
                    error.set(Some(tr(l, "两次输入的PIN不一致", "The two PINs differ")));
                    return;
                }
                match open(&options, &pin()) {
                    Ok(core) => enroll(core),
                    Err(CoreError::Unlock(e)) => refused(&e),
                    Err(e) => error.set(Some(error_text(l, &e))),
                }
            }
            Step::Pin => match open(&options, &pin()) {
                Ok(core) => match core.user() {
                    Ok(Some(_)) => ui.core.set(Some(core)),
                    _ => {
                        opened.set(Some(core));
                        step.set(Step::Credentials);
                    }
                },
                Err(CoreError::Unlock(e)) => refused(&e),
                Err(e) => error.set(Some(error_text(l, &e))),
            },
        }
    };

    rsx! {
        div { class: "unlock",
            h1 { class: "brand", "Beatbook" }
            p { class: "tagline", {tr(l, "社区警务基础信息采集", "Community policing field data")} }
            // Why the app closed itself (a revoked device: what it lost).
            if let Some(message) = ui.notice.read().clone() {
                p { class: "notice", role: "status", "{message}" }
            }
            form { class: "card", onsubmit: move |e| { e.prevent_default(); submit_pin(()) },
                match step() {
                    Step::Credentials => rsx! {
                        h2 { {tr(l, "绑定设备", "Enroll this device")} }
                        label { {tr(l, "服务器地址", "Server address")}
                            input { id: "server", r#type: "url", value: "{server}", oninput: move |e| server.set(e.value()) }
                        }
                        label { {tr(l, "警号", "Badge number")}
                            input { id: "badge", inputmode: "numeric", autocomplete: "username", value: "{badge}", oninput: move |e| badge.set(e.value()) }
                        }
                        label { {tr(l, "密码", "Password")}
                            input { id: "password", r#type: "password", autocomplete: "current-password", value: "{password}", oninput: move |e| password.set(e.value()) }
                        }
                        p { class: "hint", {tr(l, "或扫描所领导在审核页面生成的绑定二维码，无需输入地址和密码：", "Or scan the enrollment QR code your supervisor made on the review pages, with no address or password to type:")} }
                        ScanEnrollment { on_read: on_scan }
                    },
                    Step::SetPin => rsx! {
                        h2 { {tr(l, "设置PIN", "Set a PIN")} }
                        if let Some(qr) = scanned() {
                            p { id: "scanned", class: "hint", role: "status", {tr(l, &format!("已读取绑定码，将绑定到 {}", qr.server), &format!("Enrollment code read: enrolling at {}", qr.server))} }
                        }
                        p { class: "hint", {tr(l, "PIN用于解锁本机数据（6–12位数字）", "The PIN unlocks the data on this phone (6–12 digits)")} }
                        label { {tr(l, "PIN", "PIN")}
                            input { id: "pin", r#type: "password", inputmode: "numeric", value: "{pin}", oninput: move |e| pin.set(e.value()) }
                        }
                        label { {tr(l, "再次输入PIN", "PIN again")}
                            input { id: "pin2", r#type: "password", inputmode: "numeric", value: "{pin2}", oninput: move |e| pin2.set(e.value()) }
                        }
                    },
                    Step::Pin => rsx! {
                        h2 { {tr(l, "输入PIN解锁", "Enter your PIN")} }
                        input { id: "pin", class: "pin", r#type: "password", inputmode: "numeric", autofocus: true, value: "{pin}", oninput: move |e| pin.set(e.value()) }
                    },
                }
                if let Some(e) = error() {
                    p { class: "error", role: "alert", "{e}" }
                }
                if wait() > 0 {
                    p { id: "pin-wait", class: "hint", role: "timer",
                        {tr(l, &format!("请 {} 秒后再输入PIN", wait()), &format!("Enter the PIN again in {} s", wait()))}
                    }
                }
                button { id: "next", class: "primary big", r#type: "submit", disabled: busy() || wait() > 0,
                    if busy() { {tr(l, "请稍候…", "Please wait…")} } else { {tr(l, "下一步", "Continue")} }
                }
            }
            LangToggle {}
        }
    }
}

/// The 中/EN switch; the choice is kept for the next start.
#[component]
pub fn LangToggle() -> Element {
    let mut ui = use_context::<Ui>();
    let dir = use_context::<UiOptions>().dir;
    let next = match *ui.lang.read() {
        Lang::Zh => Lang::En,
        Lang::En => Lang::Zh,
    };
    let choose = move |_| {
        ui.lang.set(next);
        if let Err(e) = (Prefs { lang: next }).save(&dir) {
            tracing::warn!(error = %e, "the language choice was not kept");
            ui.notice.set(Some(tr(
                next,
                &format!("语言设置未能保存，下次启动需重新选择：{e}"),
                &format!("The language choice could not be kept for the next start: {e}"),
            )));
        }
    };
    rsx! {
        button { id: "lang", class: "lang", r#type: "button", onclick: choose,
            if next == Lang::En { "EN" } else { "中文" }
        }
    }
}
