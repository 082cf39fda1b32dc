//! A CSV file as a staff member's spreadsheet saves it, read into a header and rows: UTF-8
//! with or without a byte-order mark, UTF-16 (Excel's "Unicode text"), or Windows-1252 (what
//! older Excel writes); commas or tabs; Windows line endings; and the empty columns and rows a
//! spreadsheet leaves at its edges. Headings are matched without regard to case or spaces.

use crate::error::ApiError;

/// The most data rows one import takes.
pub const MAX_ROWS: usize = 50_000;

/// How the file's bytes were read, for the report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Encoding {
    Utf8,
    Utf16,
    /// Windows-1252 (Excel's "CSV" on Windows): the file was not valid UTF-8.
    Windows1252,
}

/// A problem with the file as a whole or with one cell.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct CellProblem {
    /// The row in the file, the heading row being row 1.
    pub row: usize,
    /// The column's heading; empty for a problem with the whole row.
    pub column: String,
    pub value: String,
    pub message: String,
}

impl CellProblem {
    pub fn new(row: usize, column: &str, value: &str, message: impl Into<String>) -> Self {
        Self {
            row,
            column: column.to_owned(),
            value: value.to_owned(),
            message: message.into(),
        }
    }
}

/// The file read: its headings (known columns only, normalised) and rows of cells, each
/// with its row number.
#[derive(Debug)]
pub struct Table {
    pub encoding: Encoding,
    pub columns: Vec<String>,
    pub rows: Vec<(usize, Vec<String>)>,
}

impl Table {
    /// The cell of `column` in `cells`, when the file has that column.
    pub fn cell<'a>(&self, cells: &'a [String], column: &str) -> Option<&'a str> {
        let index = self.columns.iter().position(|c| c == column)?;
        cells.get(index).map(String::as_str)
    }

    pub fn has(&self, column: &str) -> bool {
        self.columns.iter().any(|c| c == column)
    }
}

/// The text of `bytes`, and how it was encoded.
fn decode(bytes: &[u8]) -> (String, Encoding) {
    if let Some(rest) = bytes.strip_prefix(b"\xEF\xBB\xBF") {
        return (String::from_utf8_lossy(rest).into_owned(), Encoding::Utf8);
    }
    let utf16 = |rest: &[u8], little: bool| {
        let units: Vec<u16> = rest
            .chunks_exact(2)
            .map(|pair| match little {
                true => u16::from_le_bytes([pair[0], pair[1]]),
                false => u16::from_be_bytes([pair[0], pair[1]]),
            })
            .collect();
        (String::from_utf16_lossy(&units), Encoding::Utf16)
    };
    if let Some(rest) = bytes.strip_prefix(b"\xFF\xFE") {
        return utf16(rest, true);
    }
    if let Some(rest) = bytes.strip_prefix(b"\xFE\xFF") {
        return utf16(rest, false);
    }
    match std::str::from_utf8(bytes) {
        Ok(text) => (text.to_owned(), Encoding::Utf8),
        Err(_) => (
            bytes.iter().map(|&b| windows_1252(b)).collect(),
            Encoding::Windows1252,
        ),
    }
}

/// One Windows-1252 byte as a character (0x80-0x9F hold the curly quotes, dashes and € that
/// Latin-1 lacks; the five unassigned bytes read as the replacement character).
fn windows_1252(byte: u8) -> char {
    const HIGH: [char; 32] = [
        '€', '\u{FFFD}', '‚', 'ƒ', '„', '…', '†', '‡', 'ˆ', '‰', 'Š', '‹', 'Œ', '\u{FFFD}', 'Ž',
        '\u{FFFD}', '\u{FFFD}', '‘', '’', '“', '”', '•', '–', '—', '˜', '™', 'š', '›', 'œ',
        '\u{FFFD}', 'ž', 'Ÿ',
    ];
    match byte {
        0x80..=0x9F => HIGH[usize::from(byte - 0x80)],
        _ => char::from(byte),
    }
}

/// `Ship Name ` → `ship_name`: how headings are matched to column names.
fn normalise_heading(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join("_")
}

/// Why a file cannot be read as a table.
#[derive(Debug)]
pub enum ReadError {
    /// More than `MAX_ROWS` data rows (a 413).
    TooManyRows,
    /// Problems with the file itself (no heading row, unknown or repeated headings, values
    /// under no heading), all of them.
    Problems(Vec<CellProblem>),
}

/// Reads `bytes` as a table of `known` columns.
pub fn read(bytes: &[u8], known: &[&str]) -> Result<Table, ReadError> {
    let (text, encoding) = decode(bytes);
    let first_line = text.lines().next().unwrap_or_default();
    let delimiter = if !first_line.contains(',') && first_line.contains('\t') {
        b'\t'
    } else {
        b','
    };
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(delimiter)
        .from_reader(text.as_bytes());
    let mut records = reader.records();
    let problem = |row, column: &str, value: &str, message: &str| {
        ReadError::Problems(vec![CellProblem::new(row, column, value, message)])
    };
    let headings: Vec<String> = match records.next() {
        Some(Ok(record)) => record.iter().map(normalise_heading).collect(),
        Some(Err(error)) => return Err(problem(1, "", "", &format!("cannot be read: {error}"))),
        None => {
            return Err(problem(
                1,
                "",
                "",
                "the file is empty: it needs a heading row",
            ));
        }
    };
    let mut problems = Vec::new();
    for (index, heading) in headings.iter().enumerate() {
        if heading.is_empty() {
            continue;
        }
        if !known.contains(&heading.as_str()) {
            problems.push(CellProblem::new(
                1,
                heading,
                heading,
                format!(
                    "is not a column of this import; the columns are: {}",
                    known.join(", ")
                ),
            ));
        } else if headings[..index].contains(heading) {
            problems.push(CellProblem::new(1, heading, heading, "appears twice"));
        }
    }
    if !headings.iter().any(|h| !h.is_empty()) {
        problems.push(CellProblem::new(
            1,
            "",
            "",
            "the heading row has no headings",
        ));
    }
    let mut rows = Vec::new();
    for (index, record) in records.enumerate() {
        let row = index + 2;
        let record = match record {
            Ok(record) => record,
            Err(error) => {
                problems.push(CellProblem::new(
                    row,
                    "",
                    "",
                    format!("cannot be read: {error}"),
                ));
                continue;
            }
        };
        let cells: Vec<String> = record.iter().map(|c| c.trim().to_owned()).collect();
        // Spreadsheets leave empty rows at the end, and sometimes between.
        if cells.iter().all(String::is_empty) {
            continue;
        }
        if rows.len() == MAX_ROWS {
            return Err(ReadError::TooManyRows);
        }
        for (position, cell) in cells.iter().enumerate() {
            let heading = headings
                .get(position)
                .map(String::as_str)
                .unwrap_or_default();
            if heading.is_empty() && !cell.is_empty() {
                problems.push(CellProblem::new(
                    row,
                    "",
                    cell,
                    format!("is in column {} which has no heading", position + 1),
                ));
            }
        }
        // Keep the cells of headed columns only, in heading order.
        let kept: Vec<String> = headings
            .iter()
            .enumerate()
            .filter(|(_, heading)| !heading.is_empty())
            .map(|(position, _)| cells.get(position).cloned().unwrap_or_default())
            .collect();
        rows.push((row, kept));
    }
    if !problems.is_empty() {
        return Err(ReadError::Problems(problems));
    }
    Ok(Table {
        encoding,
        columns: headings.into_iter().filter(|h| !h.is_empty()).collect(),
        rows,
    })
}

/// The error for a body over the import limit.
pub fn too_large(limit: usize) -> ApiError {
    ApiError::PayloadTooLarge { limit }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KNOWN: &[&str] = &["name", "kind"];

    #[test]
    fn a_spreadsheet_file_reads_as_its_user_meant() {
        let file = b"\xEF\xBB\xBFName , KIND,,\r\nCaf\xC3\xA9 Voices,other,,\r\n,,,\r\n";
        let table = read(file, KNOWN).unwrap();
        assert_eq!(table.columns, vec!["name", "kind"]);
        assert_eq!(
            table.rows,
            vec![(2, vec!["Café Voices".to_owned(), "other".to_owned()])]
        );
        assert_eq!(table.encoding, Encoding::Utf8);
    }

    #[test]
    fn windows_1252_and_tabs_are_understood() {
        let table = read(b"name\tkind\r\nO\x92Brien \x96 Trust\tother\r\n", KNOWN).unwrap();
        assert_eq!(table.encoding, Encoding::Windows1252);
        assert_eq!(table.rows[0].1[0], "O’Brien – Trust");
        let utf16: Vec<u8> = [0xFF, 0xFE]
            .into_iter()
            .chain("name\nÅsa\n".encode_utf16().flat_map(u16::to_le_bytes))
            .collect();
        assert_eq!(read(&utf16, KNOWN).unwrap().rows[0].1[0], "Åsa");
    }

    #[test]
    fn unknown_headings_and_values_under_no_heading_are_all_reported() {
        let Err(ReadError::Problems(problems)) = read(b"name,colour,name,\nA,red,B,stray\n", KNOWN)
        else {
            panic!("the file is refused");
        };
        let found: Vec<(usize, &str)> = problems
            .iter()
            .map(|p| (p.row, p.column.as_str()))
            .collect();
        assert_eq!(found, vec![(1, "colour"), (1, "name"), (2, "")]);
        assert!(read(b"", KNOWN).is_err());
    }
}
