//! The cargo-fuzz entry points (`fuzz/src/targets.rs`) run on the stable
//! toolchain under proptest: random bytes, and random mutations (flips,
//! insertions, deletions, repeats, truncations) of valid seeds. A few
//! thousand cases per target, in seconds — the CI guard; the real fuzzing is
//! `scripts/fuzz.sh` (libFuzzer, coverage-guided).

#[path = "../../fuzz/src/targets.rs"]
mod targets;

use proptest::prelude::*;

const PUSH: &str = include_str!("../../shared/tests/fixtures/push_request.json");
const PULL: &str = include_str!("../../shared/tests/fixtures/pull_page.json");
const FORM: &str = include_str!("../../assets/forms/house.v1.json");
const BENCH_FORM: &str = include_str!("../../assets/forms/bench/household_survey.v1.json");

/// One edit of a byte string.
#[derive(Debug, Clone)]
enum Edit {
    Flip(usize, u8),
    Insert(usize, u8),
    Delete(usize, usize),
    Repeat(usize, usize),
    Truncate(usize),
}

fn apply(seed: &[u8], edits: &[Edit]) -> Vec<u8> {
    let mut v = seed.to_vec();
    for e in edits {
        let len = v.len().max(1);
        match *e {
            Edit::Flip(i, b) if !v.is_empty() => v[i % len] ^= b,
            Edit::Insert(i, b) => v.insert(i % (v.len() + 1), b),
            Edit::Delete(i, n) if !v.is_empty() => {
                let start = i % len;
                let end = (start + n % 16).min(v.len());
                v.drain(start..end);
            }
            Edit::Repeat(i, n) if !v.is_empty() => {
                let start = i % len;
                let end = (start + n % 64).min(v.len());
                let piece = v[start..end].to_vec();
                v.splice(start..start, piece);
            }
            Edit::Truncate(i) => v.truncate(i % (v.len() + 1)),
            _ => {}
        }
    }
    v
}

fn edit() -> impl Strategy<Value = Edit> {
    // Bytes that matter to JSON and to the validators.
    let interesting = prop_oneof![
        any::<u8>(),
        Just(b'"'),
        Just(b'{'),
        Just(b'}'),
        Just(b'['),
        Just(b','),
        Just(b'\\'),
        Just(b'0'),
        Just(b'9'),
        Just(b'X'),
        Just(b'-'),
        Just(b' '),
    ];
    prop_oneof![
        (any::<usize>(), 1u8..).prop_map(|(i, b)| Edit::Flip(i, b)),
        (any::<usize>(), interesting).prop_map(|(i, b)| Edit::Insert(i, b)),
        (any::<usize>(), any::<usize>()).prop_map(|(i, n)| Edit::Delete(i, n)),
        (any::<usize>(), any::<usize>()).prop_map(|(i, n)| Edit::Repeat(i, n)),
        any::<usize>().prop_map(Edit::Truncate),
    ]
}

fn mutated(seeds: &'static [&'static str]) -> impl Strategy<Value = Vec<u8>> {
    (
        prop::sample::select(seeds),
        prop::collection::vec(edit(), 1..6),
    )
        .prop_map(|(seed, edits)| apply(seed.as_bytes(), &edits))
}

fn bytes() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(any::<u8>(), 0..300)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 600, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn push_request_decoding_never_panics(data in prop_oneof![bytes(), mutated(&[PUSH])]) {
        targets::push_request(&data);
    }

    #[test]
    fn pull_page_decoding_never_panics(data in prop_oneof![bytes(), mutated(&[PULL])]) {
        targets::pull_page(&data);
    }

    #[test]
    fn citizen_id_validation_never_panics(data in prop_oneof![
        bytes(),
        mutated(&["11010519491231002X", "110105491231002", "３２０６１４１９７００１０１００１Ｘ"]),
        "[0-9Xx]{15,18}".prop_map(String::into_bytes),
    ]) {
        targets::citizen_id(&data);
    }

    #[test]
    fn credit_code_validation_never_panics(data in prop_oneof![
        bytes(),
        mutated(&["91350100M000100Y43", "9135 0100 M000 100Y 43"]),
        "[0-9A-Z]{18}".prop_map(String::into_bytes),
    ]) {
        targets::credit_code(&data);
    }

    #[test]
    fn phone_validation_never_panics(data in prop_oneof![
        bytes(),
        mutated(&["139 1234 5678", "0513-8123456转12", "+86 139-1234-5678", "(010)12345678#9"]),
        "[0-9 #()+-]{0,20}".prop_map(String::into_bytes),
    ]) {
        targets::phone(&data);
    }

    #[test]
    fn form_definitions_never_panic(data in prop_oneof![bytes(), mutated(&[FORM, BENCH_FORM])]) {
        targets::form_json(&data);
    }

    #[test]
    fn expressions_never_panic(data in prop_oneof![
        bytes(),
        mutated(&["use in ['rented', 'group_rented']", "empty(rental_start) || . >= rental_start",
                  "count(residents) >= 1 and filled(phone)", "days_between(start, .) <= 1 && !(. == 'x')"]),
        "[a-z_().'\\[\\], <>=!&|0-9+-]{0,40}".prop_map(String::into_bytes),
    ]) {
        targets::expr(&data);
    }
}
