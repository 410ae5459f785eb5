//! Which photos a record's values show: the digests its photo fields name,
//! at the top level and inside repeat entries. A record's attachments should
//! be exactly these; the server refuses an attachment no photo field shows.

use serde_json::Value as Json;

use super::compile::{CompiledField, Form};
use super::def::FieldKind;
use super::validate::Values;
use crate::ids::Sha256;

impl Form {
    /// The digests the photo fields of `values` name, each once, in field
    /// order. Entries that are not digests are skipped (validation reports them).
    pub fn photo_digests(&self, values: &Values) -> Vec<Sha256> {
        let mut out = Vec::new();
        collect(&self.fields, values, &mut out);
        out
    }
}

fn collect(fields: &[CompiledField], values: &Values, out: &mut Vec<Sha256>) {
    for f in fields {
        let Some(Json::Array(items)) = values.get(f.name()) else {
            continue;
        };
        match &f.def.kind {
            FieldKind::Photo { .. } => {
                let digests = items.iter().filter_map(|i| i.as_str()?.parse().ok());
                for sha in digests {
                    if !out.contains(&sha) {
                        out.push(sha);
                    }
                }
            }
            FieldKind::Repeat { .. } => {
                for entry in items.iter().filter_map(Json::as_object) {
                    collect(&f.children, entry, out);
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn form() -> Form {
        Form::from_json(
            &json!({
                "form_id": "visit", "version": 1,
                "title": {"zh": "走访", "en": "Visit"},
                "sections": [{"id": "main", "title": {"zh": "主要", "en": "Main"}, "fields": [
                    {"name": "note", "label": {"zh": "备注", "en": "Note"}, "kind": {"type": "text"}},
                    {"name": "photos", "label": {"zh": "照片", "en": "Photos"}, "kind": {"type": "photo", "max": 3}},
                    {"name": "rooms", "label": {"zh": "房间", "en": "Rooms"}, "kind": {"type": "repeat", "fields": [
                        {"name": "name", "label": {"zh": "名称", "en": "Name"}, "kind": {"type": "text"}},
                        {"name": "shots", "label": {"zh": "照片", "en": "Shots"}, "kind": {"type": "photo", "max": 2}}
                    ]}}
                ]}]
            })
            .to_string(),
        )
        .expect("form loads")
    }

    #[test]
    fn photo_fields_name_their_digests_at_every_level() {
        let (a, b, c) = (
            Sha256::digest(b"a"),
            Sha256::digest(b"b"),
            Sha256::digest(b"c"),
        );
        let values = json!({
            "note": a.to_hex(),
            "photos": [a, b],
            "rooms": [{"name": "厨房", "shots": [c, a]}, {"name": "空"}, "not an entry"],
        });
        let values = values.as_object().expect("object");
        assert_eq!(form().photo_digests(values), vec![a, b, c]);
    }

    #[test]
    fn text_that_looks_like_a_digest_is_not_a_photo() {
        let a = Sha256::digest(b"a");
        let values = json!({"note": a.to_hex(), "photos": ["not a digest", 7]});
        assert!(form()
            .photo_digests(values.as_object().expect("object"))
            .is_empty());
    }
}
