//! The published form versions, compiled once.

use std::collections::HashMap;
use std::sync::Arc;

use beatbook_schema::form::{Form, FormDef, FormError};

/// Every published form version, compiled, by `(form_id, version)`.
#[derive(Debug, Default)]
pub struct Forms {
    by_version: HashMap<(String, u32), Arc<Form>>,
}

impl Forms {
    /// Compiles the published definitions.
    pub fn compile(defs: Vec<FormDef>) -> Result<Self, FormError> {
        let by_version = defs
            .into_iter()
            .map(|def| {
                let key = (def.form_id.as_str().to_owned(), def.version);
                Form::compile(def).map(|f| (key, Arc::new(f)))
            })
            .collect::<Result<_, _>>()?;
        Ok(Self { by_version })
    }

    /// How many versions these are.
    pub fn versions(&self) -> usize {
        self.by_version.len()
    }

    /// A published version.
    pub fn get(&self, form_id: &str, version: u32) -> Option<&Arc<Form>> {
        self.by_version.get(&(form_id.to_owned(), version))
    }

    /// The newest published version of a form.
    pub fn latest(&self, form_id: &str) -> Option<&Arc<Form>> {
        self.by_version
            .iter()
            .filter(|((id, _), _)| id == form_id)
            .max_by_key(|((_, v), _)| *v)
            .map(|(_, f)| f)
    }

    /// Every version.
    pub fn all(&self) -> impl Iterator<Item = &Arc<Form>> {
        self.by_version.values()
    }
}
