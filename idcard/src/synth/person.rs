//! Made-up residents: varied names, ethnicities and addresses, and a valid
//! ID number that agrees with them (a real division code from the schema
//! crate's table, the birth date, a sequence of the right parity, the check
//! character).

use beatbook_schema::division::divisions;
use beatbook_schema::validate::citizen_id::{check_char, Gender};
use chrono::NaiveDate;
use rand::seq::SliceRandom;
use rand::Rng;
use serde::Serialize;

use crate::ethnic_groups::ETHNIC_GROUPS;

/// County-level division codes across the provinces (all in the table).
pub const DIVISION_CODES: &[&str] = &[
    "110101", "110105", "120101", "130102", "140105", "150102", "210102", "220102", "230102",
    "310101", "310115", "320102", "320506", "320612", "320614", "320684", "330106", "340102",
    "350102", "360102", "370102", "410105", "420106", "430104", "440106", "440305", "450103",
    "460105", "500103", "510104", "520102", "530102", "540102", "610113", "620102", "630102",
    "640104", "650102", "653101", "150402",
];

const SURNAMES: &[&str] = &[
    "王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周", "徐", "孙", "马", "朱", "胡", "郭",
    "何", "高", "林", "罗", "郑", "梁", "谢", "宋", "唐", "许", "韩", "冯", "邓", "曹", "彭", "曾",
    "肖", "田", "董", "袁", "潘", "于", "蒋", "蔡", "余", "杜", "叶", "程", "苏", "魏", "吕", "丁",
    "任", "沈", "姚", "卢", "姜", "崔", "钟", "谭", "陆", "汪", "范", "金", "石", "廖", "贾", "夏",
    "欧阳", "司马", "诸葛", "上官",
];

const GIVEN: &[&str] = &[
    "伟", "芳", "娜", "秀", "英", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟",
    "涛", "明", "超", "兰", "霞", "平", "刚", "桂", "红", "鹏", "华", "玲", "辉", "建", "国", "志",
    "文", "斌", "宇", "浩", "凯", "鑫", "婷", "雪", "慧", "欣", "晨", "怡", "佳", "俊", "博", "思",
    "梓", "涵", "轩", "睿", "瑶", "琳", "晓", "海", "波", "峰", "飞", "春", "燕", "萍", "宁", "德",
    "福", "荣", "昌", "永", "康", "泽", "昊", "天", "嘉", "子", "雨", "欢", "梅", "莉", "倩", "璐",
];

const PLACES: &[&str] = &[
    "人民", "解放", "建设", "中山", "和平", "新华", "长江", "黄河", "光明", "胜利", "友谊", "东风",
    "文化", "青年", "朝阳", "团结", "幸福", "复兴", "振兴", "海门", "常乐", "三星", "临江", "悦来",
];

/// Who is on a synthetic card.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Person {
    /// 姓名.
    pub name: String,
    /// 男 or 女.
    pub gender: String,
    /// As printed after 民族 (`汉`).
    pub ethnicity: String,
    /// 出生.
    pub birth_date: NaiveDate,
    /// 住址, unwrapped.
    pub address: String,
    /// A valid 18-character number that agrees with the rest.
    pub id_number: String,
}

impl Person {
    /// A random resident.
    pub fn random(rng: &mut impl Rng) -> Self {
        let gender = if rng.gen_bool(0.5) {
            Gender::Male
        } else {
            Gender::Female
        };
        let surname = pick(rng, SURNAMES);
        let given_len = if surname.chars().count() > 1 || rng.gen_bool(0.3) {
            1
        } else {
            2
        };
        let given: String = (0..given_len).map(|_| pick(rng, GIVEN)).collect();
        let ethnicity = if rng.gen_bool(0.6) {
            "汉"
        } else {
            pick(rng, &ETHNIC_GROUPS)
        };
        let birth_date = NaiveDate::from_ymd_opt(rng.gen_range(1940..=2008), 1, 1)
            .and_then(|d| d.checked_add_days(chrono::Days::new(rng.gen_range(0..365))))
            .unwrap_or_default();
        let code = pick(rng, DIVISION_CODES);
        let year = birth_date.format("%Y").to_string().parse().ok();
        let region = divisions()
            .full_name(code, year)
            .unwrap_or_else(|| code.to_owned());
        let address = format!("{region}{}", street(rng));
        let sequence = rng.gen_range(0..500u32) * 2 + u32::from(gender == Gender::Male);
        let first17 = format!("{code}{}{sequence:03}", birth_date.format("%Y%m%d"));
        let check = check_char(&first17).unwrap_or('0');
        Self {
            name: format!("{surname}{given}"),
            gender: gender.label().zh,
            ethnicity: ethnicity.to_owned(),
            birth_date,
            address,
            id_number: format!("{first17}{check}"),
        }
    }
}

fn pick<'a>(rng: &mut impl Rng, from: &[&'a str]) -> &'a str {
    from.choose(rng).copied().unwrap_or_default()
}

/// The part of an address below the county: a street and number, or a
/// town, village and group.
fn street(rng: &mut impl Rng) -> String {
    let place = pick(rng, PLACES);
    match rng.gen_range(0..3) {
        0 => format!("{place}路{}号", rng.gen_range(1..400)),
        1 => format!(
            "{place}街道{}小区{}幢{}室",
            pick(rng, PLACES),
            rng.gen_range(1..40),
            rng.gen_range(101..1806)
        ),
        _ => format!(
            "{place}镇{}村{}组{}号",
            pick(rng, PLACES),
            rng.gen_range(1..20),
            rng.gen_range(1..120)
        ),
    }
}

#[cfg(test)]
mod tests {
    use beatbook_schema::validate::citizen_id::parse;
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    use super::*;

    #[test]
    fn every_division_code_is_in_the_table() {
        for code in DIVISION_CODES {
            assert!(divisions().lookup(code, None).is_some(), "{code}");
        }
    }

    #[test]
    fn made_up_numbers_are_valid_and_agree_with_the_card() {
        let mut rng = StdRng::seed_from_u64(7);
        let today = NaiveDate::from_ymd_opt(2026, 11, 30).expect("a date");
        for _ in 0..500 {
            let p = Person::random(&mut rng);
            let id = parse(&p.id_number, today, false).expect("valid");
            assert_eq!(id.birth_date(), p.birth_date);
            assert_eq!(id.gender().label().zh, p.gender);
            assert!(p.address.chars().count() > 8, "{}", p.address);
        }
    }
}
