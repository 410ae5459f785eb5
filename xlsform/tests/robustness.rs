//! Whatever a workbook holds, the importer answers with a form or with
//! located problems; it never panics, and what it accepts Beatbook loads.

mod common;

use beatbook_schema::form::Form;
use proptest::prelude::*;

fn cell() -> impl Strategy<Value = String> {
    prop_oneof![
        proptest::sample::select(vec![
            "text",
            "integer",
            "select_one l",
            "select_multiple l or_other",
            "begin group",
            "end group",
            "begin repeat",
            "end repeat",
            "note",
            "calculate",
            "image",
            "date",
            "geotrace",
            "start",
            "range",
            "yes",
            "${a}",
            "${b} = 'x'",
            "count(${r})",
            ". > 1",
            "today()",
            "min=1 max=0",
            "a",
            "b",
            "r",
            "A b",
            "",
        ])
        .prop_map(String::from),
        "[a-z${}()'=. ]{0,12}",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn any_survey_is_a_form_or_located_problems(
        rows in proptest::collection::vec(proptest::collection::vec(cell(), 7), 0..12)
    ) {
        let header = ["type", "name", "label", "relevant", "constraint", "calculation", "parameters"];
        let mut survey: Vec<Vec<&str>> = vec![header.to_vec()];
        survey.extend(rows.iter().map(|r| r.iter().map(String::as_str).collect()));
        let survey: Vec<&[&str]> = survey.iter().map(Vec::as_slice).collect();
        let bytes = common::form(
            &survey,
            &[&["list_name", "name", "label"], &["l", "x", "X"], &["l", "y", "Y"]],
        );
        match beatbook_xlsform::import(&bytes) {
            Ok(def) => prop_assert!(Form::compile(def).is_ok()),
            Err(problems) => {
                prop_assert!(!problems.is_empty());
                for p in &problems {
                    prop_assert!(!p.message.en.is_empty() && !p.message.zh.is_empty(), "{p}");
                }
            }
        }
    }
}
