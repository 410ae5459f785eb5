//! A form as the field app shows it, drawn for the admin before publishing:
//! its sections in order, each field's label in both languages, a required
//! mark, the hint, the choices and a stand-in for the input the phone
//! offers. Nothing in it can be typed into: it shows, it does not collect.

use beatbook_schema::form::{Choice, Field, FieldKind, FormDef};
use beatbook_schema::text::{Lang, Text};
use maud::{html, Markup};

use crate::review::i18n::Tr;

/// The preview of `def`, in a phone-shaped frame.
pub fn phone(def: &FormDef, lang: Lang) -> Markup {
    html! {
        div.phone-preview {
            div.phone-bar { (def.title.zh) span.en { (def.title.en) } }
            @if let Some(d) = &def.description { p.phone-desc { (d.zh) br; span.en { (d.en) } } }
            @for s in &def.sections {
                section.phone-section data-section=(s.id) {
                    h3 { (s.title.zh) span.en { (s.title.en) } }
                    @if s.relevant.is_some() {
                        p.phone-when { (lang.t("按条件显示", "Shown when its condition holds")) }
                    }
                    @for f in &s.fields { (field(def, f, lang)) }
                }
            }
        }
    }
}

fn label(text: &Text, required: bool) -> Markup {
    html! {
        span.phone-label {
            (text.zh)
            @if required { span.required title="必填 required" { "*" } }
            span.en { (text.en) }
        }
    }
}

fn choices<'a>(def: &'a FormDef, list: &str) -> &'a [Choice] {
    def.choice_lists.get(list).map_or(&[], Vec::as_slice)
}

fn field(def: &FormDef, f: &Field, lang: Lang) -> Markup {
    let input = |placeholder: &str| html! { div.phone-input { span.muted { (placeholder) } } };
    html! {
        div.phone-field data-field=(f.name) data-kind=(f.kind.name()) {
            @if !matches!(f.kind, FieldKind::Note) { (label(&f.label, f.required)) }
            @if let Some(h) = &f.hint { span.phone-hint { (h.get(lang)) } }
            @match &f.kind {
                FieldKind::Note => { p.phone-note { (f.label.zh) br; span.en { (f.label.en) } } }
                FieldKind::SingleChoice { list } => {
                    ul.phone-choices.single {
                        @for c in choices(def, list) { li { span.dot {} (c.label.zh) span.en { (c.label.en) } } }
                    }
                }
                FieldKind::MultiChoice { list, .. } => {
                    ul.phone-choices.multi {
                        @for c in choices(def, list) { li { span.box {} (c.label.zh) span.en { (c.label.en) } } }
                    }
                }
                FieldKind::Text { multiline: true, .. } => { div.phone-input.tall {} }
                FieldKind::Integer { unit, .. } | FieldKind::Decimal { unit, .. } => {
                    div.phone-input { span.muted { "123" } @if let Some(u) = unit { span.unit { (u.get(lang)) } } }
                }
                FieldKind::Date { .. } => { (input("YYYY-MM-DD")) }
                FieldKind::Datetime => { (input("YYYY-MM-DD HH:MM")) }
                FieldKind::Geopoint => { div.phone-button { "📍 " (lang.t("获取位置", "Get location")) } }
                FieldKind::Geotrace => { div.phone-button { "🧭 " (lang.t("记录轨迹", "Record a track")) } }
                FieldKind::Photo { max, .. } => {
                    div.phone-button { "📷 " (lang.t("拍照", "Take photo")) span.muted { " (≤" (max) ")" } }
                }
                FieldKind::CitizenId { .. } => { (input(lang.t("18 位身份证号码", "18-character ID number"))) }
                FieldKind::CreditCode => { (input(lang.t("统一社会信用代码", "Unified social credit code"))) }
                FieldKind::Phone { .. } => { (input(lang.t("手机号码", "Phone number"))) }
                FieldKind::AddressRef => { div.phone-button { (lang.t("选择标准地址", "Pick a standard address")) } }
                FieldKind::RecordRef { form } => { div.phone-button { (lang.t("选择记录", "Pick a record")) " · " code { (form) } } }
                FieldKind::Repeat { fields, item_label, .. } => {
                    div.phone-repeat {
                        @for sub in fields { (field(def, sub, lang)) }
                        div.phone-button {
                            "+ " (lang.t("添加", "Add"))
                            @if let Some(l) = item_label { (l.get(lang)) }
                        }
                    }
                }
                _ => { (input("")) }
            }
        }
    }
}
