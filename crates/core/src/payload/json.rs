//! JSON and JSON Lines bodies.
//!
//! Shapes seen in real captures (see the fixtures) and what each becomes:
//! - `{"instances": [...]}` / `{"inputs": [...]}` (requests), `{"predictions": [...]}` /
//!   `{"outputs": [...]}` (responses): every element of the array is one row.
//! - a bare array of arrays or objects: every element is one row; a bare array of scalars is one row.
//! - an element `{"features": [...]}`: one row of positional values.
//! - any other object: one row whose cells are named by key (in document order); a member that
//!   is itself an object is flattened into dotted names (`{"parameters": {"top_p": 0.9}}` is the
//!   cell `parameters.top_p`), as text-generation requests carry their settings.
//! - a scalar: one row of one value.
//! - JSON Lines (several documents separated by line breaks): each document as above.
//!
//! Values keep their text: the parser borrows every scalar from the body (`RawValue`), so
//! numbers are typed from how they were written (`3` Integral, `3.0` Fractional, as Deequ does).

use std::borrow::Cow;
use std::fmt;

use serde::de::{Deserializer as _, MapAccess, Visitor};
use serde::Deserialize;
use serde_json::value::RawValue;

use super::value::number_type;
use super::{Cell, PayloadError, Table, Value};

/// Keys whose array value lists one row per element.
const ROW_ARRAY_KEYS: [&str; 4] = ["instances", "inputs", "predictions", "outputs"];

/// Appends the rows of a JSON or JSON Lines body to `table`.
///
/// `expect_rows` is the number of rows of the paired input, if any: a bare array of scalars of
/// exactly that length (more than one) is read as one value per row, which is how many
/// regression and classification servers answer a batch.
pub fn decode_json<'a>(body: &'a str, expect_rows: Option<usize>, table: &mut Table<'a>) -> Result<(), PayloadError> {
    let docs = serde_json::Deserializer::from_str(body).into_iter::<&'a RawValue>();
    let mut n_docs = 0usize;
    let first_row = table.row_count();
    for doc in docs {
        let doc = doc.map_err(|e| PayloadError::Json { detail: json_error_detail(&e) })?;
        n_docs += 1;
        doc_rows(doc, expect_rows, table)?;
    }
    if n_docs == 0 {
        return Err(PayloadError::Json { detail: "empty body".into() });
    }
    debug_assert!(table.row_count() >= first_row);
    Ok(())
}

/// Describes a serde_json error without echoing payload content.
pub(crate) fn json_error_detail(e: &serde_json::Error) -> String {
    let what = match e.classify() {
        serde_json::error::Category::Io => "read error",
        serde_json::error::Category::Syntax => "syntax error",
        serde_json::error::Category::Data => "unexpected shape",
        serde_json::error::Category::Eof => "unexpected end",
    };
    format!("{what} at column {}", e.column())
}

fn first_byte(raw: &RawValue) -> u8 {
    raw.get().as_bytes().first().copied().unwrap_or(b' ')
}

fn doc_rows<'a>(doc: &'a RawValue, expect_rows: Option<usize>, table: &mut Table<'a>) -> Result<(), PayloadError> {
    match first_byte(doc) {
        b'{' => {
            let obj = parse_object(doc)?;
            for key in ROW_ARRAY_KEYS {
                if let Some((_, v)) = obj.0.iter().find(|(k, _)| k.as_ref() == key) {
                    if first_byte(v) == b'[' {
                        for elem in parse_array(v)? {
                            element_row(elem, table)?;
                        }
                        return Ok(());
                    }
                }
            }
            object_row(obj, table)
        }
        b'[' => {
            let elems = parse_array(doc)?;
            let all_scalars = elems.iter().all(|e| !matches!(first_byte(e), b'[' | b'{'));
            if all_scalars && !(elems.len() > 1 && expect_rows == Some(elems.len())) {
                let start = table.cells.len();
                for e in elems {
                    table.cells.push(Cell { name: None, value: scalar(e)? });
                }
                table.end_row(start);
            } else {
                for e in elems {
                    element_row(e, table)?;
                }
            }
            Ok(())
        }
        _ => element_row(doc, table),
    }
}

fn element_row<'a>(elem: &'a RawValue, table: &mut Table<'a>) -> Result<(), PayloadError> {
    let start = table.cells.len();
    match first_byte(elem) {
        b'{' => {
            let obj = parse_object(elem)?;
            if let [(k, v)] = obj.0.as_slice() {
                if k == "features" && first_byte(v) == b'[' {
                    for e in parse_array(v)? {
                        table.cells.push(Cell { name: None, value: scalar(e)? });
                    }
                    table.end_row(start);
                    return Ok(());
                }
            }
            return object_row(obj, table);
        }
        b'[' => {
            for e in parse_array(elem)? {
                table.cells.push(Cell { name: None, value: scalar(e)? });
            }
        }
        _ => table.cells.push(Cell { name: None, value: scalar(elem)? }),
    }
    table.end_row(start);
    Ok(())
}

/// Objects nested deeper than this inside a row are kept as text rather than flattened: enough
/// for any request's settings, and a bound on recursion for hostile bodies.
const MAX_FLATTEN_DEPTH: usize = 8;

fn object_row<'a>(obj: Object<'a>, table: &mut Table<'a>) -> Result<(), PayloadError> {
    let start = table.cells.len();
    push_members(obj, None, 0, table)?;
    table.end_row(start);
    Ok(())
}

/// Pushes an object's members as cells, named `prefix.key` below the top, nested objects
/// flattened up to [`MAX_FLATTEN_DEPTH`].
fn push_members<'a>(
    obj: Object<'a>,
    prefix: Option<&str>,
    depth: usize,
    table: &mut Table<'a>,
) -> Result<(), PayloadError> {
    for (k, v) in obj.0 {
        let name = match prefix {
            Some(p) => Cow::Owned(format!("{p}.{k}")),
            None => k,
        };
        if first_byte(v) == b'{' && depth < MAX_FLATTEN_DEPTH {
            let inner = parse_object(v)?;
            if !inner.0.is_empty() {
                push_members(inner, Some(&name), depth + 1, table)?;
                continue;
            }
        }
        table.cells.push(Cell { name: Some(name), value: scalar(v)? });
    }
    Ok(())
}

/// Types one JSON value; nested arrays and objects become text.
fn scalar(raw: &RawValue) -> Result<Value<'_>, PayloadError> {
    let text = raw.get();
    match text.as_bytes().first() {
        Some(b'"') => {
            let s: Cow<'_, str> =
                BorrowedStr::deserialize(raw).map_err(|e| PayloadError::Json { detail: json_error_detail(&e) })?.0;
            Ok(match s {
                Cow::Borrowed(b) => Value::from_text(b),
                Cow::Owned(o) => Value::from_owned_text(o),
            })
        }
        Some(b'n') => Ok(Value::Missing),
        Some(b't') => Ok(Value::Bool(true)),
        Some(b'f') => Ok(Value::Bool(false)),
        Some(b'[' | b'{') => Ok(Value::Text(Cow::Borrowed(text))),
        Some(_) => match number_type(text.as_bytes()) {
            Some(kind) => match text.parse::<f64>() {
                Ok(v) if v.is_finite() => Ok(Value::Number {
                    value: v,
                    integral: kind == super::ValueType::Integral,
                    text: Cow::Borrowed(text),
                }),
                _ => Ok(Value::NonFinite),
            },
            None => Err(PayloadError::Json { detail: "unreadable number".into() }),
        },
        None => Err(PayloadError::Json { detail: "empty value".into() }),
    }
}

#[derive(Deserialize)]
struct BorrowedStr<'a>(#[serde(borrow)] Cow<'a, str>);

fn parse_array(raw: &RawValue) -> Result<Vec<&RawValue>, PayloadError> {
    serde_json::from_str(raw.get()).map_err(|e| PayloadError::Json { detail: json_error_detail(&e) })
}

/// A JSON object's members in document order, values unparsed.
struct Object<'a>(Vec<(Cow<'a, str>, &'a RawValue)>);

fn parse_object(raw: &RawValue) -> Result<Object<'_>, PayloadError> {
    let mut de = serde_json::Deserializer::from_str(raw.get());
    de.deserialize_map(ObjectVisitor).map_err(|e| PayloadError::Json { detail: json_error_detail(&e) })
}

struct ObjectVisitor;

impl<'de> Visitor<'de> for ObjectVisitor {
    type Value = Object<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Object<'de>, A::Error> {
        let mut members = Vec::new();
        while let Some(key) = map.next_key::<BorrowedStr<'de>>()? {
            let value: &'de RawValue = map.next_value()?;
            members.push((key.0, value));
        }
        Ok(Object(members))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(body: &str, expect: Option<usize>) -> Vec<Vec<(Option<String>, Value<'_>)>> {
        let mut t = Table::default();
        decode_json(body, expect, &mut t).unwrap();
        t.rows()
            .map(|r| r.iter().map(|c| (c.name.as_ref().map(|n| n.to_string()), c.value.clone())).collect())
            .collect()
    }

    fn n(v: f64, text: &str, integral: bool) -> Value<'_> {
        Value::Number { value: v, integral, text: text.into() }
    }

    #[test]
    fn instances_of_scalars_are_rows() {
        let r = decode(r#"{"instances": [1.0, 2.0, 5.0]}"#, None);
        assert_eq!(r.len(), 3);
        assert_eq!(r[1], vec![(None, n(2.0, "2.0", false))]);
    }

    #[test]
    fn instances_of_features() {
        let r = decode(r#"{"instances": [{"features": [28, 2.5]}, {"features": [43, 1]}]}"#, None);
        assert_eq!(
            r,
            vec![
                vec![(None, n(28.0, "28", true)), (None, n(2.5, "2.5", false))],
                vec![(None, n(43.0, "43", true)), (None, n(1.0, "1", true))]
            ]
        );
    }

    #[test]
    fn predictions_objects_by_key() {
        let r = decode(r#"{"predictions": [{"score": 0.98, "predicted_label": 1}]}"#, None);
        assert_eq!(
            r,
            vec![vec![
                (Some("score".into()), n(0.98, "0.98", false)),
                (Some("predicted_label".into()), n(1.0, "1", true))
            ]]
        );
    }

    #[test]
    fn json_lines_bodies() {
        let r = decode("{\"features\":[1,2]}\n{\"features\":[3,4]}\n", None);
        assert_eq!(r.len(), 2);
        let r = decode("{\"predicted_label\":1,\"score\":0.5}\n{\"predicted_label\":0,\"score\":0.1}\n", None);
        assert_eq!(r.len(), 2);
        assert_eq!(r[1][1], (Some("score".into()), n(0.1, "0.1", false)));
    }

    #[test]
    fn bare_arrays() {
        assert_eq!(decode("[1, 2, 3]", None).len(), 1);
        assert_eq!(decode("[1, 2, 3]", Some(3)).len(), 3);
        assert_eq!(decode("[[1, 2], [3, 4]]", None).len(), 2);
        assert_eq!(decode("0.75", None), vec![vec![(None, n(0.75, "0.75", false))]]);
    }

    #[test]
    fn flat_object_and_values() {
        let r = decode(r#"{"a": null, "b": "x\"y", "c": true, "d": "3.0", "e": [1]}"#, None);
        let vals: Vec<_> = r[0].iter().map(|(_, v)| v.clone()).collect();
        assert_eq!(
            vals,
            vec![
                Value::Missing,
                Value::Text("x\"y".into()),
                Value::Bool(true),
                n(3.0, "3.0", false),
                Value::Text("[1]".into())
            ]
        );
    }

    #[test]
    fn text_generation_requests_flatten_their_settings() {
        let body = r#"{"inputs": "Summarise: the loan was approved", "parameters": {"max_new_tokens": 64, "sampling": {"top_p": 0.9}, "stop": ["\n"]}}"#;
        let r = decode(body, None);
        let names: Vec<_> = r[0].iter().map(|(k, _)| k.clone().unwrap()).collect();
        assert_eq!(
            names,
            ["inputs", "parameters.max_new_tokens", "parameters.sampling.top_p", "parameters.stop"],
            "one row: the prompt is a string, not a row array"
        );
        assert_eq!(r[0][0].1, Value::Text("Summarise: the loan was approved".into()));
        assert_eq!(r[0][2].1, n(0.9, "0.9", false));
        assert_eq!(r[0][3].1, Value::Text("[\"\\n\"]".into()), "arrays stay text");
        // The response of such an endpoint: one object per generated sequence.
        let r = decode(r#"[{"generated_text": "Approved."}]"#, None);
        assert_eq!(r, vec![vec![(Some("generated_text".into()), Value::Text("Approved.".into()))]]);
        // An empty object is a value, and nesting deeper than the bound stays text.
        let r = decode(r#"{"a": {}}"#, None);
        assert_eq!(r[0][0], (Some("a".into()), Value::Text("{}".into())));
        let deep = format!("{}1{}", r#"{"a":"#.repeat(12), "}".repeat(12));
        let r = decode(&deep, None);
        assert_eq!(r[0].len(), 1);
        assert!(r[0][0].0.as_deref().unwrap().starts_with("a.a.a.a.a.a.a.a.a"));
    }

    #[test]
    fn errors_name_no_content() {
        let mut t = Table::default();
        let e = decode_json("{\"secret\": 12", None, &mut t).unwrap_err();
        assert!(!e.to_string().contains("secret"), "{e}");
        assert!(decode_json("", None, &mut Table::default()).is_err());
    }
}
