//! The `type` column of the survey sheet: what one row is.

/// What a survey row is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RowType {
    BeginGroup,
    EndGroup,
    BeginRepeat,
    EndRepeat,
    Question(QType),
    /// A metadata row (`start`, `deviceid`, ...) that Beatbook keeps in the record itself.
    Metadata(String),
    /// A type Beatbook cannot take, with the reason and what to do instead.
    Unsupported {
        zh: String,
        en: String,
    },
}

/// A question's type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum QType {
    Text,
    Integer,
    Decimal,
    /// `range`: a number between `start` and `end` parameters.
    Range,
    Date,
    Datetime,
    Select {
        multiple: bool,
        list: String,
        or_other: bool,
    },
    Geopoint,
    Geotrace,
    Image,
    Note,
    Calculate,
    CitizenId,
    CreditCode,
    Phone,
    AddressRef,
    /// `record_ref [form]`: the form may also come from the `form=` parameter.
    RecordRef(Option<String>),
}

/// Metadata types ODK records without a question; Beatbook records who,
/// when and on which device with every record, so these rows are skipped.
const METADATA: &[&str] = &[
    "start",
    "end",
    "today",
    "deviceid",
    "imei",
    "subscriberid",
    "simserial",
    "phonenumber",
    "username",
    "email",
    "audit",
    "start-geopoint",
    "background-audio",
    "background-geopoint",
    "uri:deviceid",
    "uri:email",
    "uri:phonenumber",
    "uri:subscriberid",
    "uri:simserial",
    "uri:username",
];

/// The types Beatbook takes, for messages.
pub(crate) const SUPPORTED: &str = "text, integer, decimal, range, date, datetime, \
select_one, select_multiple (or_other too), geopoint, geotrace, image, note, calculate, begin/end group, \
begin/end repeat, citizen_id, credit_code, phone, address_ref, record_ref";

fn unsupported(zh: impl Into<String>, en: impl Into<String>) -> RowType {
    RowType::Unsupported {
        zh: zh.into(),
        en: en.into(),
    }
}

/// Reads a `type` cell.
pub(crate) fn parse(raw: &str) -> RowType {
    let words: Vec<String> = raw.split_whitespace().map(str::to_owned).collect();
    let lower: Vec<String> = words.iter().map(|w| w.to_lowercase()).collect();
    let first = lower.first().map_or("", String::as_str);
    let second = lower.get(1).map_or("", String::as_str);
    let third_fourth = lower.get(2..4).map(|w| w.join(" "));
    let (keyword, rest_at) = match (first, second) {
        ("begin" | "end", _) => (format!("{first}_{second}"), 2),
        ("select", "one") => ("select_one".to_owned(), 2),
        ("select", "multiple") => ("select_multiple".to_owned(), 2),
        ("select", "all") if third_fourth.as_deref() == Some("that apply") => {
            ("select_multiple".to_owned(), 4)
        }
        _ => (first.replace('-', "_"), 1),
    };
    let rest = words.get(rest_at..).unwrap_or(&[]);
    match keyword.as_str() {
        "begin_group" => return RowType::BeginGroup,
        "end_group" => return RowType::EndGroup,
        "begin_repeat" => return RowType::BeginRepeat,
        "end_repeat" => return RowType::EndRepeat,
        "begin_loop" | "end_loop" => {
            return unsupported(
                "不支持 loop，请改用 begin repeat",
                "loops are not supported: use begin repeat / end repeat",
            )
        }
        _ => {}
    }
    if METADATA.contains(&first) {
        return RowType::Metadata(first.to_owned());
    }
    let q =
        match keyword.as_str() {
            "text" | "string" => QType::Text,
            "integer" | "int" => QType::Integer,
            "decimal" => QType::Decimal,
            "range" => QType::Range,
            "date" => QType::Date,
            "datetime" => QType::Datetime,
            "select_one" | "select1" | "select_multiple" => {
                let mut rest = rest.iter().map(String::as_str).peekable();
                if rest.peek() == Some(&"from") {
                    rest.next();
                }
                let Some(list) = rest.next() else {
                    return unsupported(
                        "选择题缺少选项列表名，例如 select_one yes_no",
                        "a select needs the name of its choice list, e.g. select_one yes_no",
                    );
                };
                let tail: Vec<String> = rest.map(str::to_lowercase).collect();
                let or_other = match tail.first().map(String::as_str) {
                    None => false,
                    Some("or_other") if tail.len() == 1 => true,
                    // The old spelling.
                    Some("or") if tail[1..] == ["specify", "other"] => true,
                    Some(w) => {
                        return unsupported(
                            format!("类型末尾的“{w}”无法识别（只支持 or_other）"),
                            format!(
                        "'{w}' after the list name is not understood: only or_other may follow it"
                    ),
                        )
                    }
                };
                QType::Select {
                    multiple: keyword != "select_one" && keyword != "select1",
                    list: list.to_owned(),
                    or_other,
                }
            }
            "select_one_from_file" | "select_multiple_from_file" => return unsupported(
                "不支持外部选项文件，请把选项复制到 choices 表",
                "choices from an external file are not supported: copy them into the choices sheet",
            ),
            "geopoint" | "gps" => QType::Geopoint,
            "geotrace" => QType::Geotrace,
            "image" | "photo" => QType::Image,
            "note" => QType::Note,
            "calculate" => QType::Calculate,
            "citizen_id" => QType::CitizenId,
            "credit_code" => QType::CreditCode,
            "phone" => QType::Phone,
            "address_ref" | "address" => QType::AddressRef,
            "record_ref" => QType::RecordRef(rest.first().cloned()),
            "geoshape" => {
                return unsupported(
                    format!("不支持 {first}（面），请改用 geopoint 或 geotrace"),
                    format!("{first} (areas) is not supported: use geopoint or geotrace"),
                )
            }
            "audio" | "video" | "file" | "background_audio" => {
                return unsupported(
                    format!("不支持 {first} 附件，只支持 image（照片）"),
                    format!("{first} attachments are not supported: only image (photos)"),
                )
            }
            "time" => {
                return unsupported(
                    "不支持单独的 time，请改用 datetime",
                    "time on its own is not supported: use datetime",
                )
            }
            _ => {
                return unsupported(
                    format!("不支持类型“{raw}”；支持：{SUPPORTED}"),
                    format!("type '{raw}' is not supported; supported types: {SUPPORTED}"),
                )
            }
        };
    RowType::Question(q)
}

#[cfg(test)]
mod tests {
    use rstest::rstest;

    use super::*;

    fn select(multiple: bool, list: &str, or_other: bool) -> RowType {
        RowType::Question(QType::Select {
            multiple,
            list: list.into(),
            or_other,
        })
    }

    #[rstest]
    #[case("text", RowType::Question(QType::Text))]
    #[case(" Integer ", RowType::Question(QType::Integer))]
    #[case("dateTime", RowType::Question(QType::Datetime))]
    #[case("begin group", RowType::BeginGroup)]
    #[case("begin_repeat", RowType::BeginRepeat)]
    #[case("End  Repeat", RowType::EndRepeat)]
    #[case("select_one yes_no", select(false, "yes_no", false))]
    #[case("select one from Yes_No", select(false, "Yes_No", false))]
    #[case("select_multiple fruit or_other", select(true, "fruit", true))]
    #[case("select all that apply fruit", select(true, "fruit", false))]
    #[case("select one from sexes or specify other", select(false, "sexes", true))]
    #[case("record_ref house", RowType::Question(QType::RecordRef(Some("house".into()))))]
    #[case("deviceid", RowType::Metadata("deviceid".into()))]
    fn reads_types(#[case] raw: &str, #[case] want: RowType) {
        assert_eq!(parse(raw), want);
    }

    #[rstest]
    #[case("geoshape", "use geopoint or geotrace")]
    #[case("select_one", "needs the name of its choice list")]
    #[case("select_one_from_file a.csv", "external file")]
    #[case("select_one l maybe", "'maybe'")]
    #[case("frobnicate", "type 'frobnicate' is not supported")]
    fn refuses_types(#[case] raw: &str, #[case] needle: &str) {
        match parse(raw) {
            RowType::Unsupported { en, .. } => assert!(en.contains(needle), "{en}"),
            other => panic!("{raw} read as {other:?}"),
        }
    }
}
