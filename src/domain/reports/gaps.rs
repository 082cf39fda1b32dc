//! Representation gaps: each benchmark share or target against the active membership, with
//! the difference in points, the ratio, and whether it is met, largest shortfall first.

use std::cmp::Ordering;

use super::benchmarks::BenchmarkSet;
use super::disclosure::Cell;
use super::targets::{Minimum, Target};
use super::{Composition, Dimension, round};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GapSource {
    Benchmark,
    Target,
}

#[derive(Debug, Clone, PartialEq)]
pub struct GapRow {
    pub source: GapSource,
    pub dimension: Dimension,
    pub code: String,
    pub label: String,
    /// Active members with the code (as published: suppressed under `disclosure=public` when
    /// from 1 to 4).
    pub members: Cell,
    /// Their share of the active members who answered in the dimension.
    pub member_share: Option<f64>,
    pub benchmark_share: Option<f64>,
    pub target_share: Option<f64>,
    pub target_count: Option<i32>,
    /// Member share minus the benchmark or target share, in percentage points.
    pub difference_points: Option<f64>,
    /// Members minus the target count.
    pub difference_count: Option<i64>,
    /// Member share over the benchmark or target share (members over the target count).
    pub ratio: Option<f64>,
    /// None when the count it would be judged on is suppressed.
    pub met: Option<bool>,
    pub note: Option<String>,
}

/// The dimensions a gaps report needs composed: the benchmark's and every target's.
pub fn dimensions_needed(benchmark_dimension: Dimension, targets: &[Target]) -> Vec<Dimension> {
    let mut needed = vec![benchmark_dimension];
    for target in targets {
        if !needed.contains(&target.profile.dimension) {
            needed.push(target.profile.dimension);
        }
    }
    needed
}

/// One row per benchmark share (compared in `dimension`) and per target.
pub fn gaps(
    composition: &Composition,
    benchmark: Option<&BenchmarkSet>,
    dimension: Dimension,
    targets: &[Target],
) -> Vec<GapRow> {
    let mut rows = Vec::new();
    let share_row =
        |source, dimension: Dimension, code: &str, wanted: f64, note: Option<String>| {
            let composed = composition.dimension(dimension);
            let found = composed.and_then(|d| d.row(code));
            let members = found.map(|r| r.members).unwrap_or(Cell::Shown(0));
            let label = found
                .map(|r| r.label.clone())
                .unwrap_or_else(|| code.to_owned());
            let member_share = composed.and_then(|d| found.and_then(|r| d.share_of_answered(r)));
            // `met` compares the exact share: 19.96% rounds to 20.0 but does not meet 20%.
            let exact = composed.and_then(|d| {
                let row = found.filter(|r| r.answered)?;
                let (part, whole) = (row.members.value()?, d.answered.value()?);
                (whole > 0).then(|| part as f64 * 100.0 / whole as f64)
            });
            GapRow {
                source,
                dimension,
                code: code.to_owned(),
                label,
                members,
                member_share,
                benchmark_share: (source == GapSource::Benchmark).then_some(wanted),
                target_share: (source == GapSource::Target).then_some(wanted),
                target_count: None,
                difference_points: member_share.map(|share| round(share - wanted, 1)),
                difference_count: None,
                ratio: member_share
                    .filter(|_| wanted > 0.0)
                    .map(|share| round(share / wanted, 2)),
                met: match (exact, members) {
                    (_, Cell::Suppressed) => None,
                    (Some(share), _) => Some(share >= wanted),
                    (None, _) => Some(false),
                },
                note,
            }
        };
    if let Some(set) = benchmark {
        for (code, share) in &set.profile.shares {
            rows.push(share_row(
                GapSource::Benchmark,
                dimension,
                code,
                *share,
                None,
            ));
        }
    }
    for target in targets {
        let p = &target.profile;
        match p.minimum {
            Minimum::Share(share) => rows.push(share_row(
                GapSource::Target,
                p.dimension,
                &p.code,
                share,
                p.note.clone(),
            )),
            Minimum::Count(count) => {
                let composed = composition.dimension(p.dimension);
                let found = composed.and_then(|d| d.row(&p.code));
                let members = found.map(|r| r.members).unwrap_or(Cell::Shown(0));
                let published = members.value();
                rows.push(GapRow {
                    source: GapSource::Target,
                    dimension: p.dimension,
                    code: p.code.clone(),
                    label: found
                        .map(|r| r.label.clone())
                        .unwrap_or_else(|| p.code.clone()),
                    members,
                    member_share: composed.and_then(|d| found.and_then(|r| d.share_of_answered(r))),
                    benchmark_share: None,
                    target_share: None,
                    target_count: Some(count),
                    difference_points: None,
                    difference_count: published.map(|n| n - i64::from(count)),
                    ratio: published
                        .filter(|_| count > 0)
                        .map(|n| round(n as f64 / f64::from(count), 2)),
                    met: published.map(|n| n >= i64::from(count)),
                    note: p.note.clone(),
                });
            }
        }
    }
    // Largest shortfall first: the smallest ratio; rows without a ratio (nothing to compare
    // with) last.
    rows.sort_by(|a, b| {
        match (a.ratio, b.ratio) {
            (Some(x), Some(y)) => x.partial_cmp(&y).unwrap_or(Ordering::Equal),
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (None, None) => Ordering::Equal,
        }
        .then_with(|| a.met.cmp(&b.met))
        .then_with(|| a.code.cmp(&b.code))
    });
    rows
}
