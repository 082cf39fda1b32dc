//! `convene demo`: fills an empty database with a fictional alliance, deterministic from a
//! seed. Small sets (the default: 80 organisations, 240 contacts) go through the domain
//! functions, so every rule applies and memberships get a real history; large sets (for the
//! benchmarks) are written in batches straight into the tables, with the same shapes.
//! Every name is invented from word lists; every email is at an `example.org` domain.

use chrono::{Days, Months, NaiveDate, Utc};
use diesel::prelude::*;

use crate::db::DbConn;
use crate::db::schema::{
    contact_affiliations, contact_consents, contacts, membership_periods, memberships,
    organisation_communities, organisation_expertise, organisation_regions,
    organisation_report_codes, organisations,
};
use crate::domain::consultations::store::Invitee;
use crate::domain::consultations::{
    self, Attribution, ConsultationKind, ConsultationProfile, ConsultationStatus, ResponseFields,
};
use crate::domain::contacts::{self as people, AffiliationFields, ContactProfile, Purpose};
use crate::domain::expert_groups::{
    self as groups, GroupKind, GroupProfile, GroupStatus, MemberFields, MemberRole, Party,
};
use crate::domain::membership::{self, GraceWindow, Period, Request, Tier};
use crate::domain::organisations::{
    self as organisation_store, CommunityReply, GeographyScope, OrganisationKind,
    OrganisationProfile, Region, ReplyStatus, SizeBand, report_code_rows,
};
use crate::domain::{DomainError, VersionCheck, new_id, now, taxonomies};
use crate::with_backend;

/// Above this many organisations the demo is written in batches.
const DETAILED_LIMIT: usize = 2_000;
/// Rows per multi-row insert: well under both backends' limits on bound values.
const BATCH: usize = 1_000;

#[derive(Debug, Clone, Copy)]
pub struct DemoOptions {
    pub seed: u64,
    pub organisations: usize,
    pub contacts: usize,
}

impl Default for DemoOptions {
    fn default() -> Self {
        Self {
            seed: 2026,
            organisations: 80,
            contacts: 240,
        }
    }
}

/// SplitMix64: small, fast and the same on every machine, so a seed always gives the same
/// alliance.
struct Dice(u64);

impl Dice {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }

    /// `count` distinct items (fewer when there are not that many).
    fn distinct<T: Clone + PartialEq>(&mut self, items: &[T], count: usize) -> Vec<T> {
        let mut chosen = Vec::new();
        let mut attempts = 0;
        while chosen.len() < count.min(items.len()) && attempts < count * 20 {
            let item = self.pick(items).clone();
            if !chosen.contains(&item) {
                chosen.push(item);
            }
            attempts += 1;
        }
        chosen
    }

    /// Up to `most` distinct items.
    fn some<T: Clone + PartialEq>(&mut self, items: &[T], most: usize) -> Vec<T> {
        let mut chosen = Vec::new();
        for _ in 0..=self.below(most) {
            let item = self.pick(items).clone();
            if !chosen.contains(&item) {
                chosen.push(item);
            }
        }
        chosen
    }
}

const PLACES: &[&str] = &[
    "Northside",
    "Eastgate",
    "Riverside",
    "Hillcrest",
    "Millbrook",
    "Ashford Vale",
    "Kingsmere",
    "Harbourside",
    "Oakfield",
    "Westbridge",
    "Stonehaven",
    "Brookmoor",
    "Cwm Teg",
    "Llanfawr",
    "Thornbury Green",
    "Southmere",
    "Fernhill",
    "Clayworth",
    "Redhaven",
    "Larchfield",
];
const FOCUS: &[&str] = &[
    "Youth",
    "Peer",
    "Justice",
    "Young People's",
    "Family",
    "Futures",
    "Voices",
    "Second Chance",
    "Youth Law",
    "Girls'",
    "Care Leavers'",
    "Restorative",
    "Mentoring",
    "Community",
    "Advocacy",
];
const FORMS: &[&str] = &[
    "Project",
    "Trust",
    "Network",
    "Collective",
    "Alliance",
    "Centre",
    "Partnership",
    "CIC",
    "Foundation",
    "Forum",
    "Institute",
    "Association",
];
const GIVEN: &[&str] = &[
    "Amara", "Tomasz", "Priya", "Kwame", "Siobhan", "Yusuf", "Megan", "Dylan", "Aisha", "Rhys",
    "Chen", "Fatima", "Olu", "Bethan", "Marek", "Leah", "Jamal", "Nia", "Ravi", "Erin", "Zainab",
    "Callum", "Ioana", "Kofi", "Sian", "Hamza", "Grace", "Tariq", "Ellie", "Dev",
];
const FAMILY: &[&str] = &[
    "Okafor",
    "Nowak",
    "Sharma",
    "Mensah",
    "Byrne",
    "Hassan",
    "Jones",
    "Evans",
    "Begum",
    "Williams",
    "Li",
    "Ahmed",
    "Adeyemi",
    "Price",
    "Kowalski",
    "Green",
    "Campbell",
    "Davies",
    "Patel",
    "Murphy",
    "Ali",
    "Thomas",
    "Popescu",
    "Asante",
    "Hughes",
    "Khan",
    "Taylor",
    "Malik",
    "Roberts",
    "Chowdhury",
];
const ROLES: &[&str] = &[
    "Director",
    "Chief executive",
    "Policy officer",
    "Youth worker",
    "Trustee",
    "Researcher",
    "Project coordinator",
    "Participation lead",
    "Solicitor",
    "Development manager",
];
const WITHDRAWAL_REASONS: &[&str] = &[
    "Merged with another member",
    "Closed for lack of funding",
    "No longer working with young people in the justice system",
];

#[derive(Debug, Default, PartialEq, Eq)]
pub struct DemoSummary {
    pub organisations: usize,
    pub contacts: usize,
    pub groups: usize,
    pub consultations: usize,
}

/// Fills the database, which must have no organisations yet.
pub fn fill(conn: &mut DbConn, options: DemoOptions) -> Result<DemoSummary, String> {
    let existing: i64 = organisations::table
        .count()
        .get_result(conn)
        .map_err(|e| e.to_string())?;
    if existing > 0 {
        return Err(format!(
            "the database already has {existing} organisations; the demo fills only an empty one"
        ));
    }
    let mut dice = Dice(options.seed);
    let vocabulary = Vocabulary::load(conn).map_err(|e| e.to_string())?;
    let result = if options.organisations <= DETAILED_LIMIT {
        detailed(conn, &mut dice, &vocabulary, options)
    } else {
        batched(conn, &mut dice, &vocabulary, options)
    };
    result.map_err(|e| e.to_string())
}

/// The active codes profiles are drawn from.
struct Vocabulary {
    communities: Vec<String>,
    expertise: Vec<String>,
}

impl Vocabulary {
    fn load(conn: &mut DbConn) -> Result<Self, DomainError> {
        Ok(Self {
            communities: taxonomies::communities(conn, false)?
                .into_iter()
                .map(|c| c.code)
                .collect(),
            expertise: taxonomies::expertise_areas(conn, false)?
                .into_iter()
                .map(|e| e.code)
                .collect(),
        })
    }
}

fn organisation_name(dice: &mut Dice, index: usize) -> String {
    let name = format!(
        "{} {} {}",
        dice.pick(PLACES),
        dice.pick(FOCUS),
        dice.pick(FORMS)
    );
    // Past the number of combinations, a number keeps names apart.
    if index >= PLACES.len() * FOCUS.len() {
        format!("{name} {}", index + 1)
    } else {
        name
    }
}

fn reply(dice: &mut Dice, codes: &[String]) -> CommunityReply {
    match dice.below(10) {
        0 => CommunityReply {
            reply_status: ReplyStatus::NotAsked,
            communities: Vec::new(),
        },
        1 => CommunityReply {
            reply_status: ReplyStatus::PreferNotToSay,
            communities: Vec::new(),
        },
        _ => CommunityReply {
            reply_status: ReplyStatus::Answered,
            communities: dice.some(codes, 3),
        },
    }
}

fn profile(dice: &mut Dice, vocabulary: &Vocabulary, name: String) -> OrganisationProfile {
    let scope = *dice.pick(GeographyScope::ALL);
    let regions = match scope {
        GeographyScope::National => Region::ALL.to_vec(),
        _ => dice.some(Region::ALL, 2),
    };
    let slug: String = name
        .to_lowercase()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .collect();
    OrganisationProfile {
        kind: *dice.pick(OrganisationKind::ALL),
        size_band: Some(*dice.pick(SizeBand::ALL)),
        charity_number: None,
        company_number: None,
        website: Some(format!("https://{slug}.example.org")),
        email: Some(format!("hello@{slug}.example.org")),
        phone: None,
        postcode: None,
        description: None,
        geography_scope: Some(scope),
        regions,
        expertise: dice.some(&vocabulary.expertise, 4),
        leadership: reply(dice, &vocabulary.communities),
        mission: reply(dice, &vocabulary.communities),
        lived_experience_led: match dice.below(3) {
            0 => None,
            1 => Some(true),
            _ => Some(false),
        },
        name,
    }
}

/// Which standing a demo organisation is given, as of today.
#[derive(Debug, Clone, Copy)]
enum Standing {
    Prospect,
    Pending,
    Current,
    Grace,
    Lapsed,
    Withdrawn,
}

fn standing(dice: &mut Dice) -> Standing {
    match dice.below(100) {
        0..=9 => Standing::Prospect,
        10..=16 => Standing::Pending,
        17..=74 => Standing::Current,
        75..=82 => Standing::Grace,
        83..=93 => Standing::Lapsed,
        _ => Standing::Withdrawn,
    }
}

fn days_before(day: NaiveDate, days: usize) -> NaiveDate {
    day.checked_sub_days(Days::new(days as u64)).unwrap_or(day)
}

/// The year-long period that ends on `end_on`.
fn year_ending(end_on: NaiveDate) -> Period {
    let start_on = end_on
        .succ_opt()
        .and_then(|next| next.checked_sub_months(Months::new(12)))
        .unwrap_or(end_on);
    Period { start_on, end_on }
}

/// The periods (oldest first) and withdrawal day giving `standing` on `today`.
fn history(
    dice: &mut Dice,
    standing: Standing,
    today: NaiveDate,
) -> (Vec<Period>, Option<NaiveDate>) {
    let last = match standing {
        Standing::Prospect | Standing::Pending => return (Vec::new(), None),
        Standing::Current | Standing::Withdrawn => {
            year_ending(days_before(today, 0) + Days::new(1 + dice.below(330) as u64))
        }
        Standing::Grace => year_ending(days_before(today, 1 + dice.below(25))),
        Standing::Lapsed => year_ending(days_before(today, 40 + dice.below(500))),
    };
    let mut periods = vec![last];
    for _ in 0..dice.below(5) {
        let first = periods[0];
        let Some(end) = first.start_on.pred_opt() else {
            break;
        };
        periods.insert(0, year_ending(end));
    }
    let withdrawn_on = matches!(standing, Standing::Withdrawn).then(|| {
        days_before(today, 1 + dice.below(60))
            .max(last.start_on.succ_opt().unwrap_or(last.start_on))
    });
    (periods, withdrawn_on)
}

fn detailed(
    conn: &mut DbConn,
    dice: &mut Dice,
    vocabulary: &Vocabulary,
    options: DemoOptions,
) -> Result<DemoSummary, DomainError> {
    let today = Utc::now().date_naive();
    let grace = GraceWindow(30);
    let mut organisation_ids = Vec::new();
    for index in 0..options.organisations {
        let name = organisation_name(dice, index);
        let id = organisation_store::create(conn, &profile(dice, vocabulary, name))?.id;
        let standing = standing(dice);
        let (periods, withdrawn_on) = history(dice, standing, today);
        if !matches!(standing, Standing::Prospect) {
            let applied_on = periods
                .first()
                .map_or(days_before(today, 1 + dice.below(40)), |p| {
                    days_before(p.start_on, 14)
                });
            let tier = if dice.chance(80) {
                Tier::Full
            } else {
                Tier::Associate
            };
            let apply = Request::Apply {
                tier,
                applied_on: Some(applied_on),
            };
            membership::store::act(conn, &id, &apply, today, grace, None)?;
        }
        for (n, period) in periods.iter().enumerate() {
            let request = match n {
                0 => Request::Approve {
                    start_on: Some(period.start_on),
                    end_on: Some(period.end_on),
                    joined_on: None,
                },
                _ => Request::Renew {
                    start_on: Some(period.start_on),
                    end_on: Some(period.end_on),
                    tier: None,
                },
            };
            // An action is judged on the day it is taken; the demo writes history, so each
            // is taken on its own start day.
            membership::store::act(conn, &id, &request, period.start_on, grace, None)?;
        }
        if let Some(withdrawn_on) = withdrawn_on {
            let reason = dice.pick(WITHDRAWAL_REASONS).to_string();
            membership::store::act(
                conn,
                &id,
                &Request::Withdraw {
                    reason,
                    withdrawn_on: Some(withdrawn_on),
                },
                withdrawn_on,
                grace,
                None,
            )?;
        }
        organisation_ids.push(id);
    }

    let mut contact_ids = Vec::new();
    for index in 0..options.contacts {
        let given = dice.pick(GIVEN).to_string();
        let family = dice.pick(FAMILY).to_string();
        let email = format!(
            "{}.{}{}@people.example.org",
            given.to_lowercase(),
            family.to_lowercase(),
            index + 1
        );
        let contact = people::store::create(
            conn,
            &ContactProfile {
                given_name: given,
                family_name: family,
                email: Some(email),
                phone: None,
                job_title: Some(dice.pick(ROLES).to_string()),
                pronouns: None,
            },
        )?;
        if !organisation_ids.is_empty() {
            if dice.chance(15) {
                let earlier = dice.pick(&organisation_ids).clone();
                let fields = AffiliationFields {
                    role: Some(dice.pick(ROLES).to_string()),
                    is_primary: false,
                    start_on: Some(days_before(today, 900 + dice.below(900))),
                    end_on: Some(days_before(today, 30 + dice.below(800))),
                };
                people::store::add_affiliation(conn, &contact.id, &earlier, &fields)?;
            }
            let organisation = dice.pick(&organisation_ids).clone();
            let fields = AffiliationFields {
                role: Some(dice.pick(ROLES).to_string()),
                is_primary: true,
                start_on: Some(days_before(today, dice.below(800))),
                end_on: None,
            };
            people::store::add_affiliation(conn, &contact.id, &organisation, &fields)?;
        }
        for (purpose, percent) in [
            (Purpose::Newsletter, 65),
            (Purpose::PolicyUpdates, 45),
            (Purpose::Events, 35),
            (Purpose::Research, 15),
        ] {
            if dice.chance(percent) {
                people::store::record_consent(
                    conn,
                    &contact.id,
                    purpose,
                    true,
                    "Demo: signed up at an alliance event",
                    None,
                )?;
                if dice.chance(10) {
                    people::store::record_consent(
                        conn,
                        &contact.id,
                        purpose,
                        false,
                        "Demo: unsubscribed by email",
                        None,
                    )?;
                }
            }
        }
        contact_ids.push(contact.id);
    }
    let (groups, consultations) = if organisation_ids.len() >= 10 && contact_ids.len() >= 10 {
        convenings(conn, dice, &organisation_ids, &contact_ids, today)?
    } else {
        (0, 0)
    };
    Ok(DemoSummary {
        organisations: organisation_ids.len(),
        contacts: contact_ids.len(),
        groups,
        consultations,
    })
}

/// A group the demo convenes: (name, kind, status, expertise, organisations, contacts).
type GroupPlan = (
    &'static str,
    GroupKind,
    GroupStatus,
    &'static [&'static str],
    usize,
    usize,
);

const GROUPS: &[GroupPlan] = &[
    (
        "Research Advisory Group",
        GroupKind::AdvisoryGroup,
        GroupStatus::Active,
        &["research_evidence", "racial_justice"],
        5,
        3,
    ),
    (
        "Equity, Diversity and Inclusion Sub-committee",
        GroupKind::SubCommittee,
        GroupStatus::Active,
        &[
            "racial_justice",
            "gypsy_roma_traveller",
            "girls_young_women",
        ],
        6,
        2,
    ),
    (
        "Young People's Participation Group",
        GroupKind::ParticipationGroup,
        GroupStatus::Active,
        &["participation_voice"],
        1,
        8,
    ),
    (
        "Policing and Stop and Search Working Group",
        GroupKind::WorkingGroup,
        GroupStatus::Active,
        &["policing", "racial_justice"],
        7,
        1,
    ),
    (
        "Girls in the System Expert Group",
        GroupKind::ExpertGroup,
        GroupStatus::Forming,
        &["girls_young_women", "exploitation"],
        3,
        1,
    ),
    (
        "Custody Review Working Group",
        GroupKind::WorkingGroup,
        GroupStatus::Closed,
        &["custody_resettlement"],
        5,
        0,
    ),
];

/// Expert groups with chairs and members (one group closed, its members gone), and
/// consultations in every status with invitations (some through groups) and responses
/// (some anonymous, some from people in their own right, attendance at events).
fn convenings(
    conn: &mut DbConn,
    dice: &mut Dice,
    organisation_ids: &[String],
    contact_ids: &[String],
    today: NaiveDate,
) -> Result<(usize, usize), DomainError> {
    let mut group_ids = Vec::new();
    for (name, kind, status, expertise, organisations, people) in GROUPS {
        let started_on = days_before(today, 200 + dice.below(900));
        let closed = *status == GroupStatus::Closed;
        let group = groups::store::create(
            conn,
            &GroupProfile {
                name: (*name).to_owned(),
                kind: *kind,
                purpose: Some(format!(
                    "Demo: brings members together on {}.",
                    expertise.join(", ").replace('_', " ")
                )),
                expertise: expertise.iter().map(|c| (*c).to_owned()).collect(),
                status: if closed { GroupStatus::Active } else { *status },
                started_on: Some(started_on),
                ended_on: None,
            },
        )?;
        let left_on = closed.then(|| days_before(today, 60 + dice.below(100)));
        let mut parties: Vec<Party> = dice
            .distinct(organisation_ids, *organisations)
            .into_iter()
            .map(Party::Organisation)
            .collect();
        parties.extend(
            dice.distinct(contact_ids, *people)
                .into_iter()
                .map(Party::Contact),
        );
        for (n, party) in parties.iter().enumerate() {
            let role = match n {
                0 => MemberRole::Chair,
                1 if parties.len() > 4 => MemberRole::CoChair,
                _ if n + 1 == parties.len() && parties.len() > 3 => MemberRole::Secretariat,
                _ => MemberRole::Member,
            };
            let fields = MemberFields {
                role,
                joined_on: started_on,
                left_on,
            };
            groups::store::add_member(conn, &group.id, party, &fields)?;
        }
        // A member who moved on, kept as history.
        if !closed && let Some(former) = organisation_ids.get(dice.below(organisation_ids.len())) {
            let fields = MemberFields {
                role: MemberRole::Observer,
                joined_on: started_on,
                left_on: Some(days_before(today, 30)),
            };
            let party = Party::Organisation(former.clone());
            // Already a current member by chance: the rule refuses a second membership.
            if !parties.contains(&party) {
                groups::store::add_member(conn, &group.id, &party, &fields)?;
            }
        }
        if closed {
            groups::store::update(conn, &group.id, &VersionCheck::Any, |p| {
                Ok(GroupProfile {
                    status: GroupStatus::Closed,
                    ended_on: left_on,
                    ..p.clone()
                })
            })?;
        }
        group_ids.push(group.id);
    }

    // (title, kind, final status, expertise, lead group, invited group, invited organisations,
    //  responses in percent of invitees, anonymous in percent, people responding in their own right)
    type ConsultationPlan = (
        &'static str,
        ConsultationKind,
        ConsultationStatus,
        &'static [&'static str],
        Option<usize>,
        Option<usize>,
        usize,
        usize,
        usize,
        usize,
    );
    const CONSULTATIONS: &[ConsultationPlan] = &[
        (
            "Member consultation: our strategy for 2027 to 2030",
            ConsultationKind::MemberConsultation,
            ConsultationStatus::Published,
            &["participation_voice"],
            None,
            None,
            30,
            60,
            10,
            0,
        ),
        (
            "Call for evidence: girls in the youth justice system",
            ConsultationKind::CallForEvidence,
            ConsultationStatus::Open,
            &["girls_young_women", "exploitation"],
            Some(4),
            Some(1),
            8,
            40,
            30,
            2,
        ),
        (
            "Roundtable: policing and stop and search",
            ConsultationKind::Roundtable,
            ConsultationStatus::Closed,
            &["policing", "racial_justice"],
            Some(3),
            Some(3),
            4,
            80,
            0,
            1,
        ),
        (
            "Young people's panel: what fair treatment looks like",
            ConsultationKind::Event,
            ConsultationStatus::Closed,
            &["participation_voice"],
            Some(2),
            Some(2),
            0,
            70,
            20,
            0,
        ),
        (
            "Survey: members' capacity and funding",
            ConsultationKind::Survey,
            ConsultationStatus::Open,
            &["research_evidence"],
            None,
            None,
            20,
            30,
            50,
            0,
        ),
        (
            "Response to the youth justice white paper",
            ConsultationKind::GovernmentResponse,
            ConsultationStatus::Draft,
            &["courts_legal_rights", "diversion"],
            Some(0),
            None,
            0,
            0,
            0,
            0,
        ),
    ];
    for (
        title,
        kind,
        status,
        expertise,
        lead,
        via_group,
        organisations,
        respond,
        anonymous,
        individuals,
    ) in CONSULTATIONS
    {
        let opens_on = days_before(today, 20 + dice.below(300));
        let consultation = consultations::store::create(
            conn,
            &ConsultationProfile {
                title: (*title).to_owned(),
                kind: *kind,
                summary: Some(
                    "Demo: what we asked, and why it matters for children in the system."
                        .to_owned(),
                ),
                expertise: expertise.iter().map(|c| (*c).to_owned()).collect(),
                lead_group_id: lead.and_then(|n| group_ids.get(n).cloned()),
                opens_on: Some(opens_on),
                closes_on: Some(opens_on + Days::new(42)),
                status: if *status == ConsultationStatus::Draft {
                    ConsultationStatus::Draft
                } else {
                    ConsultationStatus::Open
                },
                external_url: None,
            },
        )?;
        if *status == ConsultationStatus::Draft {
            continue;
        }
        let mut invitees = Vec::new();
        if let Some(group) = via_group.and_then(|n| group_ids.get(n)) {
            let (invited, _) = consultations::store::invite(
                conn,
                &consultation.id,
                &Invitee::Group(group.clone()),
            )?;
            invitees.extend(invited.into_iter().map(|i| i.party));
        }
        for organisation in dice.distinct(organisation_ids, *organisations) {
            let (invited, _) = consultations::store::invite(
                conn,
                &consultation.id,
                &Invitee::Organisation(organisation),
            )?;
            invitees.extend(invited.into_iter().map(|i| i.party));
        }
        let is_event = matches!(kind, ConsultationKind::Roundtable | ConsultationKind::Event);
        let mut respondents: Vec<Party> = invitees
            .into_iter()
            .filter(|_| dice.chance(*respond))
            .collect();
        respondents.extend(
            dice.distinct(contact_ids, *individuals)
                .into_iter()
                .map(Party::Contact),
        );
        let mut answered = std::collections::HashSet::new();
        for party in respondents {
            if !answered.insert(party.clone()) {
                continue;
            }
            let fields = ResponseFields {
                summary: Some(
                    "Demo: evidence from practice, with examples from the last year.".to_owned(),
                ),
                attribution: if dice.chance(*anonymous) {
                    Attribution::Anonymous
                } else {
                    Attribution::Named
                },
                attended: is_event.then(|| dice.chance(85)),
                submitted_at: now(),
            };
            consultations::store::respond(
                conn,
                &consultation.id,
                party.organisation_id(),
                party.contact_id(),
                &fields,
            )?;
        }
        let path: &[ConsultationStatus] = match status {
            ConsultationStatus::Closed => &[ConsultationStatus::Closed],
            ConsultationStatus::Published => {
                &[ConsultationStatus::Closed, ConsultationStatus::Published]
            }
            _ => &[],
        };
        for next in path {
            consultations::store::update(conn, &consultation.id, &VersionCheck::Any, |p| {
                Ok(ConsultationProfile {
                    status: *next,
                    ..p.clone()
                })
            })?;
        }
    }
    Ok((group_ids.len(), CONSULTATIONS.len()))
}

/// Runs `insert` on the rows in batches of `BATCH`, each a multi-row insert (which diesel
/// offers per backend, hence `with_backend!`).
macro_rules! insert_batched {
    ($conn:expr, $table:expr, $rows:expr) => {{
        for chunk in $rows.chunks(BATCH) {
            with_backend!($conn, |c| diesel::insert_into($table)
                .values(chunk)
                .execute(c))?;
        }
    }};
}

fn batched(
    conn: &mut DbConn,
    dice: &mut Dice,
    vocabulary: &Vocabulary,
    options: DemoOptions,
) -> Result<DemoSummary, DomainError> {
    let today = Utc::now().date_naive();
    let at = now();
    let mut organisation_ids = Vec::with_capacity(options.organisations);
    let parents = taxonomies::CommunityParents::load(conn)?;
    for start in (0..options.organisations).step_by(BATCH) {
        let end = (start + BATCH).min(options.organisations);
        let (mut rows, mut regions, mut expertise, mut communities) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        let (mut members, mut periods, mut report_codes) = (Vec::new(), Vec::new(), Vec::new());
        for index in start..end {
            let id = new_id();
            let name = organisation_name(dice, index);
            let p = profile(dice, vocabulary, name);
            report_codes.extend(report_code_rows(&parents, &id, &p));
            rows.push((
                organisations::id.eq(id.clone()),
                organisations::name_key.eq(organisation_store::name_key(&p.name)),
                organisations::name.eq(p.name.clone()),
                organisations::kind.eq(p.kind.as_str()),
                organisations::size_band.eq(p.size_band.map(|s| s.as_str())),
                organisations::website.eq(p.website.clone()),
                organisations::email.eq(p.email.clone()),
                organisations::geography_scope.eq(p.geography_scope.map(|s| s.as_str())),
                organisations::leadership_reply_status.eq(p.leadership.reply_status.as_str()),
                organisations::mission_reply_status.eq(p.mission.reply_status.as_str()),
                organisations::lived_experience_led.eq(p.lived_experience_led),
                organisations::created_at.eq(at),
                organisations::updated_at.eq(at),
            ));
            for region in &p.regions {
                regions.push((
                    organisation_regions::organisation_id.eq(id.clone()),
                    organisation_regions::region.eq(region.as_str()),
                ));
            }
            for code in &p.expertise {
                expertise.push((
                    organisation_expertise::organisation_id.eq(id.clone()),
                    organisation_expertise::expertise_code.eq(code.clone()),
                ));
            }
            for (area, reply) in [("leadership", &p.leadership), ("mission", &p.mission)] {
                for code in &reply.communities {
                    communities.push((
                        organisation_communities::organisation_id.eq(id.clone()),
                        organisation_communities::area.eq(area),
                        organisation_communities::community_code.eq(code.clone()),
                    ));
                }
            }
            // Withdrawals need their own rows; the batched set keeps to the common standings.
            let standing = match standing(dice) {
                Standing::Withdrawn => Standing::Lapsed,
                other => other,
            };
            let (history, _) = history(dice, standing, today);
            if !matches!(standing, Standing::Prospect) {
                members.push((
                    memberships::organisation_id.eq(id.clone()),
                    memberships::tier.eq(if dice.chance(80) { "full" } else { "associate" }),
                    memberships::applied_on.eq(history
                        .first()
                        .map_or(today, |p| days_before(p.start_on, 14))),
                    memberships::joined_on.eq(history.first().map(|p| p.start_on)),
                    memberships::created_at.eq(at),
                    memberships::updated_at.eq(at),
                ));
                for period in history {
                    periods.push((
                        membership_periods::id.eq(new_id()),
                        membership_periods::organisation_id.eq(id.clone()),
                        membership_periods::start_on.eq(period.start_on),
                        membership_periods::end_on.eq(period.end_on),
                        membership_periods::created_at.eq(at),
                    ));
                }
            }
            organisation_ids.push(id);
        }
        conn.transaction(|conn| {
            insert_batched!(conn, organisations::table, rows);
            insert_batched!(conn, organisation_regions::table, regions);
            insert_batched!(conn, organisation_expertise::table, expertise);
            insert_batched!(conn, organisation_communities::table, communities);
            insert_batched!(conn, organisation_report_codes::table, report_codes);
            insert_batched!(conn, memberships::table, members);
            insert_batched!(conn, membership_periods::table, periods);
            Ok::<_, DomainError>(())
        })?;
    }

    // The groups and consultations draw on a sample of the people.
    let mut contact_sample = Vec::new();
    for start in (0..options.contacts).step_by(BATCH) {
        let end = (start + BATCH).min(options.contacts);
        let (mut rows, mut affiliations, mut consents) = (Vec::new(), Vec::new(), Vec::new());
        for index in start..end {
            let id = new_id();
            if contact_sample.len() < 500 {
                contact_sample.push(id.clone());
            }
            let given = *dice.pick(GIVEN);
            let family = *dice.pick(FAMILY);
            let email = format!(
                "{}.{}{}@people.example.org",
                given.to_lowercase(),
                family.to_lowercase(),
                index + 1
            );
            rows.push((
                contacts::id.eq(id.clone()),
                contacts::given_name.eq(given),
                contacts::family_name.eq(family),
                contacts::name_key.eq(format!("{family} {given}").to_lowercase()),
                contacts::email_key.eq(email.clone()),
                contacts::email_match_key.eq(email.clone()),
                contacts::email.eq(email),
                contacts::job_title.eq(*dice.pick(ROLES)),
                contacts::created_at.eq(at),
                contacts::updated_at.eq(at),
            ));
            if !organisation_ids.is_empty() {
                affiliations.push((
                    contact_affiliations::id.eq(new_id()),
                    contact_affiliations::contact_id.eq(id.clone()),
                    contact_affiliations::organisation_id.eq(dice.pick(&organisation_ids).clone()),
                    contact_affiliations::role.eq(*dice.pick(ROLES)),
                    contact_affiliations::is_primary.eq(true),
                    contact_affiliations::created_at.eq(at),
                    contact_affiliations::updated_at.eq(at),
                ));
            }
            for (purpose, percent) in [(Purpose::Newsletter, 65), (Purpose::Events, 35)] {
                if dice.chance(percent) {
                    consents.push((
                        contact_consents::id.eq(new_id()),
                        contact_consents::contact_id.eq(id.clone()),
                        contact_consents::purpose.eq(purpose.as_str()),
                        contact_consents::granted.eq(true),
                        contact_consents::in_force.eq(true),
                        contact_consents::source.eq("Demo: signed up at an alliance event"),
                        contact_consents::recorded_at.eq(at),
                    ));
                }
            }
        }
        conn.transaction(|conn| {
            insert_batched!(conn, contacts::table, rows);
            insert_batched!(conn, contact_affiliations::table, affiliations);
            insert_batched!(conn, contact_consents::table, consents);
            Ok::<_, DomainError>(())
        })?;
    }
    let today = Utc::now().date_naive();
    let (groups, consultations) =
        convenings(conn, dice, &organisation_ids, &contact_sample, today)?;
    Ok(DemoSummary {
        organisations: organisation_ids.len(),
        contacts: options.contacts,
        groups,
        consultations,
    })
}
