//! Every form of the standard catalogue, exported to XLSForm and imported
//! back, is the same definition.

use beatbook_schema::catalogue::standard_forms;

#[test]
fn every_catalogue_form_exports_and_imports_back_unchanged() {
    let forms = standard_forms().expect("catalogue loads");
    assert_eq!(forms.len(), 8);
    for form in &forms {
        let bytes = beatbook_xlsform::export(form.def()).expect("export");
        let back = beatbook_xlsform::import(&bytes).unwrap_or_else(|problems| {
            panic!(
                "{} does not import back:\n{}",
                form.id(),
                problems
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("\n")
            )
        });
        assert_eq!(&back, form.def(), "{} changed in the round trip", form.id());
    }
}
