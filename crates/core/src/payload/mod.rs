//! Payload bodies: from a captured `data` string to rows of typed values.
//!
//! The body's format comes from `observedContentType` without its parameters
//! (`text/csv; charset=utf-8` is CSV); the capture `encoding` says how the body was stored
//! (`CSV` and `JSON` verbatim, `BASE64` encoded). When the content type is unknown, a verbatim
//! encoding still tells the format. Input and output may use different formats.

mod csv;
mod json;
mod value;

use std::borrow::Cow;

use base64::Engine as _;

pub use self::csv::decode_csv;
pub use self::json::decode_json;
pub(crate) use self::json::json_error_detail;
pub use self::value::{number_type, Value, ValueType};

/// One cell: a value, named when it came from a JSON object member.
#[derive(Debug, Clone, PartialEq)]
pub struct Cell<'a> {
    /// The member name for JSON objects; `None` for positional values.
    pub name: Option<Cow<'a, str>>,
    /// The typed value.
    pub value: Value<'a>,
}

/// Rows of cells, stored flat; cells borrow from the body where they can.
#[derive(Debug, Default, Clone)]
pub struct Table<'a> {
    /// All cells, row after row.
    pub cells: Vec<Cell<'a>>,
    ends: Vec<usize>,
}

impl<'a> Table<'a> {
    /// Empties the table and returns it with its allocations, free of any borrow, so that one
    /// table serves every record of an object.
    pub fn recycle<'b>(mut self) -> Table<'b> {
        self.cells.clear();
        self.ends.clear();
        // An empty vector collects in place, keeping its allocation (`filter` could not change
        // the lifetime).
        #[allow(clippy::unnecessary_filter_map)]
        Table { cells: self.cells.into_iter().filter_map(|_| None).collect(), ends: self.ends }
    }

    /// Closes the row whose first cell is at `start`.
    pub fn end_row(&mut self, start: usize) {
        debug_assert_eq!(start, self.ends.last().copied().unwrap_or(0));
        self.ends.push(self.cells.len());
    }

    /// Returns the number of rows.
    pub fn row_count(&self) -> usize {
        self.ends.len()
    }

    /// Returns row `i`.
    pub fn row(&self, i: usize) -> &[Cell<'a>] {
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        &self.cells[start..self.ends[i]]
    }

    /// Iterates over the rows.
    pub fn rows(&self) -> impl Iterator<Item = &[Cell<'a>]> {
        (0..self.ends.len()).map(|i| self.row(i))
    }

    /// Removes the first row (a header the client sent); the others keep their order.
    pub fn drop_first_row(&mut self) {
        let Some(&first_end) = self.ends.first() else { return };
        self.cells.drain(..first_end);
        self.ends.remove(0);
        for e in &mut self.ends {
            *e -= first_end;
        }
    }
}

/// Why a body could not be read. Messages never include payload content.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum PayloadError {
    /// The BASE64 text does not decode.
    #[error("base64: {detail}")]
    Base64 {
        /// What went wrong.
        detail: String,
    },
    /// The decoded bytes are not UTF-8 text.
    #[error("body is not utf-8 text (content type {content_type})")]
    NotText {
        /// The observed content type.
        content_type: String,
    },
    /// A CSV body that does not parse.
    #[error("csv: {detail}")]
    Csv {
        /// What went wrong, without content.
        detail: String,
    },
    /// A JSON body that does not parse.
    #[error("json: {detail}")]
    Json {
        /// What went wrong, without content.
        detail: String,
    },
    /// A body whose format driftwatch cannot read (e.g. `application/x-npy`).
    #[error("unsupported content type {content_type:?} with encoding {encoding:?}")]
    Unsupported {
        /// The observed content type.
        content_type: String,
        /// The capture encoding.
        encoding: String,
    },
}

impl PayloadError {
    /// Returns whether the body is of a kind driftwatch does not read (as opposed to broken).
    pub fn is_unsupported(&self) -> bool {
        matches!(self, PayloadError::Unsupported { .. } | PayloadError::NotText { .. })
    }
}

/// How a body is laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Comma-separated rows.
    Csv,
    /// One JSON document (or several separated by line breaks).
    Json,
}

/// Returns the format named by a content type (parameters ignored), falling back to the
/// capture encoding when the content type is unknown.
pub fn format_of(content_type: Option<&str>, encoding: &str) -> Option<Format> {
    let media =
        content_type.map(|ct| ct.split(';').next().unwrap_or("").trim().to_ascii_lowercase()).unwrap_or_default();
    match media.as_str() {
        "text/csv" | "application/csv" | "text/x-csv" | "text/plain" => return Some(Format::Csv),
        "application/json"
        | "text/json"
        | "application/jsonlines"
        | "application/jsonl"
        | "application/x-jsonlines"
        | "application/json-lines"
        | "application/x-ndjson" => return Some(Format::Json),
        m if m.ends_with("+json") => return Some(Format::Json),
        _ => {}
    }
    match encoding {
        "CSV" => Some(Format::Csv),
        "JSON" => Some(Format::Json),
        _ => None,
    }
}

/// Returns the body text of a captured payload, decoding BASE64 when needed.
pub fn body_text<'a>(
    data: &'a Cow<'a, str>,
    encoding: &str,
    content_type: Option<&str>,
) -> Result<Cow<'a, str>, PayloadError> {
    if !encoding.eq_ignore_ascii_case("BASE64") {
        return Ok(Cow::Borrowed(data.as_ref()));
    }
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(data.trim().as_bytes())
        .map_err(|e| PayloadError::Base64 { detail: base64_detail(&e) })?;
    String::from_utf8(bytes)
        .map(Cow::Owned)
        .map_err(|_| PayloadError::NotText { content_type: content_type.unwrap_or("").to_owned() })
}

fn base64_detail(e: &base64::DecodeError) -> String {
    match e {
        base64::DecodeError::InvalidByte(at, _) => format!("invalid byte at offset {at}"),
        base64::DecodeError::InvalidLength(n) => format!("invalid length {n}"),
        base64::DecodeError::InvalidLastSymbol { offset, .. } => {
            format!("invalid last symbol at offset {offset}")
        }
        base64::DecodeError::InvalidPadding => "invalid padding".to_owned(),
    }
}

/// Decodes one body into rows appended to `table`.
pub fn decode_body<'a>(
    body: &'a str,
    content_type: Option<&str>,
    encoding: &str,
    expect_rows: Option<usize>,
    table: &mut Table<'a>,
) -> Result<(), PayloadError> {
    match format_of(content_type, encoding) {
        Some(Format::Csv) => decode_csv(body, table),
        Some(Format::Json) => decode_json(body, expect_rows, table),
        None => Err(PayloadError::Unsupported {
            content_type: content_type.unwrap_or("").to_owned(),
            encoding: encoding.to_owned(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_from_content_type_and_encoding() {
        let cases = [
            (Some("text/csv"), "CSV", Some(Format::Csv)),
            (Some("text/csv; charset=utf-8"), "CSV", Some(Format::Csv)),
            (Some("Application/JSON"), "JSON", Some(Format::Json)),
            (Some("application/jsonlines"), "JSON", Some(Format::Json)),
            (Some("text/csv"), "BASE64", Some(Format::Csv)),
            (Some("application/x-npy"), "BASE64", None),
            (Some("application/x-custom"), "CSV", Some(Format::Csv)),
            (None, "JSON", Some(Format::Json)),
            (None, "BASE64", None),
        ];
        for (ct, enc, want) in cases {
            assert_eq!(format_of(ct, enc), want, "{ct:?} {enc}");
        }
    }

    #[test]
    fn a_first_row_can_be_dropped() {
        let mut t = Table::default();
        decode_body("a,b\n1,2\n3,4,5\n", Some("text/csv"), "CSV", None, &mut t).unwrap();
        t.drop_first_row();
        assert_eq!(t.row_count(), 2);
        assert_eq!(t.row(0).len(), 2);
        assert_eq!(t.row(1).len(), 3);
        assert!(matches!(t.row(1)[2].value, Value::Number { value, .. } if value == 5.0));
        let mut empty = Table::default();
        empty.drop_first_row();
        assert_eq!(empty.row_count(), 0);
    }

    #[test]
    fn recycled_tables_keep_their_allocations() {
        let body = String::from("1,2,3\n4,5,6");
        let mut t = Table::default();
        decode_body(&body, Some("text/csv"), "CSV", None, &mut t).unwrap();
        let cap = t.cells.capacity();
        let t: Table<'static> = t.recycle();
        drop(body);
        assert!(t.cells.is_empty() && t.row_count() == 0);
        assert_eq!(t.cells.capacity(), cap);
    }

    #[test]
    fn base64_bodies() {
        let data = Cow::Borrowed("MSwyLDMKNCw1LDYK"); // "1,2,3\n4,5,6\n"
        let body = body_text(&data, "BASE64", Some("text/csv")).unwrap();
        let mut t = Table::default();
        decode_body(&body, Some("text/csv"), "BASE64", None, &mut t).unwrap();
        assert_eq!(t.row_count(), 2);
        assert!(matches!(body_text(&Cow::Borrowed("@@@"), "BASE64", None), Err(PayloadError::Base64 { .. })));
        let not_text = Cow::Borrowed("//79"); // 0xff 0xfe 0xfd
        assert!(matches!(body_text(&not_text, "BASE64", None), Err(PayloadError::NotText { .. })));
    }
}
