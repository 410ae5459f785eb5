fn main() -> anyhow::Result<()> {
    let forms = beatbook_schema::catalogue::standard_forms()?;
    println!("beatbook-server: {} standard forms loaded", forms.len());
    Ok(())
}
