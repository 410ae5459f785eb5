//! Imports every .xlsx / .xls workbook under a directory and prints which
//! imported and, for the others, the reasons grouped across files:
//!
//! ```text
//! cargo run -p beatbook-xlsform --example import_dir -- DIR [--verbose]
//! ```

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

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(dir) = args.first() else {
        anyhow::bail!("usage: import_dir DIR [--verbose]");
    };
    let verbose = args.iter().any(|a| a == "--verbose");
    let mut files = Vec::new();
    workbooks(Path::new(dir), &mut files)?;
    files.sort();
    let (mut imported, mut refused, mut round_trips) = (Vec::new(), 0, 0);
    let mut reasons: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for path in &files {
        let name = path
            .file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
        let bytes = std::fs::read(path)?;
        match beatbook_xlsform::import_named(&bytes, Some(&name)) {
            Ok(i) => {
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
                imported.push(name);
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
                        seen.push(r.clone());
                        reasons.entry(r).or_default().push(name.clone());
                    }
                }
            }
        }
    }
    println!(
        "\n{} workbooks: {} imported ({round_trips} of them exported and imported back unchanged), {refused} refused",
        files.len(),
        imported.len()
    );
    let mut grouped: Vec<_> = reasons.into_iter().collect();
    grouped.sort_by(|a, b| b.1.len().cmp(&a.1.len()).then(a.0.cmp(&b.0)));
    for (reason, forms) in grouped {
        println!("{:>3} form(s): {reason}", forms.len());
    }
    Ok(())
}
