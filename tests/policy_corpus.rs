//! The bypass corpus: every class of shell trick that could start `id`
//! under an allowlist that excludes it, run end to end through the daemon
//! under both `sh` (dash) and bash. `id` must never run, whether the
//! parser refuses the command or the kernel stops the exec. The same
//! corpus, without an allowlist, shows each attack marked `RUNS` really
//! does run `id`, so the corpus cannot pass by being harmless; `INERT`
//! entries do not run it even then (dash or bash read them differently),
//! and stay to keep the parser honest. Each class has legitimate twins
//! that must be allowed and work.

mod common;

use std::collections::BTreeSet;

use common::Daemon;
use serde_json::json;

const RUNS: bool = true;
const INERT: bool = false;

/// Programs the operator allows: `id` is not among them.
const ALLOWLIST: &str = "ls,cat,echo,grep,wc,head,sort,tr,find,awk,sed,git status,git log,tar,sh,bash,env,timeout,xargs,nice,python3,perl,chmod,cp";

/// (class, command, whether it runs `id` when nothing is restricted).
const CORPUS: &[(&str, &str, bool)] = &[
    // separator
    ("separator", "ls; id", RUNS),
    ("separator", "ls && id", RUNS),
    ("separator", "ls /nonexistent || id", RUNS),
    ("separator", "ls | id", RUNS),
    ("separator", "ls & id", RUNS),
    ("separator", "ls\nid", RUNS),
    ("separator", "ls\r\nid", RUNS),
    ("separator", "ls\rid", INERT),
    ("separator", "ls\tid", INERT),
    ("separator", "ls\u{a0}id", INERT),
    ("separator", "echo x;id", RUNS),
    ("separator", "echo x&&id", RUNS),
    ("separator", "ls |& id", RUNS),
    ("separator", "! id", RUNS),
    ("separator", "id & wait", RUNS),
    ("separator", "ls;\n\tid", RUNS),
    // substitution
    ("substitution", "echo $(id)", RUNS),
    ("substitution", "echo `id`", RUNS),
    ("substitution", "echo \"$(id)\"", RUNS),
    ("substitution", "echo \"`id`\"", RUNS),
    ("substitution", "echo $(echo $(id))", RUNS),
    ("substitution", "echo `echo \\`id\\``", RUNS),
    ("substitution", "echo \"$(echo \"$(id)\")\"", RUNS),
    ("substitution", "ls $(id)", RUNS),
    ("substitution", "x=$(id); echo $x", RUNS),
    ("substitution", "echo ${x:-$(id)}", RUNS),
    ("substitution", "echo ${x:=`id`}", RUNS),
    ("substitution", ": $(id >&2)", RUNS),
    ("substitution", "echo \"${x:-\"$(id)\"}\"", RUNS),
    ("substitution", "echo $( (id) )", RUNS),
    ("substitution", "cat $(id >&2)", RUNS),
    // arithmetic
    ("arithmetic", "echo $(( $(id >&2; echo 1) ))", RUNS),
    ("arithmetic", "echo $(( `id >&2; echo 1` + 1 ))", RUNS),
    ("arithmetic", "x='a[$(id >&2)]'; echo $((x))", RUNS),
    ("arithmetic", "(( $(id >&2) ))", RUNS),
    ("arithmetic", "echo $[ $(id >&2) + 1 ]", RUNS),
    ("arithmetic", "for ((i=0; i<$(id >&2; echo 1); i++)); do :; done", RUNS),
    ("arithmetic", "((id))", INERT),
    ("arithmetic", "x='a[$(id >&2)]'; echo ${y:x}", INERT),
    ("arithmetic", "d=$; b=\"x[${d}(id >&2)]\"; echo $((b))", RUNS),
    ("arithmetic", "[ -v 'x[$(id>&2)]' ]", RUNS),
    ("arithmetic", "y='a[$(id>&2)]'; x=abc; echo ${x:y}", RUNS),
    ("arithmetic", "x='a[$(id >&2)]'; [[ $x -eq 1 ]]", RUNS),
    // process substitution
    ("process substitution", "cat <(id)", RUNS),
    ("process substitution", "cat < <(id)", RUNS),
    ("process substitution", "echo x > >(id >&2); wait $!", RUNS),
    ("process substitution", "ls <(id) >/dev/null; cat <(id)", RUNS),
    ("process substitution", "exec 3< <(id); cat <&3", RUNS),
    // group
    ("group", "(id)", RUNS),
    ("group", "{ id; }", RUNS),
    ("group", "( (id) )", RUNS),
    ("group", "{ ls; { id; }; }", RUNS),
    ("group", "if id; then :; fi", RUNS),
    ("group", "while id; do break; done", RUNS),
    ("group", "case x in x) id;; esac", RUNS),
    ("group", "for i in 1; do id; done", RUNS),
    ("group", "until id; do :; done", RUNS),
    ("group", "if false; then :; else id; fi", RUNS),
    ("group", "ls && (echo; (id))", RUNS),
    // coproc
    ("coproc", "coproc id", INERT),
    ("coproc", "coproc { id >&2; }; wait", RUNS),
    ("coproc", "coproc X { id >&2; }; wait", RUNS),
    // path
    ("path", "/usr/bin/id", RUNS),
    ("path", "/bin/id", RUNS),
    ("path", "//usr//bin//id", RUNS),
    ("path", "/usr/bin/../bin/id", RUNS),
    ("path", "../../../../usr/bin/id", RUNS),
    ("path", "/usr/./bin/id", RUNS),
    ("path", "cd /usr/bin && ./id", RUNS),
    ("path", "cd /usr && bin/id", RUNS),
    ("path", "/usr/bin/id/", INERT),
    ("path", "cat /usr/bin/id > ls; chmod +x ls; ./ls", INERT),
    // quoting
    ("quoting", "'i'd", RUNS),
    ("quoting", "i\"\"d", RUNS),
    ("quoting", "\\id", RUNS),
    ("quoting", "\"id\"", RUNS),
    ("quoting", "i\\d", RUNS),
    ("quoting", "'id'", RUNS),
    ("quoting", "\"i\"'d'", RUNS),
    ("quoting", "i$()d", RUNS),
    ("quoting", "i${x}d", RUNS),
    ("quoting", "i``d", RUNS),
    ("quoting", "\"/usr/bin/\"id", RUNS),
    ("quoting", "echo $'\\'; id; #'", INERT),
    ("quoting", "echo \"${u-'}'\"; id; #'\"}\"", INERT),
    // glob
    ("glob", "/usr/b??/id", RUNS),
    ("glob", "/usr/bin/i[d]", RUNS),
    ("glob", "/usr/bin/[i]d", RUNS),
    ("glob", "/usr/*/id", RUNS),
    ("glob", "/???/id", RUNS),
    ("glob", "/u*/b*/id", RUNS),
    ("glob", "/usr/bin/[h-j]d", RUNS),
    ("glob", "/usr/bin/@(id)", INERT),
    // brace
    ("brace", "{id,}", RUNS),
    ("brace", "{/usr/bin/id,}", RUNS),
    ("brace", "echo {a,b}; {id,}", RUNS),
    ("brace", "{id,-a}", RUNS),
    // ansi-c
    ("ansi-c", "$'\\x69d'", RUNS),
    ("ansi-c", "$'\\151\\144'", RUNS),
    ("ansi-c", "$'\\u0069d'", RUNS),
    ("ansi-c", "$'i'd", RUNS),
    ("ansi-c", "$\"id\"", RUNS),
    // variable
    ("variable", "x=id; $x", RUNS),
    ("variable", "x=id; ${x}", RUNS),
    ("variable", "x=i; ${x}d", RUNS),
    ("variable", "IFS=,; x=id,root; $x", RUNS),
    ("variable", "IFS=:; x=id:-a; $x", RUNS),
    ("variable", "set -- id; $1", RUNS),
    ("variable", "a=i b=d; $a$b", RUNS),
    ("variable", "${x:-id}", RUNS),
    ("variable", "$(echo id)", RUNS),
    ("variable", "`echo id`", RUNS),
    ("variable", "read x <<< id; $x", RUNS),
    ("variable", "x=di; ${x#d}${x%i}", RUNS),
    ("variable", "x=(id); ${x[0]}", RUNS),
    ("variable", "declare -n r=x; x=id; $r", RUNS),
    ("variable", "x='$(id)'; echo \"${x@P}\"", RUNS),
    ("variable", "read 'a[$(id >&2)]' <<< 1", RUNS),
    // env prefix
    ("env prefix", "echo id > s.sh; BASH_ENV=s.sh bash -c ls", RUNS),
    ("env prefix", "echo id > s.sh; ENV=s.sh sh -i < /dev/null", RUNS),
    ("env prefix", "PS4='$(id >&2)' bash -x -c ls", RUNS),
    ("env prefix", "SHELLOPTS=xtrace PS4='$(id >&2)' bash -c ls", INERT),
    ("env prefix", "LD_PRELOAD=/nonexistent.so ls; id", RUNS),
    ("env prefix", "PATH=/usr/bin id", RUNS),
    ("env prefix", "x=1 id", RUNS),
    ("env prefix", "PROMPT_COMMAND=id bash -i < /dev/null", RUNS),
    ("env prefix", "cp /usr/bin/id ls; PATH=.:$PATH ls", INERT),
    ("env prefix", "echo id > rc; bash --rcfile rc -i <<< true", RUNS),
    // wrapper
    ("wrapper", "env id", RUNS),
    ("wrapper", "nice id", RUNS),
    ("wrapper", "nohup id", RUNS),
    ("wrapper", "timeout 5 id", RUNS),
    ("wrapper", "stdbuf -o0 id", RUNS),
    ("wrapper", "xargs id < /dev/null", RUNS),
    ("wrapper", "echo | xargs id", RUNS),
    ("wrapper", "echo id | xargs -I{} {}", INERT),
    ("wrapper", "su -c id", INERT),
    ("wrapper", "sh -c id", RUNS),
    ("wrapper", "bash -c id", RUNS),
    ("wrapper", "sh <<< id", RUNS),
    ("wrapper", "echo id | sh", RUNS),
    ("wrapper", "sh -c 'sh -c id'", RUNS),
    ("wrapper", "python3 -c 'import os; os.system(\"id\")'", RUNS),
    ("wrapper", "perl -e 'system(\"id\")'", RUNS),
    ("wrapper", "time id", RUNS),
    ("wrapper", "env -S id", RUNS),
    ("wrapper", "timeout 5 sh -c id", RUNS),
    ("wrapper", "env sh -c id", RUNS),
    ("wrapper", "xargs sh -c id < /dev/null", RUNS),
    ("wrapper", "setsid id", INERT),
    ("wrapper", "env -- id", RUNS),
    ("wrapper", "timeout -s KILL 5 env nice id", RUNS),
    ("wrapper", "nice -n 5 id", RUNS),
    ("wrapper", "echo id | sh -", RUNS),
    ("wrapper", "echo id | sh /dev/stdin", RUNS),
    ("wrapper", "echo id > f.sh; sh f.sh", RUNS),
    ("wrapper", "echo id | timeout 5 sh -", RUNS),
    ("wrapper", "echo id | xargs env", RUNS),
    ("wrapper", "echo id | xargs nice", RUNS),
    ("wrapper", "echo id | xargs -I ls sh -c ls", RUNS),
    ("wrapper", "env --split=id", RUNS),
    ("wrapper", "env -iSid", RUNS),
    // escape
    ("escape", "find . -maxdepth 0 -exec id \\;", RUNS),
    ("escape", "find . -maxdepth 0 -execdir id \\;", RUNS),
    ("escape", "find . -maxdepth 0 -exec sh -c id \\;", RUNS),
    ("escape", "awk 'BEGIN{system(\"id\")}'", RUNS),
    ("escape", "awk 'BEGIN{ \"id\" | getline x; print x }'", RUNS),
    ("escape", "awk 'BEGIN { print | \"id\" }'", RUNS),
    ("escape", "echo x | sed 's/x/id/e'", RUNS),
    ("escape", "echo x | sed '1e id'", RUNS),
    ("escape", "git -c alias.x='!id' x", RUNS),
    ("escape", "tar -cf /dev/null --checkpoint=1 --checkpoint-action=exec=id /etc/hostname", RUNS),
    ("escape", "tar -cf - /etc/hostname | tar -xf - --to-command=id", RUNS),
    ("escape", "find . -maxdepth 0 -exe''c id \\;", RUNS),
    ("escape", "x=-exec; find . -maxdepth 0 $x id \\;", RUNS),
    ("escape", "awk -v x=1 'BEGIN{system(\"id\")}'", RUNS),
    ("escape", "sed -e 's/x/id/e' <<< x", RUNS),
    ("escape", "echo 'BEGIN{system(\"id\")}' > p.awk; awk -f p.awk", RUNS),
    ("escape", "git --exec-path=. x", INERT),
    ("escape", "find . -maxdepth 0 -ok id \\;", INERT),
    ("escape", "sort --compress-program=id -S 1 /etc/passwd", INERT),
    ("escape", "echo x | sed -e1e\\ id", RUNS),
    ("escape", "echo x | sed --expr=\"1e id\"", RUNS),
    ("escape", "echo '1e id' > s.sed; echo x | sed -nf s.sed", RUNS),
    ("escape", "tar cf /dev/null /etc/hostname --checkpoint=1 --checkpoint-act=exec=id", RUNS),
    ("escape", "tar cf x.tar /etc/hostname 2>/dev/null; tar xf x.tar --to-comm=id", RUNS),
    ("escape", "tar cIf id - /etc/hostname", RUNS),
    ("escape", "echo '-exec id ;' | xargs find . -maxdepth 0", RUNS),
    ("escape", "echo 'BEGIN{system(\"id\")}' | awk -W exec /dev/stdin", RUNS),
    // heredoc
    ("heredoc", "sh <<EOF\nid\nEOF\n", RUNS),
    ("heredoc", "sh <<'EOF'\nid\nEOF\n", RUNS),
    ("heredoc", "cat <<EOF\n$(id)\nEOF\n", RUNS),
    ("heredoc", "cat <<< $(id)", RUNS),
    ("heredoc", "bash <<< id", RUNS),
    ("heredoc", "echo id > s.sh; sh s.sh", RUNS),
    ("heredoc", "echo id > s.sh; . ./s.sh", RUNS),
    ("heredoc", "echo id > s.sh; sh < s.sh", RUNS),
    ("heredoc", "sh <<-EOF\n\tid\n\tEOF\n", RUNS),
    ("heredoc", "cat <<EOF | sh\nid\nEOF\n", RUNS),
    ("heredoc", "echo id | sh 3<&0 <<EOF 0<&3\ntrue\nEOF\n", RUNS),
    // redirection
    ("redirection", "tee >(id >&2) < /dev/null; wait $!", RUNS),
    ("redirection", "echo id > ./s.sh; sh ./s.sh", RUNS),
    ("redirection", "echo id > s.sh; cat s.sh | sh", RUNS),
    ("redirection", "exec 2>&1; id", RUNS),
    ("redirection", "id > out; cat out", RUNS),
    ("redirection", "id >&2", RUNS),
    // function
    ("function", "f() { id; }; f", RUNS),
    ("function", "ls() { id; }; ls", RUNS),
    ("function", "function f { id; }; f", RUNS),
    ("function", "f() { $1; }; f id", RUNS),
    ("function", "alias ls=id\nls", INERT),
    ("function", "f() { \"$@\"; }; f id", RUNS),
    ("function", "echo() { id; }; echo", RUNS),
    // eval
    ("eval", "eval id", RUNS),
    ("eval", "eval \"i\"\"d\"", RUNS),
    ("eval", "exec id", RUNS),
    ("eval", "command id", RUNS),
    ("eval", "builtin eval id", RUNS),
    ("eval", ". /dev/stdin <<< id", RUNS),
    ("eval", "source /dev/stdin <<< id", RUNS),
    ("eval", "trap id EXIT", RUNS),
    ("eval", "command -p id", RUNS),
];

/// (class, command, expected stdout, needs bash): legitimate uses of each
/// class under the same allowlist.
const TWINS: &[(&str, &str, &str, bool)] = &[
    ("separator", "ls / | grep -c '^etc$'; echo a && echo b || echo c", "1\na\nb\n", false),
    ("separator", "echo one\necho two; echo three &\nwait", "one\ntwo\nthree\n", false),
    ("substitution", "echo \"$(ls / | grep '^etc$')\" `echo nested`", "etc nested\n", false),
    ("substitution", "x=$(echo inner); echo \"${x:-unset}\"", "inner\n", false),
    ("arithmetic", "echo $((2 * 21))", "42\n", false),
    ("process substitution", "cat <(echo a) <(echo b)", "a\nb\n", true),
    ("group", "(cd / && ls) | grep -c '^etc$'; { echo a; echo b; } | wc -l", "1\n2\n", false),
    ("group", "if ls / > /dev/null; then echo yes; fi; for f in a b; do echo $f; done", "yes\na\nb\n", false),
    ("group", "case x in x) echo matched;; esac; while false; do :; done", "matched\n", false),
    ("coproc", "coproc { echo from-coproc >&2; }; wait; echo done", "done\n", true),
    ("path", "/usr/bin/ls -d / && /bin/ls -d / && //usr//bin//ls -d /", "/\n/\n/\n", false),
    ("quoting", "'l's -d \"/\"; echo 'a;b' \"c|d\" \\$HOME", "/\na;b c|d $HOME\n", false),
    ("glob", "ls -d /us?/bi[n]; echo /etc/host*name", "/usr/bin\n/etc/hostname\n", false),
    ("brace", "echo {a,b}c", "ac bc\n", true),
    ("ansi-c", "echo $'a\\tb'", "a\tb\n", true),
    ("variable", "x=hello; y=\"$x world\"; echo \"$x\" ${x} \"$y\"", "hello hello hello world\n", false),
    ("env prefix", "LC_ALL=C ls -d /; GREETING=hi env | grep -c GREETING", "/\n1\n", false),
    ("wrapper", "timeout 5 ls -d /; env ls -d /; echo / | xargs ls -d; nice -n 5 echo hi", "/\n/\n/\nhi\n", false),
    ("wrapper", "sh -c 'ls -d / | cat'; bash -c 'echo from-bash'", "/\nfrom-bash\n", false),
    (
        "escape",
        "find / -maxdepth 1 -name etc; awk -F: 'NR == 1 || NR == 2 { print $1 }' /etc/passwd | head -1",
        "/etc\nroot\n",
        false,
    ),
    (
        "escape",
        "echo root | sed -n 's/root/R/p'; tar -cf x.tar /etc/hostname 2>/dev/null && echo tarred",
        "R\ntarred\n",
        false,
    ),
    ("escape", "echo 'print 6 * 7, \"\\n\"' > t.pl && perl t.pl", "42\n", false),
    ("heredoc", "cat <<EOF\nline $((1 + 1))\nEOF\n", "line 2\n", false),
    ("heredoc", "sh <<'EOF'\nls -d /\nEOF\n", "/\n", false),
    ("heredoc", "grep -c x <<< x", "1\n", true),
    (
        "redirection",
        "echo hi > out.txt && cat out.txt; echo more >> out.txt 2>/dev/null; wc -l < out.txt",
        "hi\n2\n",
        false,
    ),
    ("redirection", "echo to-stderr >&2; echo kept 2>&1", "kept\n", false),
    ("function", "greet() { echo in-function; }; greet", "in-function\n", false),
    ("eval", "test -n x && echo yes; [ 1 = 1 ] && echo equal", "yes\nequal\n", false),
];

fn restricted(shell: &str) -> Daemon {
    Daemon::start(&[("MCP_ALLOWED_COMMANDS", ALLOWLIST), ("MCP_SHELL", shell), ("MCP_DEFAULT_TIMEOUT", "5s")])
}

fn output(result: &serde_json::Value) -> String {
    format!(
        "{}{}{}",
        result["stdout"].as_str().unwrap_or_default(),
        result["stderr"].as_str().unwrap_or_default(),
        result["error"].as_str().unwrap_or_default()
    )
}

fn assert_id_never_runs(shell: &str) {
    let daemon = restricted(shell);
    let mut refused_by_policy = 0;
    for (class, command, _) in CORPUS {
        let result = daemon.execute(json!({ "command": command }));
        let text = output(&result);
        assert!(!text.contains("uid="), "[{class}] {command:?} ran id under {shell}: {result}");
        if text.contains("command refused by policy") {
            refused_by_policy += 1;
        }
    }
    assert!(refused_by_policy * 10 >= CORPUS.len() * 9, "only {refused_by_policy} refused by the parser under {shell}");
}

#[test]
fn the_corpus_is_large_and_covers_every_class() {
    assert!(CORPUS.len() >= 150, "{} attempts", CORPUS.len());
    let attacked: BTreeSet<&str> = CORPUS.iter().map(|(class, _, _)| *class).collect();
    let twinned: BTreeSet<&str> = TWINS.iter().map(|(class, _, _, _)| *class).collect();
    assert_eq!(attacked, twinned, "every class of attack has a legitimate twin");
    assert!(attacked.len() >= 18, "{attacked:?}");
}

#[test]
fn no_attempt_in_the_corpus_runs_id_under_sh() {
    assert_id_never_runs("/bin/sh");
}

#[test]
fn no_attempt_in_the_corpus_runs_id_under_bash() {
    assert_id_never_runs("/bin/bash");
}

#[test]
fn without_an_allowlist_the_attempts_marked_runs_do_run_id() {
    let daemon = Daemon::start(&[("MCP_SHELL", "/bin/bash"), ("MCP_DEFAULT_TIMEOUT", "5s")]);
    for (class, command, runs) in CORPUS.iter().filter(|(_, _, runs)| *runs) {
        let result = daemon.execute(json!({ "command": command }));
        assert_eq!(output(&result).contains("uid="), *runs, "[{class}] {command:?}: {result}");
    }
}

#[test]
fn legitimate_twins_of_every_class_are_allowed_and_work() {
    for shell in ["/bin/sh", "/bin/bash"] {
        let daemon = restricted(shell);
        for (class, command, stdout, needs_bash) in TWINS {
            if *needs_bash && shell == "/bin/sh" {
                continue;
            }
            let result = daemon.execute(json!({ "command": command }));
            assert_eq!(result["stdout"], *stdout, "[{class}] {command:?} under {shell}: {result}");
        }
    }
}
