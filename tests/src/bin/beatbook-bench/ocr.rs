//! The README's ID card accuracy table, from `docs/ocr-accuracy.json`
//! (written by `idcard-eval`).

use anyhow::{Context, Result};
use serde_json::Value;

use crate::table;

/// The table, a level per row, mildest first.
pub fn render(file: &Value) -> Result<String> {
    let levels = file["levels"]
        .as_object()
        .context("no levels in the accuracy file")?;
    let pct = |v: &Value| format!("{:.0}%", v.as_f64().unwrap_or(f64::NAN) * 100.0);
    let int = |v: &Value| v.as_u64().map_or_else(|| "?".into(), |n| n.to_string());
    let ms = |v: &Value| format!("{:.0}", v.as_f64().unwrap_or(f64::NAN));
    let rows: Vec<Vec<String>> = ["clean", "mild", "moderate", "strong"]
        .iter()
        .filter_map(|name| {
            let l = levels.get(*name)?;
            Some(vec![
                (*name).to_owned(),
                int(&l["cards"]),
                pct(&l["id_exact"]),
                int(&l["id_wrong_unflagged_count"]),
                int(&l["id_rejected_count"]),
                pct(&l["name_exact"]),
                pct(&l["ethnicity_exact"]),
                format!(
                    "{:.2}",
                    l["address_char_accuracy"].as_f64().unwrap_or(f64::NAN)
                ),
                ms(&l["ms_per_card"]["median"]),
                ms(&l["ms_per_card"]["p95"]),
            ])
        })
        .collect();
    let mut out = format!(
        "{} synthetic cards (seed {}), {} build, detection at {}×{} (commit {}, {}, load average {}):\n\n",
        file["set"]["cards"],
        file["set"]["seed"],
        file["build"].as_str().unwrap_or("?"),
        file["det_size"][0],
        file["det_size"][1],
        file["commit"].as_str().unwrap_or("?"),
        file["machine"]["cpu"].as_str().unwrap_or("?"),
        file["machine"]["load_average"].as_str().unwrap_or("?"),
    );
    out.push_str(&table(
        &[
            "photo",
            "cards",
            "ID number exact",
            "wrong ID filled without a flag",
            "ID refused (to type)",
            "name exact",
            "ethnicity exact",
            "address characters",
            "median ms",
            "p95 ms",
        ],
        &rows,
    ));
    Ok(out)
}
