//! Typed reads of JSON object fields that record a [`Problem`] for each field that does not fit.
//!
//! Each read returns `None` after recording a problem, so a parser can read every field, collect
//! every problem and build its result only when all reads succeeded.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use super::problem::{path_segment, quote, Problem};
use super::time::{DateError, DateFormat};
use crate::event::{StageResult, StageState};

/// Enums whose values GoCD sends as fixed strings.
pub(crate) trait WireEnum: Sized + Copy + 'static {
    const ALL: &'static [Self];
    fn wire_name(self) -> &'static str;

    /// Returns the value whose wire name is exactly `text`.
    fn from_wire_name(text: &str) -> Option<Self> {
        Self::ALL
            .iter()
            .copied()
            .find(|candidate| candidate.wire_name() == text)
    }
}

/// Parses a counter that GoCD sends as a string of digits: at least one ASCII digit, above 0.
pub(crate) fn parse_counter(text: &str) -> Option<u64> {
    Some(text)
        .filter(|text| !text.is_empty() && text.bytes().all(|byte| byte.is_ascii_digit()))
        .and_then(|text| text.parse::<u64>().ok())
        .filter(|counter| *counter > 0)
}

impl WireEnum for StageState {
    const ALL: &'static [Self] = &[
        StageState::Building,
        StageState::Failing,
        StageState::Passed,
        StageState::Failed,
        StageState::Cancelled,
        StageState::Unknown,
    ];
    fn wire_name(self) -> &'static str {
        self.as_str()
    }
}

impl WireEnum for StageResult {
    const ALL: &'static [Self] = &[
        StageResult::Passed,
        StageResult::Failed,
        StageResult::Cancelled,
        StageResult::Unknown,
    ];
    fn wire_name(self) -> &'static str {
        self.as_str()
    }
}

/// Whether a field must be present in the body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Presence {
    Required,
    /// The field may be absent, for example because an older API version does not send it.
    Optional,
}

impl Presence {
    /// Returns `Required` when the field exists in the API version of the body.
    pub(crate) fn required_if(exists: bool) -> Presence {
        if exists {
            Presence::Required
        } else {
            Presence::Optional
        }
    }
}

/// A JSON object being read, with the path that problems about its fields start with.
pub(crate) struct Fields<'a> {
    object: &'a Map<String, Value>,
    path: String,
}

impl<'a> Fields<'a> {
    pub(crate) fn new(object: &'a Map<String, Value>, path: &str) -> Fields<'a> {
        Fields {
            object,
            path: path.to_string(),
        }
    }

    /// Returns the path of `key` inside this object, such as `pipeline.stage.name`, with the key
    /// quoted by [`path_segment`] unless it is a plain name.
    pub(crate) fn path_of(&self, key: &str) -> String {
        let segment = path_segment(key);
        if self.path.is_empty() {
            segment.into_owned()
        } else {
            format!("{}.{segment}", self.path)
        }
    }

    pub(crate) fn keys(&self) -> impl Iterator<Item = &'a String> {
        self.object.keys()
    }

    /// Returns the value of `key`, recording a problem when a required field is absent.
    fn value(
        &self,
        key: &str,
        presence: Presence,
        expected: &str,
        problems: &mut Vec<Problem>,
    ) -> Option<&'a Value> {
        let value = self.object.get(key);
        if value.is_none() && presence == Presence::Required {
            problems.push(Problem::missing(&self.path_of(key), expected));
        }
        value
    }

    /// Reads a string that must be present and not null.
    pub(crate) fn string(&self, key: &str, problems: &mut Vec<Problem>) -> Option<String> {
        let expected = "a string";
        match self.value(key, Presence::Required, expected, problems)? {
            Value::String(text) => Some(text.clone()),
            other => self.wrong(key, expected, other, problems),
        }
    }

    /// Reads a name, such as a pipeline, stage or job name, that must be a non-empty string.
    /// Event ids and stage URLs are built from names, so an empty one would leave a gap in them.
    pub(crate) fn name(&self, key: &str, problems: &mut Vec<Problem>) -> Option<String> {
        let expected = "a non-empty string";
        match self.value(key, Presence::Required, expected, problems)? {
            Value::String(text) if !text.is_empty() => Some(text.clone()),
            other => self.wrong(key, expected, other, problems),
        }
    }

    /// Reads a string that may be null; `Some(None)` when null or absent and optional.
    pub(crate) fn nullable_string(
        &self,
        key: &str,
        presence: Presence,
        problems: &mut Vec<Problem>,
    ) -> Option<Option<String>> {
        let expected = "a string or null";
        match self.value(key, presence, expected, problems) {
            None if presence == Presence::Optional => Some(None),
            None => None,
            Some(Value::Null) => Some(None),
            Some(Value::String(text)) => Some(Some(text.clone())),
            Some(other) => self.wrong(key, expected, other, problems),
        }
    }

    pub(crate) fn boolean(&self, key: &str, problems: &mut Vec<Problem>) -> Option<bool> {
        let expected = "true or false";
        match self.value(key, Presence::Required, expected, problems)? {
            Value::Bool(flag) => Some(*flag),
            other => self.wrong(key, expected, other, problems),
        }
    }

    /// Reads a JSON integer of at least `minimum`.
    pub(crate) fn integer(
        &self,
        key: &str,
        minimum: u64,
        presence: Presence,
        problems: &mut Vec<Problem>,
    ) -> Option<Option<u64>> {
        let expected = if minimum == 0 {
            "a whole number of 0 or more"
        } else {
            "a positive integer"
        };
        match self.value(key, presence, expected, problems) {
            None if presence == Presence::Optional => Some(None),
            None => None,
            Some(value) => match value.as_u64().filter(|number| *number >= minimum) {
                Some(number) => Some(Some(number)),
                None => self.wrong(key, expected, value, problems),
            },
        }
    }

    /// Reads a counter that GoCD sends as a string of digits, such as `"1"`.
    pub(crate) fn counter_string(&self, key: &str, problems: &mut Vec<Problem>) -> Option<u64> {
        let text = self.string(key, problems)?;
        let counter = parse_counter(&text);
        if counter.is_none() {
            problems.push(Problem::new(
                self.path_of(key),
                format!("expected a positive counter written as a string of digits, such as \"1\", found {}", quote(&text)),
            ));
        }
        counter
    }

    /// Reads one of the fixed names of `T`.
    pub(crate) fn one_of<T: WireEnum>(&self, key: &str, problems: &mut Vec<Problem>) -> Option<T> {
        let names: Vec<&str> = T::ALL.iter().map(|value| value.wire_name()).collect();
        let expected = format!("one of {}", names.join(", "));
        let value = self.value(key, Presence::Required, &expected, problems)?;
        let found = value.as_str().and_then(T::from_wire_name);
        if found.is_none() {
            problems.push(Problem::expected(&self.path_of(key), &expected, value));
        }
        found
    }

    /// Reads a date string that must be present and match `format` exactly.
    pub(crate) fn date(
        &self,
        key: &str,
        format: DateFormat,
        problems: &mut Vec<Problem>,
    ) -> Option<DateTime<Utc>> {
        let text = self.string(key, problems)?;
        self.parse_date(key, &text, format, problems)
    }

    /// Reads a date that GoCD sends as `""` or null when it is not set; those become `Some(None)`.
    pub(crate) fn optional_date(
        &self,
        key: &str,
        format: DateFormat,
        presence: Presence,
        problems: &mut Vec<Problem>,
    ) -> Option<Option<DateTime<Utc>>> {
        let text = match self.nullable_string(key, presence, problems)? {
            None => return Some(None),
            Some(text) if text.is_empty() => return Some(None),
            Some(text) => text,
        };
        self.parse_date(key, &text, format, problems).map(Some)
    }

    fn parse_date(
        &self,
        key: &str,
        text: &str,
        format: DateFormat,
        problems: &mut Vec<Problem>,
    ) -> Option<DateTime<Utc>> {
        let message = match format.parse(text) {
            Ok(instant) => return Some(instant),
            Err(DateError::Format) => format!(
                "expected a date in the format {}, found {}",
                format.pattern(),
                quote(text)
            ),
            Err(DateError::NotInCalendar { year, month, day }) => format!(
                "{year:04}-{month:02}-{day:02} is not a date in the calendar, found {}",
                quote(text)
            ),
            Err(DateError::NotATimeOfDay {
                hour,
                minute,
                second,
            }) => format!(
                "{hour:02}:{minute:02}:{second:02} is not a time of day, found {}",
                quote(text)
            ),
        };
        problems.push(Problem::new(self.path_of(key), message));
        None
    }

    /// Reads a field that must be a JSON object.
    pub(crate) fn object(&self, key: &str, problems: &mut Vec<Problem>) -> Option<Fields<'a>> {
        let expected = "an object";
        match self.value(key, Presence::Required, expected, problems)? {
            Value::Object(object) => Some(Fields::new(object, &self.path_of(key))),
            other => self.wrong(key, expected, other, problems),
        }
    }

    /// Reads an object that may be null or absent; both give an empty object.
    pub(crate) fn nullable_object(
        &self,
        key: &str,
        problems: &mut Vec<Problem>,
    ) -> Option<Map<String, Value>> {
        let expected = "an object or null";
        match self.value(key, Presence::Optional, expected, problems) {
            None | Some(Value::Null) => Some(Map::new()),
            Some(Value::Object(object)) => Some(object.clone()),
            Some(other) => self.wrong(key, expected, other, problems),
        }
    }

    /// Reads an array of objects, returning each element with its path, such as `jobs[2]`.
    pub(crate) fn objects(
        &self,
        key: &str,
        problems: &mut Vec<Problem>,
    ) -> Option<Vec<Fields<'a>>> {
        let expected = "an array of objects";
        let items = match self.value(key, Presence::Required, expected, problems)? {
            Value::Array(items) => items,
            other => return self.wrong(key, expected, other, problems),
        };

        // Elements that are not objects are reported, and the others are still returned so that
        // their fields get checked too.
        let mut elements = Vec::with_capacity(items.len());
        for (index, item) in items.iter().enumerate() {
            let path = format!("{}[{index}]", self.path_of(key));
            match item {
                Value::Object(object) => elements.push(Fields::new(object, &path)),
                other => problems.push(Problem::expected(&path, "an object", other)),
            }
        }
        Some(elements)
    }

    /// Records a wrong-type problem for `key` and returns `None`.
    fn wrong<T>(
        &self,
        key: &str,
        expected: &str,
        found: &Value,
        problems: &mut Vec<Problem>,
    ) -> Option<T> {
        problems.push(Problem::expected(&self.path_of(key), expected, found));
        None
    }
}
