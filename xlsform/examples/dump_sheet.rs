//! Prints a sheet of a workbook as tab-separated text, row numbers first:
//! `cargo run -p beatbook-xlsform --example dump_sheet -- FILE [SHEET]`.

use calamine::{open_workbook_auto, Reader};

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(file) = args.first() else {
        anyhow::bail!("usage: dump_sheet FILE [SHEET]");
    };
    let mut book = open_workbook_auto(file)?;
    let names = book.sheet_names();
    let sheet = args.get(1).cloned().unwrap_or_else(|| "survey".into());
    let Some(name) = names.iter().find(|n| n.eq_ignore_ascii_case(&sheet)) else {
        anyhow::bail!("no sheet {sheet}; sheets: {names:?}");
    };
    let range = book.worksheet_range(name)?;
    let first = range.start().map_or(0, |s| s.0);
    for (i, row) in range.rows().enumerate() {
        let cells: Vec<String> = row.iter().map(|c| c.to_string()).collect();
        println!("{}\t{}", first as usize + i + 1, cells.join("\t"));
    }
    Ok(())
}
