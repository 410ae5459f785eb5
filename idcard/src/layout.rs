//! The card's known layout: which recognized text is which field.
//!
//! The front of a second-generation resident identity card reads, top to
//! bottom on the left: 姓名 name; 性别 gender and 民族 ethnicity on one line;
//! 出生 birth date (Y 年 M 月 D 日); 住址 address, wrapping over up to three
//! lines; and at the bottom 公民身份号码 followed by the 18 characters. The
//! detector may return a label and its value as one box or as two, so boxes
//! are first joined into rows, then each row is named by its label word, or
//! by its place when the label was not read.

use crate::check::ReadChar;
use crate::line::TextLine;

/// The card's text, split into fields (values without their labels).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CardText {
    /// After 姓名.
    pub name: Vec<ReadChar>,
    /// The character after 性别.
    pub gender: Vec<ReadChar>,
    /// After 民族.
    pub ethnicity: Vec<ReadChar>,
    /// After 出生.
    pub birth: Vec<ReadChar>,
    /// After 住址, the following lines appended.
    pub address: Vec<ReadChar>,
    /// The run of number characters on the 公民身份号码 line.
    pub id_number: Vec<ReadChar>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Label {
    Name,
    Gender,
    Birth,
    Address,
    Number,
}

const LABELS: [(Label, &str); 5] = [
    (Label::Name, "姓名"),
    (Label::Gender, "性别"),
    (Label::Birth, "出生"),
    (Label::Address, "住址"),
    (Label::Number, "公民身份号码"),
];

/// One detected box's characters.
type Segment = Vec<ReadChar>;
/// The boxes on one line of the card, left to right.
type Row = Vec<Segment>;

/// Splits recognized lines into the card's fields.
pub fn read_layout(lines: &[TextLine]) -> CardText {
    let rows = rows(lines);
    let mut card = CardText::default();
    if rows.is_empty() {
        return card;
    }

    // The number line: the row with the longest run of number characters.
    let number_row = rows
        .iter()
        .enumerate()
        .map(|(i, row)| (i, number_run(&flat(row)).len()))
        .filter(|&(_, len)| len >= 12)
        .max_by_key(|&(i, len)| (len, i))
        .map(|(i, _)| i);
    if let Some(i) = number_row {
        card.id_number = number_run(&flat(&rows[i]));
    }
    let above: &[Row] = &rows[..number_row.unwrap_or(rows.len())];

    let labelled: Vec<Option<(Label, Row)>> = above.iter().map(label_of).collect();
    let find = |label: Label| {
        labelled
            .iter()
            .position(|l| matches!(l, Some((found, _)) if *found == label))
    };
    // A row whose label was not read takes its place in the layout.
    let row_for = |label: Label, place: usize| {
        find(label).or_else(|| (place < above.len() && labelled[place].is_none()).then_some(place))
    };
    let value = |row: usize| -> Row {
        match &labelled[row] {
            Some((_, value)) => value.clone(),
            None => above[row].clone(),
        }
    };

    if let Some(row) = row_for(Label::Name, 0) {
        card.name = flat(&value(row));
    }
    if let Some(row) = row_for(Label::Gender, 1) {
        let rest = value(row);
        let text = flat(&rest);
        if let Some(g) = text.iter().find(|c| c.ch == '男' || c.ch == '女') {
            card.gender = vec![g.clone()];
        }
        let ethnicity_at = rest.iter().position(|segment| is_label(segment, "民族"));
        let gender_at = rest
            .iter()
            .position(|segment| segment.iter().any(|c| c.ch == '男' || c.ch == '女'));
        card.ethnicity = match (ethnicity_at, after_label(&text, "民族"), gender_at) {
            (Some(i), _, _) => flat(&rest[i + 1..]),
            (None, Some(end), _) => text[end..].to_vec(),
            // The label not read: what follows the gender's box.
            (None, None, Some(i)) => flat(&rest[i + 1..]),
            (None, None, None) => Vec::new(),
        };
    }
    if let Some(row) = row_for(Label::Birth, 2) {
        card.birth = flat(&value(row));
    }
    if let Some(first) = row_for(Label::Address, 3) {
        card.address = flat(&value(first));
        for row in above.iter().skip(first + 1) {
            card.address.extend(flat(row));
        }
    }
    card
}

/// Joins boxes into rows (top to bottom), each row's boxes left to right.
/// Boxes with no letter, digit or Chinese character (marks in the photo)
/// are left out.
fn rows(lines: &[TextLine]) -> Vec<Row> {
    let mut sorted: Vec<&TextLine> = lines
        .iter()
        .filter(|l| l.chars.iter().any(|c| c.ch.is_alphanumeric()))
        .collect();
    sorted.sort_by(|a, b| a.middle().total_cmp(&b.middle()));
    let mut rows: Vec<Vec<&TextLine>> = Vec::new();
    for line in sorted {
        // Overlapping the row's mean box by half the shorter height: labels
        // are smaller than values and share their baseline, not their centre.
        let joins = rows.last().is_some_and(|row| {
            let n = row.len() as f32;
            let top = row.iter().map(|l| l.top).sum::<f32>() / n;
            let bottom = row.iter().map(|l| l.bottom).sum::<f32>() / n;
            let overlap = bottom.min(line.bottom) - top.max(line.top);
            overlap > 0.5 * (bottom - top).min(line.height())
        });
        match rows.last_mut() {
            Some(row) if joins => row.push(line),
            _ => rows.push(vec![line]),
        }
    }
    rows.into_iter()
        .map(|mut row| {
            row.sort_by(|a, b| a.left.total_cmp(&b.left));
            row.into_iter()
                .map(|l| {
                    l.chars
                        .iter()
                        .filter(|c| !c.ch.is_whitespace())
                        .cloned()
                        .collect()
                })
                .collect()
        })
        .collect()
}

fn flat(segments: &[Segment]) -> Vec<ReadChar> {
    segments.iter().flatten().cloned().collect()
}

/// Whether a box holds only (part of) the label `word`: "出" for 出生 when
/// the detector split or lost a character.
fn is_label(segment: &[ReadChar], word: &str) -> bool {
    !segment.is_empty()
        && segment.len() <= word.chars().count()
        && segment.iter().all(|c| word.contains(c.ch))
}

/// The label a row starts with, and the row's value.
fn label_of(row: &Row) -> Option<(Label, Row)> {
    LABELS.iter().find_map(|&(label, word)| {
        // The label in boxes of its own (whole, split, or partly read).
        let own = row.iter().take_while(|s| is_label(s, word)).count();
        if own > 0 {
            return Some((label, row[own..].to_vec()));
        }
        // The label at the start of the first box, the value after it; only
        // near the start: a label is at most a character or two in.
        let first = row.first()?;
        let end = after_label(first, word)?;
        if end > word.chars().count() + 2 {
            return None;
        }
        let mut value = vec![first[end..].to_vec()];
        value.extend(row[1..].iter().cloned());
        Some((label, value))
    })
}

/// Where the text after `label` starts in `row`: after the whole label, or
/// after its first or last character when the other was misread.
fn after_label(row: &[ReadChar], label: &str) -> Option<usize> {
    let word: Vec<char> = label.chars().collect();
    let text: Vec<char> = row.iter().map(|c| c.ch).collect();
    if let Some(i) = text.windows(word.len()).position(|w| w == word.as_slice()) {
        return Some(i + word.len());
    }
    let (first, last) = (word[0], word[word.len() - 1]);
    if let Some(i) = text.iter().position(|&c| c == last) {
        return Some(i + 1);
    }
    // Only the first character read: the next one is the misread rest of
    // the label, unless it is a digit (the birth date's year).
    let i = text.iter().position(|&c| c == first)?;
    let next_is_label = text.get(i + 1).is_some_and(|c| !c.is_ascii_digit());
    Some(i + 1 + usize::from(next_is_label && word.len() > 1))
}

/// The longest run of characters that can be part of an ID number.
fn number_run(row: &[ReadChar]) -> Vec<ReadChar> {
    let is_number = |c: char| c.is_ascii_alphanumeric() || ('０'..='９').contains(&c) || c == 'Ｘ';
    let mut best: &[ReadChar] = &[];
    let mut start = 0;
    for i in 0..=row.len() {
        if i == row.len() || !is_number(row[i].ch) {
            if i - start > best.len() {
                best = &row[start..i];
            }
            start = i + 1;
        }
    }
    best.to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(text: &str, left: f32, top: f32) -> TextLine {
        let chars: Vec<ReadChar> = text.chars().map(|c| ReadChar::new(c, 0.99)).collect();
        TextLine {
            right: left + 20.0 * chars.len() as f32,
            chars,
            left,
            top,
            bottom: top + 20.0,
        }
    }

    fn text(chars: &[ReadChar]) -> String {
        chars.iter().map(|c| c.ch).collect()
    }

    #[test]
    fn labels_and_values_in_one_box_each_row() {
        let card = read_layout(&[
            line("姓名张伟", 10.0, 10.0),
            line("性别男民族汉", 10.0, 50.0),
            line("出生1985年6月14日", 10.0, 90.0),
            line("住址江苏省南通市海门区", 10.0, 130.0),
            line("海门街道人民路8号", 50.0, 160.0),
            line("公民身份号码320684198506140035", 10.0, 230.0),
        ]);
        assert_eq!(text(&card.name), "张伟");
        assert_eq!(text(&card.gender), "男");
        assert_eq!(text(&card.ethnicity), "汉");
        assert_eq!(text(&card.birth), "1985年6月14日");
        assert_eq!(text(&card.address), "江苏省南通市海门区海门街道人民路8号");
        assert_eq!(text(&card.id_number), "320684198506140035");
    }

    #[test]
    fn labels_in_their_own_boxes_join_their_row_in_reading_order() {
        // Given out of order, with the value boxes slightly lower than labels.
        let card = read_layout(&[
            line("320684198506140035", 200.0, 232.0),
            line("汉", 200.0, 52.0),
            line("张伟", 60.0, 12.0),
            line("姓名", 10.0, 10.0),
            line("性别", 10.0, 50.0),
            line("男", 60.0, 52.0),
            line("民族", 120.0, 50.0),
            line("公民身份号码", 10.0, 230.0),
        ]);
        assert_eq!(text(&card.name), "张伟");
        assert_eq!(text(&card.gender), "男");
        assert_eq!(text(&card.ethnicity), "汉");
        assert_eq!(text(&card.id_number), "320684198506140035");
        assert!(card.address.is_empty());
    }

    #[test]
    fn a_misread_label_is_found_by_its_other_character_or_its_place() {
        let card = read_layout(&[
            line("娃名李娜", 10.0, 10.0),
            line("性刖女民旅维吾尔", 10.0, 50.0),
            line("1990年1月2日", 10.0, 90.0),
            line("住让新疆乌鲁木齐市", 10.0, 130.0),
            line("公民身份号码65010219900102002X", 10.0, 230.0),
        ]);
        assert_eq!(text(&card.name), "李娜");
        assert_eq!(text(&card.gender), "女");
        assert_eq!(text(&card.ethnicity), "维吾尔");
        assert_eq!(text(&card.birth), "1990年1月2日");
        assert_eq!(text(&card.address), "新疆乌鲁木齐市");
        assert_eq!(text(&card.id_number), "65010219900102002X");
    }

    #[test]
    fn a_label_split_or_half_lost_in_its_own_boxes_is_not_taken_for_the_value() {
        let card = read_layout(&[
            line("姓", 10.0, 12.0),
            line("名", 35.0, 12.0),
            line("马霞", 90.0, 6.0),
            line("女", 90.0, 52.0),
            line("民族", 200.0, 50.0),
            line("今", 280.0, 49.0),
            line("出", 10.0, 95.0),
            line("1946年6月23日", 90.0, 88.0),
            line("）", 400.0, 70.0),
            line("450103194606239443", 150.0, 230.0),
        ]);
        assert_eq!(text(&card.name), "马霞");
        assert_eq!(text(&card.gender), "女");
        assert_eq!(text(&card.ethnicity), "今");
        assert_eq!(text(&card.birth), "1946年6月23日");
        assert_eq!(text(&card.id_number), "450103194606239443");
    }

    #[test]
    fn an_ethnicity_whose_label_was_lost_is_what_follows_the_gender() {
        let card = read_layout(&[
            line("司马璐", 90.0, 10.0),
            line("女", 90.0, 50.0),
            line("汉", 250.0, 48.0),
            line("32050619800617972X", 150.0, 230.0),
        ]);
        assert_eq!(text(&card.gender), "女");
        assert_eq!(text(&card.ethnicity), "汉");
    }

    #[test]
    fn nothing_read_gives_empty_fields() {
        assert_eq!(read_layout(&[]), CardText::default());
    }
}
