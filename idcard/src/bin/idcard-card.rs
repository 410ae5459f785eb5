//! Draws one synthetic card photo for a given resident (for browser tests
//! of the scan): `idcard-card --name 陆建华 --id 320614… --address … --out card.jpg`.
//! Gender and birth date are printed as the ID number says.

use std::path::PathBuf;

use anyhow::Context;
use beatbook_idcard::synth::{self, Fonts, Level, Person};
use beatbook_schema::validate::citizen_id::{self, Gender};
use clap::Parser;
use rand::{rngs::StdRng, SeedableRng};

#[derive(Parser)]
#[command(about = "One synthetic ID card photo for a given resident")]
struct Args {
    /// 姓名.
    #[arg(long)]
    name: String,
    /// A valid citizen ID number.
    #[arg(long)]
    id: String,
    /// 住址.
    #[arg(long)]
    address: String,
    /// 民族, as printed.
    #[arg(long, default_value = "汉")]
    ethnicity: String,
    /// How the photo is taken: clean, mild, moderate or strong.
    #[arg(long, default_value = "mild")]
    level: String,
    /// Where to write the JPEG.
    #[arg(long)]
    out: PathBuf,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let today = chrono::Local::now().date_naive();
    let id = citizen_id::parse(&args.id, today, false)
        .map_err(|p| anyhow::anyhow!("{} is not a valid ID number: {}", args.id, p.message.en))?;
    let level = Level::ALL
        .into_iter()
        .find(|l| l.name() == args.level)
        .with_context(|| {
            format!(
                "no level {}: use clean, mild, moderate or strong",
                args.level
            )
        })?;
    let person = Person {
        name: args.name,
        gender: match id.gender() {
            Gender::Male => "男",
            Gender::Female => "女",
        }
        .to_owned(),
        ethnicity: args.ethnicity,
        birth_date: id.birth_date(),
        address: args.address,
        id_number: id.to_string(),
    };
    let fonts = Fonts::find().context("the card's fonts (Debian: fonts-noto-cjk)")?;
    let mut rng = StdRng::seed_from_u64(7);
    let front = synth::card::draw(&fonts, &person, &mut rng);
    let jpeg = synth::distort::photograph(&front, level, &mut rng)?;
    std::fs::write(&args.out, jpeg).with_context(|| format!("write {}", args.out.display()))?;
    Ok(())
}
