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
        .map(|(i, row)| (i, number_run(row).len()))
        .filter(|&(_, len)| len >= 12)
        .max_by_key(|&(i, len)| (len, i))
        .map(|(i, _)| i);
    if let Some(i) = number_row {
        card.id_number = number_run(&rows[i]);
    }
    let above: &[Vec<ReadChar>] = &rows[..number_row.unwrap_or(rows.len())];

    let labelled: Vec<Option<(Label, usize)>> = above.iter().map(|row| label_of(row)).collect();
    let find = |label: Label| {
        labelled
            .iter()
            .position(|l| matches!(l, Some((found, _)) if *found == label))
    };
    // A row whose label was not read takes its place in the layout.
    let row_for = |label: Label, place: usize| {
        find(label).or_else(|| (place < above.len() && labelled[place].is_none()).then_some(place))
    };
    let value = |row: usize| -> Vec<ReadChar> {
        let start = labelled[row].map_or(0, |(_, end)| end);
        above[row][start..].to_vec()
    };

    if let Some(row) = row_for(Label::Name, 0) {
        card.name = value(row);
    }
    if let Some(row) = row_for(Label::Gender, 1) {
        let rest = value(row);
        if let Some(g) = rest.iter().position(|c| c.ch == '男' || c.ch == '女') {
            card.gender = vec![rest[g].clone()];
        }
        if let Some(end) = after_label(&rest, "民族") {
            card.ethnicity = rest[end..].to_vec();
        }
    }
    if let Some(row) = row_for(Label::Birth, 2) {
        card.birth = value(row);
    }
    if let Some(first) = row_for(Label::Address, 3) {
        card.address = value(first);
        for row in above.iter().skip(first + 1) {
            card.address.extend(row.iter().cloned());
        }
    }
    card
}

/// Joins boxes into rows (top to bottom), each row's boxes left to right.
fn rows(lines: &[TextLine]) -> Vec<Vec<ReadChar>> {
    let mut sorted: Vec<&TextLine> = lines.iter().filter(|l| !l.chars.is_empty()).collect();
    sorted.sort_by(|a, b| a.middle().total_cmp(&b.middle()));
    let mut rows: Vec<Vec<&TextLine>> = Vec::new();
    for line in sorted {
        let joins = rows.last().is_some_and(|row| {
            let first = row[0];
            let overlap = first.bottom.min(line.bottom) - first.top.max(line.top);
            overlap > 0.5 * first.height().min(line.height())
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
                .flat_map(|l| l.chars.iter().filter(|c| !c.ch.is_whitespace()).cloned())
                .collect()
        })
        .collect()
}

/// The label a row starts with and where its value begins.
fn label_of(row: &[ReadChar]) -> Option<(Label, usize)> {
    // Only near the start of the row: a label is at most a character or two in.
    LABELS.iter().find_map(|&(label, word)| {
        let end = after_label(row, word)?;
        (end <= word.chars().count() + 2).then_some((label, end))
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
    text.iter().position(|&c| c == first).map(|i| i + word.len())
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
    fn nothing_read_gives_empty_fields() {
        assert_eq!(read_layout(&[]), CardText::default());
    }
}
