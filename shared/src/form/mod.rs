//! Forms: definitions as data, compiled once on load, and record validation.

mod compile;
mod def;
mod photos;
mod validate;

pub use compile::{CompiledField, Form, FormError};
pub use def::*;
pub use validate::{id_part, AddressBook, FieldError, ValidationContext, Values};

impl Form {
    /// The definition this form was compiled from.
    pub fn def(&self) -> &FormDef {
        &self.def
    }

    /// The form's id.
    pub fn id(&self) -> &crate::ids::FormId {
        &self.def.form_id
    }

    /// The form's version.
    pub fn version(&self) -> u32 {
        self.def.version
    }

    /// The form's title.
    pub fn title(&self) -> &crate::text::Text {
        &self.def.title
    }

    /// Top-level fields in order, sections flattened.
    pub fn fields(&self) -> &[CompiledField] {
        &self.fields
    }

    /// A top-level field by name.
    pub fn field(&self, name: &str) -> Option<&CompiledField> {
        self.fields.iter().find(|f| f.name() == name)
    }

    /// The choices of a named list.
    pub fn choices(&self, list: &str) -> &[Choice] {
        self.def.choice_lists.get(list).map_or(&[], Vec::as_slice)
    }
}

#[cfg(test)]
mod tests;
