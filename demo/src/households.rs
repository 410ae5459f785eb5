//! Demo households: `house` records on standard addresses (owner-occupied
//! mostly, some rented, a few group-rented, vacant or used for business) and
//! the `person` records of the people living in them.

use beatbook_schema::form::Values;
use beatbook_schema::ids::RecordId;
use chrono::{Duration, NaiveDate};
use rand::seq::{IteratorRandom, SliceRandom};
use rand::Rng;
use serde_json::json;

use crate::gazetteer::DemoPlaces;
use crate::people::{self, Citizen, Origin, People};
use crate::places::Site;

/// What a house is used for (the `house_use` choice list).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HouseUse {
    /// 自住.
    OwnerOccupied,
    /// 出租.
    Rented,
    /// 群租.
    GroupRented,
    /// 空置.
    Vacant,
    /// 商住.
    Mixed,
    /// 经营.
    Business,
}

impl HouseUse {
    /// The stored choice value.
    pub fn value(self) -> &'static str {
        match self {
            HouseUse::OwnerOccupied => "owner_occupied",
            HouseUse::Rented => "rented",
            HouseUse::GroupRented => "group_rented",
            HouseUse::Vacant => "vacant",
            HouseUse::Mixed => "mixed",
            HouseUse::Business => "business",
        }
    }

    fn is_rental(self) -> bool {
        matches!(self, HouseUse::Rented | HouseUse::GroupRented)
    }

    /// A use drawn with realistic weights; business premises only on the street.
    fn draw(rng: &mut impl Rng, on_street: bool) -> Self {
        let drawn = match rng.gen_range(0..100) {
            0..=63 => HouseUse::OwnerOccupied,
            64..=83 => HouseUse::Rented,
            84..=87 => HouseUse::GroupRented,
            88..=93 => HouseUse::Vacant,
            94..=97 => HouseUse::Mixed,
            _ => HouseUse::Business,
        };
        match drawn {
            HouseUse::Mixed | HouseUse::Business if !on_street => HouseUse::OwnerOccupied,
            other => other,
        }
    }
}

/// A tenancy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rental {
    /// Tenancy start.
    pub start: NaiveDate,
    /// Tenancy end.
    pub end: NaiveDate,
    /// Tenants actually living there.
    pub tenants: u32,
}

/// A person living in a house.
#[derive(Debug, Clone, PartialEq)]
pub struct Resident {
    /// Their `person` record.
    pub id: RecordId,
    /// Identity.
    pub citizen: Citizen,
    /// Relation to the householder (`relation` choice).
    pub relation: &'static str,
    /// `registered` or `migrant`.
    pub category: &'static str,
    /// Ethnic group (`ethnicity` choice).
    pub ethnicity: &'static str,
    /// Registered address as on the ID card.
    pub registered_address: String,
    /// Workplace or school.
    pub employer: Option<&'static str>,
    /// Moved in on.
    pub move_in: Option<NaiveDate>,
    /// Residence permit status, for migrants.
    pub permit: Option<&'static str>,
    /// Notes.
    pub notes: Option<&'static str>,
}

/// A house with its owner and residents.
#[derive(Debug, Clone, PartialEq)]
pub struct Household {
    /// Its `house` record.
    pub id: RecordId,
    /// Index of its address in the planned sites.
    pub site: usize,
    /// Use.
    pub usage: HouseUse,
    /// Floor area, m².
    pub area_m2: f64,
    /// The owner (a resident for owner-occupied houses).
    pub owner: Citizen,
    /// Whether the owner's ID number was recorded.
    pub owner_id_recorded: bool,
    /// The owner's phone.
    pub owner_phone: Option<String>,
    /// Tenancy, for rented houses.
    pub rental: Option<Rental>,
    /// Fire-safety findings (`fire_issue` choices).
    pub fire_issues: Vec<&'static str>,
    /// Fire-safety notes.
    pub fire_notes: Option<&'static str>,
    /// The people living there.
    pub residents: Vec<Resident>,
}

const LOCAL_EMPLOYERS: &[&str] = &[
    "海门区人民医院",
    "海门区中医院",
    "海门区实验小学",
    "海门区市场监督管理局",
    "海门农村商业银行",
    "叠石桥国际家纺城",
    "海门经济技术开发区管委会",
    "个体经营",
    "个体经营",
    "海门港新区物流园",
    "某建筑工程有限公司",
    "某家纺有限公司",
    "某电子科技有限公司",
];

const MIGRANT_EMPLOYERS: &[&str] = &[
    "某家纺有限公司",
    "某电子科技有限公司",
    "某建筑工程有限公司（工地）",
    "快递配送站",
    "餐饮服务",
    "家政服务",
    "叠石桥国际家纺城（个体）",
    "海门港新区物流园",
    "汽车维修店",
];

const MINORITIES: &[&str] = &["hui", "manchu", "zhuang", "tujia", "miao", "yi", "mongol"];

/// Plans `n` households on distinct addresses.
pub fn plan_households(
    rng: &mut impl Rng,
    people: &mut People,
    sites: &[Site],
    n: usize,
) -> Vec<Household> {
    let mut picked = (0..sites.len()).choose_multiple(rng, n.min(sites.len()));
    picked.sort_unstable();
    picked
        .into_iter()
        .map(|site| household(rng, people, site, &sites[site]))
        .collect()
}

fn household(rng: &mut impl Rng, people: &mut People, index: usize, site: &Site) -> Household {
    let today = people.today();
    let usage = HouseUse::draw(rng, site.flat.is_none());
    let residents = residents_of(rng, people, usage, site);
    let owner = match usage {
        HouseUse::OwnerOccupied | HouseUse::Mixed => residents
            .first()
            .map(|r| r.citizen.clone())
            .unwrap_or_else(|| landlord(rng, people)),
        _ => landlord(rng, people),
    };
    let owner_phone = owner
        .phone
        .clone()
        .or_else(|| usage.is_rental().then(|| people::mobile(rng)));
    let rental = usage.is_rental().then(|| {
        let start = today - Duration::days(rng.gen_range(20..700));
        Rental {
            start,
            end: start + Duration::days(365 * rng.gen_range(1..=2)),
            tenants: match usage {
                HouseUse::GroupRented => rng.gen_range(6..=14),
                _ => residents.len().max(1) as u32,
            },
        }
    });
    let (fire_issues, fire_notes) = fire_findings(rng, usage);
    let area_m2 = match site.flat {
        Some(_) => rng.gen_range(550..1450) as f64 / 10.0,
        None => rng.gen_range(1100..2600) as f64 / 10.0,
    };
    Household {
        id: RecordId::new_v7(),
        site: index,
        usage,
        area_m2,
        owner,
        owner_id_recorded: rng.gen_bool(0.9),
        owner_phone,
        rental,
        fire_issues,
        fire_notes,
        residents,
    }
}

/// A local owner who lives elsewhere.
fn landlord(rng: &mut impl Rng, people: &mut People) -> Citizen {
    let surname = people.surname(rng, Origin::Local);
    let gender = people::gender(rng, 0.6);
    let age = rng.gen_range(35..=75);
    people.person(rng, surname, gender, age, Origin::Local)
}

fn residents_of(
    rng: &mut impl Rng,
    people: &mut People,
    usage: HouseUse,
    site: &Site,
) -> Vec<Resident> {
    let size = rng.gen_range(2..=4);
    let sharing = rng.gen_range(3..=4);
    let members = match usage {
        HouseUse::Vacant | HouseUse::Business => Vec::new(),
        HouseUse::GroupRented => tenants(rng, people, sharing),
        HouseUse::Rented if rng.gen_bool(0.2) => tenants(rng, people, 2),
        HouseUse::Rented => family(rng, people, Origin::Migrant, size),
        HouseUse::OwnerOccupied if rng.gen_bool(0.12) => family(rng, people, Origin::Migrant, size),
        HouseUse::OwnerOccupied | HouseUse::Mixed => family(rng, people, Origin::Local, size),
    };
    members
        .into_iter()
        .map(|(citizen, relation)| resident(rng, people, citizen, relation, site))
        .collect()
}

/// A householder and up to three relatives: spouse, children or parents.
fn family(
    rng: &mut impl Rng,
    people: &mut People,
    origin: Origin,
    size: usize,
) -> Vec<(Citizen, &'static str)> {
    let head_age = match origin {
        Origin::Local => rng.gen_range(28..=78),
        Origin::Migrant => rng.gen_range(24..=50),
    };
    let surname = people.surname(rng, origin);
    let head_gender = people::gender(rng, 0.75);
    let head = people.person(rng, surname, head_gender, head_age, origin);
    let mut members = vec![(head, "head")];
    if size >= 2 && rng.gen_bool(0.9) {
        let spouse_surname = people.surname(rng, origin);
        let age = (head_age as i32 + rng.gen_range(-4..=4)).max(21) as u32;
        let spouse = people.person(
            rng,
            spouse_surname,
            people::opposite(head_gender),
            age,
            origin,
        );
        members.push((spouse, "spouse"));
    }
    while members.len() < size {
        let g = people::gender(rng, 0.5);
        let member = if head_age >= 58 && rng.gen_bool(0.5) {
            let age = rng.gen_range(0..=14);
            (people.person(rng, surname, g, age, origin), "grandchild")
        } else if head_age >= 45 || rng.gen_bool(0.7) {
            let age = rng.gen_range(0..=head_age.saturating_sub(22).min(30));
            (people.person(rng, surname, g, age, origin), "child")
        } else {
            let age = (head_age + rng.gen_range(23..=32)).min(95);
            let name = if g == head_gender {
                surname
            } else {
                people.surname(rng, origin)
            };
            (people.person(rng, name, g, age, origin), "parent")
        };
        members.push(member);
    }
    members
}

/// Unrelated young tenants from other provinces.
fn tenants(rng: &mut impl Rng, people: &mut People, n: usize) -> Vec<(Citizen, &'static str)> {
    (0..n)
        .map(|_| {
            let surname = people.surname(rng, Origin::Migrant);
            let g = people::gender(rng, 0.7);
            let age = rng.gen_range(18..=45);
            (
                people.person(rng, surname, g, age, Origin::Migrant),
                "tenant",
            )
        })
        .collect()
}

fn resident(
    rng: &mut impl Rng,
    people: &People,
    citizen: Citizen,
    relation: &'static str,
    site: &Site,
) -> Resident {
    let today = people.today();
    let age = citizen.age_on(today);
    let migrant = citizen.origin == Origin::Migrant;
    let minority = rng.gen_bool(if migrant { 0.08 } else { 0.02 });
    let earliest = citizen.birth + Duration::days(1);
    let move_in = if migrant || rng.gen_bool(0.4) {
        Some((today - Duration::days(rng.gen_range(60..3_000))).max(earliest))
    } else {
        None
    };
    let registered_address = if migrant {
        people.village_address(rng, &citizen)
    } else {
        format!("{}{}", citizen.home_division_name(), site.label())
    };
    Resident {
        id: RecordId::new_v7(),
        relation,
        category: if migrant { "migrant" } else { "registered" },
        ethnicity: if minority {
            MINORITIES.choose(rng).copied().unwrap_or("hui")
        } else {
            "han"
        },
        registered_address,
        employer: employer(rng, age, migrant),
        move_in,
        permit: migrant.then(|| residence_permit(rng)),
        notes: (age >= 60 && !migrant).then_some("退休"),
        citizen,
    }
}

fn employer(rng: &mut impl Rng, age: u32, migrant: bool) -> Option<&'static str> {
    match age {
        0..=2 => None,
        3..=5 => Some("海门区实验幼儿园"),
        6..=11 => Some("海门区东洲小学"),
        12..=14 => Some("海门区东洲中学"),
        15..=17 => Some("江苏省海门中学"),
        18..=59 if migrant => MIGRANT_EMPLOYERS.choose(rng).copied(),
        18..=59 => LOCAL_EMPLOYERS.choose(rng).copied(),
        _ => None,
    }
}

fn residence_permit(rng: &mut impl Rng) -> &'static str {
    match rng.gen_range(0..100) {
        0..=59 => "valid",
        60..=74 => "applied",
        75..=89 => "none",
        _ => "expired",
    }
}

fn fire_findings(rng: &mut impl Rng, usage: HouseUse) -> (Vec<&'static str>, Option<&'static str>) {
    const COMMON: &[&str] = &["ebike_indoor_charging", "no_extinguisher", "flying_lead"];
    const CROWDED: &[&str] = &[
        "ebike_indoor_charging",
        "flying_lead",
        "no_smoke_detector",
        "exit_blocked",
        "unsafe_wiring",
        "combustible_decoration",
        "no_fire_pledge",
    ];
    let (clean, pool, picks): (f64, &[&str], usize) = match usage {
        HouseUse::GroupRented => (0.0, CROWDED, rng.gen_range(2..=3)),
        HouseUse::Mixed | HouseUse::Business => (
            0.5,
            &["living_with_business", "no_extinguisher", "unsafe_wiring"],
            1,
        ),
        HouseUse::Rented => (0.7, COMMON, 1),
        _ => (0.85, COMMON, 1),
    };
    if rng.gen_bool(clean) {
        return (vec!["none"], None);
    }
    let issues: Vec<&str> = pool.choose_multiple(rng, picks).copied().collect();
    let note = [
        "已当场告知整改",
        "已发放消防安全告知书",
        "责令限期整改，将回访",
    ]
    .choose(rng)
    .copied();
    (issues, note)
}

impl Household {
    /// The `house` form's values, with the address parts a device derives
    /// from the picked standard address.
    pub fn house_values(&self, site: &Site, places: &DemoPlaces) -> Values {
        let mut v = Values::new();
        v.insert("address".into(), json!(site.id.to_string()));
        v.insert(
            "community".into(),
            json!(places.communities[site.grid].name),
        );
        v.insert("road".into(), json!(site.road));
        v.insert("door_number".into(), json!(site.door.to_string()));
        if let Some(f) = site.flat {
            v.insert("building".into(), json!(f.building.to_string()));
            v.insert("room".into(), json!(f.room.to_string()));
        }
        v.insert("use".into(), json!(self.usage.value()));
        v.insert("area_m2".into(), json!(self.area_m2));
        v.insert("storeys".into(), json!(site.storeys));
        v.insert("owner_name".into(), json!(self.owner.name));
        if self.owner_id_recorded {
            v.insert("owner_id_number".into(), json!(self.owner.id_number));
        }
        if let Some(phone) = &self.owner_phone {
            v.insert("owner_phone".into(), json!(phone));
        }
        if let Some(r) = &self.rental {
            v.insert("rental_start".into(), json!(r.start.to_string()));
            v.insert("rental_end".into(), json!(r.end.to_string()));
            v.insert("tenant_count".into(), json!(r.tenants));
        }
        v.insert("fire_issues".into(), json!(self.fire_issues));
        if let Some(note) = self.fire_notes {
            v.insert("fire_notes".into(), json!(note));
        }
        v
    }
}

impl Resident {
    /// The `person` form's values (gender, birth date, age and registered
    /// division are derived from the ID number by validation, never sent).
    pub fn person_values(&self, house: RecordId) -> Values {
        let mut v = Values::new();
        v.insert("house".into(), json!(house.to_string()));
        v.insert("relation".into(), json!(self.relation));
        v.insert("category".into(), json!(self.category));
        v.insert("name".into(), json!(self.citizen.name));
        v.insert("id_number".into(), json!(self.citizen.id_number));
        v.insert("ethnicity".into(), json!(self.ethnicity));
        v.insert("registered_address".into(), json!(self.registered_address));
        if let Some(phone) = &self.citizen.phone {
            v.insert("phone".into(), json!(phone));
        }
        if let Some(employer) = self.employer {
            v.insert("employer".into(), json!(employer));
        }
        if let Some(date) = self.move_in {
            v.insert("move_in_date".into(), json!(date.to_string()));
        }
        if let Some(permit) = self.permit {
            v.insert("residence_permit".into(), json!(permit));
        }
        if let Some(notes) = self.notes {
            v.insert("notes".into(), json!(notes));
        }
        v
    }

    /// This resident as one entry of a visit's `residents` repeat.
    pub fn visit_entry(&self) -> serde_json::Value {
        let mut v = Values::new();
        v.insert("name".into(), json!(self.citizen.name));
        v.insert("id_number".into(), json!(self.citizen.id_number));
        v.insert("relation".into(), json!(self.relation));
        if let Some(phone) = &self.citizen.phone {
            v.insert("phone".into(), json!(phone));
        }
        v.insert("category".into(), json!(self.category));
        serde_json::Value::Object(v)
    }
}
