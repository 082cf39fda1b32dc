//! A CSV file as a staff member's spreadsheet saves it, read into a header and rows: UTF-8
//! with or without a byte-order mark, UTF-16 (Excel's "Unicode text"), or Windows-1252 (what
//! older Excel writes); commas or tabs; Windows line endings; and the empty columns and rows a
//! spreadsheet leaves at its edges. Headings are matched without regard to case or spaces.

use std::collections::BTreeMap;

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

/// The file read: its headings (known columns only, normalised) and its text, whose rows are
/// read one at a time (`Table::rows`) so that a large file is never held as cells too.
#[derive(Debug)]
pub struct Table {
    pub encoding: Encoding,
    pub columns: Vec<String>,
    /// How many data rows the file has (empty rows are not counted).
    pub rows: usize,
    text: String,
    delimiter: u8,
    /// Where each of `columns` is in a record.
    positions: Vec<usize>,
    /// The problems of single rows, found before any row is matched: such a row is reported
    /// and never looked up (a NUL cannot even be compared by PostgreSQL).
    problems: BTreeMap<usize, Vec<CellProblem>>,
}

/// One data row: its number in the file, and its cells (one per column) or its problems.
pub struct Row {
    pub number: usize,
    pub cells: Result<Vec<String>, Vec<CellProblem>>,
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

    /// The data rows in file order, read from the text as they are asked for.
    pub fn rows(&self) -> impl Iterator<Item = Row> + '_ {
        let mut record = csv::StringRecord::new();
        let mut reader = self.reader();
        let mut number = 0;
        std::iter::from_fn(move || {
            loop {
                let read = reader.read_record(&mut record);
                if matches!(read, Ok(false)) {
                    return None;
                }
                number += 1;
                if number == 1 {
                    continue;
                }
                if let Some(problems) = self.problems.get(&number) {
                    return Some(Row {
                        number,
                        cells: Err(problems.clone()),
                    });
                }
                // A record that could not be read is a problem of its row (above).
                if read.is_err() || record.iter().all(|c| c.trim().is_empty()) {
                    continue;
                }
                let cells = self
                    .positions
                    .iter()
                    .map(|&p| record.get(p).unwrap_or_default().trim().to_owned())
                    .collect();
                return Some(Row {
                    number,
                    cells: Ok(cells),
                });
            }
        })
    }

    fn reader(&self) -> csv::Reader<&[u8]> {
        csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .delimiter(self.delimiter)
            .from_reader(self.text.as_bytes())
    }
}

/// The text of `bytes`, and how it was encoded (UTF-8 is taken as it is, not copied).
fn decode(mut bytes: Vec<u8>) -> (String, Encoding) {
    if bytes.starts_with(b"\xEF\xBB\xBF") {
        bytes.drain(..3);
        return match String::from_utf8(bytes) {
            Ok(text) => (text, Encoding::Utf8),
            Err(error) => (
                String::from_utf8_lossy(error.as_bytes()).into_owned(),
                Encoding::Utf8,
            ),
        };
    }
    let utf16 = |rest: &[u8], little: bool| {
        let units = rest.chunks_exact(2).map(|pair| match little {
            true => u16::from_le_bytes([pair[0], pair[1]]),
            false => u16::from_be_bytes([pair[0], pair[1]]),
        });
        let text: String = char::decode_utf16(units)
            .map(|c| c.unwrap_or(char::REPLACEMENT_CHARACTER))
            .collect();
        (text, Encoding::Utf16)
    };
    if let Some(rest) = bytes.strip_prefix(b"\xFF\xFE") {
        return utf16(rest, true);
    }
    if let Some(rest) = bytes.strip_prefix(b"\xFE\xFF") {
        return utf16(rest, false);
    }
    match String::from_utf8(bytes) {
        Ok(text) => (text, Encoding::Utf8),
        Err(error) => (
            error.as_bytes().iter().map(|&b| windows_1252(b)).collect(),
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

/// Reads `bytes` as a table of `known` columns: the headings, and every row once to count
/// the rows and find the problems of single rows (values under no heading, NUL characters,
/// a quote never closed); the cells are read again, row by row, by `Table::rows`.
pub fn read(bytes: Vec<u8>, known: &[&str]) -> Result<Table, ReadError> {
    let (text, encoding) = decode(bytes);
    let first_line = text.lines().next().unwrap_or_default();
    let delimiter = if !first_line.contains(',') && first_line.contains('\t') {
        b'\t'
    } else {
        b','
    };
    let mut table = Table {
        encoding,
        columns: Vec::new(),
        rows: 0,
        text,
        delimiter,
        positions: Vec::new(),
        problems: BTreeMap::new(),
    };
    let unclosed_quote = ends_in_quotes(table.text.as_bytes(), delimiter);
    let mut reader = table.reader();
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
    let mut row_problems: BTreeMap<usize, Vec<CellProblem>> = BTreeMap::new();
    let mut rows = 0;
    let mut last = None;
    let mut last_read = 0;
    for (index, record) in records.enumerate() {
        let row = index + 2;
        last_read = row;
        let mut found = Vec::new();
        let record = match record {
            Ok(record) => record,
            Err(error) => {
                row_problems.entry(row).or_default().push(CellProblem::new(
                    row,
                    "",
                    "",
                    format!("cannot be read: {error}"),
                ));
                continue;
            }
        };
        // Spreadsheets leave empty rows at the end, and sometimes between.
        if record.iter().all(|c| c.trim().is_empty()) {
            continue;
        }
        if rows == MAX_ROWS {
            return Err(ReadError::TooManyRows);
        }
        rows += 1;
        for (position, cell) in record.iter().enumerate() {
            let cell = cell.trim();
            let heading = headings
                .get(position)
                .map(String::as_str)
                .unwrap_or_default();
            if heading.is_empty() && !cell.is_empty() {
                found.push(CellProblem::new(
                    row,
                    "",
                    cell,
                    format!("is in column {} which has no heading", position + 1),
                ));
            } else if cell.contains('\0') {
                // PostgreSQL cannot store or even compare text with a NUL.
                found.push(CellProblem::new(
                    row,
                    heading,
                    &cell.replace('\0', "\u{FFFD}"),
                    "contains a NUL character (shown as \u{FFFD}), which cannot be stored",
                ));
            }
        }
        last = Some((row, record.len()));
        if !found.is_empty() {
            row_problems.insert(row, found);
        }
    }
    if let (true, Some((row, fields))) = (unclosed_quote, last)
        && row == last_read
    {
        // The quote opened in the row's last cell, which then ran to the end of the file.
        let heading = headings
            .get(fields - 1)
            .map(String::as_str)
            .unwrap_or_default();
        row_problems.entry(row).or_default().push(CellProblem::new(
            row,
            heading,
            "",
            "has a quote (\") that is never closed, so the rest of the file was read into this \
             cell; close it, or write a quote inside a quoted cell as two (\"\")",
        ));
    }
    if !problems.is_empty() {
        problems.extend(row_problems.into_values().flatten());
        return Err(ReadError::Problems(problems));
    }
    drop(reader);
    table.rows = rows;
    table.positions = headings
        .iter()
        .enumerate()
        .filter(|(_, heading)| !heading.is_empty())
        .map(|(position, _)| position)
        .collect();
    table.columns = headings.into_iter().filter(|h| !h.is_empty()).collect();
    table.problems = row_problems;
    Ok(table)
}

/// Whether `text` ends inside a quoted cell, read as the csv crate reads it (which takes such
/// a cell to the end of the file without a word): a quote opens a quoted cell only as its
/// first character, and inside one a quote closes it unless doubled.
fn ends_in_quotes(text: &[u8], delimiter: u8) -> bool {
    enum State {
        CellStart,
        Unquoted,
        Quoted,
        QuoteInQuoted,
    }
    let mut state = State::CellStart;
    for &byte in text {
        let ends_cell = byte == delimiter || byte == b'\n' || byte == b'\r';
        state = match state {
            State::CellStart | State::Unquoted if ends_cell => State::CellStart,
            State::CellStart if byte == b'"' => State::Quoted,
            State::CellStart | State::Unquoted => State::Unquoted,
            State::Quoted if byte == b'"' => State::QuoteInQuoted,
            State::Quoted => State::Quoted,
            State::QuoteInQuoted if byte == b'"' => State::Quoted,
            State::QuoteInQuoted if ends_cell => State::CellStart,
            State::QuoteInQuoted => State::Unquoted,
        };
    }
    matches!(state, State::Quoted)
}

/// The error for a body over the import limit.
pub fn too_large(limit: usize) -> ApiError {
    ApiError::PayloadTooLarge { limit }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KNOWN: &[&str] = &["name", "kind"];

    fn cells(table: &Table) -> Vec<(usize, Vec<String>)> {
        table
            .rows()
            .map(|row| (row.number, row.cells.expect("a good row")))
            .collect()
    }

    /// Each row's problems, as (row, column, message start).
    fn problems(table: &Table) -> Vec<(usize, String)> {
        table
            .rows()
            .flat_map(|row| row.cells.err().unwrap_or_default())
            .map(|p| (p.row, p.column))
            .collect()
    }

    #[test]
    fn a_nul_in_any_cell_is_a_problem_of_its_row_and_other_rows_read_on() {
        let table = read(
            b"name,kind\nnul\0name,other\nGood,other\n,x\0\n".to_vec(),
            KNOWN,
        )
        .unwrap();
        assert_eq!(table.rows, 3);
        assert_eq!(
            problems(&table),
            vec![(2, "name".to_owned()), (4, "kind".to_owned())]
        );
        let good: Vec<usize> = table
            .rows()
            .filter(|r| r.cells.is_ok())
            .map(|r| r.number)
            .collect();
        assert_eq!(good, vec![3]);
    }

    #[test]
    fn a_quote_never_closed_is_a_problem_of_the_row_it_opens_in() {
        let table = read(b"name,kind\nA,other\n\"B,other\nC,other\n".to_vec(), KNOWN).unwrap();
        assert_eq!(problems(&table), vec![(3, "name".to_owned())]);
        // Quotes that close, doubled quotes and quotes inside unquoted cells are all fine.
        for good in [
            "name,kind\n\"A, \"\"the\"\" one\",other\n",
            "name,kind\nO\"Brien\",other\n",
            "name,kind\n\"A\nB\",\"other\"\r\n",
            "name,kind\n\"A\"x,other",
        ] {
            let table = read(good.as_bytes().to_vec(), KNOWN).unwrap();
            assert!(problems(&table).is_empty(), "{good:?}");
        }
        assert!(ends_in_quotes(b"a\t\"b", b'\t'));
        assert!(!ends_in_quotes(b"a,\"b\"\"\"", b','));
    }

    #[test]
    fn a_spreadsheet_file_reads_as_its_user_meant() {
        let file = b"\xEF\xBB\xBFName , KIND,,\r\nCaf\xC3\xA9 Voices,other,,\r\n,,,\r\n";
        let table = read(file.to_vec(), KNOWN).unwrap();
        assert_eq!(table.columns, vec!["name", "kind"]);
        assert_eq!(table.rows, 1);
        assert_eq!(
            cells(&table),
            vec![(2, vec!["Café Voices".to_owned(), "other".to_owned()])]
        );
        assert_eq!(table.encoding, Encoding::Utf8);
    }

    #[test]
    fn windows_1252_and_tabs_are_understood() {
        let table = read(
            b"name\tkind\r\nO\x92Brien \x96 Trust\tother\r\n".to_vec(),
            KNOWN,
        )
        .unwrap();
        assert_eq!(table.encoding, Encoding::Windows1252);
        assert_eq!(cells(&table)[0].1[0], "O’Brien – Trust");
        let utf16: Vec<u8> = [0xFF, 0xFE]
            .into_iter()
            .chain("name\nÅsa\n".encode_utf16().flat_map(u16::to_le_bytes))
            .collect();
        assert_eq!(cells(&read(utf16, KNOWN).unwrap())[0].1[0], "Åsa");
    }

    #[test]
    fn unknown_headings_and_values_under_no_heading_are_all_reported() {
        let Err(ReadError::Problems(problems)) =
            read(b"name,colour,name,\nA,red,B,stray\n".to_vec(), KNOWN)
        else {
            panic!("the file is refused");
        };
        let found: Vec<(usize, &str)> = problems
            .iter()
            .map(|p| (p.row, p.column.as_str()))
            .collect();
        assert_eq!(found, vec![(1, "colour"), (1, "name"), (2, "")]);
        assert!(read(Vec::new(), KNOWN).is_err());
    }
}
