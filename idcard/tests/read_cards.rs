//! The real models on generated card photos: the number and the name come
//! back right. Needs the models: `scripts/ocr-models.sh` (scripts/test.sh
//! runs it first).

use beatbook_idcard::synth::{self, Fonts, Level};
use beatbook_idcard::{
    default_models_dir, Flag, IdCardError, ModelBytes, Options, Recognizer, CLS_FILE, DET_FILE,
    REC_FILE,
};

fn reader() -> Recognizer {
    let dir = default_models_dir();
    Recognizer::from_dir(&dir).unwrap_or_else(|e| {
        panic!(
            "{e}\n(looked in {}; run scripts/ocr-models.sh, or set BEATBOOK_OCR_MODELS)",
            dir.display()
        )
    })
}

#[test]
fn generated_cards_give_back_their_number_and_name() {
    let reader = reader();
    let fonts = Fonts::find().expect("Noto CJK fonts (scripts/install-deps.sh fonts-noto-cjk)");
    for (index, level) in [(0, Level::Clean), (1, Level::Clean), (2, Level::Mild)] {
        let sample = synth::sample(&fonts, 2026, index, level).expect("a photo");
        let card = reader.read_card(&sample.jpeg).expect("read");
        assert_eq!(
            card.id_number.value, sample.person.id_number,
            "card {index} ({level:?}): {card:#?}"
        );
        assert!(
            matches!(card.id_number.flag, Flag::Ok | Flag::Corrected),
            "card {index}: {:?}",
            card.id_number
        );
        assert_eq!(
            card.name.value, sample.person.name,
            "card {index}: {card:#?}"
        );
    }
}

#[test]
fn a_card_photographed_upside_down_is_read_the_right_way_up() {
    let reader = reader();
    let fonts = Fonts::find().expect("Noto CJK fonts (scripts/install-deps.sh fonts-noto-cjk)");
    let sample = synth::sample(&fonts, 2026, 3, Level::Clean).expect("a photo");
    let mut photo = image::load_from_memory(&sample.jpeg)
        .expect("a JPEG")
        .to_rgb8();
    image::imageops::rotate180_in_place(&mut photo);
    let card = reader
        .read_image(&photo, chrono::Local::now().date_naive())
        .expect("read");
    assert_eq!(card.id_number.value, sample.person.id_number, "{card:#?}");
    assert_eq!(card.name.value, sample.person.name, "{card:#?}");
}

#[test]
fn a_model_that_is_not_the_recorded_one_is_refused() {
    let dir = default_models_dir();
    let read = |name: &str| std::fs::read(dir.join(name)).expect("scripts/ocr-models.sh ran");
    let (mut det, rec, cls) = (read(DET_FILE), read(REC_FILE), read(CLS_FILE));
    let last = det.len() - 1;
    det[last] ^= 1;
    let refused = Recognizer::from_bytes(
        ModelBytes {
            det: &det,
            rec: &rec,
            cls: &cls,
        },
        Options::default(),
    );
    assert!(
        matches!(refused, Err(IdCardError::ModelDigest { ref file, .. }) if file == DET_FILE),
        "{:?}",
        refused.err()
    );
}

#[test]
fn a_file_that_is_not_an_image_is_an_error_not_a_reading() {
    let err = reader().read_card(b"not a photo").expect_err("no image");
    assert!(matches!(err, IdCardError::Image(_)), "{err}");
}
