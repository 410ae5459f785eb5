fn main() -> anyhow::Result<()> {
    let forms = beatbook_schema::catalogue::standard_forms()?;
    for form in &forms {
        println!("{} v{}: {}", form.id(), form.version(), form.title().zh);
    }
    Ok(())
}
