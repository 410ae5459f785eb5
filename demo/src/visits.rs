//! Demo household visits (走访记录) by the community officers.

use beatbook_schema::form::Values;
use beatbook_schema::ids::RecordId;
use chrono::{DateTime, Duration, FixedOffset, NaiveTime};
use rand::seq::{IteratorRandom, SliceRandom};
use rand::Rng;
use serde_json::json;

use crate::households::Household;

/// One visit to a household.
#[derive(Debug, Clone, PartialEq)]
pub struct Visit {
    /// Its `visit` record.
    pub id: RecordId,
    /// Index of the household visited.
    pub household: usize,
    /// When, in local time.
    pub at: DateTime<FixedOffset>,
    /// `purpose` choice.
    pub purpose: &'static str,
    /// `outcome` choice.
    pub outcome: &'static str,
    /// What the officer noted.
    pub observations: &'static str,
}

/// Plans `n` visits to distinct occupied households, in the days before `now`.
pub fn plan_visits(
    rng: &mut impl Rng,
    households: &[Household],
    n: usize,
    now: DateTime<FixedOffset>,
) -> Vec<Visit> {
    let occupied = households
        .iter()
        .enumerate()
        .filter(|(_, h)| !h.residents.is_empty())
        .map(|(i, _)| i);
    let mut picked = occupied.choose_multiple(rng, n);
    picked.sort_unstable();
    picked
        .into_iter()
        .map(|household| visit(rng, household, now))
        .collect()
}

fn visit(rng: &mut impl Rng, household: usize, now: DateTime<FixedOffset>) -> Visit {
    let (purpose, outcome, observations) = [
        (
            "household_visit",
            "unchanged",
            "入户走访，核实居住人员信息无变化，宣传防范电信网络诈骗知识。",
        ),
        (
            "household_visit",
            "updated",
            "入户走访，更新了联系电话，提醒电动车不要在楼道内充电。",
        ),
        (
            "verification",
            "unchanged",
            "核查出租房屋承租人员信息，与登记一致。",
        ),
        (
            "safety_check",
            "unchanged",
            "检查家中燃气和电动车充电情况，未发现隐患。",
        ),
        (
            "household_visit",
            "nobody_home",
            "无人在家，已在门上留下警民联系卡。",
        ),
    ]
    .choose(rng)
    .copied()
    .unwrap_or(("household_visit", "unchanged", ""));
    let day = (now - Duration::days(rng.gen_range(1..=30))).date_naive();
    let time = NaiveTime::from_hms_opt(rng.gen_range(9..=19), rng.gen_range(0..60), 0)
        .unwrap_or(NaiveTime::MIN);
    let at = day
        .and_time(time)
        .and_local_timezone(*now.offset())
        .single()
        .unwrap_or(now);
    Visit {
        id: RecordId::new_v7(),
        household,
        at,
        purpose,
        outcome,
        observations,
    }
}

impl Visit {
    /// The `visit` form's values, as the officer's device fills them.
    pub fn values(
        &self,
        house: &Household,
        address: RecordId,
        officer: &str,
        grid: &str,
    ) -> Values {
        let mut v = Values::new();
        v.insert("visit_date".into(), json!(self.at.to_rfc3339()));
        v.insert("officer".into(), json!(officer));
        v.insert("grid".into(), json!(grid));
        v.insert("purpose".into(), json!(self.purpose));
        v.insert("address".into(), json!(address.to_string()));
        v.insert("house".into(), json!(house.id.to_string()));
        v.insert("outcome".into(), json!(self.outcome));
        if self.outcome != "nobody_home" {
            let residents: Vec<_> = house.residents.iter().map(|r| r.visit_entry()).collect();
            v.insert("residents".into(), json!(residents));
        }
        v.insert("observations".into(), json!(self.observations));
        v
    }
}
