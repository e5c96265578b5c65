//! CSV tables: a header row naming the columns, numeric feature columns, and optionally a label
//! column, read into a [`Dataset`] of real values ([`SampleShape::Features`]).
//!
//! Parsing (quoting, line endings, a byte-order mark) is the [`::csv`] crate's; this module
//! adds what a program reading files it did not write needs:
//!
//! - **Errors that say where**: every [`DataError::Table`] names the file, the line (1-based, as
//!   an editor shows it) and the column by its header name, and says what was expected and what
//!   was found: "`cells.csv: line 7, column 'radius': expected a number, found 'n/a'`". Rows of
//!   another length than the header, empty cells, non-numeric or non-finite cells (`NaN`,
//!   `inf`), an empty file, a header without rows, duplicate column names and unknown column
//!   names are all refused.
//! - **Incomplete rows dropped on request**: with [`CsvOptions::drop_incomplete`], a row with an
//!   empty, non-numeric or non-finite feature cell, or an empty label, is skipped and counted
//!   ([`Table::dropped`]) rather than refused. A row of the wrong length is always an error: it
//!   means the file is not the table its header describes.
//! - **Memory bounded before reading**: a file over [`MAX_TABLE_BYTES`] is refused from its size
//!   alone. Every cell takes at least two bytes of the file (a character and a separator) and
//!   becomes one 4-byte `f32`, so the values held are at most twice the file's size (and the
//!   buffer they grow in at most twice that).
//!
//! Labels: the label column's cells are class names. If every one is an integer, the classes are
//! the distinct integers in numerical order (`2, 10` rather than `10, 2`; `07` and `7` are the
//! same class, named `7`); otherwise the distinct strings in byte order. At most
//! [`MAX_CLASSES`] classes. Without a label column every row has label 0 and the data names no
//! classes.
//!
//! ```
//! use latent_data::csv::{CsvOptions, read_csv};
//!
//! let dir = tempfile::tempdir()?;
//! let path = dir.path().join("cells.csv");
//! std::fs::write(&path, "id,radius,texture,diagnosis\n1,12.5,20,B\n2,,18,M\n3,17.0,25.5,M\n")?;
//! let options = CsvOptions {
//!     label_column: Some("diagnosis".into()),
//!     columns: Some(vec!["radius".into(), "texture".into()]),
//!     drop_incomplete: true,
//! };
//! let table = read_csv(&path, &options)?;
//! assert_eq!((table.dataset.len(), table.dropped), (2, 1)); // line 3 has an empty cell
//! let spec = table.dataset.spec();
//! assert_eq!(spec.class_names.as_deref(), Some(&["B".to_string(), "M".to_string()][..]));
//! assert_eq!(spec.feature_names.as_deref(), Some(&["radius".to_string(), "texture".to_string()][..]));
//! assert_eq!(table.dataset.labels(), [0, 1]);
//!
//! // Without dropping, the empty cell is an error naming the line and the column.
//! let strict = CsvOptions { drop_incomplete: false, ..options };
//! let e = read_csv(&path, &strict).unwrap_err().to_string();
//! assert!(e.ends_with("cells.csv: line 3, column 'radius': expected a number, found an empty cell"), "{e}");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::collections::{HashMap, VecDeque};
use std::fs::File;
use std::io::Read;
use std::path::Path;

use crate::dataset::Dataset;
use crate::error::DataError;
use crate::spec::{MAX_CLASSES, SampleShape};

/// The largest CSV file read, in bytes (1 GiB): its values then take at most 2 GiB.
pub const MAX_TABLE_BYTES: u64 = 1 << 30;

/// How to read a table: which column holds the labels, which hold the features, and what to do
/// with incomplete rows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CsvOptions {
    /// The column holding each row's class, by header name; `None` for unlabelled rows.
    pub label_column: Option<String>,
    /// The feature columns, by header name, in the order wanted; `None` for every column but
    /// the label column, in file order.
    pub columns: Option<Vec<String>>,
    /// Skip (and count) rows with an empty, non-numeric or non-finite feature cell or an empty
    /// label, instead of refusing the file.
    pub drop_incomplete: bool,
}

/// A table read: its rows as a data set, and how many incomplete rows were dropped.
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    /// The rows kept, real values as read (not yet standardised), with feature names from the
    /// header and class names from the label column.
    pub dataset: Dataset,
    /// Rows skipped as incomplete ([`CsvOptions::drop_incomplete`]).
    pub dropped: usize,
}

/// The column names of the CSV table at `path`, from its header row (to check a table for a
/// column before reading it).
///
/// # Errors
/// [`DataError::Io`] if the file cannot be read; [`DataError::Table`] for an empty file or a
/// malformed header.
pub fn read_header(path: impl AsRef<Path>) -> Result<Vec<String>, DataError> {
    let path = path.as_ref();
    let file = File::open(path).map_err(|e| DataError::io(path, e))?;
    let mut reader = ::csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .trim(::csv::Trim::All)
        .from_reader(LineCounter::new(file.take(MAX_TABLE_BYTES)));
    let header = match reader.byte_headers() {
        Ok(h) => h.clone(),
        Err(e) => {
            let line = line_of(&mut reader, e.position());
            return Err(csv_error(path, e, line));
        }
    };
    let line = line_of(&mut reader, header.position());
    if header.is_empty() || (header.len() == 1 && header[0].is_empty()) {
        return Err(DataError::Table {
            path: path.to_path_buf(),
            line: Some(line),
            column: None,
            expected: "a header row naming the columns".into(),
            found: "an empty file".into(),
        });
    }
    header_names(path, line, &header)
}

/// Reads the CSV table at `path`: see the [module documentation](self).
///
/// # Errors
/// [`DataError::Io`] if the file cannot be read; [`DataError::Table`] naming the file, line and
/// column for anything malformed: an empty file, a header without rows, duplicate or unknown
/// column names, a row of another length than the header, an empty, non-numeric or non-finite
/// cell (unless dropped), more than [`MAX_CLASSES`] classes, a file over [`MAX_TABLE_BYTES`].
pub fn read_csv(path: impl AsRef<Path>, options: &CsvOptions) -> Result<Table, DataError> {
    let path = path.as_ref();
    let file = File::open(path).map_err(|e| DataError::io(path, e))?;
    let len = file.metadata().map_err(|e| DataError::io(path, e))?.len();
    let fail = |line: Option<u64>, column: Option<&str>, expected: String, found: String| DataError::Table {
        path: path.to_path_buf(),
        line,
        column: column.map(str::to_string),
        expected,
        found,
    };
    if len > MAX_TABLE_BYTES {
        return Err(fail(None, None, format!("a table of at most {MAX_TABLE_BYTES} bytes"), format!("{len} bytes")));
    }
    let mut reader = ::csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .trim(::csv::Trim::All)
        .from_reader(LineCounter::new(file.take(len)));

    let header = match reader.byte_headers() {
        Ok(h) => h.clone(),
        Err(e) => {
            let line = line_of(&mut reader, e.position());
            return Err(csv_error(path, e, line));
        }
    };
    let header_line = line_of(&mut reader, header.position());
    if header.is_empty() || (header.len() == 1 && header[0].is_empty()) {
        return Err(fail(Some(header_line), None, "a header row naming the columns".into(), "an empty file".into()));
    }
    let names = header_names(path, header_line, &header)?;
    let (features, label) = choose_columns(path, header_line, &names, options)?;

    let mut values: Vec<f32> = Vec::new();
    let mut row_classes: Vec<u16> = Vec::new();
    let mut classes: HashMap<String, u16> = HashMap::new();
    let mut class_order: Vec<String> = Vec::new();
    let mut dropped = 0usize;
    let mut record = ::csv::ByteRecord::new();
    loop {
        match reader.read_byte_record(&mut record) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => {
                let line = line_of(&mut reader, e.position());
                return Err(csv_error(path, e, line));
            }
        }
        let line = line_of(&mut reader, record.position());
        if record.len() != names.len() {
            return Err(fail(
                Some(line),
                None,
                format!("{} cells, as the header has", names.len()),
                format!("{} cells", record.len()),
            ));
        }
        let start = values.len();
        let mut problem = None;
        for &c in &features {
            match parse_cell(&record[c]) {
                Ok(v) => values.push(v),
                Err(found) => {
                    problem = Some((c, "a number", found));
                    break;
                }
            }
        }
        let class = match (label, &problem) {
            (Some(c), None) => {
                let cell = String::from_utf8_lossy(&record[c]);
                if cell.is_empty() {
                    problem = Some((c, "a label", "an empty cell".into()));
                    None
                } else {
                    Some(cell.into_owned())
                }
            }
            _ => None,
        };
        if let Some((column, expected, found)) = problem {
            if options.drop_incomplete {
                values.truncate(start);
                dropped += 1;
                continue;
            }
            return Err(fail(Some(line), Some(&names[column]), expected.into(), found));
        }
        if let Some(class) = class {
            let next = class_order.len();
            let id = match classes.get(&class) {
                Some(&id) => id,
                None if next < MAX_CLASSES => {
                    class_order.push(class.clone());
                    classes.insert(class, next as u16);
                    next as u16
                }
                None => {
                    return Err(fail(
                        Some(line),
                        label.map(|c| names[c].as_str()),
                        format!("at most {MAX_CLASSES} distinct labels"),
                        format!("a {}th: '{}'", MAX_CLASSES + 1, shorten(&class)),
                    ));
                }
            };
            row_classes.push(id);
        } else {
            row_classes.push(0);
        }
    }
    if row_classes.is_empty() {
        let found = if dropped > 0 {
            format!("none: all {dropped} rows are incomplete and were dropped")
        } else {
            "only the header".into()
        };
        return Err(fail(None, None, "at least one row of data after the header".into(), found));
    }

    let (labels, class_names) = match label {
        Some(_) => {
            let (order, names) = sorted_classes(&class_order);
            (row_classes.iter().map(|&id| order[usize::from(id)]).collect(), Some(names))
        }
        None => (vec![0u8; row_classes.len()], None),
    };
    let feature_names: Vec<String> = features.iter().map(|&c| names[c].clone()).collect();
    let shape = SampleShape::Features { features: features.len() };
    let mut dataset = Dataset::from_reals(values, labels, shape)?.with_feature_names(feature_names)?;
    if let Some(names) = class_names {
        dataset = dataset.with_class_names(names)?;
    }
    Ok(Table { dataset, dropped })
}

/// The header's column names, checked to be text and distinct.
fn header_names(path: &Path, line: u64, header: &::csv::ByteRecord) -> Result<Vec<String>, DataError> {
    let mut seen: HashMap<&[u8], usize> = HashMap::new();
    let mut names = Vec::with_capacity(header.len());
    for (i, field) in header.iter().enumerate() {
        let name = std::str::from_utf8(field).map_err(|_| DataError::Table {
            path: path.to_path_buf(),
            line: Some(line),
            column: None,
            expected: "column names in UTF-8 text".into(),
            found: format!("bytes that are not UTF-8 in the name of column {}", i + 1),
        })?;
        if let Some(first) = seen.insert(field, i) {
            return Err(DataError::Table {
                path: path.to_path_buf(),
                line: Some(line),
                column: Some(name.to_string()),
                expected: "distinct column names".into(),
                found: format!("columns {} and {} both named '{}'", first + 1, i + 1, name),
            });
        }
        names.push(name.to_string());
    }
    Ok(names)
}

/// The feature columns' and the label column's indices, as `options` names them.
fn choose_columns(
    path: &Path,
    line: u64,
    names: &[String],
    options: &CsvOptions,
) -> Result<(Vec<usize>, Option<usize>), DataError> {
    let find = |name: &str, flag: &str| {
        names.iter().position(|n| n == name).ok_or_else(|| DataError::Table {
            path: path.to_path_buf(),
            line: Some(line),
            column: None,
            expected: format!("a column named '{name}' ({flag}) among: {}", list(names)),
            found: "no such column".into(),
        })
    };
    let label = options.label_column.as_deref().map(|n| find(n, "--label-column")).transpose()?;
    let features: Vec<usize> = match &options.columns {
        Some(chosen) => {
            let mut picked = Vec::with_capacity(chosen.len());
            for name in chosen {
                let c = find(name, "--columns")?;
                if Some(c) == label || picked.contains(&c) {
                    return Err(DataError::Table {
                        path: path.to_path_buf(),
                        line: Some(line),
                        column: Some(name.clone()),
                        expected: "feature columns named once each, apart from the label column".into(),
                        found: if Some(c) == label {
                            "the label column among the features (--columns)".into()
                        } else {
                            "a column named twice in --columns".into()
                        },
                    });
                }
                picked.push(c);
            }
            picked
        }
        None => (0..names.len()).filter(|&c| Some(c) != label).collect(),
    };
    if features.is_empty() {
        return Err(DataError::Table {
            path: path.to_path_buf(),
            line: Some(line),
            column: None,
            expected: "at least one feature column besides the label column".into(),
            found: format!("the columns {}", list(names)),
        });
    }
    Ok((features, label))
}

/// The value of a feature cell, or a description of what it holds instead.
fn parse_cell(cell: &[u8]) -> Result<f32, String> {
    if cell.is_empty() {
        return Err("an empty cell".into());
    }
    let text = std::str::from_utf8(cell).map_err(|_| "bytes that are not UTF-8 text".to_string())?;
    match text.parse::<f32>() {
        Ok(v) if v.is_finite() => Ok(v),
        Ok(_) => Err(format!("'{}', which is not a finite number", shorten(text))),
        Err(_) => Err(format!("'{}'", shorten(text))),
    }
}

/// The classes in their sorted order: for each class id (order of first appearance) its label,
/// and the class names in label order. Integers sort numerically (and `07` is `7`), anything
/// else by bytes.
fn sorted_classes(first_seen: &[String]) -> (Vec<u8>, Vec<String>) {
    let integers: Option<Vec<i128>> = first_seen.iter().map(|s| s.parse::<i128>().ok()).collect();
    let keys: Vec<String> = match &integers {
        Some(ints) => ints.iter().map(i128::to_string).collect(),
        None => first_seen.to_vec(),
    };
    let mut names: Vec<String> = keys.clone();
    match &integers {
        Some(_) => names.sort_by_key(|n| n.parse::<i128>().unwrap_or(0)),
        None => names.sort(),
    }
    names.dedup();
    let order = keys.iter().map(|k| names.iter().position(|n| n == k).unwrap_or(0) as u8).collect();
    (order, names)
}

/// The column names for a message: all of them, or the first 40 and how many more.
fn list(names: &[String]) -> String {
    const SHOWN: usize = 40;
    let shown: Vec<&str> = names.iter().take(SHOWN).map(String::as_str).collect();
    match names.len().checked_sub(SHOWN) {
        Some(more) if more > 0 => format!("{} and {more} more", shown.join(", ")),
        _ => shown.join(", "),
    }
}

/// A cell's text cut to a length a message can show.
fn shorten(text: &str) -> String {
    const MAX: usize = 40;
    match text.char_indices().nth(MAX) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_string(),
    }
}

/// Counts the lines of what it reads, so that a record's line can be told from its byte offset
/// (the csv crate's own line count leaves out blank lines). It keeps the offsets of the newlines
/// not yet passed, which are no more than the csv reader buffers, each with whether it ends a
/// blank line.
struct LineCounter<R> {
    inner: R,
    offset: u64,
    newlines: VecDeque<(u64, bool)>,
    blank: bool,
    line: u64,
}

impl<R> LineCounter<R> {
    fn new(inner: R) -> Self {
        LineCounter { inner, offset: 0, newlines: VecDeque::new(), blank: true, line: 1 }
    }

    /// The line (1-based) of the first non-blank line at or after byte `offset`, for offsets
    /// that do not decrease from call to call (a record's offset is where the csv reader began
    /// looking for it, before the blank lines it skips).
    fn line_at(&mut self, offset: u64) -> u64 {
        while let Some(&(at, blank)) = self.newlines.front() {
            // Lines ending before the offset or at it (the csv reader's offset for a record after
            // a CRLF is that of the LF), and blank lines it skipped after it: a record does not
            // start with a newline.
            if at <= offset || blank {
                self.newlines.pop_front();
                self.line += 1;
            } else {
                break;
            }
        }
        self.line
    }
}

impl<R: Read> Read for LineCounter<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        for (i, &b) in buf[..n].iter().enumerate() {
            match b {
                b'\n' => {
                    self.newlines.push_back((self.offset + i as u64, self.blank));
                    self.blank = true;
                }
                b'\r' => {}
                _ => self.blank = false,
            }
        }
        self.offset += n as u64;
        Ok(n)
    }
}

/// The line of the file a record (or error) at `at` starts on.
fn line_of<R: Read>(reader: &mut ::csv::Reader<LineCounter<R>>, at: Option<&::csv::Position>) -> u64 {
    reader.get_mut().line_at(at.map_or(0, ::csv::Position::byte))
}

/// A parse error of the csv crate, naming the file and line.
fn csv_error(path: &Path, e: ::csv::Error, line: u64) -> DataError {
    let line = Some(line);
    match e.into_kind() {
        ::csv::ErrorKind::Io(io) => DataError::io(path, io),
        ::csv::ErrorKind::Utf8 { err, .. } => DataError::Table {
            path: path.to_path_buf(),
            line,
            column: None,
            expected: "UTF-8 text".into(),
            found: format!("invalid UTF-8 in field {}", err.field() + 1),
        },
        other => DataError::Table {
            path: path.to_path_buf(),
            line,
            column: None,
            expected: "a CSV table".into(),
            found: format!("{other:?}"),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integer_classes_sort_numerically_and_merge_spellings() {
        let seen: Vec<String> = ["10", "2", "07", "7", "-1"].iter().map(|s| s.to_string()).collect();
        let (order, names) = sorted_classes(&seen);
        assert_eq!(names, ["-1", "2", "7", "10"]);
        assert_eq!(order, [3, 1, 2, 2, 0]);
        let seen: Vec<String> = ["M", "B", "10"].iter().map(|s| s.to_string()).collect();
        let (order, names) = sorted_classes(&seen);
        assert_eq!(names, ["10", "B", "M"]);
        assert_eq!(order, [2, 1, 0]);
    }

    #[test]
    fn cells_parse_or_say_what_they_hold() {
        assert_eq!(parse_cell(b"1.5e2"), Ok(150.0));
        assert_eq!(parse_cell(b"-0.25"), Ok(-0.25));
        assert_eq!(parse_cell(b""), Err("an empty cell".into()));
        assert_eq!(parse_cell(b"abc"), Err("'abc'".into()));
        assert!(parse_cell(b"NaN").unwrap_err().contains("not a finite number"));
        assert!(parse_cell(b"inf").unwrap_err().contains("not a finite number"));
        assert!(parse_cell(b"1e39").unwrap_err().contains("not a finite number"));
        assert!(parse_cell(&[0xff, 0xfe]).unwrap_err().contains("not UTF-8"));
        assert_eq!(shorten(&"x".repeat(50)).chars().count(), 41);
    }
}
