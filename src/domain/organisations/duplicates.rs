//! Likely duplicate organisations: pairs that share a charity number (its main number, so
//! `1161226-1` meets `1161226`), a company number, a website's domain, or a name once case,
//! punctuation, "the" and legal suffixes are set aside. Each pair has the reasons and a
//! score; pairs staff have dismissed ("not a duplicate") are left out.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use diesel::prelude::*;

use crate::db::DbConn;
use crate::db::schema::{duplicate_dismissals, organisations};
use crate::domain::{DomainError, FieldError, now};

crate::domain::text_enum! {
    /// Why two organisations may be one.
    pub enum Reason {
        CharityNumber => "charity_number",
        CompanyNumber => "company_number",
        WebsiteDomain => "website_domain",
        Name => "name",
    }
}

impl Reason {
    /// How strongly the reason alone says "the same organisation" (0 to 1).
    fn weight(self) -> f64 {
        match self {
            Self::CharityNumber | Self::CompanyNumber => 0.9,
            Self::WebsiteDomain => 0.7,
            Self::Name => 0.6,
        }
    }
}

/// A likely duplicate pair, the smaller id first.
#[derive(Debug, Clone, PartialEq)]
pub struct Pair {
    pub first: (String, String),
    pub second: (String, String),
    pub reasons: Vec<Reason>,
    /// 1 - Π(1 - weight): two independent reasons say more than either.
    pub score: f64,
}

/// Words that do not tell organisations apart.
const NOISE: &[&str] = &[
    "the", "ltd", "limited", "cic", "cio", "plc", "llp", "inc", "charity", "uk", "and",
];

/// `The Northside Peer-Voices Ltd.` → `northside peer voices`.
pub fn name_key(name: &str) -> String {
    name.to_lowercase()
        .replace('&', " and ")
        .split(|c: char| !c.is_alphanumeric())
        .filter(|word| !word.is_empty() && !NOISE.contains(word))
        .collect::<Vec<_>>()
        .join(" ")
}

/// `https://www.Northside.example.org/about` → `northside.example.org`.
pub fn website_domain(website: &str) -> Option<String> {
    let rest = website.split_once("://").map_or(website, |(_, rest)| rest);
    let host = rest.split(['/', ':', '?', '#']).next()?.to_lowercase();
    let host = host.strip_prefix("www.").unwrap_or(&host).to_owned();
    (!host.is_empty()).then_some(host)
}

/// Every likely duplicate pair among live organisations, highest score first.
pub fn pairs(conn: &mut DbConn) -> Result<Vec<Pair>, DomainError> {
    type Row = (
        String,
        String,
        Option<String>,
        Option<String>,
        Option<String>,
    );
    let rows: Vec<Row> = organisations::table
        .filter(organisations::deleted_at.is_null())
        .select((
            organisations::id,
            organisations::name,
            organisations::charity_number,
            organisations::company_number,
            organisations::website,
        ))
        .load(conn)?;
    let names: HashMap<&str, &str> = rows.iter().map(|r| (r.0.as_str(), r.1.as_str())).collect();
    // Block by each key: only organisations sharing one are compared.
    let mut blocks: HashMap<(Reason, String), Vec<&str>> = HashMap::new();
    for (id, name, charity, company, website) in &rows {
        let mut add = |reason, key: Option<String>| {
            if let Some(key) = key.filter(|k| !k.is_empty()) {
                blocks.entry((reason, key)).or_default().push(id.as_str());
            }
        };
        add(
            Reason::CharityNumber,
            charity
                .as_deref()
                .map(|c| c.split('-').next().unwrap_or(c).to_owned()),
        );
        add(Reason::CompanyNumber, company.clone());
        add(
            Reason::WebsiteDomain,
            website.as_deref().and_then(website_domain),
        );
        add(Reason::Name, Some(name_key(name)));
    }
    let mut reasons: BTreeMap<(&str, &str), BTreeSet<Reason>> = BTreeMap::new();
    for ((reason, _), ids) in &blocks {
        // A key shared by very many (a common domain) says little about any one pair.
        if ids.len() < 2 || ids.len() > 50 {
            continue;
        }
        for (i, a) in ids.iter().enumerate() {
            for b in &ids[i + 1..] {
                let pair = if a < b { (*a, *b) } else { (*b, *a) };
                reasons.entry(pair).or_default().insert(*reason);
            }
        }
    }
    let dismissed: BTreeSet<(String, String)> = duplicate_dismissals::table
        .select((
            duplicate_dismissals::organisation_a,
            duplicate_dismissals::organisation_b,
        ))
        .load::<(String, String)>(conn)?
        .into_iter()
        .collect();
    let mut pairs: Vec<Pair> = reasons
        .into_iter()
        .filter(|((a, b), _)| !dismissed.contains(&((*a).to_owned(), (*b).to_owned())))
        .map(|((a, b), reasons)| {
            let score = 1.0 - reasons.iter().map(|r| 1.0 - r.weight()).product::<f64>();
            Pair {
                first: (a.to_owned(), names[a].to_owned()),
                second: (b.to_owned(), names[b].to_owned()),
                reasons: reasons.into_iter().collect(),
                score: (score * 1000.0).round() / 1000.0,
            }
        })
        .collect();
    pairs.sort_by(|x, y| {
        y.score
            .total_cmp(&x.score)
            .then_with(|| x.first.0.cmp(&y.first.0))
            .then_with(|| x.second.0.cmp(&y.second.0))
    });
    Ok(pairs)
}

/// Records that live organisations `a` and `b` are not duplicates. 422 for the same one
/// twice, 404 for an unknown one; saying it again is harmless.
pub fn dismiss(
    conn: &mut DbConn,
    a: &str,
    b: &str,
    by: Option<&str>,
) -> Result<(String, String), DomainError> {
    if a == b {
        return Err(DomainError::Invalid(vec![FieldError::new(
            "organisation_ids",
            "distinct",
            "must name two different organisations",
        )]));
    }
    for id in [a, b] {
        super::find(conn, id)?;
    }
    let (a, b) = if a < b { (a, b) } else { (b, a) };
    let already: i64 = duplicate_dismissals::table
        .filter(duplicate_dismissals::organisation_a.eq(a))
        .filter(duplicate_dismissals::organisation_b.eq(b))
        .count()
        .get_result(conn)?;
    if already == 0 {
        diesel::insert_into(duplicate_dismissals::table)
            .values((
                duplicate_dismissals::organisation_a.eq(a),
                duplicate_dismissals::organisation_b.eq(b),
                duplicate_dismissals::dismissed_by.eq(by),
                duplicate_dismissals::dismissed_at.eq(now()),
            ))
            .execute(conn)?;
    }
    Ok((a.to_owned(), b.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_websites_are_compared_as_people_would() {
        assert_eq!(
            name_key("The Northside Peer-Voices Ltd."),
            "northside peer voices"
        );
        assert_eq!(name_key("Northside Peer Voices"), "northside peer voices");
        assert_eq!(name_key("Youth & Justice"), name_key("Youth and Justice"));
        assert_eq!(
            website_domain("https://www.Northside.example.org/about").as_deref(),
            Some("northside.example.org")
        );
        assert_eq!(
            website_domain("northside.example.org").as_deref(),
            Some("northside.example.org")
        );
    }
}
