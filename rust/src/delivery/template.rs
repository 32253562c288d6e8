//! Chat message templates: literal text with `{name}` placeholders.
//!
//! ```text
//! Stage {title} {headline}
//! Failed jobs: {failed_jobs} {{not a placeholder}}
//! ```
//!
//! - `{name}` is replaced with the value of a known placeholder. A placeholder ends on the line
//!   it starts on.
//! - `{{` and `}}` write a literal `{` and `}`. No other escape exists: a backslash and an `n`
//!   stay two characters.
//! - Line breaks are kept, and a `\r\n` line break becomes `\n`.
//!
//! This module is independent of events: [`Template::parse`] takes the list of known names, and
//! [`Template::render`] requests each value from the caller.

use std::fmt;

/// Maximum length of a template, in characters (Unicode scalar values).
pub const MAX_TEMPLATE_CHARS: usize = 4000;

/// Maximum number of characters of an unknown placeholder name that a message repeats.
const MAX_NAME_IN_MESSAGE: usize = 40;

/// A parsed template, ready to render.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Template {
    segments: Vec<Segment>,
}

/// One piece of a parsed template.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Segment {
    /// Text written as it is, with `{{` and `}}` already turned into single braces.
    Text(String),
    /// A known placeholder, by name.
    Placeholder(&'static str),
}

/// One problem in a template text, at a 1-based line and column. Columns count characters
/// (Unicode scalar values), not bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TemplateError {
    pub line: usize,
    pub column: usize,
    pub message: String,
}

impl fmt::Display for TemplateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "line {}, column {}: {}",
            self.line, self.column, self.message
        )
    }
}

impl std::error::Error for TemplateError {}

impl Template {
    /// Parses `text`, accepting the placeholder names in `known`. Returns every problem found,
    /// in text order. A text over [`MAX_TEMPLATE_CHARS`] gets that one problem only.
    pub fn parse(text: &str, known: &[&'static str]) -> Result<Template, Vec<TemplateError>> {
        if let Some(error) = check_length(text) {
            return Err(vec![error]);
        }

        let mut cursor = Cursor::new(text);
        let mut segments = Vec::new();
        let mut literal = String::new();
        let mut errors = Vec::new();

        while let Some((position, character)) = cursor.next() {
            match character {
                '{' if cursor.peek() == Some('{') => {
                    cursor.next();
                    literal.push('{');
                }
                '{' => match read_placeholder(&mut cursor, position, known) {
                    Ok(name) => {
                        if !literal.is_empty() {
                            segments.push(Segment::Text(std::mem::take(&mut literal)));
                        }
                        segments.push(Segment::Placeholder(name));
                    }
                    Err(error) => errors.push(error),
                },
                '}' if cursor.peek() == Some('}') => {
                    cursor.next();
                    literal.push('}');
                }
                '}' => errors.push(position.error("lone }: write }} for a literal brace")),
                // The `\n` that follows is kept, so a `\r\n` line break becomes `\n`.
                '\r' if cursor.peek() == Some('\n') => {}
                other => literal.push(other),
            }
        }
        if !literal.is_empty() {
            segments.push(Segment::Text(literal));
        }

        if errors.is_empty() {
            Ok(Template { segments })
        } else {
            Err(errors)
        }
    }

    /// Returns the parsed pieces in text order. Adjacent text is merged into one segment.
    pub fn segments(&self) -> &[Segment] {
        &self.segments
    }

    /// Renders the template, calling `value_of` with the name of each placeholder occurrence.
    pub fn render(&self, mut value_of: impl FnMut(&'static str) -> String) -> String {
        let mut rendered = String::new();
        for segment in &self.segments {
            match segment {
                Segment::Text(text) => rendered.push_str(text),
                Segment::Placeholder(name) => rendered.push_str(&value_of(name)),
            }
        }
        rendered
    }
}

/// Returns a problem at the first character past the limit when `text` is too long.
fn check_length(text: &str) -> Option<TemplateError> {
    let (byte_offset, _) = text.char_indices().nth(MAX_TEMPLATE_CHARS)?;
    let count = text.chars().count();
    let mut cursor = Cursor::new(text);
    while cursor.offset < byte_offset {
        cursor.next();
    }
    Some(cursor.position().error(format!(
        "the template has {count} characters, more than the limit of {MAX_TEMPLATE_CHARS}: shorten it"
    )))
}

/// Reads a placeholder name after its `{` (at `open`) up to the closing `}`. An unclosed brace
/// consumes nothing, so the text after it is parsed again and its problems are reported too.
fn read_placeholder(
    cursor: &mut Cursor<'_>,
    open: Position,
    known: &[&'static str],
) -> Result<&'static str, TemplateError> {
    let rest = cursor.rest();
    let Some(end) = rest.find(['}', '{', '\n']) else {
        return Err(unclosed(open));
    };
    if !rest[end..].starts_with('}') {
        return Err(unclosed(open));
    }

    let name = &rest[..end];
    while cursor.offset < open.offset + 1 + end + 1 {
        cursor.next();
    }
    match known.iter().find(|known_name| **known_name == name) {
        Some(known_name) => Ok(known_name),
        None if name.is_empty() => Err(open.error(format!(
            "empty placeholder {{}}: write {{{{}}}} for literal braces, or name one of {}",
            list_names(known)
        ))),
        None => Err(open.error(unknown_message(name, known))),
    }
}

fn unclosed(open: Position) -> TemplateError {
    open.error(
        "unclosed {: end the placeholder with } on the same line, or write {{ for a literal brace",
    )
}

fn unknown_message(name: &str, known: &[&'static str]) -> String {
    let name_start: Vec<char> = name.chars().take(MAX_NAME_IN_MESSAGE).collect();
    let ellipsis = if name_start.len() < name.chars().count() {
        "..."
    } else {
        ""
    };
    let shortened: String = name_start.into_iter().map(visible).collect();
    let mut message = format!("unknown placeholder {{{shortened}{ellipsis}}}");
    if let Some(suggestion) = closest_name(name, known) {
        message.push_str(&format!(" (did you mean {{{suggestion}}}?)"));
    }
    message.push_str(&format!("; known placeholders: {}", list_names(known)));
    message
}

/// Writes control characters and the invisible formatting characters that reorder or hide
/// text (bidirectional controls, zero-width characters) as `\u{...}`, so a message shows what the
/// admin typed instead of acting on the log or the page.
fn visible(character: char) -> String {
    let invisible = character.is_control()
        || matches!(
            character,
            '\u{061C}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{FEFF}'
        );
    if invisible {
        format!("\\u{{{:04X}}}", u32::from(character))
    } else {
        character.to_string()
    }
}

fn list_names(known: &[&'static str]) -> String {
    known
        .iter()
        .map(|name| format!("{{{name}}}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Returns the known name nearest to `name` (ignoring case and surrounding spaces) when it is
/// at most two edits away, to suggest for a typing error.
fn closest_name(name: &str, known: &[&'static str]) -> Option<&'static str> {
    let name = name.trim().to_lowercase();
    if name.chars().count() > MAX_NAME_IN_MESSAGE {
        return None;
    }
    known
        .iter()
        .map(|known_name| (edit_distance(&name, known_name), *known_name))
        .filter(|(distance, _)| *distance <= 2)
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, known_name)| known_name)
}

/// Returns the Levenshtein distance between two strings, counted in characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, a_char) in a.chars().enumerate() {
        let mut current = vec![i + 1; b.len() + 1];
        for (j, b_char) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(a_char != *b_char);
            current[j + 1] = substitution.min(previous[j + 1] + 1).min(current[j] + 1);
        }
        previous = current;
    }
    previous[b.len()]
}

/// Place of a character in the text: byte offset, and 1-based line and column.
#[derive(Clone, Copy, Debug)]
struct Position {
    offset: usize,
    line: usize,
    column: usize,
}

impl Position {
    fn error(self, message: impl Into<String>) -> TemplateError {
        TemplateError {
            line: self.line,
            column: self.column,
            message: message.into(),
        }
    }
}

/// Reads a text one character at a time and tracks the line and column of the next one.
struct Cursor<'t> {
    text: &'t str,
    offset: usize,
    line: usize,
    column: usize,
}

impl<'t> Cursor<'t> {
    fn new(text: &'t str) -> Cursor<'t> {
        Cursor {
            text,
            offset: 0,
            line: 1,
            column: 1,
        }
    }

    fn position(&self) -> Position {
        Position {
            offset: self.offset,
            line: self.line,
            column: self.column,
        }
    }

    fn rest(&self) -> &'t str {
        &self.text[self.offset..]
    }

    fn peek(&self) -> Option<char> {
        self.rest().chars().next()
    }

    /// Returns the next character with its position, and moves past it.
    fn next(&mut self) -> Option<(Position, char)> {
        let character = self.peek()?;
        let position = self.position();
        self.offset += character.len_utf8();
        if character == '\n' {
            self.line += 1;
            self.column = 1;
        } else {
            self.column += 1;
        }
        Some((position, character))
    }
}

#[cfg(test)]
#[path = "template_tests.rs"]
mod tests;
