//! Routing rules: which events go to which destinations.
//!
//! One rule per line; blank lines and lines starting with `#` are ignored:
//!
//! ```text
//! # pipelines named deploy-* in any group, on failure and recovery
//! group=* pipeline=deploy-* stage=* on=failed,broken,fixed -> ops-chat, audit-hook
//! on=all -> audit-hook
//! on=agent -> ops-chat
//! ```
//!
//! - `group=`, `pipeline=` and `stage=` take a glob pattern (`*` any run of characters, `?` one
//!   character), matched without regard to case. An omitted selector matches everything; a
//!   `group=` other than `*` never matches a pipeline that GoCD sent without a group.
//! - `on=` takes a comma-separated list of event kinds: `building`, `passed`, `failed`,
//!   `cancelled`, `broken`, `fixed`, `all` (every stage-status event) and `agent` (agent-status
//!   events). Omitted, it means `all`. Agent-status events match only rules that name `agent`,
//!   and such rules cannot also select by group, pipeline or stage.
//! - After `->`, a comma-separated list of destination names. An event goes to each destination
//!   at most once, however many rules select it.

use std::collections::BTreeSet;
use std::fmt;

/// Kind of an event, as rules select it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum EventKind {
    /// A stage was scheduled or re-run, or is still running (GoCD states `Building` and
    /// `Failing`).
    Building,
    Passed,
    Failed,
    Cancelled,
    /// The first failure after a pass of the same pipeline stage.
    Broken,
    /// The first pass after a failure of the same pipeline stage.
    Fixed,
    /// An agent-status event.
    Agent,
}

impl EventKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Building => "building",
            EventKind::Passed => "passed",
            EventKind::Failed => "failed",
            EventKind::Cancelled => "cancelled",
            EventKind::Broken => "broken",
            EventKind::Fixed => "fixed",
            EventKind::Agent => "agent",
        }
    }
}

impl fmt::Display for EventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The fields of one event that rules match against.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Subject<'a> {
    Stage {
        group: Option<&'a str>,
        pipeline: &'a str,
        stage: &'a str,
    },
    Agent,
}

/// One parsed rule line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rule {
    pub line: usize,
    pub group: Glob,
    pub pipeline: Glob,
    pub stage: Glob,
    /// `None` means `all`: every stage-status event.
    pub kinds: Option<BTreeSet<EventKind>>,
    pub destinations: Vec<String>,
}

/// The parsed rules of the settings, in the order written.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Rules {
    pub rules: Vec<Rule>,
}

const KIND_NAMES: &str = "building, passed, failed, cancelled, broken, fixed, all, agent";

impl Rules {
    /// Parses the rules text. Returns one message per bad line, each starting with the line
    /// number. `known_destinations` lists the destination names defined in the settings.
    pub fn parse(text: &str, known_destinations: &[String]) -> Result<Rules, Vec<String>> {
        let mut rules = Vec::new();
        let mut errors = Vec::new();

        for (index, raw_line) in text.lines().enumerate() {
            let line_number = index + 1;
            let line = raw_line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            match parse_rule(line, line_number, known_destinations) {
                Ok(rule) => rules.push(rule),
                Err(message) => errors.push(format!("line {line_number}: {message}")),
            }
        }

        if errors.is_empty() {
            Ok(Rules { rules })
        } else {
            Err(errors)
        }
    }

    /// Returns the destinations that receive an event, each once, in the order rules name them.
    pub fn route(&self, subject: &Subject<'_>, kinds: &[EventKind]) -> Vec<String> {
        let mut destinations: Vec<String> = Vec::new();
        for rule in &self.rules {
            if !rule.matches(subject, kinds) {
                continue;
            }
            for name in &rule.destinations {
                if !destinations.contains(name) {
                    destinations.push(name.clone());
                }
            }
        }
        destinations
    }
}

impl Rule {
    fn matches(&self, subject: &Subject<'_>, kinds: &[EventKind]) -> bool {
        match subject {
            Subject::Agent => self
                .kinds
                .as_ref()
                .is_some_and(|k| k.contains(&EventKind::Agent)),
            Subject::Stage {
                group,
                pipeline,
                stage,
            } => {
                let kind_matches = match &self.kinds {
                    None => true,
                    Some(selected) => kinds.iter().any(|kind| selected.contains(kind)),
                };
                let group_matches = match group {
                    Some(group) => self.group.matches(group),
                    None => self.group.is_match_all(),
                };
                kind_matches
                    && group_matches
                    && self.pipeline.matches(pipeline)
                    && self.stage.matches(stage)
            }
        }
    }
}

fn parse_rule(line: &str, line_number: usize, known: &[String]) -> Result<Rule, String> {
    let Some((selectors, targets)) = line.split_once("->") else {
        return Err(format!(
            "missing \"->\" before the destination names; expected e.g. \"pipeline=deploy-* on=failed -> ops-chat\", found {line:?}"
        ));
    };

    let mut rule = Rule {
        line: line_number,
        group: Glob::match_all(),
        pipeline: Glob::match_all(),
        stage: Glob::match_all(),
        kinds: None,
        destinations: Vec::new(),
    };
    let mut seen_keys: Vec<&str> = Vec::new();
    let mut selects_stage = false;

    for token in selectors.split_whitespace() {
        let Some((key, value)) = token.split_once('=') else {
            return Err(format!(
                "expected key=value (group=, pipeline=, stage= or on=), found {token:?}"
            ));
        };
        if seen_keys.contains(&key) {
            return Err(format!("{key}= appears twice; write it once"));
        }
        if value.is_empty() && key == "on" {
            return Err(
                "on= has no value; write event kinds separated by commas, such as on=failed,broken (kinds: building, passed, failed, cancelled, broken, fixed, all, agent), or remove it"
                    .to_string(),
            );
        }
        if value.is_empty() {
            return Err(format!(
                "{key}= has no value; write a pattern such as {key}=* or remove it"
            ));
        }
        match key {
            "group" => rule.group = Glob::new(value),
            "pipeline" => rule.pipeline = Glob::new(value),
            "stage" => rule.stage = Glob::new(value),
            "on" => rule.kinds = parse_kinds(value)?,
            _ => {
                return Err(format!(
                    "unknown key {key:?}; expected group=, pipeline=, stage= or on="
                ));
            }
        }
        if key != "on" && !Glob::new(value).is_match_all() {
            selects_stage = true;
        }
        seen_keys.push(key);
    }

    let names_agent = rule
        .kinds
        .as_ref()
        .is_some_and(|k| k.contains(&EventKind::Agent));
    if names_agent && selects_stage {
        return Err(
            "on=agent cannot be combined with group=, pipeline= or stage= patterns because agent-status events have none; write agent rules on a line of their own"
                .to_string(),
        );
    }

    for name in targets.split(',') {
        let name = name.trim();
        if name.is_empty() {
            return Err(
                "empty destination name after \"->\"; expected names separated by commas, e.g. \"-> ops-chat, audit-hook\""
                    .to_string(),
            );
        }
        if !known.iter().any(|known_name| known_name == name) {
            let defined = if known.is_empty() {
                "none are defined".to_string()
            } else {
                format!("defined: {}", known.join(", "))
            };
            return Err(format!(
                "unknown destination {name:?}; define it in the destinations field or use one of the defined names ({defined})"
            ));
        }
        if !rule.destinations.iter().any(|existing| existing == name) {
            rule.destinations.push(name.to_string());
        }
    }

    Ok(rule)
}

fn parse_kinds(value: &str) -> Result<Option<BTreeSet<EventKind>>, String> {
    let mut kinds = BTreeSet::new();
    let mut all = false;
    for word in value.split(',') {
        let kind = match word.trim().to_ascii_lowercase().as_str() {
            "building" => EventKind::Building,
            "passed" => EventKind::Passed,
            "failed" => EventKind::Failed,
            "cancelled" => EventKind::Cancelled,
            "broken" => EventKind::Broken,
            "fixed" => EventKind::Fixed,
            "agent" => EventKind::Agent,
            "all" => {
                all = true;
                continue;
            }
            _ => {
                return Err(format!(
                    "unknown event kind {word:?} in on=; expected one or more of {KIND_NAMES}, separated by commas"
                ));
            }
        };
        kinds.insert(kind);
    }

    if all {
        if kinds.is_empty() {
            return Ok(None);
        }
        if kinds.iter().any(|kind| *kind != EventKind::Agent) {
            return Err(
                "on=all already includes every stage event kind; write on=all alone, or on=all,agent"
                    .to_string(),
            );
        }
        // `all,agent`: every stage kind plus agent events.
        kinds.extend([
            EventKind::Building,
            EventKind::Passed,
            EventKind::Failed,
            EventKind::Cancelled,
            EventKind::Broken,
            EventKind::Fixed,
        ]);
    }
    Ok(Some(kinds))
}

/// A case-insensitive glob pattern: `*` matches any run of characters, `?` one character.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Glob {
    pattern: Vec<char>,
}

impl Glob {
    pub fn new(pattern: &str) -> Glob {
        Glob {
            pattern: pattern.chars().map(fold_case).collect(),
        }
    }

    fn match_all() -> Glob {
        Glob::new("*")
    }

    fn is_match_all(&self) -> bool {
        !self.pattern.is_empty() && self.pattern.iter().all(|c| *c == '*')
    }

    pub fn matches(&self, text: &str) -> bool {
        let text: Vec<char> = text.chars().map(fold_case).collect();
        let pattern = &self.pattern;

        // Iterative matching with backtracking to the last `*`: linear in practice, and no
        // pattern can make it exponential.
        let (mut p, mut t) = (0, 0);
        let mut star: Option<(usize, usize)> = None;
        while t < text.len() {
            // `*` is checked first, so a `*` in the pattern stays a wildcard where the text has
            // a literal `*`.
            if p < pattern.len() && pattern[p] == '*' {
                star = Some((p, t));
                p += 1;
            } else if p < pattern.len() && (pattern[p] == '?' || pattern[p] == text[t]) {
                p += 1;
                t += 1;
            } else if let Some((star_p, star_t)) = star {
                p = star_p + 1;
                t = star_t + 1;
                star = Some((star_p, star_t + 1));
            } else {
                return false;
            }
        }
        pattern[p..].iter().all(|c| *c == '*')
    }
}

/// Lowercases one character when its lowercase form is one character, so that `?` always
/// matches one character of the text. A few characters, such as `İ` (U+0130), lowercase to two
/// and are kept as they are.
fn fold_case(character: char) -> char {
    let mut lower = character.to_lowercase();
    match (lower.next(), lower.next()) {
        (Some(folded), None) => folded,
        _ => character,
    }
}
