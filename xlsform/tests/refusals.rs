//! Workbooks Beatbook refuses: every problem at once, each with its sheet,
//! row and column (`sheet row column: message`) and what to do.

mod common;

use common::{form, located, workbook, SETTINGS};
use rstest::rstest;

const CHOICES: &[&[&str]] = &[
    &["list_name", "name", "label"],
    &["yes_no", "yes", "Yes"],
    &["yes_no", "no", "No"],
];

fn refused(bytes: &[u8]) -> Vec<String> {
    match beatbook_xlsform::import(bytes) {
        Ok(def) => panic!("imported {def:?}"),
        Err(problems) => located(&problems),
    }
}

fn assert_has(problems: &[String], want: &str) {
    assert!(
        problems.iter().any(|p| p.starts_with(want)),
        "wanted a problem starting {want:?}, got:\n{}",
        problems.join("\n")
    );
}

#[test]
fn a_file_that_is_no_workbook_is_refused() {
    let p = refused(b"type,name\ntext,a\n");
    assert_has(&p, " - -: the file is not a workbook that can be read");
}

#[test]
fn a_workbook_without_a_survey_sheet_is_refused() {
    let p = refused(&workbook(&[
        ("questions", &[&["type", "name"]]),
        ("settings", SETTINGS),
    ]));
    assert_eq!(p, ["survey - -: there is no 'survey' sheet: an XLSForm lists its questions on a sheet named survey"]);
}

#[test]
fn a_select_without_a_choices_sheet_is_refused_at_its_type() {
    let p = refused(&workbook(&[
        (
            "survey",
            &[
                &["type", "name", "label"],
                &["select_one yes_no", "ok", "OK?"],
            ],
        ),
        ("settings", SETTINGS),
    ]));
    assert_eq!(
        p,
        ["survey 2 A: a select needs a 'choices' sheet listing the choices of 'yes_no'"]
    );
}

#[test]
fn a_survey_without_a_type_column_is_refused() {
    let p = refused(&form(
        &[&["kind", "name", "label"], &["text", "a", "A"]],
        CHOICES,
    ));
    assert_has(&p, "survey - -: the survey sheet has no 'type' column");
}

#[test]
fn a_form_without_a_form_id_is_refused_at_the_settings() {
    let p = refused(&workbook(&[
        ("survey", &[&["type", "name", "label"], &["text", "a", "A"]]),
        ("settings", &[&["form_title"], &["Untitled"]]),
    ]));
    assert_has(&p, "settings - -: the settings sheet has no form_id");
}

#[rstest]
#[case::unknown_type(&["frobnicate", "a", "A", ""], "survey 2 A: type 'frobnicate' is not supported; supported types: text, integer")]
#[case::unsupported_type(&["geoshape", "a", "A", ""], "survey 2 A: geoshape (areas) is not supported: use geopoint or geotrace")]
#[case::unknown_list(&["select_one colours", "a", "A", ""], "survey 2 A: the choices sheet has no list 'colours'")]
#[case::broken_expression(&["text", "a", "A", "${b} = = 1"], "survey 2 D: at character 8 of the expression: unexpected '='")]
#[case::unclosed_quote(&["text", "a", "A", "${b} = 'x"], "survey 2 D: at character 8 of the expression: a text in quotes is not closed")]
#[case::unknown_function(&["text", "a", "A", "concat(${b}, 'x') = 'yx'"], "survey 2 D: at character 1 of the expression: function concat() is not supported")]
#[case::reference_to_nothing(&["text", "a", "A", "${nope} = 1"], "survey 2 D: at character 1 of the expression: there is no question named 'nope'")]
#[case::bare_name(&["text", "a", "A", "b = 1"], "survey 2 D: at character 1 of the expression: 'b' is not a field reference: write ${b}")]
#[case::path(&["text", "a", "A", "/data/b = 1"], "survey 2 D: at character 1 of the expression: paths like /data/... are not supported")]
#[case::no_label(&["text", "a", "", ""], "survey 2 C: this question has no label")]
#[case::no_name(&["text", "", "A", ""], "survey 2 B: this row has no name")]
fn a_bad_question_is_refused_at_its_cell(#[case] bad: &[&str], #[case] want: &str) {
    let p = refused(&form(
        &[
            &["type", "name", "label", "relevant"],
            bad,
            &["integer", "b", "B", ""],
        ],
        CHOICES,
    ));
    assert_has(&p, want);
}

#[test]
fn duplicate_names_are_refused_at_the_second_use() {
    let p = refused(&form(
        &[
            &["type", "name", "label"],
            &["text", "age", "Age"],
            &["integer", "Age", "Age again"],
        ],
        CHOICES,
    ));
    assert_eq!(p, ["survey 3 B: the name 'Age' (as age) is already used on row 2: names must be unique in the form"]);
}

#[test]
fn a_name_used_again_in_another_group_is_prefixed_and_cannot_be_referred_to() {
    let survey: &[&[&str]] = &[
        &["type", "name", "label", "relevant"],
        &["begin group", "head", "Head", ""],
        &["text", "name", "Name", ""],
        &["end group", "", "", ""],
        &["begin group", "spouse", "Spouse", ""],
        &["text", "name", "Name", ""],
        &["end group", "", "", ""],
    ];
    let imported = beatbook_xlsform::import_named(&form(survey, CHOICES), None).expect("imports");
    let names: Vec<_> = imported
        .form
        .sections
        .iter()
        .flat_map(|s| s.fields.iter().map(|f| f.name.as_str()))
        .collect();
    assert_eq!(names, ["name", "spouse_name"]);
    assert_eq!(
        located(&imported.notes),
        ["survey 6 -: the name 'name' is already used on row 3, so this question was imported as 'spouse_name'"]
    );

    let mut with_reference = survey.to_vec();
    with_reference.push(&["note", "hello", "Hello", "${name} != ''"]);
    assert_eq!(
        refused(&form(&with_reference, CHOICES)),
        ["survey 8 D: at character 1 of the expression: several questions are named 'name' (rows 3, 6): rename them so the reference names one"]
    );
}

#[test]
fn duplicate_choices_are_refused_at_the_second() {
    let p = refused(&form(
        &[
            &["type", "name", "label"],
            &["select_one yes_no", "ok", "OK?"],
        ],
        &[
            &["list_name", "name", "label"],
            &["yes_no", "yes", "Yes"],
            &["yes_no", "yes", "Yes!"],
        ],
    ));
    assert_eq!(p, ["choices 3 B: list 'yes_no' already has a choice 'yes': each value appears once per list"]);
}

#[rstest]
#[case::never_closed(
    &[["begin group", "g", "G"], ["text", "a", "A"]],
    "survey 2 A: begin group is never closed: add an end group row after its last question"
)]
#[case::end_without_begin(
    &[["text", "a", "A"], ["end group", "", ""]],
    "survey 3 A: end group has no begin group before it"
)]
#[case::crossed(
    &[["begin repeat", "r", "R"], ["text", "a", "A"], ["end group", "", ""]],
    "survey 4 A: end group closes the begin repeat of row 2: write end repeat"
)]
#[case::nested_repeat(
    &[["begin repeat", "r", "R"], ["begin repeat", "s", "S"], ["text", "a", "A"], ["end repeat", "", ""], ["end repeat", "", ""]],
    "survey 3 A: a repeat inside another repeat is not supported"
)]
fn unbalanced_or_nested_groups_are_refused_where_they_open(
    #[case] rows: &[[&str; 3]],
    #[case] want: &str,
) {
    let mut survey: Vec<&[&str]> = vec![&["type", "name", "label"]];
    survey.extend(rows.iter().map(|r| r.as_slice()));
    assert_has(&refused(&form(&survey, CHOICES)), want);
}

#[test]
fn a_field_inside_a_repeat_cannot_be_read_outside_it() {
    let p = refused(&form(
        &[
            &["type", "name", "label", "relevant"],
            &["begin repeat", "people", "People", ""],
            &["text", "person", "Name", ""],
            &["end repeat", "", "", ""],
            &["note", "hello", "Hello", "${person} = 'x'"],
        ],
        CHOICES,
    ));
    assert_eq!(p, ["survey 5 D: at character 1 of the expression: 'person' is inside the repeat 'people': only questions of the same repeat can read it"]);
}

#[test]
fn metadata_can_be_skipped_but_not_read() {
    let p = refused(&form(
        &[
            &["type", "name", "label", "relevant"],
            &["username", "user", "", ""],
            &["text", "a", "A", "${user} = 'x'"],
        ],
        CHOICES,
    ));
    assert_eq!(p, ["survey 3 D: at character 1 of the expression: 'user' is metadata (username), which Beatbook does not keep as a field: remove the reference"]);
}

#[rstest]
#[case::conditional_required(&["integer", "n", "N", "${a} = 1", "", ""], "survey 3 D: required takes yes or nothing")]
#[case::dynamic_default(&["integer", "n", "N", "", "${a} + 1", ""], "survey 3 E: the default '${a} + 1' is not a fixed value")]
#[case::default_not_a_number(&["integer", "n", "N", "", "many", ""], "survey 3 E: the default 'many' is not a whole number")]
#[case::unknown_parameter(&["integer", "n", "N", "", "", "maxlen=3"], "survey 3 F: this kind of question has no parameter 'maxlen'; it takes: min, max, carry_forward")]
#[case::bad_parameter(&["image", "n", "N", "", "", "max=lots"], "survey 3 F: the parameter max=lots is not a whole number")]
fn bad_settings_of_a_question_are_refused_at_their_cell(#[case] bad: &[&str], #[case] want: &str) {
    let p = refused(&form(
        &[
            &["type", "name", "label", "required", "default", "parameters"],
            &["integer", "a", "A", "", "", ""],
            bad,
        ],
        CHOICES,
    ));
    assert_has(&p, want);
}

#[test]
fn a_record_reference_needs_its_form() {
    let p = refused(&form(
        &[
            &["type", "name", "label", "appearance", "parameters"],
            &["text", "h", "House", "record", ""],
        ],
        CHOICES,
    ));
    assert_eq!(p, ["survey 2 E: a record reference needs its form: write form=house in parameters (or the type record_ref house)"]);
}

#[test]
fn what_beatbooks_own_check_refuses_is_reported_at_the_row() {
    let p = refused(&form(
        &[
            &["type", "name", "label", "parameters"],
            &["text", "a", "A", ""],
            &["image", "p", "Photos", "min=3 max=1"],
        ],
        CHOICES,
    ));
    assert_eq!(p.len(), 1, "{p:?}");
    assert_has(&p, "survey 3 -: Beatbook refuses the form: form test_form v3, field 'p': photo min 3 / max 1 make no sense");
}

#[test]
fn every_problem_is_reported_at_once() {
    let p = refused(&form(
        &[
            &["type", "name", "label", "relevant"],
            &["frobnicate", "a", "A", ""],
            &["text", "b", "", ""],
            &["text", "c", "C", "${zzz} = 1"],
            &["begin group", "g", "G", ""],
        ],
        CHOICES,
    ));
    assert_eq!(p.len(), 4, "{p:#?}");
    for want in ["survey 2 A:", "survey 3 C:", "survey 4 D:", "survey 5 A:"] {
        assert_has(&p, want);
    }
}

#[test]
fn a_choice_filter_is_refused_at_its_cell() {
    let p = refused(&form(
        &[
            &["type", "name", "label", "choice_filter"],
            &["select_one yes_no", "a", "A", ""],
            &["select_one yes_no", "b", "B", "filter=${a}"],
        ],
        CHOICES,
    ));
    assert_eq!(p, ["survey 3 D: choice_filter (cascading selects) is not supported: make one list per case and show the matching question with relevant"]);
}

#[test]
fn a_role_that_does_not_exist_is_refused_at_its_cell() {
    let p = refused(&workbook(&[
        ("survey", &[&["type", "name", "label"], &["text", "a", "A"]]),
        (
            "settings",
            &[&["form_id", "roles"], &["test_form", "auxiliary constable"]],
        ),
    ]));
    assert_has(
        &p,
        "settings 2 B: roles names 'constable', which is not a role: write officer, auxiliary, supervisor or admin",
    );
}
