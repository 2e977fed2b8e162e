//! The parser's tests: what a parse yields and what it refuses.

use super::*;

fn programs(input: &str) -> Vec<String> {
    let script = parse(input).unwrap();
    script.commands.iter().filter_map(|c| c.words.first()).map(|w| w.text.clone()).collect()
}

#[test]
fn every_simple_command_in_the_tree_is_found() {
    for (input, expected) in [
        ("a; b && c || d | e & f", vec!["a", "b", "c", "d", "e", "f"]),
        ("echo \"$(a `b`)\"", vec!["echo", "a", "b"]),
        ("(a) && { b; }", vec!["a", "b"]),
        ("diff <(a) >(b)", vec!["diff", "a", "b"]),
        ("if a; then b; elif c; then d; else e; fi", vec!["a", "b", "c", "d", "e"]),
        ("for x in $(a); do b; done", vec!["a", "b"]),
        ("while a; do b; done; until c; do d; done", vec!["a", "b", "c", "d"]),
        ("case $(a) in x) b;; esac", vec!["a", "b"]),
        ("f() { a; }; f", vec!["a", "f"]),
        ("coproc a", vec!["a"]),
        ("x=$(a) b", vec!["a", "b"]),
        ("cat <<EOF\n$(a)\nEOF\n", vec!["a", "cat"]),
        ("echo $((1 + $(a)))", vec!["a", "echo"]),
        ("[[ $(a) ]]", vec!["a"]),
    ] {
        let mut found = programs(input);
        found.sort();
        let mut expected: Vec<String> = expected.into_iter().map(String::from).collect();
        expected.sort();
        assert_eq!(found, expected, "{input}");
    }
}

#[test]
fn here_documents_and_strings_feed_standard_input() {
    let script = parse("sh <<'EOF'\nid\nEOF\n").unwrap();
    assert_eq!(script.commands[0].stdin.as_ref().unwrap().text, "id\n");
    let script = parse("sh <<< 'id'").unwrap();
    assert_eq!(script.commands[0].stdin.as_ref().unwrap().text, "id");
}

#[test]
fn output_redirections_are_collected() {
    let script = parse("echo a > x; { echo b; } >> /y 2>&1; echo c &> z; cat < r").unwrap();
    let targets: Vec<&str> = script.output_redirects.iter().map(|r| r.target.text.as_str()).collect();
    assert_eq!(targets, vec!["x", "/y", "z"]);
}

#[test]
fn constructs_sh_reads_differently_are_unjudgeable() {
    assert!(!parse("((id))").unwrap().unjudgeable_in_sh.is_empty());
    assert!(!parse("for PATH in /tmp; do ls; done").unwrap().unjudgeable.is_empty());
}

#[test]
fn renamed_fork_bombs_are_recognized() {
    assert_eq!(parse(":(){ :|:& };:").unwrap().fork_bomb(), Some(":"));
    assert_eq!(parse("bomb() { bomb | bomb & }; bomb").unwrap().fork_bomb(), Some("bomb"));
    assert!(parse("a(){ b|b& }; b(){ a|a& }; a").unwrap().fork_bomb().is_some());
    assert!(parse("f(){ $FUNCNAME|$FUNCNAME& }; f").unwrap().fork_bomb().is_some());
    assert!(parse("f() { echo hi; }; f | cat").unwrap().fork_bomb().is_none());
    assert!(parse("f() { g | cat; }; g() { echo; }; f").unwrap().fork_bomb().is_none());
}

#[test]
fn deep_nesting_and_bad_syntax_are_errors_not_crashes() {
    assert!(parse(&"(".repeat(10_000)).is_err());
    assert!(parse(&"((1\n".repeat(9)).is_err(), "unclosed parentheses add up");
    assert!(parse(&"((1))\n".repeat(1000)).is_ok());
    assert!(parse(&"$(".repeat(100)).is_err());
    assert!(parse("echo 'unterminated").is_err());
    assert!(parse("if then fi").is_err());
    assert!(parse("99999999999999999999>x").is_err());
    assert!(parse("<<\u{c}<#<<").is_err(), "a form feed sends the tokenizer into an endless loop");
    assert!(parse("x<<\r\t").is_err(), "so does a carriage return");
    assert!(parse("echo a\r\necho b\r\n").is_ok(), "CRLF line ends are fine");
    assert!(parse("cat <<EOF\nline $((0 $((0 $((0 $((0 x\nEOF\n").is_err(), "unclosed $(( backtracks");
    assert!(parse("echo \"$((0 $((0 $((0 $((0\"").is_err());
    assert!(parse("echo \"$(echo \")\")\"").is_ok());
    assert!(parse("echo \"${x[${x[}}${x[${x[}}\"").is_err(), "unclosed subscripts backtrack");
    // Found by the fuzzer: closings in a later word do not help; each
    // level multiplied the parse time by twenty, 28 s at six.
    let nested = format!("echo a |exportx[no{} {}", "{p$$~${x[d".repeat(6), "]}".repeat(7));
    let started = std::time::Instant::now();
    assert!(parse(&nested).is_err(), "nested subscripts backtrack");
    assert!(started.elapsed() < std::time::Duration::from_millis(50), "{:?}", started.elapsed());
    for fine in ["echo \"${a[${b[0]}]}\"", "echo ${arr[$((i+1))]} ${arr[@]}", "[[ ${a[0]} == x ]] && echo [x]"] {
        assert!(parse(fine).is_ok(), "{fine}");
    }
    assert!(parse("echo ~+99999999999999999999").is_err());
    assert_eq!(programs("echo ~+1 2>x"), vec!["echo"], "the parser still works after a panic");
}
