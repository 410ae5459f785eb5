//! Simplified Chinese first, English on request.

use beatbook_schema::text::{Lang, Text};
use dioxus::prelude::*;

/// The UI language, shared through context.
pub fn use_lang() -> Signal<Lang> {
    use_context::<super::Ui>().lang
}

/// Picks the text for the current language.
pub fn tr(lang: Lang, zh: &str, en: &str) -> String {
    match lang {
        Lang::Zh => zh.to_owned(),
        Lang::En => en.to_owned(),
    }
}

/// A bilingual [`Text`] in the current language.
pub fn text(lang: Lang, t: &Text) -> String {
    t.get(lang).to_owned()
}
