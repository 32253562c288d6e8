//! JSON decoding that notices repeated object keys.
//!
//! serde_json's `Value` silently keeps the last value of a repeated key, so
//! `{"pipeline": 5, "pipeline": {...}}` would be read as the object, and the same keys in swapped
//! order as the number 5. Such a body is ambiguous, so Herald rejects any repeat. The decoders
//! here build the same `Value` as `serde_json::from_str` and run on the same serde_json
//! deserializer, so its nesting limit of 128 stays in force.

use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::{Map, Number, Value};

use super::problem::{path_segment, Problem};

/// Message of the problem recorded for each repeated key.
pub(crate) const DUPLICATE_KEY: &str = "duplicate key";

/// Parses `text` into a JSON value and returns a problem for each repeated key.
///
/// A repeated key keeps its last value, as with serde_json. Problem paths have the form that
/// [`super::fields::Fields`] uses, such as `pipeline.build-cause[0].material.type`.
pub(crate) fn parse_value(text: &str) -> Result<(Value, Vec<Problem>), serde_json::Error> {
    let mut deserializer = serde_json::Deserializer::from_str(text);
    let mut log = DuplicateLog::default();
    let value = ValueSeed {
        log: Some(&mut log),
    }
    .deserialize(&mut deserializer)?;
    deserializer.end()?;
    Ok((value, log.problems))
}

/// A JSON value that fails to deserialize when any object inside it repeats a key, for the typed
/// fast path, which hands such bodies over to the `Value` walk.
pub(crate) struct UniqueValue(pub(crate) Value);

impl<'de> Deserialize<'de> for UniqueValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        ValueSeed { log: None }
            .deserialize(deserializer)
            .map(UniqueValue)
    }
}

/// The path of the value being decoded and the problems found so far.
#[derive(Default)]
struct DuplicateLog {
    path: String,
    problems: Vec<Problem>,
}

/// Decodes one JSON value. With a log, repeated keys are recorded there, and without one they
/// fail the deserialization.
struct ValueSeed<'l> {
    log: Option<&'l mut DuplicateLog>,
}

impl ValueSeed<'_> {
    fn child(&mut self) -> ValueSeed<'_> {
        ValueSeed {
            log: self.log.as_deref_mut(),
        }
    }
}

impl<'de> DeserializeSeed<'de> for ValueSeed<'_> {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ValueSeed<'_> {
    type Value = Value;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("any JSON value")
    }

    fn visit_bool<E>(self, flag: bool) -> Result<Value, E> {
        Ok(Value::Bool(flag))
    }

    fn visit_i64<E>(self, number: i64) -> Result<Value, E> {
        Ok(Value::Number(number.into()))
    }

    fn visit_u64<E>(self, number: u64) -> Result<Value, E> {
        Ok(Value::Number(number.into()))
    }

    fn visit_f64<E>(self, number: f64) -> Result<Value, E> {
        // serde_json's own `Value` turns a float without a JSON form into null in the same way.
        Ok(Number::from_f64(number).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E>(self, text: &str) -> Result<Value, E> {
        Ok(Value::String(text.to_string()))
    }

    fn visit_string<E>(self, text: String) -> Result<Value, E> {
        Ok(Value::String(text))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }

    fn visit_seq<A: SeqAccess<'de>>(mut self, mut items: A) -> Result<Value, A::Error> {
        let mut values = Vec::new();
        loop {
            let parent_length = self.log.as_ref().map(|log| log.path.len());
            if let Some(log) = self.log.as_deref_mut() {
                log.path.push_str(&format!("[{}]", values.len()));
            }
            let item = items.next_element_seed(self.child())?;
            if let (Some(log), Some(length)) = (self.log.as_deref_mut(), parent_length) {
                log.path.truncate(length);
            }
            match item {
                Some(value) => values.push(value),
                None => return Ok(Value::Array(values)),
            }
        }
    }

    fn visit_map<A: MapAccess<'de>>(mut self, mut entries: A) -> Result<Value, A::Error> {
        let mut object = Map::new();
        while let Some(key) = entries.next_key::<String>()? {
            let parent_length = self.log.as_ref().map(|log| log.path.len());
            if let Some(log) = self.log.as_deref_mut() {
                if !log.path.is_empty() {
                    log.path.push('.');
                }
                log.path.push_str(&path_segment(&key));
            }

            let value = entries.next_value_seed(self.child())?;
            let repeated = object.insert(key, value).is_some();
            match self.log.as_deref_mut() {
                Some(log) => {
                    if repeated {
                        log.problems.push(Problem::new(&log.path, DUPLICATE_KEY));
                    }
                    if let Some(length) = parent_length {
                        log.path.truncate(length);
                    }
                }
                None if repeated => return Err(de::Error::custom(DUPLICATE_KEY)),
                None => {}
            }
        }
        Ok(Value::Object(object))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problems_in(text: &str) -> Vec<String> {
        let (_, problems) = parse_value(text).unwrap();
        problems.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn value_equals_serde_json_value() {
        let text = r#"{"a": [1, -2, 3.5, 1e300, true, null, "x\u00e9"], "b": {"c": {}}, "d": []}"#;
        let (value, problems) = parse_value(text).unwrap();
        assert_eq!(value, serde_json::from_str::<Value>(text).unwrap());
        assert!(problems.is_empty(), "{problems:?}");
    }

    #[test]
    fn repeated_keys_are_reported_with_paths() {
        assert_eq!(
            problems_in(r#"{"pipeline-name": 5, "pipeline-name": "build"}"#),
            vec!["pipeline-name: duplicate key"]
        );
        assert_eq!(
            problems_in(r#"{"pipeline": {"jobs": [{}, {"name": 1, "name": 2}]}}"#),
            vec!["pipeline.jobs[1].name: duplicate key"]
        );
        assert_eq!(
            problems_in(r#"[{"a": 1}, [{"b": 1, "b": 1}]]"#),
            vec!["[1][0].b: duplicate key"]
        );
    }

    #[test]
    fn repeated_key_keeps_last_value() {
        let (value, _) = parse_value(r#"{"a": 1, "a": {"b": 2}}"#).unwrap();
        assert_eq!(value, serde_json::json!({"a": {"b": 2}}));
    }

    #[test]
    fn inner_and_outer_repeats_are_both_reported() {
        assert_eq!(
            problems_in(r#"{"p": {"x": 1, "x": 2}, "p": {}}"#),
            vec!["p.x: duplicate key", "p: duplicate key"]
        );
    }

    #[test]
    fn odd_keys_are_quoted_in_paths() {
        assert_eq!(
            problems_in("{\"a.b\\u001b\": {\"\": 1, \"\": 2}}"),
            vec!["\"a.b\\u001b\".\"\": duplicate key"]
        );
    }

    #[test]
    fn unique_value_rejects_repeats_at_any_depth() {
        let nested = r#"{"a": [{"b": {"c": 1, "c": 1}}]}"#;
        assert!(serde_json::from_str::<UniqueValue>(nested).is_err());
        let plain = r#"{"a": [{"b": {"c": 1, "d": 1}}]}"#;
        assert_eq!(
            serde_json::from_str::<UniqueValue>(plain).unwrap().0,
            serde_json::from_str::<Value>(plain).unwrap()
        );
    }

    #[test]
    fn nesting_limit_stays_in_force() {
        let deep_arrays = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        let error = parse_value(&deep_arrays).unwrap_err();
        assert!(
            error.to_string().starts_with("recursion limit exceeded"),
            "{error}"
        );

        let deep_objects = format!("{}1{}", "{\"a\":".repeat(100_000), "}".repeat(100_000));
        let error = parse_value(&deep_objects).unwrap_err();
        assert!(
            error.to_string().starts_with("recursion limit exceeded"),
            "{error}"
        );
        assert!(serde_json::from_str::<UniqueValue>(&deep_objects).is_err());

        for depth in 125..=130 {
            let text = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
            assert_eq!(
                parse_value(&text).is_ok(),
                serde_json::from_str::<Value>(&text).is_ok(),
                "{depth} levels"
            );
        }
    }

    #[test]
    fn trailing_text_is_an_error() {
        assert!(parse_value("{} x").is_err());
        assert!(parse_value("{}\n").is_ok());
    }
}
