//! What the officer reads when the core refuses or fails: chosen by the
//! error's variant, in the UI's language — never by the error's text.

use beatbook_core::platform::NoFix;
use beatbook_core::store::LocalStoreError;
use beatbook_core::sync::SyncError;
use beatbook_core::CoreError;
use beatbook_schema::text::{Lang, Text};
use dioxus::prelude::*;

/// The officer's message for a failure, in language `l`. The Chinese text
/// keeps the technical detail (a path, a form id) where the error has one.
pub fn error_text(l: Lang, error: &CoreError) -> String {
    if let Some(message) = error.message() {
        return message.get(l).to_owned();
    }
    let en = error.to_string();
    let zh = match error {
        CoreError::Store(LocalStoreError::Corrupt(_))
        | CoreError::Sync(SyncError::Store(LocalStoreError::Corrupt(_))) => {
            format!("本机数据已损坏，无法读取：{en}。请勿清除应用数据，联系管理员")
        }
        CoreError::Store(_) | CoreError::Sync(SyncError::Store(_)) => {
            format!("本机数据读写失败，请重试：{en}")
        }
        CoreError::Unlock(_) => format!("无法解锁：{en}"),
        CoreError::Sync(SyncError::Network(_)) => {
            return Text::new(
                "暂无网络，数据已保存在本机，稍后再同步",
                "No connection: everything is saved on this phone; sync later",
            )
            .get(l)
            .to_owned();
        }
        CoreError::Sync(SyncError::Server { body, .. }) => return body.message.get(l).to_owned(),
        CoreError::NotEnrolled | CoreError::Sync(SyncError::NotEnrolled) => {
            "本机尚未绑定：请先用警号和密码绑定设备".to_owned()
        }
        CoreError::Sync(SyncError::Photo(..)) => format!("照片读取失败：{en}"),
        CoreError::Sync(SyncError::Address(_) | SyncError::Revoked { .. }) => {
            format!("同步失败：{en}")
        }
        CoreError::Photo(detail) => format!("照片无法使用：{detail}"),
        CoreError::UnknownForm(form) => format!("本机没有表单“{form}”：请先同步"),
        CoreError::NotOffered(form) => {
            format!(
                "不能新建“{form}”记录：该表单已停用或不属于您的角色（请同步后从“其他表单”中选择）"
            )
        }
        CoreError::UnknownField(path) => format!("无法填写“{path}”"),
        CoreError::MisusedField { path, misuse } => format!("“{path}”{}", misuse.text().zh),
        CoreError::NotAPlace(form) => {
            format!("“{form}”记录不是走访地点：请选择地址、房屋或单位")
        }
        CoreError::Invalid(errors) => {
            let each: Vec<String> = errors
                .iter()
                .map(|e| format!("{}（{}）", e.path, e.message.get(l)))
                .collect();
            return match l {
                Lang::Zh => format!("{} 项需要修改：{}", errors.len(), each.join("；")),
                Lang::En => format!(
                    "{} field(s) need attention: {}",
                    errors.len(),
                    each.join("; ")
                ),
            };
        }
    };
    Text::new(zh, en).get(l).to_owned()
}

/// Why the device gave no position, and what to do, in language `l`.
pub fn no_fix_text(l: Lang, why: NoFix) -> String {
    let text = match why {
        NoFix::NotYet => Text::new(
            "暂未定位：请到室外或稍后再试",
            "No position fix yet: step outside or try again",
        ),
        NoFix::Denied => Text::new(
            "定位权限被拒绝：请在浏览器或手机设置中允许本应用使用位置",
            "Location was refused: allow this app to use the location in the browser or phone settings",
        ),
        NoFix::Unavailable => Text::new(
            "本机没有可用的定位来源",
            "This device has no source of position",
        ),
    };
    text.get(l).to_owned()
}

/// What a screen shows in place of what it could not read from the device:
/// the failure, not an empty list that looks like no data. Logged as well,
/// loudly when the stored data is corrupt.
pub fn read_failed(l: Lang, what: &str, error: &CoreError) -> Element {
    match error {
        CoreError::Store(LocalStoreError::Corrupt(e)) => {
            tracing::error!(what, error = %e, "LOCAL DATA IS CORRUPT: a stored value cannot be read back");
        }
        other => tracing::error!(what, error = %other, "reading the device's data failed"),
    }
    let message = error_text(l, error);
    rsx! { p { class: "error", role: "alert", "{message}" } }
}

#[cfg(test)]
mod tests {
    use beatbook_schema::form::FieldError;
    use beatbook_schema::problem::ProblemCode;
    use beatbook_schema::protocol::{ErrorBody, ErrorCode};

    use super::*;

    fn has_chinese(s: &str) -> bool {
        s.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c))
    }

    #[test]
    fn every_failure_reads_in_the_chosen_language() {
        let cases = [
            CoreError::NotEnrolled,
            CoreError::UnknownForm("hazard".into()),
            CoreError::UnknownField("residents[0].name".into()),
            CoreError::MisusedField {
                path: "age".into(),
                misuse: beatbook_core::FieldMisuse::Derived,
            },
            CoreError::Photo("not an image".into()),
            CoreError::Store(LocalStoreError::from(std::io::Error::other("disk full"))),
            CoreError::Store(LocalStoreError::Corrupt(
                serde_json::from_str::<u8>("x").unwrap_err(),
            )),
            CoreError::Sync(SyncError::Network("timed out".into())),
            CoreError::Sync(SyncError::NotEnrolled),
            CoreError::Invalid(vec![FieldError {
                path: "id_number".into(),
                code: ProblemCode::Required,
                message: Text::new("校验位错误", "wrong check digit"),
            }]),
        ];
        for error in &cases {
            let zh = error_text(Lang::Zh, error);
            let en = error_text(Lang::En, error);
            assert!(has_chinese(&zh), "{error:?} in Chinese: {zh}");
            assert!(!has_chinese(&en), "{error:?} in English: {en}");
        }
    }

    #[test]
    fn a_server_refusal_shows_the_servers_own_words() {
        let error = CoreError::Sync(SyncError::Server {
            status: reqwest::StatusCode::FORBIDDEN,
            body: ErrorBody {
                code: ErrorCode::Forbidden,
                message: Text::new("无权操作该网格", "Not your grid"),
                errors: vec![],
            },
            retry_after: None,
        });
        assert_eq!(error_text(Lang::Zh, &error), "无权操作该网格");
        assert_eq!(error_text(Lang::En, &error), "Not your grid");
    }

    #[test]
    fn no_connection_says_the_data_is_safe() {
        let error = CoreError::Sync(SyncError::Network("connection refused".into()));
        assert!(error_text(Lang::Zh, &error).contains("已保存在本机"));
        assert!(error_text(Lang::En, &error).contains("saved on this phone"));
    }
}
