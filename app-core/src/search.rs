//! Results-as-you-type search over pick lists (standard addresses, towns,
//! communities): Chinese substrings, door numbers and pinyin, in full or by
//! initials ("hmq" finds 海门区).
//!
//! [`SearchIndex::build`] precomputes everything a query needs into a few
//! contiguous buffers, so a query is one pass over compact memory with no
//! per-entry allocation:
//! - the normalized labels ([`normalize`]: full-width → ASCII, lowercase, no
//!   spaces), searched by plain substring for terms that are not purely
//!   ASCII letters and digits (`海门`, `12号`, `3-201`);
//! - one `u16` symbol per normalized character, standing for all pinyin
//!   readings of a Han character or for an ASCII letter or digit itself,
//!   searched for terms of ASCII letters and digits (`hmq`, `renmin`, `rml12`).
//!
//! A letters-and-digits term matches a run of consecutive characters that each
//! contribute their initial (`h`, or `zh`/`ch`/`sh`) or their whole syllable;
//! the last one may contribute any prefix of its syllable. So `hmq`,
//! `haimenqu`, `haimq` and `hmenq` all find 海门区, and `renminl` finds 人民路.
//! Every reading of a heteronym counts: 重庆 is found by `cq` and `zq`, 长江 by
//! `cj` and `changjiang` (and, harmlessly, `zj`). A ü is typed as `v` (绿 `lv`).
//!
//! Limitation: a term that mixes Han characters and pinyin (`海mq`) matches
//! only as a plain substring of the label; type it as two terms (`海 mq`).
//!
//! The index changes in place: [`SearchIndex::upsert`] appends an entry (a
//! changed one is removed and appended again) and [`SearchIndex::remove`]
//! marks it removed; the buffers are compacted once a quarter of them is
//! removed entries. So a list that changes one record at a time (a saved
//! draft, a pulled page) never rebuilds the whole index.

use std::collections::{BinaryHeap, HashMap};
use std::fmt;
use std::hash::Hash;

use pinyin::ToPinyinMulti;

/// One search result: the key the entry was built with and its label as given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hit<'a, K> {
    /// The entry's key, e.g. an address id.
    pub key: &'a K,
    /// The entry's label exactly as passed to [`SearchIndex::build`].
    pub label: &'a str,
}

/// An in-memory search index over `(key, label)` entries, one per key.
pub struct SearchIndex<K> {
    keys: Vec<K>,
    /// Per entry: whether it is still there (not removed or replaced).
    live: Vec<bool>,
    /// Where each live key's entry is.
    positions: HashMap<K, usize>,
    /// Ties and an empty query favour entries inserted last.
    latest_first: bool,
    /// Original labels back to back; see [`Ends`].
    labels: String,
    /// Normalized labels back to back.
    norm: String,
    /// One symbol id per character of `norm`.
    syms: Vec<u16>,
    /// Where each entry ends in the three buffers above; it starts where the
    /// previous one ends.
    ends: Vec<Ends>,
    /// Per symbol id: which first letters (or digit) its readings start with,
    /// as [`alnum_bit`]s. Kept apart from `readings` for the hot loop.
    masks: Vec<u64>,
    /// Per symbol id: its distinct toneless readings, ü written as v.
    readings: Vec<Vec<Box<str>>>,
    /// The symbol id of each Han character seen so far.
    han_symbols: HashMap<char, u16>,
}

#[derive(Debug, Clone, Copy, Default)]
struct Ends {
    label: usize,
    norm: usize,
    sym: usize,
}

/// Symbol of a character that no letters-and-digits term can match (ASCII
/// punctuation, a Han character without pinyin): it breaks pinyin runs.
const BARRIER: u16 = 0;
/// Symbol ids 1..=36 are these characters, in this order.
const ALNUM: &str = "0123456789abcdefghijklmnopqrstuvwxyz";

/// How well one term matched one entry; lower is better.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Tier {
    /// The whole query (spaces removed) equals the label.
    Exact,
    /// The label starts with the term.
    LabelPrefix,
    /// The label's pinyin starts with the term (`hmq`, `haimen`).
    PinyinPrefix,
    /// The term matched later in the label.
    Inside,
}

/// Sort key of a matching entry: lower sorts first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Rank {
    /// Terms starting or ending with a digit that only matched inside a
    /// longer number ("12" in 112号 or 120号).
    partial_numbers: usize,
    tier: Tier,
    /// Label length in characters.
    len: usize,
    /// Position in insertion order, reversed when the latest come first.
    order: usize,
    /// Position in the buffers.
    index: usize,
}

/// One space-separated part of a normalized query.
struct Term {
    text: String,
    /// Only ASCII letters and digits: matched against the pinyin symbols.
    alnum: bool,
    starts_with_digit: bool,
    ends_with_digit: bool,
}

impl<K: Hash + Eq + Clone> SearchIndex<K> {
    /// Builds the index. Entries keep their order, which breaks ties in
    /// [`search`](Self::search) and is the order of an empty query's results.
    /// A key given twice keeps its last label.
    pub fn build<S: AsRef<str>>(entries: impl IntoIterator<Item = (K, S)>) -> Self {
        let mut index = Self {
            keys: Vec::new(),
            live: Vec::new(),
            positions: HashMap::new(),
            latest_first: false,
            labels: String::new(),
            norm: String::new(),
            syms: Vec::new(),
            ends: Vec::new(),
            masks: vec![0],
            readings: vec![Vec::new()],
            han_symbols: HashMap::new(),
        };
        for c in ALNUM.chars() {
            index.masks.push(alnum_bit(c as u8));
            index.readings.push(vec![c.to_string().into()]);
        }
        for (key, label) in entries {
            index.upsert(key, label.as_ref());
        }
        index.keys.shrink_to_fit();
        index.live.shrink_to_fit();
        index.labels.shrink_to_fit();
        index.norm.shrink_to_fit();
        index.syms.shrink_to_fit();
        index.ends.shrink_to_fit();
        index
    }

    /// Makes ties and an empty query favour the entries inserted last (e.g.
    /// records built oldest first and upserted as they change: the newest
    /// first), instead of the first.
    pub fn latest_first(mut self) -> Self {
        self.latest_first = true;
        self
    }

    /// Adds an entry, or replaces the label of `key`'s entry; either way it
    /// becomes the last inserted.
    pub fn upsert(&mut self, key: K, label: &str) {
        self.remove(&key);
        let norm = normalize(label);
        for c in norm.chars() {
            let sym = self.symbol(c);
            self.syms.push(sym);
        }
        self.positions.insert(key.clone(), self.keys.len());
        self.keys.push(key);
        self.live.push(true);
        self.labels.push_str(label);
        self.norm.push_str(&norm);
        self.ends.push(Ends {
            label: self.labels.len(),
            norm: self.norm.len(),
            sym: self.syms.len(),
        });
    }

    /// Removes `key`'s entry; whether there was one.
    pub fn remove(&mut self, key: &K) -> bool {
        let Some(i) = self.positions.remove(key) else {
            return false;
        };
        self.live[i] = false;
        let removed = self.keys.len() - self.positions.len();
        if removed > 64 && removed * 4 > self.keys.len() {
            self.compact();
        }
        true
    }

    /// The label of `key`'s entry.
    pub fn label(&self, key: &K) -> Option<&str> {
        self.positions.get(key).map(|&i| self.hit(i).label)
    }

    /// Drops removed entries from the buffers, keeping the order of the rest
    /// and their symbols (no pinyin is looked up again).
    fn compact(&mut self) {
        let keys = std::mem::take(&mut self.keys);
        let labels = std::mem::take(&mut self.labels);
        let norm = std::mem::take(&mut self.norm);
        let syms = std::mem::take(&mut self.syms);
        let ends = std::mem::take(&mut self.ends);
        let live = std::mem::take(&mut self.live);
        self.positions.clear();
        let mut start = Ends::default();
        for ((key, end), alive) in keys.into_iter().zip(ends).zip(live) {
            if alive {
                self.positions.insert(key.clone(), self.keys.len());
                self.keys.push(key);
                self.live.push(true);
                self.labels.push_str(&labels[start.label..end.label]);
                self.norm.push_str(&norm[start.norm..end.norm]);
                self.syms.extend_from_slice(&syms[start.sym..end.sym]);
                self.ends.push(Ends {
                    label: self.labels.len(),
                    norm: self.norm.len(),
                    sym: self.syms.len(),
                });
            }
            start = end;
        }
    }
}

impl<K> SearchIndex<K> {
    /// The symbol id of a normalized character, registering a Han character
    /// on first sight.
    fn symbol(&mut self, c: char) -> u16 {
        if let Some(i) = ALNUM.find(c) {
            // ALNUM is 36 bytes long.
            return i as u16 + 1;
        }
        if let Some(&sym) = self.han_symbols.get(&c) {
            return sym;
        }
        let Some(multi) = c.to_pinyin_multi() else {
            return BARRIER;
        };
        // Past 65,535 distinct characters the rest are found by substring only.
        let Ok(sym) = u16::try_from(self.masks.len()) else {
            return BARRIER;
        };
        let mut readings: Vec<Box<str>> = Vec::new();
        for reading in multi {
            let reading: Box<str> = reading.plain().replace('ü', "v").into();
            if !readings.contains(&reading) {
                readings.push(reading);
            }
        }
        let mask = readings
            .iter()
            .filter_map(|r| r.bytes().next())
            .fold(0, |mask, b| mask | alnum_bit(b));
        self.masks.push(mask);
        self.readings.push(readings);
        self.han_symbols.insert(c, sym);
        sym
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.positions.len()
    }

    /// Whether the index has no entries.
    pub fn is_empty(&self) -> bool {
        self.positions.is_empty()
    }

    /// Positions of the live entries, in the order ties and an empty query
    /// favour.
    fn in_order(&self) -> Box<dyn Iterator<Item = usize> + '_> {
        let live = move |&i: &usize| self.live[i];
        if self.latest_first {
            Box::new((0..self.keys.len()).rev().filter(live))
        } else {
            Box::new((0..self.keys.len()).filter(live))
        }
    }

    /// Approximate heap bytes held by the index, counting each key as
    /// `size_of::<K>()` (not what a key itself points to).
    pub fn heap_bytes(&self) -> usize {
        use std::mem::size_of;
        let readings: usize = self
            .readings
            .iter()
            .map(|r| {
                r.capacity() * size_of::<Box<str>>() + r.iter().map(|s| s.len()).sum::<usize>()
            })
            .sum();
        self.keys.capacity() * size_of::<K>()
            + self.live.capacity()
            + self.positions.capacity() * (size_of::<K>() + size_of::<usize>())
            + self.han_symbols.capacity() * (size_of::<char>() + size_of::<u16>())
            + self.labels.capacity()
            + self.norm.capacity()
            + self.syms.capacity() * size_of::<u16>()
            + self.ends.capacity() * size_of::<Ends>()
            + self.masks.capacity() * size_of::<u64>()
            + self.readings.capacity() * size_of::<Vec<Box<str>>>()
            + readings
    }

    /// Up to `limit` entries matching every space-separated term of `query`,
    /// best first.
    ///
    /// Ranking: the whole query equal to the label; then terms that start or
    /// end with a digit matched as a whole number (`12` in 人民路12号 before
    /// 人民路112号) or as the digits the label ends with (`3305` in
    /// 张三 …123305 before 张三 …330512); then label prefix, pinyin prefix, match anywhere; then
    /// shorter labels; then insertion order (the last inserted first with
    /// [`latest_first`](Self::latest_first)). An empty query returns the
    /// first `limit` entries in that order.
    pub fn search(&self, query: &str, limit: usize) -> Vec<Hit<'_, K>> {
        let mut terms: Vec<Term> = query.split_whitespace().map(Term::new).collect();
        if terms.is_empty() {
            return self.in_order().take(limit).map(|i| self.hit(i)).collect();
        }
        let whole: String = terms.iter().map(|t| t.text.as_str()).collect();
        // The longest term is likely the most selective: try it first.
        terms.sort_by_key(|t| std::cmp::Reverse(t.text.len()));

        // The best `limit` so far, worst on top.
        let mut best = BinaryHeap::with_capacity(limit.min(self.keys.len()));
        // A term that can only match literally (characters, a number) finds
        // its candidates in one pass over all labels; the others try each.
        let literal = terms
            .iter()
            .find(|t| !t.alnum || t.text.bytes().all(|b| b.is_ascii_digit()));
        let candidates: Box<dyn Iterator<Item = usize>> = match literal {
            Some(term) => Box::new(self.containing(&term.text).into_iter()),
            None => Box::new(0..self.keys.len()),
        };
        let live = candidates.filter(|&i| self.live[i]);
        for rank in live.filter_map(|i| self.rank(i, &terms, &whole)) {
            if best.len() < limit {
                best.push(rank);
            } else if let Some(mut worst) = best.peek_mut() {
                if rank < *worst {
                    *worst = rank;
                }
            }
        }
        best.into_sorted_vec()
            .into_iter()
            .map(|r| self.hit(r.index))
            .collect()
    }

    /// The entries whose normalized label contains `text`, in order: one
    /// search through the labels back to back, skipping matches that run
    /// from one label into the next.
    fn containing(&self, text: &str) -> Vec<usize> {
        let mut entries: Vec<usize> = Vec::new();
        for (at, _) in self.norm.match_indices(text) {
            let i = self.ends.partition_point(|e| e.norm <= at);
            let within = self.ends.get(i).is_some_and(|e| at + text.len() <= e.norm);
            if within && entries.last() != Some(&i) {
                entries.push(i);
            }
        }
        entries
    }

    fn hit(&self, i: usize) -> Hit<'_, K> {
        let start = self.start(i);
        Hit {
            key: &self.keys[i],
            label: &self.labels[start.label..self.ends[i].label],
        }
    }

    fn start(&self, i: usize) -> Ends {
        i.checked_sub(1)
            .map_or_else(Ends::default, |p| self.ends[p])
    }

    /// The rank of entry `i` if it matches every term.
    fn rank(&self, i: usize, terms: &[Term], whole: &str) -> Option<Rank> {
        let (start, end) = (self.start(i), self.ends[i]);
        let norm = &self.norm[start.norm..end.norm];
        let syms = &self.syms[start.sym..end.sym];
        let mut rank = Rank {
            partial_numbers: 0,
            tier: Tier::Inside,
            len: syms.len(),
            order: if self.latest_first { usize::MAX - i } else { i },
            index: i,
        };
        for term in terms {
            let (tier, whole_number) = if term.alnum {
                self.match_pinyin(norm, syms, term)?
            } else {
                match_text(norm, term)?
            };
            rank.tier = rank.tier.min(tier);
            rank.partial_numbers += usize::from(!whole_number);
        }
        if norm == whole {
            rank.tier = Tier::Exact;
        }
        Some(rank)
    }

    /// Matches a letters-and-digits term against an entry's symbols: the best
    /// tier, and whether it matched as a whole number somewhere.
    fn match_pinyin(&self, norm: &str, syms: &[u16], term: &Term) -> Option<(Tier, bool)> {
        let query = term.text.as_bytes();
        let first = alnum_bit(*query.first()?);
        let is_digit = |sym: Option<&u16>| sym.is_some_and(|&s| (1..=10).contains(&s));
        let mut tier = None;
        for start in 0..syms.len() {
            if self.masks[usize::from(syms[start])] & first == 0 {
                continue;
            }
            // The first letter fits, and is all there is to a one-letter term.
            let matched = match query.len() {
                1 => Some(1),
                _ => self.match_syllables(&syms[start..], query),
            };
            let Some(used) = matched else {
                continue;
            };
            let before = start.checked_sub(1).and_then(|p| syms.get(p));
            // Digits that end the label are its number's last digits (the
            // tail of an ID number): as good as a whole number.
            let at_end = start + used == syms.len();
            let digit_before = term.starts_with_digit && is_digit(before) && !at_end;
            let digit_after = term.ends_with_digit && is_digit(syms.get(start + used));
            let whole_number = !digit_before && !digit_after;
            let tier = *tier.get_or_insert(match start {
                0 if norm.starts_with(&term.text) => Tier::LabelPrefix,
                0 => Tier::PinyinPrefix,
                _ => Tier::Inside,
            });
            if whole_number {
                return Some((tier, true));
            }
        }
        tier.map(|tier| (tier, false))
    }

    /// Whether `query` is spelled by the symbols starting at `syms[0]`, each
    /// giving its initial or its whole syllable and the last any prefix of it.
    /// Returns how many symbols it used.
    fn match_syllables(&self, syms: &[u16], query: &[u8]) -> Option<usize> {
        let (&sym, rest) = syms.split_first()?;
        let &first = query.first()?;
        if self.masks[usize::from(sym)] & alnum_bit(first) == 0 {
            return None;
        }
        for reading in &self.readings[usize::from(sym)] {
            let reading = reading.as_bytes();
            let common = reading
                .iter()
                .zip(query)
                .take_while(|(a, b)| a == b)
                .count();
            if common == query.len() {
                return Some(1);
            }
            let initial = if reading.len() > 2 && reading[1] == b'h' && b"zcs".contains(&reading[0])
            {
                2
            } else {
                1
            };
            let takes = [reading.len(), initial, 1];
            for (i, &take) in takes.iter().enumerate() {
                // Distinct lengths only: retrying one doubles the work per syllable.
                if take <= common && !takes[..i].contains(&take) {
                    if let Some(used) = self.match_syllables(rest, &query[take..]) {
                        return Some(used + 1);
                    }
                }
            }
        }
        None
    }
}

impl<K> fmt::Debug for SearchIndex<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SearchIndex")
            .field("entries", &self.len())
            .field("heap_bytes", &self.heap_bytes())
            .finish_non_exhaustive()
    }
}

impl Term {
    fn new(raw: &str) -> Self {
        let text = normalize(raw);
        let is_digit = |c: Option<u8>| c.is_some_and(|c| c.is_ascii_digit());
        Self {
            alnum: text.bytes().all(|b| b.is_ascii_alphanumeric()),
            starts_with_digit: is_digit(text.bytes().next()),
            ends_with_digit: is_digit(text.bytes().next_back()),
            text,
        }
    }
}

/// Matches a term as a plain substring of a normalized label: the best tier,
/// and whether it matched as a whole number somewhere.
fn match_text(norm: &str, term: &Term) -> Option<(Tier, bool)> {
    if !norm.contains(&*term.text) {
        return None;
    }
    let is_digit = |c: char| c.is_ascii_digit();
    let mut tier = None;
    for (at, found) in norm.match_indices(&*term.text) {
        let digit_before = term.starts_with_digit && norm[..at].ends_with(is_digit);
        let digit_after = term.ends_with_digit && norm[at + found.len()..].starts_with(is_digit);
        let whole_number = !digit_before && !digit_after;
        let tier = *tier.get_or_insert(if at == 0 {
            Tier::LabelPrefix
        } else {
            Tier::Inside
        });
        if whole_number {
            return Some((tier, true));
        }
    }
    tier.map(|tier| (tier, false))
}

/// The form labels and queries are compared in: full-width ASCII (`１２号`,
/// `ＡＢ`) as half-width, ASCII letters lowercase, whitespace (including the
/// ideographic space) removed.
pub fn normalize(text: &str) -> String {
    text.chars()
        .filter(|c| !c.is_whitespace())
        .map(|c| match c {
            '\u{FF01}'..='\u{FF5E}' => char::from_u32(u32::from(c) - 0xFEE0).unwrap_or(c),
            _ => c,
        })
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

/// A bit per ASCII digit and lowercase letter; 0 for anything else.
fn alnum_bit(b: u8) -> u64 {
    match b {
        b'0'..=b'9' => 1 << (b - b'0'),
        b'a'..=b'z' => 1 << (10 + b - b'a'),
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use rstest::rstest;

    use super::*;

    fn index(labels: &[&'static str]) -> SearchIndex<&'static str> {
        SearchIndex::build(labels.iter().map(|&l| (l, l)))
    }

    fn labels<'a>(index: &'a SearchIndex<&'static str>, query: &str) -> Vec<&'a str> {
        index
            .search(query, 20)
            .into_iter()
            .map(|h| h.label)
            .collect()
    }

    const GAZETTEER: &[&str] = &[
        "海门区",
        "海门街道",
        "海门区人民路12号",
        "人民路12号",
        "人民路14号",
        "人民路112号",
        "人民路120号",
        "解放东路8号",
        "长江南路3号",
        "东海门村",
        "重庆路1号",
        "12号",
        "常乐镇颐生村3组15号",
        "绿洲花园3-201室",
        "ＡＢＣ商务楼",
    ];

    #[rstest]
    #[case::initials("hmq", "海门区")]
    #[case::initials_uppercase("HMQ", "海门区")]
    #[case::initials_inside("hmjd", "海门街道")]
    #[case::chinese_prefix("海门", "海门区")]
    #[case::chinese_prefix_street("海门", "海门街道")]
    #[case::chinese_inside("海门", "东海门村")]
    #[case::initials_and_door("rml 12", "人民路12号")]
    #[case::initials_with_digits("rml12h", "人民路12号")]
    #[case::uppercase_two_terms("RML 12", "人民路12号")]
    #[case::full_width_digits("１２号", "12号")]
    #[case::full_width_space("人民路　12", "人民路12号")]
    #[case::full_pinyin("renmin", "人民路12号")]
    #[case::full_pinyin_partial_last("renminl", "人民路12号")]
    #[case::full_and_initials("haimq", "海门区")]
    #[case::door_number("12号", "人民路12号")]
    #[case::door_digits("12", "人民路12号")]
    #[case::heteronym_primary("zq", "重庆路1号")]
    #[case::heteronym_other("cq", "重庆路1号")]
    #[case::heteronym_full("chongqing", "重庆路1号")]
    #[case::heteronym_chang("changjiang", "长江南路3号")]
    #[case::zh_ch_sh_initials("chlz", "常乐镇颐生村3组15号")]
    #[case::village_group("ysc 3z", "常乐镇颐生村3组15号")]
    #[case::u_as_v("lvzhou", "绿洲花园3-201室")]
    #[case::punctuated_room("3-201", "绿洲花园3-201室")]
    #[case::full_width_letters("abc", "ＡＢＣ商务楼")]
    #[case::full_width_query("ａｂｃ", "ＡＢＣ商务楼")]
    fn query_finds(#[case] query: &str, #[case] label: &str) {
        let index = index(GAZETTEER);
        assert!(
            labels(&index, query).contains(&label),
            "{query:?} → {:?}",
            labels(&index, query)
        );
    }

    #[rstest]
    #[case::other_door("rml 12", "人民路14号")]
    #[case::all_terms_must_match("rml 12", "海门区")]
    #[case::initials_not_inside_a_syllable("hq", "海门区")]
    #[case::mid_syllable_prefix("chalez", "常乐镇颐生村3组15号")]
    #[case::wrong_chinese("海口", "海门区")]
    #[case::punctuation_breaks_runs("3201", "绿洲花园3-201室")]
    fn query_does_not_find(#[case] query: &str, #[case] label: &str) {
        let index = index(GAZETTEER);
        assert!(
            !labels(&index, query).contains(&label),
            "{query:?} → {:?}",
            labels(&index, query)
        );
    }

    #[rstest]
    #[case::exact_then_prefix_then_inside("海门区", &["海门区", "海门区人民路12号"])]
    #[case::label_prefix_shorter_first("海门", &["海门区", "海门街道", "海门区人民路12号", "东海门村"])]
    #[case::pinyin_prefix_before_inside("hm", &["海门区", "海门街道", "海门区人民路12号", "东海门村"])]
    #[case::whole_door_number_first("rml 12", &["人民路12号", "海门区人民路12号", "人民路112号", "人民路120号"])]
    #[case::exact_door_before_prefix(
        "12",
        &["12号", "人民路12号", "海门区人民路12号", "人民路112号", "人民路120号"]
    )]
    #[case::exact_with_spaces("人民路 12号", &["人民路12号", "海门区人民路12号", "人民路112号"])]
    fn results_are_ranked(#[case] query: &str, #[case] expected: &[&str]) {
        assert_eq!(labels(&index(GAZETTEER), query), expected);
    }

    #[rstest]
    #[case("")]
    #[case("   ")]
    #[case("\u{3000}")]
    fn empty_query_lists_entries_in_order(#[case] query: &str) {
        let index = index(GAZETTEER);
        assert_eq!(labels(&index, query), &GAZETTEER[..GAZETTEER.len().min(20)]);
        assert_eq!(index.search(query, 3).len(), 3);
    }

    #[test]
    fn limit_keeps_the_best() {
        let index = index(GAZETTEER);
        let best: Vec<_> = index.search("号", 2).into_iter().map(|h| h.label).collect();
        assert_eq!(best, ["12号", "重庆路1号"]);
        assert!(index.search("号", 0).is_empty());
    }

    #[test]
    fn hits_carry_key_and_original_label() {
        let index = SearchIndex::build([(7_u32, "ＡＢＣ商务楼"), (9, "海门区")]);
        let hits = index.search("hmq", 10);
        assert_eq!(
            hits,
            [Hit {
                key: &9,
                label: "海门区"
            }]
        );
        assert_eq!(index.search("abc", 10)[0].label, "ＡＢＣ商务楼");
    }

    #[test]
    fn upserted_entries_are_found_and_replaced_labels_are_not() {
        let mut index = SearchIndex::build([(1_u32, "张三"), (2, "李四")]);
        index.upsert(3, "王五");
        index.upsert(1, "张三丰");
        let keys = |index: &SearchIndex<u32>, q: &str| -> Vec<u32> {
            index.search(q, 10).into_iter().map(|h| *h.key).collect()
        };
        assert_eq!(keys(&index, "ww"), [3]);
        assert_eq!(keys(&index, "zsf"), [1]);
        assert_eq!(index.label(&1), Some("张三丰"));
        assert_eq!(index.len(), 3);
        assert!(index.remove(&2));
        assert!(!index.remove(&2));
        assert!(keys(&index, "ls").is_empty());
        assert_eq!(index.len(), 2);
        assert_eq!(index.label(&2), None);
    }

    #[test]
    fn digits_ending_the_label_rank_as_a_whole_number() {
        let index = index(&["李四 …330512", "张三 …123305", "王五 …133051"]);
        assert_eq!(
            labels(&index, "3305"),
            ["张三 …123305", "李四 …330512", "王五 …133051"]
        );
    }

    #[rstest]
    #[case::characters("民路")]
    #[case::digits("23")]
    fn a_match_across_two_labels_finds_neither(#[case] query: &str) {
        let index = index(&["人民", "路12", "3号"]);
        assert!(
            labels(&index, query).is_empty(),
            "{:?}",
            labels(&index, query)
        );
        assert_eq!(labels(&index, "人民"), ["人民"]);
        assert_eq!(labels(&index, "12"), ["路12"]);
    }

    #[test]
    fn latest_first_puts_the_last_inserted_first_among_ties() {
        let mut index =
            SearchIndex::build([(1_u32, "张三"), (2, "张山"), (3, "李四")]).latest_first();
        let keys = |index: &SearchIndex<u32>, q: &str| -> Vec<u32> {
            index.search(q, 10).into_iter().map(|h| *h.key).collect()
        };
        assert_eq!(keys(&index, ""), [3, 2, 1]);
        assert_eq!(keys(&index, "zs"), [2, 1]);
        index.upsert(1, "张三");
        assert_eq!(keys(&index, "zs"), [1, 2]);
        assert_eq!(keys(&index, ""), [1, 3, 2]);
    }

    #[test]
    fn many_removals_compact_without_losing_or_reordering_entries() {
        let names = ["张三", "李四", "王五", "赵六"];
        let mut index = SearchIndex::build(
            (0..400_u32).map(|i| (i, format!("{}{i}号", names[i as usize % 4]))),
        );
        for i in (0..400).filter(|i| i % 4 != 0) {
            index.remove(&i);
        }
        assert!(index.keys.len() < 400, "compacted: {}", index.keys.len());
        assert_eq!(index.len(), 100);
        let hits: Vec<u32> = index
            .search("zs", 500)
            .into_iter()
            .map(|h| *h.key)
            .collect();
        let mut expected: Vec<u32> = (0..400).filter(|i| i % 4 == 0).collect();
        expected.sort_by_key(|i| (format!("张三{i}号").chars().count(), *i));
        assert_eq!(hits, expected);
        assert_eq!(index.search("zs 120", 5)[0].label, "张三120号");
        assert!(index.search("ls", 5).is_empty());
    }

    #[rstest]
    #[case("１２号", "12号")]
    #[case("ＲＭＬ　12", "rml12")]
    #[case(" 人民路 12 号 ", "人民路12号")]
    #[case("Ａ座３-２０１", "a座3-201")]
    fn normalize_folds_width_case_and_spaces(#[case] raw: &str, #[case] normalized: &str) {
        assert_eq!(normalize(raw), normalized);
    }
}
