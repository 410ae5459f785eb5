//! Imports every .xlsx / .xls workbook under a directory and prints which
//! imported and, for the others, the reasons grouped across files:
//!
//! ```text
//! cargo run -p beatbook-xlsform --example import_dir -- DIR... [--verbose] [--json FILE]
//! ```
//!
//! `--json` writes each directory's figures to FILE.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

fn workbooks(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            workbooks(&path, out)?;
        } else if path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| matches!(e.to_ascii_lowercase().as_str(), "xlsx" | "xls"))
        {
            out.push(path);
        }
    }
    Ok(())
}

/// A problem's message with the names in quotes and the numbers taken out, so
/// the same kind of problem in several forms counts once per form.
fn reason(message: &str) -> String {
    let keep_quoted = message.starts_with("type '") || message.starts_with("function ");
    let mut out = String::new();
    let mut quoted = false;
    let mut aside = false;
    for c in message.chars() {
        // "(as age)": the Beatbook name differs from form to form.
        if aside || (c == '(' && !quoted && message.contains("(as ")) {
            aside = c != ')';
            continue;
        }
        match c {
            '\'' if !keep_quoted => {
                if !quoted {
                    out.push_str("'…'");
                }
                quoted = !quoted;
            }
            _ if quoted => {}
            '0'..='9' => {
                if !out.ends_with('#') {
                    out.push('#');
                }
            }
            c => out.push(c),
        }
    }
    out
}

/// What one directory gave.
#[derive(serde::Serialize)]
struct Summary {
    /// The directory's name.
    dir: String,
    workbooks: usize,
    imported: usize,
    /// Imported forms that, exported and imported again, are the same.
    round_trips: usize,
    refused: usize,
    /// Why forms were refused, most frequent first: each reason once per form.
    reasons: Vec<Reason>,
}

#[derive(serde::Serialize)]
struct Reason {
    reason: String,
    forms: usize,
}

fn summarize(dir: &Path, verbose: bool) -> anyhow::Result<Summary> {
    let mut files = Vec::new();
    workbooks(dir, &mut files)?;
    files.sort();
    let (mut imported, mut refused, mut round_trips) = (0, 0, 0);
    let mut reasons: BTreeMap<String, usize> = BTreeMap::new();
    for path in &files {
        let name = path
            .file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
        let bytes = std::fs::read(path)?;
        match beatbook_xlsform::import_named(&bytes, Some(&name)) {
            Ok(i) => {
                imported += 1;
                let fields: usize = i.form.sections.iter().map(|s| s.fields.len()).sum();
                println!(
                    "imported  {name}: {} sections, {fields} fields, {} notes",
                    i.form.sections.len(),
                    i.notes.len()
                );
                // Exported and read again, the form must be the same.
                let again = beatbook_xlsform::export(&i.form)
                    .map_err(|e| e.to_string())
                    .and_then(|b| beatbook_xlsform::import(&b).map_err(|p| format!("{p:?}")));
                match again {
                    Ok(back) if back == i.form => round_trips += 1,
                    Ok(_) => println!("    exported and imported again, {name} differs"),
                    Err(e) => println!("    exported, {name} does not import again: {e}"),
                }
            }
            Err(problems) => {
                refused += 1;
                println!("refused   {name}: {} problem(s)", problems.len());
                let mut seen = Vec::new();
                for p in &problems {
                    if verbose {
                        println!("    {p}");
                    }
                    let r = reason(&p.message.en);
                    if !seen.contains(&r) {
                        *reasons.entry(r.clone()).or_default() += 1;
                        seen.push(r);
                    }
                }
            }
        }
    }
    let mut reasons: Vec<Reason> = reasons
        .into_iter()
        .map(|(reason, forms)| Reason { reason, forms })
        .collect();
    reasons.sort_by(|a, b| b.forms.cmp(&a.forms).then(a.reason.cmp(&b.reason)));
    Ok(Summary {
        dir: dir.file_name().map_or_else(
            || dir.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        ),
        workbooks: files.len(),
        imported,
        round_trips,
        refused,
        reasons,
    })
}

fn main() -> anyhow::Result<()> {
    let (mut dirs, mut json, mut verbose) = (Vec::new(), None, false);
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--verbose" => verbose = true,
            "--json" => json = args.next(),
            _ => dirs.push(arg),
        }
    }
    if dirs.is_empty() {
        anyhow::bail!("usage: import_dir DIR... [--verbose] [--json FILE]");
    }
    let mut summaries = Vec::new();
    for dir in &dirs {
        let s = summarize(Path::new(dir), verbose)?;
        println!(
            "\n{}: {} workbooks: {} imported ({} of them exported and imported back unchanged), {} refused",
            s.dir, s.workbooks, s.imported, s.round_trips, s.refused
        );
        for r in &s.reasons {
            println!("{:>3} form(s): {}", r.forms, r.reason);
        }
        summaries.push(s);
    }
    if let Some(path) = json {
        std::fs::write(&path, serde_json::to_string_pretty(&summaries)? + "\n")?;
        println!("\nwritten to {path}");
    }
    Ok(())
}
