//! Reading and writing memberships, and the status filter lists use.

use std::collections::HashMap;

use chrono::{Days, NaiveDate, NaiveDateTime};
use diesel::dsl::not;
use diesel::prelude::*;
use diesel::sql_types::Bool;

use super::{
    ActionRecord, GraceWindow, Membership, MembershipAction, MembershipStatus, Period, Request,
    Tier, Withdrawal,
};
use crate::db::schema::{
    membership_actions, membership_periods, membership_withdrawal_periods, membership_withdrawals,
    memberships, organisations,
};
use crate::db::{Backend, DbConn};
use crate::domain::{DomainError, FieldError, new_id, now, one_of, parse_stored};

/// Memberships put together from their rows, whichever statements read them (`load` here,
/// or the organisations' one statement for all their sets): periods and withdrawals find
/// their membership and are put in date order, whatever order they came in.
#[derive(Default)]
pub struct Assembly {
    found: HashMap<String, Membership>,
    periods: Vec<(String, Period)>,
    withdrawals: Vec<(String, Withdrawal)>,
}

impl Assembly {
    pub fn membership(
        &mut self,
        organisation_id: String,
        tier: &str,
        applied_on: NaiveDate,
        joined_on: Option<NaiveDate>,
    ) -> Result<(), DomainError> {
        let membership = Membership {
            organisation_id: organisation_id.clone(),
            tier: parse_stored::<Tier>(tier)?,
            applied_on,
            joined_on,
            periods: Vec::new(),
            withdrawals: Vec::new(),
        };
        self.found.insert(organisation_id, membership);
        Ok(())
    }

    pub fn period(&mut self, organisation_id: String, period: Period) {
        self.periods.push((organisation_id, period));
    }

    pub fn withdrawal(&mut self, organisation_id: String, withdrawal: Withdrawal) {
        self.withdrawals.push((organisation_id, withdrawal));
    }

    /// The memberships by organisation, each with its periods in start order (they never
    /// overlap) and its withdrawals in the order they were made.
    pub fn finish(mut self) -> HashMap<String, Membership> {
        self.periods.sort_by_key(|(_, period)| period.start_on);
        for (id, period) in self.periods {
            if let Some(membership) = self.found.get_mut(&id) {
                membership.periods.push(period);
            }
        }
        self.withdrawals
            .sort_by_key(|(_, withdrawal)| (withdrawal.withdrawn_on, withdrawal.reinstated_on));
        for (id, withdrawal) in self.withdrawals {
            if let Some(membership) = self.found.get_mut(&id) {
                membership.withdrawals.push(withdrawal);
            }
        }
        self.found
    }
}

/// Memberships of `ids` (those that have one), in three queries whatever their number.
pub fn load(conn: &mut DbConn, ids: &[String]) -> Result<HashMap<String, Membership>, DomainError> {
    let mut assembly = Assembly::default();
    if ids.is_empty() {
        return Ok(assembly.finish());
    }
    // `one_of!`: a membership's own endpoints read one organisation's.
    let rows: Vec<(String, String, NaiveDate, Option<NaiveDate>)> =
        one_of!(ids, memberships::organisation_id, |ours| {
            memberships::table
                .filter(ours)
                .select((
                    memberships::organisation_id,
                    memberships::tier,
                    memberships::applied_on,
                    memberships::joined_on,
                ))
                .load(conn)
        })?;
    for (id, tier, applied_on, joined_on) in rows {
        assembly.membership(id, &tier, applied_on, joined_on)?;
    }
    let periods: Vec<(String, NaiveDate, NaiveDate)> =
        one_of!(ids, membership_periods::organisation_id, |ours| {
            membership_periods::table
                .filter(ours)
                .select((
                    membership_periods::organisation_id,
                    membership_periods::start_on,
                    membership_periods::end_on,
                ))
                .load(conn)
        })?;
    for (id, start_on, end_on) in periods {
        assembly.period(id, Period { start_on, end_on });
    }
    let withdrawals: Vec<(String, NaiveDate, Option<NaiveDate>, String)> =
        one_of!(ids, membership_withdrawals::organisation_id, |ours| {
            membership_withdrawals::table
                .filter(ours)
                .select((
                    membership_withdrawals::organisation_id,
                    membership_withdrawals::withdrawn_on,
                    membership_withdrawals::reinstated_on,
                    membership_withdrawals::reason,
                ))
                .load(conn)
        })?;
    for (id, withdrawn_on, reinstated_on, reason) in withdrawals {
        let withdrawal = Withdrawal {
            withdrawn_on,
            reinstated_on,
            reason,
        };
        assembly.withdrawal(id, withdrawal);
    }
    Ok(assembly.finish())
}

/// The actions taken on an organisation's membership, oldest first.
pub fn history(conn: &mut DbConn, organisation_id: &str) -> Result<Vec<ActionRecord>, DomainError> {
    type Row = (
        String,
        NaiveDate,
        String,
        Option<NaiveDate>,
        Option<NaiveDate>,
        Option<String>,
        Option<String>,
        NaiveDateTime,
    );
    let rows: Vec<Row> = membership_actions::table
        .filter(membership_actions::organisation_id.eq(organisation_id))
        .order((membership_actions::created_at, membership_actions::id))
        .select((
            membership_actions::action,
            membership_actions::effective_on,
            membership_actions::tier,
            membership_actions::period_start_on,
            membership_actions::period_end_on,
            membership_actions::reason,
            membership_actions::actor_user_id,
            membership_actions::created_at,
        ))
        .load(conn)?;
    rows.into_iter()
        .map(
            |(action, effective_on, tier, start, end, reason, actor_user_id, created_at)| {
                Ok(ActionRecord {
                    action: parse_stored(&action)?,
                    effective_on,
                    tier: parse_stored(&tier)?,
                    period: start
                        .zip(end)
                        .map(|(start_on, end_on)| Period { start_on, end_on }),
                    reason,
                    actor_user_id,
                    created_at,
                })
            },
        )
        .collect()
}

/// Carries out `request` on the membership of `organisation_id`, checking it against the
/// status on `today`. One transaction; the organisation's row is locked first, so concurrent
/// actions on one membership run one after the other and periods can never overlap. The
/// organisation's version and `updated_at` move on, so sync and ETags see the change; the
/// time is taken after the lock, so the history's order is the order the actions ran in.
pub fn act(
    conn: &mut DbConn,
    organisation_id: &str,
    request: &Request,
    today: NaiveDate,
    grace: GraceWindow,
    actor_user_id: Option<&str>,
) -> Result<Membership, DomainError> {
    conn.transaction(|conn| {
        if !crate::domain::organisations::lock_live(conn, organisation_id)? {
            return Err(DomainError::NotFound("organisation"));
        }
        // Stamped once the lock is held: a later action always carries a later time.
        let at = now();
        diesel::update(organisations::table.find(organisation_id))
            .set((
                organisations::version.eq(organisations::version + 1),
                organisations::updated_at.eq(at),
            ))
            .execute(conn)?;
        let current = load(conn, &[organisation_id.to_owned()])?.remove(organisation_id);
        let status = current
            .as_ref()
            .and_then(|membership| membership.status_on(today, grace));
        let plan = plan(current.as_ref(), status, request, today)?;
        write(conn, organisation_id, &plan, at)?;
        diesel::insert_into(membership_actions::table)
            .values((
                membership_actions::id.eq(new_id()),
                membership_actions::organisation_id.eq(organisation_id),
                membership_actions::action.eq(request.action().as_str()),
                membership_actions::effective_on.eq(plan.effective_on),
                membership_actions::tier.eq(plan.tier.as_str()),
                membership_actions::period_start_on.eq(plan.new_period.map(|p| p.start_on)),
                membership_actions::period_end_on.eq(plan.new_period.map(|p| p.end_on)),
                membership_actions::reason.eq(plan.reason.clone()),
                membership_actions::actor_user_id.eq(actor_user_id),
                membership_actions::created_at.eq(at),
            ))
            .execute(conn)?;
        load(conn, &[organisation_id.to_owned()])?
            .remove(organisation_id)
            .ok_or(DomainError::NotFound("membership"))
    })
}

/// What an allowed action writes.
struct Plan {
    effective_on: NaiveDate,
    tier: Tier,
    /// Create the membership row (apply).
    create: Option<NaiveDate>,
    /// Move the application back to this day (an approval from before it).
    applied_on: Option<NaiveDate>,
    joined_on: Option<NaiveDate>,
    new_period: Option<Period>,
    /// Withdraw from this day: later periods end the day before.
    withdraw_on: Option<NaiveDate>,
    /// Reinstate the open withdrawal on this day.
    reinstate_on: Option<NaiveDate>,
    /// Cancel the open withdrawal, not yet in effect, restoring the periods it changed.
    cancel_withdrawal: bool,
    reason: Option<String>,
}

impl Plan {
    fn new(effective_on: NaiveDate, tier: Tier) -> Self {
        Self {
            effective_on,
            tier,
            create: None,
            applied_on: None,
            joined_on: None,
            new_period: None,
            withdraw_on: None,
            reinstate_on: None,
            cancel_withdrawal: false,
            reason: None,
        }
    }
}

fn not_allowed(
    action: MembershipAction,
    status: Option<MembershipStatus>,
    hint: &str,
) -> DomainError {
    let state = status.map_or("no membership".to_owned(), |s| format!("a {s} membership"));
    DomainError::Conflict {
        message: format!("cannot {action} {state}: {hint}"),
        errors: vec![FieldError::new(
            "status",
            "transition",
            format!("is {}", status.map_or("none", |s| s.as_str())),
        )],
    }
}

fn invalid(field: &str, message: &str) -> DomainError {
    DomainError::Invalid(vec![FieldError::new(field, "invalid", message)])
}

/// A period from `start_on` to `end_on`, or a year when no end is given.
fn period(start_on: NaiveDate, end_on: Option<NaiveDate>) -> Result<Period, DomainError> {
    match end_on {
        Some(end_on) if end_on < start_on => Err(invalid("end_on", "must not be before start_on")),
        Some(end_on) => Ok(Period { start_on, end_on }),
        None => Ok(Period::year_from(start_on)),
    }
}

/// Checks the move from `status` and works out its dates. Nothing is written here.
fn plan(
    current: Option<&Membership>,
    status: Option<MembershipStatus>,
    request: &Request,
    today: NaiveDate,
) -> Result<Plan, DomainError> {
    use MembershipStatus as S;
    let action = request.action();
    let refuse = |hint: &str| Err(not_allowed(action, status, hint));
    match (request, current) {
        (Request::Apply { tier, applied_on }, None) => {
            let on = applied_on.unwrap_or(today);
            // An application is recorded when it has been made: one dated ahead would leave
            // a membership with no status until then, that nothing could act on.
            if on > today {
                return Err(invalid("applied_on", "must not be in the future"));
            }
            let mut plan = Plan::new(on, *tier);
            plan.create = Some(on);
            Ok(plan)
        }
        (Request::Apply { .. }, Some(_)) => {
            refuse("the organisation already has a membership; renew or reinstate it")
        }
        (_, None) => refuse("the organisation has no membership; apply first"),
        (
            Request::Approve {
                start_on,
                end_on,
                joined_on,
            },
            Some(membership),
        ) => {
            if status != Some(S::Pending) || !membership.periods.is_empty() {
                return refuse("only a pending application can be approved");
            }
            if membership.open_withdrawal().is_some() {
                return refuse(
                    "a withdrawal is scheduled; it must take effect or be reinstated first",
                );
            }
            let new = period(start_on.unwrap_or(today), *end_on)?;
            let mut plan = Plan::new(new.start_on, membership.tier);
            // A period that starts before the application (a member recorded late) is
            // honoured: the application moves back to its start, so the membership is never
            // without a status during its own period.
            if new.start_on < membership.applied_on {
                plan.applied_on = Some(new.start_on);
            }
            plan.joined_on = Some(joined_on.unwrap_or(new.start_on));
            plan.new_period = Some(new);
            Ok(plan)
        }
        (
            Request::Renew {
                start_on,
                end_on,
                tier,
            },
            Some(membership),
        ) => {
            let last = membership.last_period();
            let start = match (status, last) {
                (Some(S::Current | S::Grace), Some(last)) => start_on.unwrap_or(
                    last.end_on
                        .checked_add_days(Days::new(1))
                        .unwrap_or(last.end_on),
                ),
                (Some(S::Lapsed), Some(_)) => start_on.unwrap_or(today),
                (Some(S::Withdrawn), _) => {
                    return refuse("reinstate a withdrawn membership instead");
                }
                _ => return refuse("approve the application first"),
            };
            if membership.open_withdrawal().is_some() {
                return refuse(
                    "a withdrawal is scheduled; it must take effect or be reinstated first",
                );
            }
            let new = period(start, *end_on)?;
            if let Some(clash) = membership.periods.iter().find(|p| p.end_on >= new.start_on) {
                return Err(DomainError::Conflict {
                    message: format!(
                        "the new period would overlap the period {} to {}",
                        clash.start_on, clash.end_on
                    ),
                    errors: vec![FieldError::new(
                        "start_on",
                        "overlap",
                        "overlaps an existing period",
                    )],
                });
            }
            let mut plan = Plan::new(new.start_on, tier.unwrap_or(membership.tier));
            plan.new_period = Some(new);
            Ok(plan)
        }
        (
            Request::Withdraw {
                reason,
                withdrawn_on,
            },
            Some(membership),
        ) => {
            if status == Some(S::Withdrawn) || membership.open_withdrawal().is_some() {
                return refuse("it is already withdrawn");
            }
            let on = withdrawn_on.unwrap_or(today);
            if on < membership.applied_on {
                return Err(invalid(
                    "withdrawn_on",
                    "must not be before the application",
                ));
            }
            // A withdrawal ends the latest period that has begun early, and removes those not
            // yet begun; a date before that period's start would remove periods that have
            // been held, which is history (most likely a mistyped year).
            let latest_begun = membership
                .periods
                .iter()
                .filter(|p| p.start_on <= today)
                .max_by_key(|p| p.start_on);
            if let Some(latest) = latest_begun.filter(|latest| on < latest.start_on) {
                return Err(DomainError::Conflict {
                    message: format!(
                        "withdrawn_on {on} is before the start of the latest period ({} to {}): \
                         a withdrawal may end that period early but never remove a period \
                         that has begun; check the date",
                        latest.start_on, latest.end_on
                    ),
                    errors: vec![FieldError::new(
                        "withdrawn_on",
                        "before_latest_period",
                        format!("must not be before {}", latest.start_on),
                    )],
                });
            }
            let mut plan = Plan::new(on, membership.tier);
            plan.withdraw_on = Some(on);
            plan.reason = Some(reason.clone());
            Ok(plan)
        }
        (Request::Reinstate { start_on, end_on }, Some(membership)) => {
            if let Some(scheduled) = membership
                .open_withdrawal()
                .filter(|w| w.withdrawn_on > today)
            {
                // Not yet in effect: reinstating cancels it, as if it had never been made.
                if start_on.is_some() || end_on.is_some() {
                    let message = "must not be given: the withdrawal has not taken effect, so \
                                   reinstating cancels it and restores the periods as they were";
                    let field = if start_on.is_some() {
                        "start_on"
                    } else {
                        "end_on"
                    };
                    return Err(invalid(field, message));
                }
                let mut plan = Plan::new(scheduled.withdrawn_on, membership.tier);
                plan.cancel_withdrawal = true;
                return Ok(plan);
            }
            let Some(withdrawal) = membership
                .open_withdrawal()
                .filter(|_| status == Some(S::Withdrawn))
            else {
                return refuse("only a withdrawn membership can be reinstated");
            };
            let start = start_on.unwrap_or(today);
            if start < withdrawal.withdrawn_on {
                return Err(invalid("start_on", "must not be before the withdrawal"));
            }
            let new = period(start, *end_on)?;
            let mut plan = Plan::new(new.start_on, membership.tier);
            plan.new_period = Some(new);
            plan.reinstate_on = Some(new.start_on);
            Ok(plan)
        }
    }
}

fn write(
    conn: &mut DbConn,
    organisation_id: &str,
    plan: &Plan,
    at: NaiveDateTime,
) -> Result<(), DomainError> {
    if let Some(applied_on) = plan.create {
        diesel::insert_into(memberships::table)
            .values((
                memberships::organisation_id.eq(organisation_id),
                memberships::tier.eq(plan.tier.as_str()),
                memberships::applied_on.eq(applied_on),
                memberships::created_at.eq(at),
                memberships::updated_at.eq(at),
            ))
            .execute(conn)?;
    } else {
        let mine = memberships::table.filter(memberships::organisation_id.eq(organisation_id));
        diesel::update(mine)
            .set((
                memberships::tier.eq(plan.tier.as_str()),
                memberships::updated_at.eq(at),
            ))
            .execute(conn)?;
        if let Some(joined_on) = plan.joined_on {
            diesel::update(mine)
                .set(memberships::joined_on.eq(joined_on))
                .execute(conn)?;
        }
        if let Some(applied_on) = plan.applied_on {
            diesel::update(mine)
                .set(memberships::applied_on.eq(applied_on))
                .execute(conn)?;
        }
    }
    if let Some(on) = plan.withdraw_on {
        let theirs = membership_periods::organisation_id.eq(organisation_id);
        let withdrawal_id = new_id();
        diesel::insert_into(membership_withdrawals::table)
            .values((
                membership_withdrawals::id.eq(&withdrawal_id),
                membership_withdrawals::organisation_id.eq(organisation_id),
                membership_withdrawals::withdrawn_on.eq(on),
                membership_withdrawals::reason.eq(plan.reason.clone().unwrap_or_default()),
                membership_withdrawals::created_at.eq(at),
            ))
            .execute(conn)?;
        // Kept as they are now, so a cancellation can put them back.
        let changed: Vec<(String, NaiveDate, NaiveDate, NaiveDateTime)> = membership_periods::table
            .filter(theirs)
            .filter(membership_periods::end_on.ge(on))
            .select((
                membership_periods::id,
                membership_periods::start_on,
                membership_periods::end_on,
                membership_periods::created_at,
            ))
            .load(conn)?;
        for (period_id, start_on, end_on, created_at) in changed {
            diesel::insert_into(membership_withdrawal_periods::table)
                .values((
                    membership_withdrawal_periods::withdrawal_id.eq(&withdrawal_id),
                    membership_withdrawal_periods::period_id.eq(period_id),
                    membership_withdrawal_periods::start_on.eq(start_on),
                    membership_withdrawal_periods::end_on.eq(end_on),
                    membership_withdrawal_periods::created_at.eq(created_at),
                ))
                .execute(conn)?;
        }
        // Periods not yet started when the withdrawal takes effect go; the one running ends
        // the day before.
        diesel::delete(
            membership_periods::table
                .filter(theirs)
                .filter(membership_periods::start_on.ge(on)),
        )
        .execute(conn)?;
        if let Some(eve) = on.pred_opt() {
            diesel::update(
                membership_periods::table
                    .filter(theirs)
                    .filter(membership_periods::end_on.ge(on)),
            )
            .set(membership_periods::end_on.eq(eve))
            .execute(conn)?;
        }
    }
    if plan.cancel_withdrawal {
        cancel_withdrawal(conn, organisation_id)?;
    }
    if let Some(on) = plan.reinstate_on {
        // Once in effect a withdrawal can no longer be cancelled: what it changed is history.
        diesel::delete(
            membership_withdrawal_periods::table.filter(
                membership_withdrawal_periods::withdrawal_id.eq_any(
                    membership_withdrawals::table
                        .filter(membership_withdrawals::organisation_id.eq(organisation_id))
                        .filter(membership_withdrawals::reinstated_on.is_null())
                        .select(membership_withdrawals::id),
                ),
            ),
        )
        .execute(conn)?;
        diesel::update(
            membership_withdrawals::table
                .filter(membership_withdrawals::organisation_id.eq(organisation_id))
                .filter(membership_withdrawals::reinstated_on.is_null()),
        )
        .set(membership_withdrawals::reinstated_on.eq(on))
        .execute(conn)?;
    }
    if let Some(new) = plan.new_period {
        diesel::insert_into(membership_periods::table)
            .values((
                membership_periods::id.eq(new_id()),
                membership_periods::organisation_id.eq(organisation_id),
                membership_periods::start_on.eq(new.start_on),
                membership_periods::end_on.eq(new.end_on),
                membership_periods::created_at.eq(at),
            ))
            .execute(conn)?;
    }
    Ok(())
}

/// Cancels the open withdrawal (one not yet in effect): the periods it shortened or removed
/// are restored as they were, same ids, and it is marked reinstated on its own date, so it
/// stays on record but holds on no day.
fn cancel_withdrawal(conn: &mut DbConn, organisation_id: &str) -> Result<(), DomainError> {
    use membership_withdrawal_periods as kept;
    let (withdrawal_id, withdrawn_on): (String, NaiveDate) = membership_withdrawals::table
        .filter(membership_withdrawals::organisation_id.eq(organisation_id))
        .filter(membership_withdrawals::reinstated_on.is_null())
        .select((
            membership_withdrawals::id,
            membership_withdrawals::withdrawn_on,
        ))
        .first(conn)?;
    let periods: Vec<(String, NaiveDate, NaiveDate, NaiveDateTime)> = kept::table
        .filter(kept::withdrawal_id.eq(&withdrawal_id))
        .select((
            kept::period_id,
            kept::start_on,
            kept::end_on,
            kept::created_at,
        ))
        .load(conn)?;
    for (period_id, start_on, end_on, created_at) in periods {
        diesel::delete(membership_periods::table.find(&period_id)).execute(conn)?;
        diesel::insert_into(membership_periods::table)
            .values((
                membership_periods::id.eq(&period_id),
                membership_periods::organisation_id.eq(organisation_id),
                membership_periods::start_on.eq(start_on),
                membership_periods::end_on.eq(end_on),
                membership_periods::created_at.eq(created_at),
            ))
            .execute(conn)?;
    }
    diesel::delete(kept::table.filter(kept::withdrawal_id.eq(&withdrawal_id))).execute(conn)?;
    diesel::update(membership_withdrawals::table.find(&withdrawal_id))
        .set(membership_withdrawals::reinstated_on.eq(withdrawn_on))
        .execute(conn)?;
    Ok(())
}

/// A condition on `organisations` rows.
pub type OrganisationCondition =
    Box<dyn BoxableExpression<organisations::table, Backend, SqlType = Bool>>;

/// Organisations whose status on `day` is one of `statuses`, as SQL with bound dates: the
/// same rules as `Membership::status_on`, without loading a single membership.
pub fn status_filter(
    statuses: &[MembershipStatus],
    day: NaiveDate,
    grace: GraceWindow,
) -> Option<OrganisationCondition> {
    use membership_periods as p;
    use membership_withdrawals as w;
    let grace_from = grace.earliest_end_in_grace(day);
    let id = || organisations::id;
    let withdrawn = || {
        id().eq_any(
            w::table
                .filter(w::withdrawn_on.le(day))
                .filter(w::reinstated_on.is_null().or(w::reinstated_on.gt(day)))
                .select(w::organisation_id),
        )
    };
    let covered = || {
        id().eq_any(
            p::table
                .filter(p::start_on.le(day))
                .filter(p::end_on.ge(day))
                .select(p::organisation_id),
        )
    };
    // A period that covers the day or ended within the grace window.
    let active = || {
        id().eq_any(
            p::table
                .filter(p::start_on.le(day))
                .filter(p::end_on.ge(grace_from))
                .select(p::organisation_id),
        )
    };
    let started = || {
        id().eq_any(
            p::table
                .filter(p::start_on.le(day))
                .select(p::organisation_id),
        )
    };
    let condition = |status: MembershipStatus| -> OrganisationCondition {
        match status {
            MembershipStatus::Withdrawn => Box::new(withdrawn()),
            MembershipStatus::Current => Box::new(covered().and(not(withdrawn()))),
            MembershipStatus::Grace => Box::new(active().and(not(covered())).and(not(withdrawn()))),
            MembershipStatus::Lapsed => Box::new(
                id().eq_any(
                    p::table
                        .filter(p::end_on.lt(grace_from))
                        .select(p::organisation_id),
                )
                .and(not(active()))
                .and(not(withdrawn())),
            ),
            MembershipStatus::Pending => Box::new(
                id().eq_any(
                    memberships::table
                        .filter(memberships::applied_on.le(day))
                        .select(memberships::organisation_id),
                )
                .and(not(started()))
                .and(not(withdrawn())),
            ),
        }
    };
    statuses
        .iter()
        .map(|status| condition(*status))
        .reduce(|all, next| Box::new(all.or(next)))
}
