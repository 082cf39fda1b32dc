//! Membership: an organisation applies, is approved into a period, renews period after
//! period, may withdraw (with a reason) and be reinstated. Status is derived for any date
//! from the periods and withdrawals, here for one organisation and in `store::status_filter`
//! as SQL for lists; the two must agree (tests check them against each other).

pub mod store;

use chrono::{Datelike, Days, NaiveDate};

text_enum! {
    /// Membership tier.
    pub enum Tier {
        Full => "full",
        Associate => "associate",
    }
}

text_enum! {
    /// Standing on a date: `pending` (applied, not yet approved or not yet started),
    /// `current` (a period covers the date), `grace` (the last period ended at most the grace
    /// window before), `lapsed` (longer ago), `withdrawn` (ended on purpose, from its date).
    pub enum MembershipStatus {
        Pending => "pending",
        Current => "current",
        Grace => "grace",
        Lapsed => "lapsed",
        Withdrawn => "withdrawn",
    }
}

text_enum! {
    /// What staff can do to a membership.
    pub enum MembershipAction {
        Apply => "apply",
        Approve => "approve",
        Renew => "renew",
        Withdraw => "withdraw",
        Reinstate => "reinstate",
    }
}

impl MembershipStatus {
    /// `current` and `grace`: the members reports count.
    pub fn is_active(self) -> bool {
        matches!(self, Self::Current | Self::Grace)
    }
}

/// Days a membership stays in `grace` after its last period ends (`MEMBERSHIP_GRACE_DAYS`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GraceWindow(pub u32);

impl GraceWindow {
    /// The earliest end date that still counts as `grace` on `day`.
    pub fn earliest_end_in_grace(self, day: NaiveDate) -> NaiveDate {
        day.checked_sub_days(Days::new(u64::from(self.0)))
            .unwrap_or(NaiveDate::MIN)
    }
}

/// `[start_on, end_on]`, both days included.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
pub struct Period {
    pub start_on: NaiveDate,
    pub end_on: NaiveDate,
}

impl Period {
    pub fn covers(&self, day: NaiveDate) -> bool {
        self.start_on <= day && day <= self.end_on
    }

    /// A year from `start_on`: to the day before its anniversary (1 April → 31 March;
    /// 1 March 2027 → 29 February 2028). The anniversary of 29 February in a common year is
    /// 1 March, as for a birthday, so 29 February 2024 → 28 February 2025: a full year, never
    /// a day short.
    pub fn year_from(start_on: NaiveDate) -> Self {
        let next_year = start_on.year() + 1;
        let end_on = start_on
            .with_year(next_year)
            .or_else(|| NaiveDate::from_ymd_opt(next_year, 3, 1))
            .and_then(|anniversary| anniversary.pred_opt())
            .unwrap_or(start_on);
        Self { start_on, end_on }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Withdrawal {
    pub withdrawn_on: NaiveDate,
    pub reinstated_on: Option<NaiveDate>,
    pub reason: String,
}

impl Withdrawal {
    pub fn holds_on(&self, day: NaiveDate) -> bool {
        self.withdrawn_on <= day && self.reinstated_on.is_none_or(|back| back > day)
    }
}

/// Everything stored about one organisation's membership.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Membership {
    pub organisation_id: String,
    pub tier: Tier,
    pub applied_on: NaiveDate,
    pub joined_on: Option<NaiveDate>,
    /// In start order; they never overlap.
    pub periods: Vec<Period>,
    pub withdrawals: Vec<Withdrawal>,
}

impl Membership {
    /// The status on `day`, or `None` before the application.
    pub fn status_on(&self, day: NaiveDate, grace: GraceWindow) -> Option<MembershipStatus> {
        if self.withdrawals.iter().any(|w| w.holds_on(day)) {
            return Some(MembershipStatus::Withdrawn);
        }
        if self.period_on(day).is_some() {
            return Some(MembershipStatus::Current);
        }
        let last_ended = self
            .periods
            .iter()
            .filter(|period| period.end_on < day)
            .map(|period| period.end_on)
            .max();
        match last_ended {
            Some(end) if end >= grace.earliest_end_in_grace(day) => Some(MembershipStatus::Grace),
            Some(_) => Some(MembershipStatus::Lapsed),
            None if self.applied_on <= day => Some(MembershipStatus::Pending),
            None => None,
        }
    }

    pub fn period_on(&self, day: NaiveDate) -> Option<&Period> {
        self.periods.iter().find(|period| period.covers(day))
    }

    pub fn last_period(&self) -> Option<&Period> {
        self.periods.iter().max_by_key(|period| period.end_on)
    }

    /// The withdrawal not yet reinstated, if any (it may take effect in the future).
    pub fn open_withdrawal(&self) -> Option<&Withdrawal> {
        self.withdrawals.iter().find(|w| w.reinstated_on.is_none())
    }
}

/// A recorded action, for the history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActionRecord {
    pub action: MembershipAction,
    pub effective_on: NaiveDate,
    pub tier: Tier,
    pub period: Option<Period>,
    pub reason: Option<String>,
    pub actor_user_id: Option<String>,
    pub created_at: chrono::NaiveDateTime,
}

/// An action as requested, with the dates the caller chose (or `None` for the defaults).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    Apply {
        tier: Tier,
        applied_on: Option<NaiveDate>,
    },
    Approve {
        start_on: Option<NaiveDate>,
        end_on: Option<NaiveDate>,
        joined_on: Option<NaiveDate>,
    },
    Renew {
        start_on: Option<NaiveDate>,
        end_on: Option<NaiveDate>,
        tier: Option<Tier>,
    },
    Withdraw {
        reason: String,
        withdrawn_on: Option<NaiveDate>,
    },
    Reinstate {
        start_on: Option<NaiveDate>,
        end_on: Option<NaiveDate>,
    },
}

impl Request {
    pub fn action(&self) -> MembershipAction {
        match self {
            Self::Apply { .. } => MembershipAction::Apply,
            Self::Approve { .. } => MembershipAction::Approve,
            Self::Renew { .. } => MembershipAction::Renew,
            Self::Withdraw { .. } => MembershipAction::Withdraw,
            Self::Reinstate { .. } => MembershipAction::Reinstate,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(text: &str) -> NaiveDate {
        text.parse().unwrap()
    }

    fn member(periods: &[(&str, &str)]) -> Membership {
        Membership {
            organisation_id: "o".to_owned(),
            tier: Tier::Full,
            applied_on: day("2024-03-01"),
            joined_on: Some(day("2024-04-01")),
            periods: periods
                .iter()
                .map(|(start, end)| Period {
                    start_on: day(start),
                    end_on: day(end),
                })
                .collect(),
            withdrawals: Vec::new(),
        }
    }

    #[test]
    fn status_at_every_boundary() {
        use MembershipStatus::*;
        let grace = GraceWindow(30);
        let m = member(&[("2024-04-01", "2025-03-31")]);
        for (date, expected) in [
            ("2024-02-29", None),
            ("2024-03-01", Some(Pending)),
            ("2024-03-31", Some(Pending)),
            ("2024-04-01", Some(Current)),
            ("2025-03-31", Some(Current)),
            ("2025-04-01", Some(Grace)),
            ("2025-04-30", Some(Grace)),
            ("2025-05-01", Some(Lapsed)),
        ] {
            assert_eq!(m.status_on(day(date), grace), expected, "{date}");
        }
        let mut withdrawn = m.clone();
        withdrawn.withdrawals.push(Withdrawal {
            withdrawn_on: day("2024-10-01"),
            reinstated_on: Some(day("2025-01-01")),
            reason: "merged".to_owned(),
        });
        assert_eq!(withdrawn.status_on(day("2024-09-30"), grace), Some(Current));
        assert_eq!(
            withdrawn.status_on(day("2024-10-01"), grace),
            Some(Withdrawn)
        );
        assert_eq!(
            withdrawn.status_on(day("2024-12-31"), grace),
            Some(Withdrawn)
        );
        assert_eq!(withdrawn.status_on(day("2025-01-01"), grace), Some(Current));
    }

    #[test]
    fn a_year_ends_the_day_before_the_anniversary() {
        assert_eq!(
            Period::year_from(day("2026-04-01")).end_on,
            day("2027-03-31")
        );
        assert_eq!(
            Period::year_from(day("2024-02-29")).end_on,
            day("2025-02-28")
        );
        assert_eq!(
            Period::year_from(day("2024-03-01")).end_on,
            day("2025-02-28")
        );
        // A year that spans 29 February ends the day before the anniversary, not a day short.
        for (start, end) in [
            ("2027-03-01", "2028-02-29"),
            ("2023-03-01", "2024-02-29"),
            ("2027-12-31", "2028-12-30"),
            ("2028-02-28", "2029-02-27"),
            ("2028-01-01", "2028-12-31"),
        ] {
            assert_eq!(Period::year_from(day(start)).end_on, day(end), "{start}");
        }
    }
}
