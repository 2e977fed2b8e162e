//! One shell word, judged statically: its value after quote removal when
//! that value is fixed by the text, or the reason it is not.
//!
//! A word is *static* when it is made only of plain text (without glob or
//! brace-expansion characters), single quotes, double quotes holding plain
//! text, and backslash escapes: then `sh` and `bash` give it the same value.
//! Everything else (parameters, command and arithmetic substitution, tildes,
//! globs, brace expansion, and the bash-only `$'…'` and `$"…"` quotes, which
//! `dash` reads differently) makes it *dynamic*. The scripts inside command
//! substitutions, including those nested in `${x:-$(…)}` or `$((…))`, are
//! handed back to the caller, which parses and judges them too.

use brush_parser::ParserOptions;
use brush_parser::word::{WordPiece, WordPieceWithSource};

/// Characters that quote, expand or glob; a word without any is its own
/// value, and skips the word parser. All ASCII, so they are looked for
/// byte by byte (in UTF-8 no other character contains these bytes).
const SPECIAL: &[u8] = b"'\"\\$`*?[{(~!@+";

/// Whether `raw` holds one of the [`SPECIAL`] characters.
fn has_special(raw: &str) -> bool {
    raw.bytes().any(|byte| SPECIAL.contains(&byte))
}

/// A word after quote removal.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Word {
    /// The word as written, quotes included.
    pub(crate) raw: String,
    /// The value after quote removal; for a dynamic word, a best effort
    /// (expansions keep their source text).
    pub(crate) text: String,
    /// Why the run-time value is unknown; `None` for a static word.
    pub(crate) dynamic: Option<Dynamic>,
    /// A construct that the parser may split into other words or commands
    /// than the shell does, so the parse may not be what runs.
    pub(crate) ambiguous: Option<String>,
    /// A bash-only construct (`$'…'`) that sh (dash) reads differently:
    /// ambiguous only when the shell is not bash.
    pub(crate) bash_only: Option<String>,
    /// A construct through which bash evaluates a variable's text as an
    /// expression, running `$(…)` hidden in an array subscript.
    pub(crate) evaluates: Option<String>,
}

/// Why a word's value is known only when it runs. The text
/// ([`Dynamic::as_str`]) completes refusals ("is produced by …").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dynamic {
    /// `*`, `?` or a bracket expression, matched against file names.
    Glob,
    /// `{a,b}` or `{1..3}`, expanded by bash.
    BraceExpansion,
    /// An unquoted `(`, an extended glob in bash.
    ExtendedGlob,
    /// `$'…'`.
    AnsiCQuoting,
    /// `$"…"`.
    LocaleQuoting,
    /// `~` or `~user`.
    Tilde,
    /// `$x`, `${x…}`.
    Parameter,
    /// `$(…)` or backticks.
    CommandSubstitution,
    /// `$((…))`.
    Arithmetic,
    /// `<(…)` or `>(…)`.
    ProcessSubstitution,
    /// An array assignment's `(…)`.
    Array,
    /// Standard input redirected from a file or descriptor.
    Redirection,
    /// An argument holding xargs's replacement string (`-I {}`).
    XargsReplacement,
}

impl Dynamic {
    /// The reason as refusals word it.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Dynamic::Glob => "a glob pattern",
            Dynamic::BraceExpansion => "brace expansion",
            Dynamic::ExtendedGlob => "an extended glob pattern",
            Dynamic::AnsiCQuoting => "ANSI-C quoting ($'…'), which sh and bash read differently",
            Dynamic::LocaleQuoting => "locale quoting ($\"…\"), which sh and bash read differently",
            Dynamic::Tilde => "tilde expansion",
            Dynamic::Parameter => "parameter expansion",
            Dynamic::CommandSubstitution => "command substitution",
            Dynamic::Arithmetic => "arithmetic expansion",
            Dynamic::ProcessSubstitution => "process substitution",
            Dynamic::Array => "an array",
            Dynamic::Redirection => "a redirection",
            Dynamic::XargsReplacement => "the xargs replacement string",
        }
    }
}

impl std::fmt::Display for Dynamic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Word {
    /// A static word with this value.
    pub(crate) fn literal(text: &str) -> Word {
        Word { raw: text.to_string(), text: text.to_string(), ..Word::default() }
    }

    pub(crate) fn is_static(&self) -> bool {
        self.dynamic.is_none()
    }
}

/// An unclosed `$(`, `$((`, `${` or `${x[`: a syntax error for every
/// shell, and the word parser backtracks on it in time growing several
/// times per level, so it is refused before parsing.
fn unclosed_substitution(text: &str) -> Result<(), String> {
    let count = |byte: u8| text.bytes().filter(|&b| b == byte).count();
    let unclosed = (text.contains("$(") && count(b'(') > count(b')'))
        || (text.contains("${") && (count(b'{') > count(b'}') || count(b'[') > count(b']')));
    if unclosed {
        return Err(format!("the text {text} has an unclosed $(, $((, ${{ or subscript"));
    }
    Ok(())
}

/// Analyses `raw`; scripts found in command substitutions are pushed to
/// `nested`. Fails when the word cannot be parsed.
pub(crate) fn analyze(raw: &str, options: &ParserOptions, nested: &mut Vec<String>) -> Result<Word, String> {
    if !has_special(raw) {
        return Ok(Word { raw: raw.to_string(), text: raw.to_string(), ..Word::default() });
    }
    unclosed_substitution(raw)?;
    let pieces = super::names::guarded(|| {
        brush_parser::word::parse(raw, options).map_err(|e| format!("the word {raw} cannot be parsed: {e}"))
    })?;
    let mut word = Word { raw: raw.to_string(), ..Word::default() };
    for piece in &pieces {
        add_piece(&mut word, piece, raw, false, options, nested)?;
    }
    if quotes_inside_braces(raw) {
        word.ambiguous.get_or_insert_with(|| {
            format!("the expansion in {raw}, whose quotes sh and bash (and this parser) read differently")
        });
    }
    Ok(word)
}

/// Whether a `${…}` holds a quote before its first `}`: dash, bash and
/// brush-parser disagree on where such an expansion ends.
fn quotes_inside_braces(raw: &str) -> bool {
    raw.match_indices("${").any(|(start, _)| {
        let body = &raw[start + 2..];
        let end = body.find('}').unwrap_or(body.len());
        body[..end].contains(['\'', '"'])
    })
}

/// Analyses a here-document body that undergoes expansion; only the
/// scripts it runs matter.
pub(crate) fn analyze_heredoc(body: &str, options: &ParserOptions, nested: &mut Vec<String>) -> Result<Word, String> {
    unclosed_substitution(body)?;
    let pieces = super::names::guarded(|| {
        brush_parser::word::parse_heredoc(body, options).map_err(|e| format!("a here-document cannot be parsed: {e}"))
    })?;
    let mut word = Word { raw: body.to_string(), ..Word::default() };
    for piece in &pieces {
        add_piece(&mut word, piece, body, true, options, nested)?;
    }
    Ok(word)
}

fn add_piece(
    word: &mut Word,
    piece: &WordPieceWithSource,
    source: &str,
    quoted: bool,
    options: &ParserOptions,
    nested: &mut Vec<String>,
) -> Result<(), String> {
    let piece_source = source.get(piece.start_index..piece.end_index).unwrap_or_default();
    match &piece.piece {
        WordPiece::Text(text) => {
            if let Some(reason) = unquoted_text_reason(text).filter(|_| !quoted) {
                word.dynamic.get_or_insert(reason);
            }
            word.text.push_str(text);
        }
        WordPiece::SingleQuotedText(text) => word.text.push_str(text),
        WordPiece::EscapeSequence(escape) => word.text.push_str(unescape(escape, quoted)),
        WordPiece::DoubleQuotedSequence(pieces) => {
            for inner in pieces {
                add_piece(word, inner, source, true, options, nested)?;
            }
        }
        WordPiece::AnsiCQuotedText(text) => {
            word.dynamic.get_or_insert(Dynamic::AnsiCQuoting);
            word.bash_only
                .get_or_insert_with(|| format!("the quoting {piece_source}, which sh and bash split differently"));
            word.text.push_str(text);
        }
        WordPiece::GettextDoubleQuotedSequence(_) => {
            word.dynamic.get_or_insert(Dynamic::LocaleQuoting);
            word.bash_only
                .get_or_insert_with(|| format!("the quoting {piece_source}, which sh and bash split differently"));
            word.text.push_str(piece_source);
        }
        WordPiece::TildeExpansion(_) => {
            word.dynamic.get_or_insert(Dynamic::Tilde);
            word.text.push_str(piece_source);
        }
        WordPiece::ParameterExpansion(_) => {
            word.dynamic.get_or_insert(Dynamic::Parameter);
            word.text.push_str(piece_source);
            if let Some(construct) = evaluating_expansion(piece_source) {
                word.evaluates.get_or_insert(construct);
            }
            scan_embedded(piece_source.trim_start_matches('$'), options, nested)?;
        }
        WordPiece::CommandSubstitution(script) | WordPiece::BackquotedCommandSubstitution(script) => {
            word.dynamic.get_or_insert(Dynamic::CommandSubstitution);
            word.text.push_str(piece_source);
            nested.push(script.clone());
        }
        WordPiece::ArithmeticExpression(expr) => {
            word.dynamic.get_or_insert(Dynamic::Arithmetic);
            word.text.push_str(piece_source);
            if names_a_variable(&expr.value) {
                word.evaluates.get_or_insert_with(|| format!("the arithmetic {piece_source}"));
            }
            scan_embedded(&expr.value, options, nested)?;
        }
    }
    Ok(())
}

/// Finds command substitutions inside the text of a parameter expansion
/// (`{x:-$(id)}`) or an arithmetic expression (`1 + $(id)`), which the
/// parser keeps as strings.
fn scan_embedded(text: &str, options: &ParserOptions, nested: &mut Vec<String>) -> Result<(), String> {
    if !text.contains(['$', '`']) {
        return Ok(());
    }
    let inner = text.strip_prefix('{').and_then(|t| t.strip_suffix('}')).unwrap_or(text);
    unclosed_substitution(inner)?;
    let pieces = super::names::guarded(|| {
        brush_parser::word::parse(inner, options).map_err(|e| format!("the expansion {text} cannot be parsed: {e}"))
    })?;
    let mut scratch = Word::default();
    for piece in &pieces {
        add_piece(&mut scratch, piece, inner, true, options, nested)?;
    }
    Ok(())
}

/// Whether arithmetic text refers to a variable, by name or by `$`: bash
/// evaluates the variable's value as an expression in turn.
pub(crate) fn names_a_variable(arithmetic: &str) -> bool {
    arithmetic.contains('$')
        || arithmetic.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).any(|token| {
            token.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
                && !(token.starts_with("0x") || token.starts_with("0X"))
        })
}

/// Parameter expansions through which bash evaluates text: `${!x}`
/// (indirection), `${x@P}` and the other transforms, `${x[i]}` and
/// `${x:i:j}` (subscripts and offsets are arithmetic).
fn evaluating_expansion(source: &str) -> Option<String> {
    let inner = source.strip_prefix("${")?.strip_suffix('}')?;
    let name_end = inner
        .char_indices()
        .find(|(i, c)| !(c.is_ascii_alphanumeric() || *c == '_' || (*i == 0 && "!#".contains(*c))))
        .map_or(inner.len(), |(i, _)| i);
    let rest = &inner[name_end..];
    let evaluates = inner.starts_with('!')
        || rest.starts_with('@')
        || rest.starts_with('[')
        || (rest.starts_with(':') && !rest[1..].starts_with(['-', '=', '?', '+']) && names_a_variable(&rest[1..]));
    evaluates.then(|| format!("the expansion {source}"))
}

/// Why unquoted text has no fixed value: glob characters are matched
/// against file names, braces expand in bash.
fn unquoted_text_reason(text: &str) -> Option<Dynamic> {
    let bracket = text.find('[').is_some_and(|open| text[open + 1..].contains(']'));
    if text.contains(['*', '?']) || bracket {
        return Some(Dynamic::Glob);
    }
    if let Some(open) = text.find('{') {
        let rest = &text[open..];
        if rest.contains('}') && (rest.contains(',') || rest.contains("..")) {
            return Some(Dynamic::BraceExpansion);
        }
    }
    if text.contains('(') {
        return Some(Dynamic::ExtendedGlob);
    }
    None
}

/// The value of a backslash escape: outside quotes the backslash goes;
/// inside double quotes it goes only before `$`, `` ` ``, `"`, `\` and a
/// newline.
fn unescape(escape: &str, quoted: bool) -> &str {
    let Some(rest) = escape.strip_prefix('\\') else {
        return escape;
    };
    if rest == "\n" {
        return "";
    }
    if !quoted || matches!(rest, "$" | "`" | "\"" | "\\") { rest } else { escape }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn word(raw: &str) -> (Word, Vec<String>) {
        let mut nested = Vec::new();
        let word = analyze(raw, &ParserOptions::default(), &mut nested).unwrap();
        (word, nested)
    }

    #[test]
    fn quote_removal_gives_the_value_the_shell_sees() {
        for (raw, value) in
            [("'r'm", "rm"), ("r\"\"m", "rm"), ("\\rm", "rm"), ("\"a\\\"b\"", "a\"b"), ("\"a\\b\"", "a\\b")]
        {
            let (word, nested) = word(raw);
            assert_eq!(word.text, value, "{raw}");
            assert!(word.is_static() && nested.is_empty(), "{raw}");
        }
    }

    #[test]
    fn expansions_make_a_word_dynamic() {
        for raw in ["$x", "${x}", "~/bin", "/???/??/id", "/bin/[r]m", "{id,}", "$'\\x69d'", "$\"id\"", "$((1))", "a*"] {
            assert!(!word(raw).0.is_static(), "{raw}");
        }
        assert!(word("'*'").0.is_static());
        assert!(word("[").0.is_static());
        assert!(word("\"{a,b}\"").0.is_static());
    }

    #[test]
    fn a_dynamic_word_says_what_makes_it_so() {
        for (raw, reason) in [
            ("a*", "a glob pattern"),
            ("{a,b}", "brace expansion"),
            ("~/x", "tilde expansion"),
            ("$x", "parameter expansion"),
            ("$(id)", "command substitution"),
            ("$((1))", "arithmetic expansion"),
            ("$'x'", "ANSI-C quoting ($'…'), which sh and bash read differently"),
        ] {
            assert_eq!(word(raw).0.dynamic.map(Dynamic::as_str), Some(reason), "{raw}");
        }
        assert_eq!(word("a*").0.dynamic, Some(Dynamic::Glob));
    }

    #[test]
    fn constructs_sh_and_bash_split_differently_are_flagged() {
        for raw in ["$'a'", "$\"x\""] {
            assert!(word(raw).0.bash_only.is_some(), "{raw}");
        }
        assert!(word("\"${u-'}'\"").0.ambiguous.is_some());
        for raw in ["'$'", "\"$x\"", "${u-x}"] {
            assert!(word(raw).0.ambiguous.is_none(), "{raw}");
        }
    }

    #[test]
    fn expansions_that_make_bash_evaluate_text_are_flagged() {
        for raw in ["$((x))", "$(($b + 1))", "${!x}", "${x@P}", "${a[i]}", "${x:y}", "\"${x:n:1}\""] {
            assert!(word(raw).0.evaluates.is_some(), "{raw}");
        }
        for raw in ["$((1 + 2))", "$((0x1f))", "${x:-y}", "${x:1:2}", "${#x}", "$x"] {
            assert!(word(raw).0.evaluates.is_none(), "{raw}");
        }
    }

    #[test]
    fn scripts_in_substitutions_are_found_wherever_they_hide() {
        for (raw, script) in [
            ("$(id)", "id"),
            ("`id`", "id"),
            ("\"x$(id)\"", "id"),
            ("${x:-$(id)}", "id"),
            ("$((1 + $(id)))", "id"),
            ("\"${x:-`id`}\"", "id"),
        ] {
            assert_eq!(word(raw).1, vec![script.to_string()], "{raw}");
        }
    }
}
