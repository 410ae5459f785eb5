//! GB/T 2260 administrative division codes, with their history.
//!
//! The first six digits of a citizen ID number (GB 11643) are the division
//! code of the holder's registered residence *when the number was issued*, so
//! a code that has since been abolished or renamed (320684 海门市, now 320614
//! 海门区) must still resolve. The table is embedded from
//! `assets/divisions/gb2260.tsv` (see `assets/divisions/SOURCE.md`) and parsed
//! once on first use; nothing here reads files at run time.

use std::sync::OnceLock;

/// The embedded table: a header line, then `code \t name \t start_year \t end_year`
/// rows sorted by code and start year; an empty year is an open end.
const TSV: &str = include_str!("../../assets/divisions/gb2260.tsv");

/// Names that stand for "the districts (counties) of" the level above rather
/// than for a place; left out of [`DivisionTable::full_name`] at prefecture level.
const PLACEHOLDERS: &[&str] = &[
    "市辖区",
    "县",
    "市",
    "市区",
    "省直辖县级行政单位",
    "省直辖行政单位",
    "自治区直辖县级行政单位",
];

/// One name a division code carried, and the years it carried it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Division {
    /// The six-digit GB/T 2260 code, e.g. `"320614"`.
    pub code: String,
    /// The division's name in that period, e.g. `"海门区"`.
    pub name: String,
    /// First year in force; `None` when it predates the table (about 1980).
    pub start_year: Option<u16>,
    /// Last year in force; `None` while still in force.
    pub end_year: Option<u16>,
}

impl Division {
    /// Whether this entry was in force at some time during `year`.
    pub fn in_force(&self, year: i32) -> bool {
        self.start_year.is_none_or(|start| i32::from(start) <= year)
            && self.end_year.is_none_or(|end| year <= i32::from(end))
    }

    /// Parses one data line of the embedded table; `None` if it is malformed.
    fn parse(line: &str) -> Option<Self> {
        let (code, rest) = line.split_once('\t')?;
        let (name, rest) = rest.split_once('\t')?;
        let (start, end) = rest.split_once('\t')?;
        let valid_code = code.len() == 6 && code.bytes().all(|b| b.is_ascii_digit());
        if end.contains('\t') || !valid_code || name.is_empty() {
            return None;
        }
        let year = |field: &str| -> Option<Option<u16>> {
            if field.is_empty() {
                Some(None)
            } else {
                field.parse().ok().map(Some)
            }
        };
        Some(Self {
            code: code.to_owned(),
            name: name.to_owned(),
            start_year: year(start)?,
            end_year: year(end)?,
        })
    }
}

/// Every GB/T 2260 code with the names it has carried over the years.
///
/// Get the shared instance with [`divisions`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DivisionTable {
    /// Sorted by code; a code's entries keep the table's start-year order.
    entries: Vec<Division>,
}

/// The division table embedded in this crate, parsed on first use.
pub fn divisions() -> &'static DivisionTable {
    static TABLE: OnceLock<DivisionTable> = OnceLock::new();
    TABLE.get_or_init(|| DivisionTable::parse(TSV))
}

impl DivisionTable {
    /// Parses the table, skipping the header and any malformed line (the
    /// tests assert the embedded asset has none).
    fn parse(tsv: &str) -> Self {
        let mut entries: Vec<Division> = tsv.lines().skip(1).filter_map(Division::parse).collect();
        entries.sort_by(|a, b| a.code.cmp(&b.code));
        Self { entries }
    }

    /// All entries for `code`, oldest first; empty for an unknown code.
    pub fn history(&self, code: &str) -> &[Division] {
        let start = self.entries.partition_point(|d| d.code.as_str() < code);
        let len = self.entries[start..].partition_point(|d| d.code == code);
        &self.entries[start..start + len]
    }

    /// The entry for `code` in force during `year`.
    ///
    /// With `year` `None`, or when no entry covers that year, this is the most
    /// recent entry: the one still in force, else the one that ended last. So
    /// an abolished code such as 320684 still resolves (to 海门市).
    pub fn lookup(&self, code: &str, year: Option<i32>) -> Option<&Division> {
        let history = self.history(code);
        // The source has a few overlapping periods; the one that began last wins.
        let in_force = year.and_then(|year| {
            history
                .iter()
                .filter(|d| d.in_force(year))
                .max_by_key(|d| d.start_year)
        });
        in_force.or_else(|| {
            history
                .iter()
                .max_by_key(|d| (d.end_year.map_or(u32::MAX, u32::from), d.start_year))
        })
    }

    /// Province, prefecture and county names of `code` joined as in force in
    /// `year`, e.g. `"江苏省南通市海门区"` for 320614 in 2020.
    ///
    /// A prefecture level that has no entry, or is only a placeholder such as
    /// "市辖区" or "省直辖县级行政单位", is left out, so municipalities read
    /// `"北京市东城区"`. When the code was not in force in `year` (or `year`
    /// is `None`), the levels above are read as of the last year the code's
    /// entry was in force. `None` for an unknown code.
    pub fn full_name(&self, code: &str, year: Option<i32>) -> Option<String> {
        let own = self.lookup(code, year)?;
        let at = match year {
            Some(year) if own.in_force(year) => Some(year),
            _ => own.end_year.map(i32::from),
        };
        // `own.code` is six ASCII digits, checked when parsed.
        let province_code = format!("{}0000", &own.code[..2]);
        let prefecture_code = format!("{}00", &own.code[..4]);

        let mut parts: Vec<&str> = Vec::with_capacity(3);
        if own.code != province_code {
            if let Some(province) = self.lookup(&province_code, at) {
                parts.push(&province.name);
            }
            if own.code != prefecture_code {
                if let Some(prefecture) = self.lookup(&prefecture_code, at) {
                    let name = prefecture.name.as_str();
                    if !PLACEHOLDERS.contains(&name) && parts.last() != Some(&name) {
                        parts.push(name);
                    }
                }
            }
        }
        parts.push(&own.name);
        Some(parts.concat())
    }

    /// Number of entries (a renamed code has one per name).
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the table has no entries.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use rstest::rstest;

    use super::*;

    #[test]
    fn every_data_line_of_the_embedded_table_parses() {
        let data_lines = TSV.lines().skip(1).count();
        assert_eq!(divisions().len(), data_lines);
        assert!(divisions().len() > 8000, "{}", divisions().len());
        assert!(!divisions().is_empty());
    }

    #[test]
    fn embedded_table_has_the_expected_header() {
        assert_eq!(TSV.lines().next(), Some("code\tname\tstart_year\tend_year"));
    }

    #[test]
    fn every_code_has_a_province() {
        let table = divisions();
        for d in &table.entries {
            let province = format!("{}0000", &d.code[..2]);
            assert!(table.lookup(&province, None).is_some(), "{}", d.code);
        }
    }

    #[rstest]
    #[case("320614", Some(2020), "海门区")]
    #[case("320614", None, "海门区")]
    #[case("320684", Some(2000), "海门市")]
    #[case("320684", Some(1995), "海门市")]
    #[case("320684", Some(2019), "海门市")]
    #[case("320684", None, "海门市")]
    #[case("110000", None, "北京市")]
    #[case("120110", Some(1970), "东郊区")]
    #[case("120110", Some(1991), "东郊区")]
    #[case("120110", Some(1992), "东丽区")]
    #[case("120110", None, "东丽区")]
    #[case("130502", Some(2019), "桥东区")]
    #[case("130502", Some(2020), "襄都区")]
    // Overlapping periods in the source: the still-open name is the current one.
    #[case("220281", None, "蛟河市")]
    fn lookup_resolves_the_name_in_force(
        #[case] code: &str,
        #[case] year: Option<i32>,
        #[case] name: &str,
    ) {
        let found = divisions().lookup(code, year).expect(code);
        assert_eq!(found.code, code);
        assert_eq!(found.name, name);
    }

    #[test]
    fn lookup_outside_every_period_falls_back_to_the_most_recent_entry() {
        let haimen = divisions().lookup("320614", Some(1990)).unwrap();
        assert_eq!(haimen.name, "海门区");
        assert_eq!((haimen.start_year, haimen.end_year), (Some(2020), None));
    }

    #[rstest]
    #[case("999999")]
    #[case("320699")]
    #[case("")]
    #[case("3206")]
    #[case("3206140")]
    #[case("32061x")]
    #[case("海门区")]
    fn unknown_code_is_none(#[case] code: &str) {
        assert_eq!(divisions().lookup(code, None), None);
        assert_eq!(divisions().lookup(code, Some(2020)), None);
        assert_eq!(divisions().full_name(code, None), None);
    }

    #[rstest]
    #[case("320614", Some(2020), "江苏省南通市海门区")]
    #[case("320684", Some(2000), "江苏省南通市海门市")]
    #[case("320684", None, "江苏省南通市海门市")]
    #[case("320600", None, "江苏省南通市")]
    #[case("320000", None, "江苏省")]
    #[case("110000", None, "北京市")]
    #[case("110101", None, "北京市东城区")]
    #[case("500101", Some(2000), "重庆市万州区")]
    #[case("500101", Some(1997), "重庆市万县区")]
    #[case("429004", None, "湖北省仙桃市")]
    #[case("130502", Some(2000), "河北省邢台市桥东区")]
    #[case("130502", None, "河北省邢台市襄都区")]
    #[case("120110", Some(1985), "天津市东郊区")]
    fn full_name_joins_the_levels_in_force(
        #[case] code: &str,
        #[case] year: Option<i32>,
        #[case] expected: &str,
    ) {
        assert_eq!(divisions().full_name(code, year).as_deref(), Some(expected));
    }

    #[rstest]
    #[case("110101\t东城区\t\t")]
    #[case("120110\t东郊区\t\t1991")]
    #[case("320614\t海门区\t2020\t")]
    fn well_formed_rows_parse(#[case] line: &str) {
        assert!(Division::parse(line).is_some(), "{line:?}");
    }

    #[rstest]
    #[case("")]
    #[case("320614\t海门区\t2020")]
    #[case("320614\t海门区\t2020\t\textra")]
    #[case("32061\t海门区\t2020\t")]
    #[case("32061x\t海门区\t2020\t")]
    #[case("320614\t\t2020\t")]
    #[case("320614\t海门区\t二〇二〇\t")]
    #[case("320614\t海门区\t2020\t99999")]
    fn malformed_rows_are_skipped(#[case] line: &str) {
        assert_eq!(Division::parse(line), None, "{line:?}");
        let table = DivisionTable::parse(&format!("header\n{line}\n110000\t北京市\t\t\n"));
        assert_eq!(table.len(), 1);
    }
}
