//! JSON and YAML text → a JSON value, with every number exactly as written.
//!
//! serde_json's `arbitrary_precision` keeps a number's digits (`123456789012345678901234567890`,
//! `1.10`) but writes an exponent its own way (`1e3` as `1e+3`), and YAML resolves a plain scalar
//! such as `1.10` to an `f64` before any visitor sees it. So where the first parse holds a float,
//! the text is read a second time with the shape of the first as a guide, taking each number's
//! text as written: YAML's raw scalar, JSON's raw value. Numbers whose text the value would not
//! reproduce are kept in [`Numbers`], and [`to_string`] writes them back as written. A UTF-8
//! byte-order mark, which editors on Windows write, is skipped.

use std::collections::HashMap;
use std::str::FromStr as _;

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::ser::{SerializeMap as _, SerializeSeq as _, Serializer};
use serde::{Deserialize as _, Serialize};
use serde_json::value::RawValue;
use serde_json::{Map, Number, Value};

/// A parsed document and the text of each number its value would write differently.
#[derive(Debug, Default)]
pub struct Parsed {
    pub value: Value,
    pub numbers: Numbers,
}

impl Parsed {
    /// The text the value at `pointer` becomes when substituted into a string: a string's own
    /// text, anything else its JSON (numbers as written); `None` when nothing is there.
    pub fn text_at(&self, pointer: &str) -> Option<String> {
        Some(match self.value.pointer(pointer)? {
            Value::String(text) => text.clone(),
            other => to_string(other, &self.numbers.under(pointer), false),
        })
    }
}

/// JSON pointer → a number's text as written, for numbers whose value writes another text.
#[derive(Debug, Default, Clone)]
pub struct Numbers(HashMap<String, String>);

impl Numbers {
    /// The text of the number at `pointer`, as written.
    pub fn get(&self, pointer: &str) -> Option<&str> {
        self.0.get(pointer).map(String::as_str)
    }

    /// Keeps the numbers under `prefix`, pointed at from there (for an unwrapped document).
    #[must_use]
    pub fn under(&self, prefix: &str) -> Numbers {
        Numbers(
            self.0
                .iter()
                .filter_map(|(p, t)| {
                    let rest = p.strip_prefix(prefix)?;
                    (rest.is_empty() || rest.starts_with('/')).then(|| (rest.to_owned(), t.clone()))
                })
                .collect(),
        )
    }
}

/// The text without a leading UTF-8 byte-order mark.
pub fn without_bom(text: &str) -> &str {
    text.strip_prefix('\u{feff}').unwrap_or(text)
}

/// Parses JSON, numbers exact.
pub fn json(text: &str) -> Result<Parsed, serde_json::Error> {
    let text = without_bom(text);
    exact(serde_json::from_str(text)?, true, |seed| {
        seed.deserialize(&mut serde_json::Deserializer::from_str(text))
    })
}

/// Parses YAML into JSON values, numbers exact where JSON can write them as written.
pub fn yaml(text: &str) -> Result<Parsed, serde_yaml_ng::Error> {
    let text = without_bom(text);
    // Integers reach the visitor whole (up to 128 bits); only floats lose their text.
    exact(serde_yaml_ng::from_str(text)?, false, |seed| {
        seed.deserialize(serde_yaml_ng::Deserializer::from_str(text))
    })
}

/// The first parse's value, or, where it holds a float, the second pass's `read` with it as
/// the shape.
fn exact<E>(
    value: Value,
    json: bool,
    read: impl FnOnce(Exact<'_, '_>) -> Result<Value, E>,
) -> Result<Parsed, E> {
    if !has_float(&value) {
        return Ok(Parsed {
            value,
            numbers: Numbers::default(),
        });
    }
    let mut numbers = HashMap::new();
    let value = read(Exact {
        shape: &value,
        pointer: String::new(),
        numbers: &mut numbers,
        json,
    })?;
    Ok(Parsed {
        value,
        numbers: Numbers(numbers),
    })
}

fn has_float(value: &Value) -> bool {
    match value {
        Value::Number(n) => n.is_f64(),
        Value::Array(items) => items.iter().any(has_float),
        Value::Object(map) => map.values().any(has_float),
        _ => false,
    }
}

/// The second pass: follows the shape of the first, re-reading each float's text.
struct Exact<'s, 'n> {
    shape: &'s Value,
    pointer: String,
    numbers: &'n mut HashMap<String, String>,
    /// JSON (raw values) or YAML (raw scalars).
    json: bool,
}

impl<'de> DeserializeSeed<'de> for Exact<'_, '_> {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        match self.shape {
            Value::Number(number) if number.is_f64() => {
                let text = if self.json {
                    <&RawValue>::deserialize(deserializer)?.get().to_owned()
                } else {
                    deserializer.deserialize_str(Text)?
                };
                // YAML writes some floats in ways JSON cannot (`+1.5`, `.5`): then the value
                // the parser computed stands.
                let Ok(parsed) = Number::from_str(&text) else {
                    return Ok(Value::Number(number.clone()));
                };
                if parsed.to_string() != text {
                    self.numbers.insert(self.pointer, text);
                }
                Ok(Value::Number(parsed))
            }
            Value::Array(items) => deserializer.deserialize_seq(Items {
                shape: items,
                pointer: self.pointer,
                numbers: self.numbers,
                json: self.json,
            }),
            Value::Object(map) => deserializer.deserialize_map(Entries {
                shape: map,
                pointer: self.pointer,
                numbers: self.numbers,
                json: self.json,
            }),
            other => {
                deserializer.deserialize_ignored_any(IgnoredAny)?;
                Ok(other.clone())
            }
        }
    }
}

struct Text;

impl Visitor<'_> for Text {
    type Value = String;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a scalar")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<String, E> {
        Ok(v.to_owned())
    }
}

struct Items<'s, 'n> {
    shape: &'s [Value],
    pointer: String,
    numbers: &'n mut HashMap<String, String>,
    json: bool,
}

impl<'de> Visitor<'de> for Items<'_, '_> {
    type Value = Value;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a sequence")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut out = Vec::with_capacity(self.shape.len());
        for (i, item) in self.shape.iter().enumerate() {
            let seed = Exact {
                shape: item,
                pointer: format!("{}/{i}", self.pointer),
                numbers: &mut *self.numbers,
                json: self.json,
            };
            match seq.next_element_seed(seed)? {
                Some(value) => out.push(value),
                None => break,
            }
        }
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Value::Array(out))
    }
}

struct Entries<'s, 'n> {
    shape: &'s Map<String, Value>,
    pointer: String,
    numbers: &'n mut HashMap<String, String>,
    json: bool,
}

impl<'de> Visitor<'de> for Entries<'_, '_> {
    type Value = Value;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a mapping")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = self.shape.clone();
        while let Some(key) = map.next_key::<String>()? {
            match self.shape.get(&key) {
                Some(shape) => {
                    let seed = Exact {
                        shape,
                        pointer: format!("{}/{}", self.pointer, pointer_token(&key)),
                        numbers: &mut *self.numbers,
                        json: self.json,
                    };
                    let value = map.next_value_seed(seed)?;
                    out.insert(key, value);
                }
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(Value::Object(out))
    }
}

/// A key as one step of a JSON pointer (RFC 6901).
pub fn pointer_token(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

/// Writes `value` as JSON, each number in [`Numbers`] as it was written.
pub fn to_string(value: &Value, numbers: &Numbers, pretty: bool) -> String {
    let exact = Written {
        value,
        numbers,
        pointer: String::new(),
    };
    if pretty {
        serde_json::to_string_pretty(&exact)
    } else {
        serde_json::to_string(&exact)
    }
    .expect("a JSON value serialises")
}

struct Written<'a> {
    value: &'a Value,
    numbers: &'a Numbers,
    pointer: String,
}

impl Serialize for Written<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let child = |value, pointer| Written {
            value,
            numbers: self.numbers,
            pointer,
        };
        match self.value {
            Value::Number(_) => match self
                .numbers
                .get(&self.pointer)
                .and_then(|text| RawValue::from_string(text.to_owned()).ok())
            {
                Some(raw) => raw.serialize(serializer),
                None => self.value.serialize(serializer),
            },
            Value::Array(items) => {
                let mut seq = serializer.serialize_seq(Some(items.len()))?;
                for (i, item) in items.iter().enumerate() {
                    seq.serialize_element(&child(item, format!("{}/{i}", self.pointer)))?;
                }
                seq.end()
            }
            Value::Object(map) => {
                let mut out = serializer.serialize_map(Some(map.len()))?;
                for (key, item) in map {
                    let pointer = format!("{}/{}", self.pointer, pointer_token(key));
                    out.serialize_entry(key, &child(item, pointer))?;
                }
                out.end()
            }
            other => other.serialize(serializer),
        }
    }
}

/// A number in one canonical form, for comparing what was written with what ECS stores:
/// `512`, `512.0` and `5.12e2` are one number.
pub fn canonical_number(number: &Number) -> Number {
    if let Some(i) = number.as_i64() {
        return Number::from(i);
    }
    if let Some(u) = number.as_u64() {
        return Number::from(u);
    }
    let text = number.to_string();
    if !text.contains(['.', 'e', 'E']) {
        return number.clone(); // a whole number beyond 64 bits: its digits are its form
    }
    match text.parse::<f64>() {
        #[allow(clippy::cast_possible_truncation)]
        Ok(f) if f.fract() == 0.0 && f.abs() < 9_007_199_254_740_992.0 => Number::from(f as i64),
        Ok(f) => Number::from_f64(f).unwrap_or_else(|| number.clone()),
        Err(_) => number.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip_json(text: &str) -> String {
        let parsed = json(text).unwrap();
        to_string(&parsed.value, &parsed.numbers, false)
    }

    #[test]
    fn json_numbers_come_out_as_written() {
        let text = r#"{"big":123456789012345678901234567890,"a":1.10,"b":1e3,"c":-0.5,"d":[2E-7,{"e/f":1.5e+2}]}"#;
        assert_eq!(round_trip_json(text), text);
    }

    #[test]
    fn yaml_numbers_come_out_as_written() {
        let parsed = yaml(
            "big: 123456789012345678901234567890\na: 1.10\nb: 1e3\nl: [2.50, x, {y: 0.10}]\ns: '1.10'\n",
        )
        .unwrap();
        assert_eq!(
            to_string(&parsed.value, &parsed.numbers, false),
            r#"{"big":123456789012345678901234567890,"a":1.10,"b":1e3,"l":[2.50,"x",{"y":0.10}],"s":"1.10"}"#
        );
    }

    #[test]
    fn yaml_anchors_and_json_only_forms_survive_the_second_pass() {
        let value = yaml("a: &x {p: 1.50}\nb: *x\nc: +2.5\nd: .inf\n")
            .unwrap()
            .value;
        assert_eq!(value["b"]["p"].to_string(), "1.50");
        assert_eq!(value["c"].to_string(), "2.5");
        assert!(value["d"].is_null());
    }

    #[test]
    fn a_byte_order_mark_is_skipped() {
        assert_eq!(json("\u{feff}{\"a\":1}").unwrap().value["a"], 1);
        assert_eq!(yaml("\u{feff}a: 1\n").unwrap().value["a"], 1);
    }

    #[test]
    fn numbers_under_a_prefix_point_from_there() {
        let parsed = json(r#"{"taskDefinition":{"x":1e3}}"#).unwrap();
        let inner = parsed.numbers.under("/taskDefinition");
        assert_eq!(inner.get("/x"), Some("1e3"));
    }

    #[test]
    fn canonical_numbers_equal_across_forms() {
        let n = |t: &str| canonical_number(&Number::from_str(t).unwrap()).to_string();
        assert_eq!(n("512"), "512");
        assert_eq!(n("512.0"), "512");
        assert_eq!(n("5.12e2"), "512");
        assert_eq!(n("1.10"), n("1.1"));
        assert_eq!(
            n("123456789012345678901234567890"),
            "123456789012345678901234567890"
        );
    }
}
