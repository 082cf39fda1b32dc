//! Statistical disclosure control: what a report may publish of a count.
//!
//! Counts of people (contacts) are never shown from 1 to `threshold - 1`, whoever asks.
//! `disclosure=public`, for reports meant for publication, treats every count that way and
//! rounds the rest to the nearest 5. Within a group of rows that add up to a published total
//! (the kinds of organisation, say), one suppressed row could be worked out from the total, so
//! the next smallest row is suppressed with it (secondary suppression). Shares are derived from
//! the published counts only, and are suppressed with them.

use super::{Composition, CompositionRow, DimensionComposition};

crate::domain::text_enum! {
    /// Who a report is for: `internal` (staff and integrations: organisation counts exact,
    /// people protected) or `public` (publication: every count protected, rounded to 5).
    pub enum Audience {
        Internal => "internal",
        Public => "public",
    }
}

/// Counts are rounded to a multiple of this for publication.
pub const ROUNDING_BASE: i64 = 5;

/// A count as published.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cell {
    Shown(i64),
    Suppressed,
}

impl Cell {
    pub fn value(self) -> Option<i64> {
        match self {
            Self::Shown(n) => Some(n),
            Self::Suppressed => None,
        }
    }

    pub fn is_suppressed(self) -> bool {
        self == Self::Suppressed
    }
}

/// The rules one report is published under.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Disclosure {
    pub audience: Audience,
    /// Counts from 1 to `threshold - 1` are suppressed where they are protected.
    pub threshold: i64,
}

impl Disclosure {
    pub fn new(audience: Audience, threshold: i64) -> Self {
        Self {
            audience,
            threshold,
        }
    }

    pub fn is_public(self) -> bool {
        self.audience == Audience::Public
    }

    fn protect(self, count: i64) -> Cell {
        if (1..self.threshold).contains(&count) {
            Cell::Suppressed
        } else if self.is_public() {
            Cell::Shown(round_to_base(count))
        } else {
            Cell::Shown(count)
        }
    }

    /// A count of people: always protected.
    pub fn people(self, count: i64) -> Cell {
        self.protect(count)
    }

    /// A count of organisations: exact for internal reports, protected for public ones.
    pub fn organisations(self, count: i64) -> Cell {
        if self.is_public() {
            self.protect(count)
        } else {
            Cell::Shown(count)
        }
    }

    /// Organisation counts that add up to a published total, with secondary suppression: when
    /// exactly one is suppressed, the smallest other non-zero count is suppressed too, so the
    /// total minus the rest cannot give it away.
    pub fn organisation_partition(self, counts: &[i64]) -> Vec<Cell> {
        let mut cells: Vec<Cell> = counts.iter().map(|&n| self.organisations(n)).collect();
        if cells.iter().filter(|c| c.is_suppressed()).count() == 1 {
            let partner = counts
                .iter()
                .enumerate()
                .filter(|&(i, &n)| n > 0 && !cells[i].is_suppressed())
                .min_by_key(|&(_, &n)| n)
                .map(|(i, _)| i);
            if let Some(i) = partner {
                cells[i] = Cell::Suppressed;
            }
        }
        cells
    }
}

impl Disclosure {
    /// `composition` as this audience may see it: internally as counted; in public every
    /// count protected and rounded, with secondary suppression where the rows of a dimension
    /// add up to its members.
    pub fn publish(self, composition: Composition) -> Composition {
        if !self.is_public() {
            return composition;
        }
        let exact = |cell: Cell| cell.value().unwrap_or_default();
        Composition {
            as_of: composition.as_of,
            active_members: self.organisations(exact(composition.active_members)),
            dimensions: composition
                .dimensions
                .into_iter()
                .map(|d| {
                    let counts: Vec<i64> = d.rows.iter().map(|r| exact(r.members)).collect();
                    let cells = if d.rows_partition_members() {
                        self.organisation_partition(&counts)
                    } else {
                        counts.iter().map(|&n| self.organisations(n)).collect()
                    };
                    DimensionComposition {
                        dimension: d.dimension,
                        members: self.organisations(exact(d.members)),
                        answered: self.organisations(exact(d.answered)),
                        rows: d
                            .rows
                            .into_iter()
                            .zip(cells)
                            .map(|(row, members)| CompositionRow { members, ..row })
                            .collect(),
                    }
                })
                .collect(),
        }
    }
}

/// `count` to the nearest multiple of 5 (halves up: 7 → 5, 8 → 10).
pub fn round_to_base(count: i64) -> i64 {
    (count + ROUNDING_BASE / 2).div_euclid(ROUNDING_BASE) * ROUNDING_BASE
}

/// `part` of `whole` as a percentage to one decimal place, from published counts: none when
/// either is suppressed or the whole is zero.
pub fn share(part: Cell, whole: Cell) -> Option<f64> {
    super::percent(part.value()?, whole.value()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    const INTERNAL: Disclosure = Disclosure {
        audience: Audience::Internal,
        threshold: 5,
    };
    const PUBLIC: Disclosure = Disclosure {
        audience: Audience::Public,
        threshold: 5,
    };

    #[test]
    fn people_from_one_to_four_are_suppressed_for_every_audience() {
        for d in [INTERNAL, PUBLIC] {
            assert_eq!(d.people(0), Cell::Shown(0));
            for n in 1..5 {
                assert_eq!(d.people(n), Cell::Suppressed);
            }
            assert_eq!(d.people(5), Cell::Shown(5));
        }
        assert_eq!(INTERNAL.people(7), Cell::Shown(7));
        assert_eq!(PUBLIC.people(7), Cell::Shown(5));
    }

    #[test]
    fn organisations_are_exact_internally_and_rounded_in_public() {
        assert_eq!(INTERNAL.organisations(3), Cell::Shown(3));
        assert_eq!(PUBLIC.organisations(3), Cell::Suppressed);
        assert_eq!(PUBLIC.organisations(12), Cell::Shown(10));
        assert_eq!(PUBLIC.organisations(13), Cell::Shown(15));
        assert_eq!(PUBLIC.organisations(0), Cell::Shown(0));
    }

    #[test]
    fn a_lone_suppressed_row_takes_the_next_smallest_with_it() {
        let cells = PUBLIC.organisation_partition(&[40, 3, 0, 9, 20]);
        assert_eq!(
            cells,
            vec![
                Cell::Shown(40),
                Cell::Suppressed,
                Cell::Shown(0),
                Cell::Suppressed,
                Cell::Shown(20)
            ]
        );
        // Two suppressed already protect each other.
        let cells = PUBLIC.organisation_partition(&[40, 3, 2, 9]);
        assert_eq!(cells[3], Cell::Shown(10));
        // Nothing to suppress internally.
        assert!(
            INTERNAL
                .organisation_partition(&[40, 3])
                .iter()
                .all(|c| !c.is_suppressed())
        );
    }

    #[test]
    fn shares_come_from_published_counts() {
        assert_eq!(share(Cell::Shown(5), Cell::Shown(20)), Some(25.0));
        assert_eq!(share(Cell::Suppressed, Cell::Shown(20)), None);
        assert_eq!(share(Cell::Shown(0), Cell::Shown(0)), None);
    }
}
