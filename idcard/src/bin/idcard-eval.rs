//! Measures the ID card reader on a labelled set of synthetic card photos
//! and writes the figures (per distortion level) to a JSON file:
//! `cargo run --release -p beatbook-idcard --bin idcard-eval -- --per-level 50`.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;
use beatbook_idcard::synth::{self, Fonts, Level};
use beatbook_idcard::text::char_accuracy;
use beatbook_idcard::{default_models_dir, CardReading, Flag, Options, Recognizer};
use clap::Parser;
use serde_json::json;

#[derive(Parser)]
#[command(about = "Accuracy and speed of the ID card reader on synthetic cards")]
struct Args {
    /// Cards per distortion level.
    #[arg(long, default_value_t = 50)]
    per_level: u64,
    /// Seed of the set: the same seed gives the same cards.
    #[arg(long, default_value_t = 14)]
    seed: u64,
    /// The models (scripts/ocr-models.sh); default: where that script puts them.
    #[arg(long)]
    models: Option<PathBuf>,
    /// Detection input, WIDTHxHEIGHT (multiples of 32).
    #[arg(long, default_value = "512x320")]
    det: String,
    /// Where to write the figures.
    #[arg(long, default_value = "docs/ocr-accuracy.json")]
    out: PathBuf,
    /// Write each card's photo and reading here too (for looking at failures).
    #[arg(long)]
    dump: Option<PathBuf>,
}

#[derive(Default)]
struct Tally {
    cards: u64,
    id_exact: u64,
    id_corrected_right: u64,
    id_rejected: u64,
    id_wrong_unflagged: u64,
    id_wrong_corrected: u64,
    name_exact: u64,
    name_wrong_unflagged: u64,
    gender_exact: u64,
    ethnicity_exact: u64,
    birth_exact: u64,
    address_accuracy: f64,
    address_exact: u64,
    millis: Vec<f64>,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let det_size = parse_size(&args.det)?;
    let models = args.models.clone().unwrap_or_else(default_models_dir);
    let started = Instant::now();
    let reader = Recognizer::from_dir_with(&models, Options { det_size })
        .with_context(|| format!("loading the models from {}", models.display()))?;
    let load_ms = started.elapsed().as_secs_f64() * 1e3;
    let started = Instant::now();
    reader.warm_up()?;
    let warm_up_ms = started.elapsed().as_secs_f64() * 1e3;
    let fonts = Fonts::find()?;
    if let Some(dir) = &args.dump {
        std::fs::create_dir_all(dir)?;
    }

    let mut levels = serde_json::Map::new();
    for level in Level::ALL {
        let mut t = Tally::default();
        for i in 0..args.per_level {
            let sample = synth::sample(&fonts, args.seed, i, level)?;
            let clock = Instant::now();
            let card = reader.read_card(&sample.jpeg)?;
            t.millis.push(clock.elapsed().as_secs_f64() * 1e3);
            score(&mut t, &card, &sample.person);
            if let Some(dir) = &args.dump {
                let stem = format!("{}-{i:03}", level.name());
                std::fs::write(dir.join(format!("{stem}.jpg")), &sample.jpeg)?;
                let photo = image::load_from_memory(&sample.jpeg)?.to_rgb8();
                let lines: Vec<String> = reader
                    .read_lines(&photo)?
                    .iter()
                    .map(|line| {
                        let (l, t, r, b) = (line.left, line.top, line.right, line.bottom);
                        format!("{l:.0},{t:.0} {r:.0},{b:.0}: {}", line.text())
                    })
                    .collect();
                let both = json!({ "truth": sample.person, "read": card, "lines": lines });
                std::fs::write(
                    dir.join(format!("{stem}.json")),
                    serde_json::to_string_pretty(&both)?,
                )?;
            }
        }
        eprintln!(
            "{:>9}: id {}/{} (wrong unflagged {}), name {}/{}, median {:.0} ms",
            level.name(),
            t.id_exact,
            t.cards,
            t.id_wrong_unflagged,
            t.name_exact,
            t.cards,
            percentile(&t.millis, 0.5)
        );
        levels.insert(level.name().to_owned(), figures(&t, level));
    }

    let report = json!({
        "what": "ID card reader (beatbook-idcard) on synthetic card photos: PP-OCRv4 det+rec \
                 (rapidocr-onnxruntime 1.4.4) on tract-onnx, card layout, GB 11643 check",
        "generator": "beatbook_idcard::synth (Noto CJK fonts, 1024x700 JPEG photos)",
        "set": { "seed": args.seed, "cards_per_level": args.per_level,
                 "cards": args.per_level * Level::ALL.len() as u64 },
        "det_size": [det_size.0, det_size.1],
        "model_load_ms": round(load_ms),
        "warm_up_ms": round(warm_up_ms),
        "build": if cfg!(debug_assertions) { "debug" } else { "release" },
        "machine": machine(),
        "commit": command("git", &["rev-parse", "--short", "HEAD"]),
        "date": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "levels": levels,
        "definitions": {
            "id_exact": "the number filled in (flag ok or corrected) equals the card's",
            "id_wrong_unflagged": "a number filled in with flag ok that is not the card's (target 0)",
            "id_wrong_corrected": "a number changed by the check-character correction into one that is not the card's (flagged corrected)",
            "id_rejected": "no number filled: flagged invalid or missing, left for the officer",
            "address_char_accuracy": "mean of 1 - edit distance / length over the cards",
            "ms_per_card": "read_card on the JPEG bytes (decode, detect, direction, recognize, check), one thread, after Recognizer::warm_up",
        },
    });
    if let Some(dir) = args.out.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(&args.out, serde_json::to_string_pretty(&report)? + "\n")?;
    eprintln!("wrote {}", args.out.display());
    Ok(())
}

fn score(t: &mut Tally, card: &CardReading, truth: &synth::Person) {
    t.cards += 1;
    let id = &card.id_number;
    let filled = matches!(id.flag, Flag::Ok | Flag::Corrected);
    if filled && id.value == truth.id_number {
        t.id_exact += 1;
        if id.flag == Flag::Corrected {
            t.id_corrected_right += 1;
        }
    } else if !filled {
        t.id_rejected += 1;
    } else if id.flag == Flag::Ok {
        t.id_wrong_unflagged += 1;
    } else {
        t.id_wrong_corrected += 1;
    }
    if card.name.value == truth.name {
        t.name_exact += 1;
    } else if card.name.flag == Flag::Ok {
        t.name_wrong_unflagged += 1;
    }
    t.gender_exact += u64::from(card.gender.value == truth.gender);
    t.ethnicity_exact += u64::from(card.ethnicity.value == truth.ethnicity);
    t.birth_exact +=
        u64::from(card.birth_date.value == truth.birth_date.format("%Y-%m-%d").to_string());
    t.address_accuracy += char_accuracy(&card.address.value, &truth.address);
    t.address_exact += u64::from(card.address.value == truth.address);
}

fn figures(t: &Tally, level: Level) -> serde_json::Value {
    let n = t.cards.max(1) as f64;
    let share = |k: u64| round(k as f64 / n * 1000.0) / 1000.0;
    json!({
        "distortions": level.params(),
        "cards": t.cards,
        "id_exact": share(t.id_exact),
        "id_exact_count": t.id_exact,
        "id_corrected_right_count": t.id_corrected_right,
        "id_rejected_count": t.id_rejected,
        "id_wrong_unflagged_count": t.id_wrong_unflagged,
        "id_wrong_corrected_count": t.id_wrong_corrected,
        "name_exact": share(t.name_exact),
        "name_wrong_unflagged_count": t.name_wrong_unflagged,
        "gender_exact": share(t.gender_exact),
        "ethnicity_exact": share(t.ethnicity_exact),
        "birth_date_exact": share(t.birth_exact),
        "address_char_accuracy": round(t.address_accuracy / n * 1000.0) / 1000.0,
        "address_exact": share(t.address_exact),
        "ms_per_card": {
            "median": round(percentile(&t.millis, 0.5)),
            "p95": round(percentile(&t.millis, 0.95)),
            "max": round(percentile(&t.millis, 1.0)),
        },
    })
}

fn percentile(values: &[f64], q: f64) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let rank = ((sorted.len() as f64 - 1.0) * q).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

fn round(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

fn parse_size(s: &str) -> anyhow::Result<(usize, usize)> {
    let (w, h) = s
        .split_once('x')
        .context("--det wants WIDTHxHEIGHT, e.g. 512x320")?;
    let (w, h): (usize, usize) = (w.parse()?, h.parse()?);
    anyhow::ensure!(
        w % 32 == 0 && h % 32 == 0 && w > 0 && h > 0,
        "--det sides must be positive multiples of 32"
    );
    Ok((w, h))
}

fn machine() -> serde_json::Value {
    json!({
        "cpus": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
        "cpu": std::fs::read_to_string("/proc/cpuinfo").ok().and_then(|info| {
            info.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, name)| name.trim().to_owned())
        }),
        "load_average": std::fs::read_to_string("/proc/loadavg")
            .ok()
            .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" ")),
    })
}

fn command(program: &str, args: &[&str]) -> Option<String> {
    let out = std::process::Command::new(program)
        .args(args)
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}
