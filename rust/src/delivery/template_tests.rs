use super::*;

const KNOWN: &[&str] = &["pipeline", "counter", "stage", "failed_jobs"];

fn parse(text: &str) -> Template {
    Template::parse(text, KNOWN).unwrap_or_else(|errors| panic!("{text:?}: {errors:?}"))
}

fn errors(text: &str) -> Vec<TemplateError> {
    match Template::parse(text, KNOWN) {
        Ok(template) => panic!("{text:?} parsed as {template:?}"),
        Err(errors) => errors,
    }
}

/// Returns each error as `(line, column, message)`.
fn error_places(text: &str) -> Vec<(usize, usize, String)> {
    errors(text)
        .into_iter()
        .map(|error| (error.line, error.column, error.message))
        .collect()
}

/// Renders with each placeholder replaced by its name in angle brackets.
fn render_names(template: &Template) -> String {
    template.render(|name| format!("<{name}>"))
}

#[test]
fn render_replaces_each_placeholder() {
    let template = parse("Stage {stage} of {pipeline}/{counter}: {stage} again");
    assert_eq!(
        render_names(&template),
        "Stage <stage> of <pipeline>/<counter>: <stage> again"
    );
}

#[test]
fn render_requests_each_occurrence() {
    let template = parse("{counter}-{counter}");
    let mut requested = Vec::new();
    let rendered = template.render(|name| {
        requested.push(name);
        requested.len().to_string()
    });
    assert_eq!(rendered, "1-2");
    assert_eq!(requested, vec!["counter", "counter"]);
}

#[test]
fn segments_merge_adjacent_text() {
    let template = parse("a{{b}}c{pipeline}d");
    assert_eq!(
        template.segments(),
        &[
            Segment::Text("a{b}c".to_string()),
            Segment::Placeholder("pipeline"),
            Segment::Text("d".to_string()),
        ]
    );
}

#[test]
fn doubled_braces_write_one_brace() {
    let template = parse("{{pipeline}} {{ }} {{{counter}}}");
    assert_eq!(render_names(&template), "{pipeline} { } {<counter>}");
}

#[test]
fn empty_template_renders_empty() {
    let template = parse("");
    assert!(template.segments().is_empty());
    assert_eq!(render_names(&template), "");
}

#[test]
fn line_breaks_are_kept() {
    let template = parse("first {stage}\nsecond\n\nfourth");
    assert_eq!(render_names(&template), "first <stage>\nsecond\n\nfourth");
}

#[test]
fn crlf_becomes_lf() {
    let template = parse("a\r\nb\rc\r\n");
    assert_eq!(render_names(&template), "a\nb\rc\n");
}

#[test]
fn backslash_n_stays_literal() {
    let template = parse(r"one\ntwo");
    assert_eq!(render_names(&template), "one\\ntwo");
}

#[test]
fn unicode_text_and_columns() {
    let template = parse("Ünïcødé 🚀 {pipeline} ✓");
    assert_eq!(render_names(&template), "Ünïcødé 🚀 <pipeline> ✓");

    // Columns count characters: the emoji is one column although it is four bytes.
    assert_eq!(
        error_places("🚀é}x"),
        vec![(1, 3, "lone }: write }} for a literal brace".to_string())]
    );
}

#[test]
fn unknown_placeholder_lists_known_names() {
    let places = error_places("Stage ok\nnow {pipline} done");
    assert_eq!(places.len(), 1);
    let (line, column, message) = &places[0];
    assert_eq!((*line, *column), (2, 5));
    assert_eq!(
        message,
        "unknown placeholder {pipline} (did you mean {pipeline}?); known placeholders: {pipeline}, {counter}, {stage}, {failed_jobs}"
    );
}

#[test]
fn unknown_placeholder_display_has_place() {
    let error = &errors("{nope}")[0];
    assert!(
        error
            .to_string()
            .starts_with("line 1, column 1: unknown placeholder {nope}; known placeholders: "),
        "{error}"
    );
}

#[test]
fn suggestion_ignores_case_and_spaces() {
    let message = &errors("{ Pipeline }")[0].message;
    assert!(
        message.starts_with("unknown placeholder { Pipeline } (did you mean {pipeline}?)"),
        "{message}"
    );
}

#[test]
fn no_suggestion_for_distant_names() {
    let message = &errors("{weather}")[0].message;
    assert!(!message.contains("did you mean"), "{message}");
}

#[test]
fn placeholder_names_are_case_sensitive() {
    assert_eq!(errors("{STAGE}").len(), 1);
}

#[test]
fn long_unknown_name_is_shortened() {
    let name = "x".repeat(100);
    let message = &errors(&format!("{{{name}}}"))[0].message;
    let shortened = format!("{{{}...}}", "x".repeat(MAX_NAME_IN_MESSAGE));
    assert!(
        message.starts_with(&format!("unknown placeholder {shortened};")),
        "{message}"
    );
}

#[test]
fn empty_placeholder_is_reported() {
    let places = error_places("a {} b");
    assert_eq!(places.len(), 1);
    assert_eq!((places[0].0, places[0].1), (1, 3));
    assert!(
        places[0]
            .2
            .starts_with("empty placeholder {}: write {{}} for literal braces"),
        "{}",
        places[0].2
    );
}

#[test]
fn unclosed_brace_at_end() {
    assert_eq!(
        error_places("text {pipeline"),
        vec![(
            1,
            6,
            "unclosed {: end the placeholder with } on the same line, or write {{ for a literal brace"
                .to_string()
        )]
    );
}

#[test]
fn unclosed_brace_before_line_break() {
    let places = error_places("{stage\n}");
    let found: Vec<(usize, usize)> = places.iter().map(|(l, c, _)| (*l, *c)).collect();
    assert_eq!(found, vec![(1, 1), (2, 1)]);
    assert!(places[0].2.starts_with("unclosed {"), "{}", places[0].2);
    assert!(places[1].2.starts_with("lone }"), "{}", places[1].2);
}

#[test]
fn unclosed_brace_before_next_placeholder() {
    // The second placeholder is still read, so only the first brace is reported.
    let places = error_places("{stage {pipeline}");
    assert_eq!(places.len(), 1);
    assert_eq!((places[0].0, places[0].1), (1, 1));
    assert!(places[0].2.starts_with("unclosed {"));
}

#[test]
fn lone_closing_brace() {
    assert_eq!(
        error_places("a } b"),
        vec![(1, 3, "lone }: write }} for a literal brace".to_string())]
    );
}

#[test]
fn triple_closing_brace_leaves_one_lone() {
    let places = error_places("}}}");
    assert_eq!(places.len(), 1);
    assert_eq!((places[0].0, places[0].1), (1, 3));
}

#[test]
fn every_problem_is_reported_in_order() {
    let text = "{pipline} ok }\n{counter\n  {} {stage}\n{{ fine }} {nope}";
    let found: Vec<(usize, usize)> = error_places(text)
        .iter()
        .map(|(line, column, _)| (*line, *column))
        .collect();
    assert_eq!(found, vec![(1, 1), (1, 14), (2, 1), (3, 3), (4, 12)]);
}

#[test]
fn lines_count_after_crlf() {
    let places = error_places("a\r\nb\r\n  }");
    assert_eq!((places[0].0, places[0].1), (3, 3));
}

#[test]
fn template_at_limit_parses() {
    let text = "é".repeat(MAX_TEMPLATE_CHARS);
    let template = parse(&text);
    assert_eq!(render_names(&template), text);
}

#[test]
fn template_over_limit_is_rejected() {
    // 3999 characters on line 1 and a line break make 4000, so the first character past the
    // limit is at line 2, column 1.
    let text = format!("{}\n{{nope}} }}", "a".repeat(MAX_TEMPLATE_CHARS - 1));
    let places = error_places(&text);
    assert_eq!(places.len(), 1, "only the length is reported: {places:?}");
    let (line, column, message) = &places[0];
    assert_eq!((*line, *column), (2, 1));
    assert_eq!(
        message,
        &format!(
            "the template has {} characters, more than the limit of 4000: shorten it",
            MAX_TEMPLATE_CHARS + 8
        )
    );
}

#[test]
fn limit_counts_characters_not_bytes() {
    // 4000 four-byte characters are 16000 bytes but within the limit.
    let text = "🚀".repeat(MAX_TEMPLATE_CHARS);
    assert!(Template::parse(&text, KNOWN).is_ok());
    let longer = "🚀".repeat(MAX_TEMPLATE_CHARS + 1);
    let places = error_places(&longer);
    assert_eq!((places[0].0, places[0].1), (1, MAX_TEMPLATE_CHARS + 1));
}

#[test]
fn edit_distance_counts_characters() {
    assert_eq!(edit_distance("", ""), 0);
    assert_eq!(edit_distance("stage", "stage"), 0);
    assert_eq!(edit_distance("pipline", "pipeline"), 1);
    assert_eq!(edit_distance("stgae", "stage"), 2);
    assert_eq!(edit_distance("é", "e"), 1);
    assert_eq!(edit_distance("", "abc"), 3);
}

#[test]
fn unknown_name_shows_invisible_characters_escaped() {
    let places = error_places("{pipe\u{202E}line} {a\u{1B}[31m}");
    assert_eq!(places.len(), 2, "{places:?}");
    assert!(
        places[0]
            .2
            .starts_with("unknown placeholder {pipe\\u{202E}line}"),
        "{}",
        places[0].2
    );
    assert!(
        places[1]
            .2
            .starts_with("unknown placeholder {a\\u{001B}[31m}"),
        "{}",
        places[1].2
    );
}

#[test]
fn length_error_can_point_at_line_break() {
    // Found by the template fuzz target: the first character past the limit was a line break.
    let text = format!("{}\nrest", "a".repeat(MAX_TEMPLATE_CHARS));
    let places = error_places(&text);
    assert_eq!(places.len(), 1, "{places:?}");
    assert_eq!((places[0].0, places[0].1), (1, MAX_TEMPLATE_CHARS + 1));
    assert!(
        places[0].2.starts_with("the template has 4005 characters"),
        "{}",
        places[0].2
    );
}
