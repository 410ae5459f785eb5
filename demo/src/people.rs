//! Demo people: names, citizen ID numbers (GB 11643-1999, check character
//! and sequence parity included), birth dates and phone numbers, drawn from a
//! seeded generator so every run makes the same district.

use std::collections::HashSet;

use beatbook_schema::division::divisions;
use beatbook_schema::validate::citizen_id::{check_char, Gender};
use chrono::{Datelike, Duration, Months, NaiveDate};
use rand::seq::SliceRandom;
use rand::Rng;

/// Surnames common in Haimen and around Nantong (repeats weight them).
const LOCAL_SURNAMES: &[&str] = &[
    "施", "施", "黄", "黄", "陆", "陆", "沈", "沈", "张", "张", "王", "王", "陈", "陈", "杨", "徐",
    "朱", "倪", "茅", "顾", "季", "曹", "龚", "蔡", "周", "吴", "刘", "李", "袁", "邱", "郁", "秦",
    "姜", "钱", "范", "瞿", "樊", "宋", "汤", "郭",
];

/// The most common surnames nationally, for people from other provinces.
const NATIONAL_SURNAMES: &[&str] = &[
    "王", "王", "李", "李", "张", "张", "刘", "刘", "陈", "杨", "黄", "赵", "吴", "周", "徐", "孙",
    "马", "朱", "胡", "郭", "何", "高", "林", "罗", "郑", "梁", "谢", "宋", "唐", "许", "韩", "冯",
    "邓", "曹", "彭", "曾", "肖", "田", "董", "袁", "潘", "蒋", "蔡", "余", "杜", "叶", "程", "魏",
    "吕", "丁", "任", "姚", "卢", "崔", "谭", "汪", "石", "付", "方", "邹", "熊", "尹", "雷", "段",
    "龙", "文",
];

/// Given names by birth decade band and gender: `[male, female]`.
const GIVEN_NAMES: [(i32, [&[&str]; 2]); 4] = [
    (
        1960,
        [
            &[
                "建国", "国强", "德明", "永福", "金根", "根生", "海林", "志明", "汉清", "锦荣",
                "振华", "国平", "福林", "仁杰", "炳坤", "士林",
            ],
            &[
                "秀英", "桂英", "玉兰", "桂兰", "秀兰", "凤英", "菊英", "美英", "兰英", "金凤",
                "素珍", "月娥", "彩霞", "秀珍",
            ],
        ],
    ),
    (
        1985,
        [
            &[
                "卫东", "建华", "国庆", "伟", "军", "勇", "斌", "强", "健", "明", "志强", "建军",
                "海峰", "晓东", "永刚", "学军", "春华", "立新", "东升", "卫星",
            ],
            &[
                "丽", "红", "艳", "芳", "敏", "静", "霞", "燕", "丽华", "红梅", "海燕", "美华",
                "晓燕", "春梅", "丽萍", "雪梅", "爱华", "晓红",
            ],
        ],
    ),
    (
        2005,
        [
            &[
                "浩", "磊", "杰", "涛", "鹏", "超", "俊杰", "志豪", "晨", "宇", "文博", "天宇",
                "振宇", "宇航", "子健", "一鸣", "佳豪", "明轩",
            ],
            &[
                "婷", "倩", "雪", "静怡", "佳", "悦", "欣", "晶晶", "梦婷", "雨婷", "思雨", "佳琪",
                "文静", "雅琪", "诗琪", "紫琳",
            ],
        ],
    ),
    (
        i32::MAX,
        [
            &[
                "子轩", "浩然", "宇轩", "梓睿", "一诺", "俊熙", "子墨", "奕辰", "浩宇", "沐阳",
                "皓轩", "承泽", "梓豪", "睿泽", "博文",
            ],
            &[
                "欣怡", "梓涵", "诗涵", "雨桐", "子涵", "可馨", "若汐", "思彤", "语桐", "梓萱",
                "芷若", "沐晴", "安琪", "梦瑶",
            ],
        ],
    ),
];

/// Mobile prefixes of the three carriers (the leading `1` left out).
const MOBILE_PREFIXES: &[&str] = &[
    "38", "39", "35", "36", "37", "50", "51", "52", "58", "59", "82", "87", "88", "30", "31", "32",
    "55", "56", "85", "86", "33", "53", "80", "81", "89", "77", "99", "98",
];

/// Where people from other provinces who live in the demo district come
/// from: division codes as printed on ID numbers issued there in the 1980s
/// and 1990s (several since renumbered), e.g. 342401 六安市, 412726 郸城县,
/// 513022 宣汉县.
const MIGRANT_DIVISIONS: &[&str] = &[
    "342401", "342401", "342422", "412726", "412726", "513022", "522121", "532126", "320623",
];

/// Village names common all over China, for registered addresses elsewhere.
const VILLAGES: &[&str] = &[
    "前进", "红星", "新建", "团结", "胜利", "光明", "东风", "和平", "新华", "联合", "永丰", "建设",
];

/// Where a person's ID number was issued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// Haimen: 320684 (海门市) for people born before 2020, 320614 (海门区) after.
    Local,
    /// Another province.
    Migrant,
}

/// One generated person's identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Citizen {
    /// Full name.
    pub name: String,
    /// Valid 18-character citizen ID number.
    pub id_number: String,
    /// Gender (matches the sequence digit's parity).
    pub gender: Gender,
    /// Birth date (in the ID number).
    pub birth: NaiveDate,
    /// Mobile phone, for adults who gave one.
    pub phone: Option<String>,
    /// Where the ID number was issued.
    pub origin: Origin,
}

impl Citizen {
    /// Completed years on `today`.
    pub fn age_on(&self, today: NaiveDate) -> u32 {
        today.years_since(self.birth).unwrap_or(0)
    }

    /// The registered-residence division's full name as in force in the birth
    /// year, e.g. `江苏省南通市海门市`.
    pub fn home_division_name(&self) -> String {
        let code = self.id_number.get(..6).unwrap_or_default();
        divisions()
            .full_name(code, Some(self.birth.year()))
            .unwrap_or_default()
    }
}

/// Makes people, never issuing one ID number twice.
#[derive(Debug)]
pub struct People {
    today: NaiveDate,
    issued: HashSet<String>,
}

impl People {
    /// A generator for people alive on `today`.
    pub fn new(today: NaiveDate) -> Self {
        Self {
            today,
            issued: HashSet::new(),
        }
    }

    /// The date the people are generated for.
    pub fn today(&self) -> NaiveDate {
        self.today
    }

    /// A surname typical for `origin`.
    pub fn surname(&self, rng: &mut impl Rng, origin: Origin) -> &'static str {
        let pool = match origin {
            Origin::Local => LOCAL_SURNAMES,
            Origin::Migrant => NATIONAL_SURNAMES,
        };
        pool.choose(rng).copied().unwrap_or("王")
    }

    /// A person of `age` completed years with the given surname.
    pub fn person(
        &mut self,
        rng: &mut impl Rng,
        surname: &str,
        gender: Gender,
        age: u32,
        origin: Origin,
    ) -> Citizen {
        let birth = self.birth_date(rng, age);
        let name = format!("{surname}{}", given_name(rng, gender, birth.year()));
        let division = division_for(rng, origin, birth);
        let id_number = self.issue_id(rng, division, birth, gender);
        let phone = (age >= 16 && rng.gen_bool(0.92)).then(|| mobile(rng));
        Citizen {
            name,
            id_number,
            gender,
            birth,
            phone,
            origin,
        }
    }

    /// A birth date `age` completed years before today (at least a month ago).
    fn birth_date(&self, rng: &mut impl Rng, age: u32) -> NaiveDate {
        let anniversary = self
            .today
            .checked_sub_months(Months::new(12 * age))
            .unwrap_or(self.today);
        let back = rng.gen_range(if age == 0 { 30..300 } else { 1..364 });
        anniversary - Duration::days(back)
    }

    /// A fresh ID number: sequence parity by gender (odd for men), check
    /// character per GB 11643-1999; moves the sequence (then the birth date)
    /// on if the number was already issued.
    fn issue_id(
        &mut self,
        rng: &mut impl Rng,
        division: &str,
        birth: NaiveDate,
        gender: Gender,
    ) -> String {
        let start: u32 = rng.gen_range(0..500);
        let mut day = birth;
        loop {
            for step in 0..500 {
                let n = (start + step) % 500;
                let sequence = match gender {
                    Gender::Male => 2 * n + 1,
                    Gender::Female => 2 * n + 2,
                };
                if sequence > 999 {
                    continue;
                }
                let first17 = format!("{division}{}{sequence:03}", day.format("%Y%m%d"));
                let Some(check) = check_char(&first17) else {
                    continue;
                };
                let id = format!("{first17}{check}");
                if self.issued.insert(id.clone()) {
                    return id;
                }
            }
            day -= Duration::days(1);
        }
    }

    /// Registered address (户籍地详址) of someone from elsewhere: their
    /// home division and a village group there.
    pub fn village_address(&self, rng: &mut impl Rng, citizen: &Citizen) -> String {
        let village = VILLAGES.choose(rng).copied().unwrap_or("新建");
        format!(
            "{}{village}村{}组",
            citizen.home_division_name(),
            rng.gen_range(1..=12)
        )
    }
}

/// A given name in fashion in the birth year.
fn given_name(rng: &mut impl Rng, gender: Gender, birth_year: i32) -> &'static str {
    let column = match gender {
        Gender::Male => 0,
        Gender::Female => 1,
    };
    let pool = GIVEN_NAMES
        .iter()
        .find(|(before, _)| birth_year < *before)
        .map_or(GIVEN_NAMES[0].1[column], |(_, pools)| pools[column]);
    pool.choose(rng).copied().unwrap_or("明")
}

/// The division code printed on the ID number of someone born on `birth`.
fn division_for(rng: &mut impl Rng, origin: Origin, birth: NaiveDate) -> &'static str {
    match origin {
        Origin::Local if birth.year() >= 2020 => "320614",
        Origin::Local => "320684",
        Origin::Migrant => MIGRANT_DIVISIONS.choose(rng).copied().unwrap_or("342401"),
    }
}

/// An 11-digit mobile number, `1[3-9]` and nine more digits.
pub fn mobile(rng: &mut impl Rng) -> String {
    let prefix = MOBILE_PREFIXES.choose(rng).copied().unwrap_or("38");
    format!("1{prefix}{:08}", rng.gen_range(0..100_000_000u32))
}

/// A Haimen landline (area code 0513), as the phone validator normalizes it.
pub fn landline(rng: &mut impl Rng) -> String {
    format!("0513-8{:07}", rng.gen_range(2_000_000..10_000_000u32))
}

/// A gender, men drawn with probability `male`.
pub fn gender(rng: &mut impl Rng, male: f64) -> Gender {
    if rng.gen_bool(male) {
        Gender::Male
    } else {
        Gender::Female
    }
}

/// The other gender.
pub fn opposite(gender: Gender) -> Gender {
    match gender {
        Gender::Male => Gender::Female,
        Gender::Female => Gender::Male,
    }
}

#[cfg(test)]
mod tests {
    use beatbook_schema::validate::citizen_id;
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    use super::*;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2025, 6, 1).unwrap()
    }

    #[test]
    fn generated_people_have_valid_matching_id_numbers() {
        let mut rng = StdRng::seed_from_u64(7);
        let mut people = People::new(today());
        for i in 0..2_000u32 {
            let origin = if i % 3 == 0 {
                Origin::Migrant
            } else {
                Origin::Local
            };
            let g = gender(&mut rng, 0.5);
            let age = i % 96;
            let p = people.person(&mut rng, "王", g, age, origin);
            let id = citizen_id::parse(&p.id_number, today(), false).unwrap();
            assert_eq!(id.gender(), g);
            assert_eq!(id.birth_date(), p.birth);
            assert_eq!(p.age_on(today()), age, "{}", p.birth);
            if let Some(phone) = &p.phone {
                assert!(beatbook_schema::validate::phone::parse(phone, false).is_ok());
            }
        }
        assert_eq!(people.issued.len(), 2_000);
    }

    #[test]
    fn local_numbers_use_the_code_in_force_at_birth() {
        let mut rng = StdRng::seed_from_u64(1);
        let mut people = People::new(today());
        let baby = people.person(&mut rng, "施", Gender::Female, 1, Origin::Local);
        let adult = people.person(&mut rng, "施", Gender::Male, 40, Origin::Local);
        assert!(baby.id_number.starts_with("320614"));
        assert!(adult.id_number.starts_with("320684"));
        assert_eq!(baby.home_division_name(), "江苏省南通市海门区");
        assert!(beatbook_schema::validate::phone::parse(&landline(&mut rng), true).is_ok());
    }
}
