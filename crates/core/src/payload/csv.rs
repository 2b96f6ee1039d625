//! CSV bodies: one request may hold many rows.
//!
//! Rows are split on line breaks (`\n` or `\r\n`); a trailing newline and blank lines add no row.
//! Fields are split on commas; an empty field is missing. Quoted fields (RFC 4180, `""` for a
//! quote, line breaks allowed inside quotes) are supported; the common unquoted case borrows
//! every field from the body without copying.

use super::{Cell, PayloadError, Table, Value};

/// Appends the rows of a CSV body to `table`.
pub fn decode_csv<'a>(body: &'a str, table: &mut Table<'a>) -> Result<(), PayloadError> {
    let b = body.as_bytes();
    if b.contains(&b'"') {
        return decode_quoted(body, table);
    }
    let mut line_start = 0;
    while line_start < b.len() {
        let line_end = b[line_start..].iter().position(|&c| c == b'\n').map_or(b.len(), |p| line_start + p);
        let next = line_end + 1;
        let end = if line_end > line_start && b[line_end - 1] == b'\r' { line_end - 1 } else { line_end };
        if b[line_start..end].iter().all(u8::is_ascii_whitespace) {
            line_start = next;
            continue;
        }
        let row = table.cells.len();
        let mut field = line_start;
        for (i, &c) in b[line_start..end].iter().enumerate() {
            if c == b',' {
                let at = line_start + i;
                table.cells.push(Cell { name: None, value: Value::from_text(&body[field..at]) });
                field = at + 1;
            }
        }
        table.cells.push(Cell { name: None, value: Value::from_text(&body[field..end]) });
        table.end_row(row);
        line_start = next;
    }
    Ok(())
}

/// The slow path: a state machine over the whole body, for bodies with quotes.
fn decode_quoted<'a>(body: &'a str, table: &mut Table<'a>) -> Result<(), PayloadError> {
    let b = body.as_bytes();
    let mut i = 0;
    let mut row_start = table.cells.len();
    let mut row_has_content = false;
    loop {
        // At the start of a field.
        if i < b.len() && b[i] == b'"' {
            let mut owned = String::new();
            let mut seg = i + 1;
            let mut j = i + 1;
            loop {
                match b.get(j) {
                    None => return Err(PayloadError::Csv { detail: "unterminated quoted field".into() }),
                    Some(b'"') if b.get(j + 1) == Some(&b'"') => {
                        owned.push_str(&body[seg..=j]);
                        j += 2;
                        seg = j;
                    }
                    Some(b'"') => {
                        owned.push_str(&body[seg..j]);
                        j += 1;
                        break;
                    }
                    Some(_) => j += 1,
                }
            }
            match b.get(j) {
                None | Some(b',' | b'\n' | b'\r') => {}
                Some(_) => {
                    return Err(PayloadError::Csv { detail: "text after a closing quote".into() });
                }
            }
            table.cells.push(Cell { name: None, value: Value::from_owned_text(owned) });
            row_has_content = true;
            i = j;
        } else {
            let mut j = i;
            while j < b.len() && !matches!(b[j], b',' | b'\n' | b'\r') {
                j += 1;
            }
            let field = &body[i..j];
            if !field.trim_matches(|c: char| c.is_ascii_whitespace()).is_empty() {
                row_has_content = true;
            }
            table.cells.push(Cell { name: None, value: Value::from_text(field) });
            i = j;
        }
        // After a field: a comma, a line break or the end.
        match b.get(i) {
            Some(b',') => {
                i += 1;
                row_has_content = true;
            }
            Some(b'\r') | Some(b'\n') | None => {
                if row_has_content {
                    table.end_row(row_start);
                } else {
                    table.cells.truncate(row_start);
                }
                if b.get(i) == Some(&b'\r') {
                    i += 1;
                }
                if b.get(i) == Some(&b'\n') {
                    i += 1;
                }
                if i >= b.len() {
                    return Ok(());
                }
                row_start = table.cells.len();
                row_has_content = false;
            }
            Some(_) => return Err(PayloadError::Csv { detail: "field scanner stopped inside a field".into() }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(body: &str) -> Vec<Vec<Value<'_>>> {
        let mut t = Table::default();
        decode_csv(body, &mut t).unwrap();
        t.rows().map(|r| r.iter().map(|c| c.value.clone()).collect()).collect()
    }

    fn num(v: f64, text: &str) -> Value<'_> {
        Value::Number { value: v, integral: !text.contains(['.', 'e', 'E']), text: text.into() }
    }

    #[test]
    fn splits_rows_and_fields() {
        let cases: Vec<(&str, Vec<Vec<Value>>)> = vec![
            ("1,2", vec![vec![num(1.0, "1"), num(2.0, "2")]]),
            ("1,2\n", vec![vec![num(1.0, "1"), num(2.0, "2")]]),
            ("1,2\r\n3,4\r\n", vec![vec![num(1.0, "1"), num(2.0, "2")], vec![num(3.0, "3"), num(4.0, "4")]]),
            ("1,,3", vec![vec![num(1.0, "1"), Value::Missing, num(3.0, "3")]]),
            ("\n\n1\n\n", vec![vec![num(1.0, "1")]]),
            ("", vec![]),
            ("a,b", vec![vec![Value::Text("a".into()), Value::Text("b".into())]]),
        ];
        for (body, want) in cases {
            assert_eq!(rows(body), want, "{body:?}");
        }
    }

    /// The plain definition the fast path must match: lines, then commas.
    fn reference(body: &str) -> Vec<Vec<Value<'_>>> {
        let mut out = Vec::new();
        for line in body.split('\n') {
            let line = line.strip_suffix('\r').unwrap_or(line);
            if line.trim_matches(|c: char| c.is_ascii_whitespace()).is_empty() {
                continue;
            }
            out.push(line.split(',').map(Value::from_text).collect());
        }
        out
    }

    proptest::proptest! {
        #[test]
        fn unquoted_bodies_split_as_defined(body in "[0-9a-c,. \t\r\n-]{0,80}") {
            proptest::prop_assert_eq!(rows(&body), reference(&body));
        }
    }

    #[test]
    fn quoted_fields() {
        let r = rows("\"a,b\",2\n\"say \"\"hi\"\"\",\"\"\n\"multi\nline\",3");
        assert_eq!(r.len(), 3);
        assert_eq!(r[0][0], Value::Text("a,b".into()));
        assert_eq!(r[0][1], num(2.0, "2"));
        assert_eq!(r[1][0], Value::Text("say \"hi\"".into()));
        assert_eq!(r[1][1], Value::Missing);
        assert_eq!(r[2][0], Value::Text("multi\nline".into()));
        assert_eq!(r[2][1], num(3.0, "3"));
    }

    #[test]
    fn bad_quotes_are_errors() {
        let mut t = Table::default();
        assert!(decode_csv("\"open,1", &mut t).is_err());
        let mut t = Table::default();
        assert!(decode_csv("\"a\"b,1", &mut t).is_err());
    }
}
