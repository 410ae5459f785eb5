//! Comparing strings character by character.

/// Levenshtein distance over characters (not bytes).
pub fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let next = (diagonal + usize::from(ca != cb))
                .min(row[j] + 1)
                .min(row[j + 1] + 1);
            diagonal = row[j + 1];
            row[j + 1] = next;
        }
    }
    row[b.len()]
}

/// The share of `truth`'s characters read right: 1 − edit distance ÷ length,
/// at least 0; 1 for two empty strings.
pub fn char_accuracy(read: &str, truth: &str) -> f64 {
    let len = truth.chars().count();
    if len == 0 {
        return if read.is_empty() { 1.0 } else { 0.0 };
    }
    (1.0 - edit_distance(read, truth) as f64 / len as f64).max(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distances_count_characters() {
        assert_eq!(edit_distance("海门区", "海门市"), 1);
        assert_eq!(edit_distance("", "汉族"), 2);
        assert_eq!(edit_distance("维吾尔", "维吾尔"), 0);
        assert_eq!(edit_distance("abc", "acb"), 2);
    }

    #[test]
    fn accuracy_is_a_share_of_the_truth() {
        assert_eq!(char_accuracy("江苏省南通市", "江苏省南通市"), 1.0);
        assert!((char_accuracy("江苏省南", "江苏省南通市") - 4.0 / 6.0).abs() < 1e-12);
        assert_eq!(char_accuracy("completely different text", "海门"), 0.0);
    }
}
