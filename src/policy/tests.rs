use std::path::PathBuf;

use super::*;

fn policy(allowed: &[&str]) -> Policy {
    let allowed: Vec<String> = allowed.iter().map(|s| s.to_string()).collect();
    Policy::new(&allowed, &[], DEFAULT_MAX_COMMAND_BYTES).unwrap()
}

fn check(policy: &Policy, command: &str) -> Decision {
    let roots = [PathBuf::from("/tmp"), PathBuf::from("/dev/null")];
    policy.check(command, Scope { cwd: Path::new("/tmp"), writable_roots: &roots })
}

fn denied(policy: &Policy, command: &str) -> bool {
    matches!(check(policy, command), Decision::Deny { .. })
}

#[test]
fn allowlist_is_matched_per_word_not_per_prefix() {
    let p = policy(&["echo"]);
    assert!(!denied(&p, "echo hi"));
    for command in [
        "echox; cat /etc/shadow",
        "echo hi; cat /etc/shadow",
        "echo hi && id",
        "echo hi | sh",
        "echo $(id)",
        "echo `id`",
        "(id)",
    ] {
        assert!(denied(&p, command), "{command}");
    }
}

#[test]
fn allowlist_entries_with_arguments_match_leading_words() {
    let p = policy(&["git status", "kubectl get pods", "ls"]);
    assert!(!denied(&p, "git status --short"));
    assert!(!denied(&p, "kubectl get pods -A"));
    assert!(denied(&p, "kubectl get secrets"));
    assert!(denied(&p, "git push"));
    assert!(denied(&p, "git"));
    assert!(denied(&p, "git st\"atus\"x"));
    assert!(!denied(&p, "git 'status'"));
}

#[test]
fn allowlist_matches_programs_by_real_path() {
    let p = policy(&["ls"]);
    let real = resolve_program("ls").unwrap();
    assert!(!denied(&p, &format!("{} -l", real.display())));
    assert!(!denied(&p, &format!("/{} -l", real.display())));
    for command in ["/tmp/ls", "./ls", "bin/ls", "../../bin/ls"] {
        assert!(denied(&p, command), "{command}");
    }
}

#[test]
fn allowlist_refuses_what_it_cannot_judge() {
    let p = policy(&["ls", "echo"]).for_shell(Path::new("/bin/dash"));
    for command in [
        "$x /",
        "${x} /",
        "l? /",
        "/bin/[l]s",
        "{ls,-l}",
        "$'ls'",
        "~/ls",
        "eval ls",
        "exec ls",
        ". ./x",
        "source x",
        "alias ls=id",
        "command ls",
        "builtin echo",
        "ls() { echo; }; ls",
        "echo() { ls; }",
        "PATH=/tmp ls",
        "LD_PRELOAD=/tmp/x.so ls",
        "BASH_ENV=/tmp/x ls",
        "IFS=/ ls",
        "for PATH in /tmp/evil; do ls; done",
        "read PATH < p; ls",
        "((ls))",
        "echo $'\\'; id; #'",
        "echo \"${u-'}'\"; id; #'\"}\"",
        "echo 'unterminated",
    ] {
        assert!(denied(&p, command), "{command}");
    }
    for command in [
        "cd /tmp && ls",
        "f() { ls; }; f",
        "x=1; echo $x",
        "ls -l '*.txt'",
        "ls *.rs",
        "echo $((1 + 2))",
        "echo 'a$(b)'; [[ -n x ]]",
        "[ -f x ] && echo yes",
    ] {
        assert!(!denied(&p, command), "{command}");
    }
}

#[test]
fn bash_only_quoting_is_judged_as_parsed_when_the_shell_is_bash() {
    let bash = policy(&["echo"]).for_shell(Path::new("/bin/bash"));
    let dash = policy(&["echo"]).for_shell(Path::new("/bin/dash"));
    for command in ["echo $'a\\tb'", "echo $'\\'; id; #'"] {
        assert!(!denied(&bash, command), "{command}");
        assert!(denied(&dash, command), "{command}");
    }
    assert!(denied(&bash, "$'\\x69d'"));
}

#[test]
fn wrappers_run_only_when_listed_and_what_they_wrap_is_judged() {
    let p = policy(&["ls", "timeout", "env", "xargs", "sh"]);
    for command in [
        "timeout 5 ls",
        "timeout -s KILL 5 ls -l",
        "env FOO=1 ls",
        "xargs ls",
        "sh -c 'ls | ls'",
        "sh <<'EOF'\nls\nEOF\n",
    ] {
        assert!(!denied(&p, command), "{command}");
    }
    for command in [
        "timeout 5 id",
        "env id",
        "env PATH=/tmp ls",
        "env -S 'id'",
        "xargs id",
        "xargs -I{} {}",
        "sh -c id",
        "sh -c 'ls; id'",
        "sh -c \"$x\"",
        "sh <<EOF\n$(id)\nEOF\n",
        "sh <<'EOF'\nid\nEOF\n",
        "echo id | sh",
        "sh <<< id",
        "timeout 5 sh -c 'timeout 5 sh -c id'",
        "sh script.sh",
        "sh -",
        "echo id | sh /dev/stdin",
        "echo id | timeout 5 sh -",
        "echo id | sh 3<&0 <<EOF 0<&3\ntrue\nEOF\n",
        "bash --rcfile rc -i <<< true",
        "sh -i",
        "echo id | xargs env",
        "echo id | xargs timeout 5",
        "echo id | xargs -I ls sh -c ls",
        "echo '-exec id ;' | xargs find .",
        "env --split=id",
        "env -iSid",
    ] {
        assert!(denied(&p, command), "{command}");
    }
    let named = policy(&["sh tools/check.sh", "ls"]);
    assert!(!denied(&named, "sh tools/check.sh --fast"));
    assert!(denied(&named, "sh tools/other.sh"));
    let bare = policy(&["ls"]);
    for command in
        ["nice ls", "nohup ls", "stdbuf -o0 ls", "sudo ls", "su -c ls", "python3 -c 'print(1)'", "bash -c ls"]
    {
        assert!(denied(&bare, command), "{command}");
    }
}

#[test]
fn escape_options_need_an_entry_that_grants_them() {
    let p = policy(&["find", "git", "tar", "sort", "awk", "sed", "rsync", "ssh", "python3"]);
    for command in [
        "find . -name '*.rs'",
        "git log --oneline",
        "tar -czf /tmp/x.tgz .",
        "sort -u f",
        "awk '{ print $1 }' f",
        "awk -F: '$3 > 1000 || $1 == \"x\"' f",
        "sed -n 's/a/b/p' f",
        "sed -e 's/e/w/g' f",
        "rsync -av a/ b/",
        "python3 script.py",
        "python3 --version",
        "sed '/foo/Id' f",
        "sed -i.bak -e 's/a/b/' f",
        "awk 'BEGIN{printf \"%s|%s\\n\", \"a\", \"b\"}'",
        "awk -F: '{print $1 \"|\" $2}' /etc/passwd",
        "awk '/foo|bar/' f",
        "git log -C --oneline",
        "tar -xzf x.tgz",
        "tar xzf x.tgz",
    ] {
        assert!(!denied(&p, command), "{command}");
    }
    for command in [
        "find . -exec id \\;",
        "find . -execdir sh \\;",
        "find . -delete",
        "find . -fprint /tmp/x",
        "find . $x id \\;",
        "git -c core.pager=id log",
        "git -C /elsewhere status",
        "git --exec-path=/tmp status",
        "tar --to-command=id -xf x.tar",
        "tar -cf x.tar --checkpoint=1 --checkpoint-action=exec=id .",
        "tar -xIid -f x",
        "sort --compress-program=id f",
        "awk 'BEGIN { system(\"id\") }'",
        "awk 'BEGIN { \"id\" | getline }'",
        "awk -f prog.awk",
        "sed 'e id' f",
        "sed -n '1e id' f",
        "sed 's/x/id/e' f",
        "sed 'w /tmp/o' f",
        "rsync -e id a b",
        "ssh -o ProxyCommand=id host",
        "python3 -c 'import os'",
        "python3 -m http.server",
        "python3 < script.py",
        "python3",
        "echo x | sed -e1e\\ id",
        "echo x | sed --expr='1e id'",
        "sed -nf s.sed f",
        "tar cf /dev/null /etc/hostname --checkpoint=1 --checkpoint-act=exec=id",
        "tar xf x.tar --to-comm=id",
        "tar cf - /etc/hostname --use-compress-prog=id",
        "tar cIf id - /etc/hostname",
        "sort -S 64K --compress-prog=sh f",
        "awk -W exec /dev/stdin",
        "awk -Wexec a.awk",
        "awk -E a.awk",
        "git -p log",
        "git rebase -x id",
    ] {
        assert!(denied(&p, command), "{command}");
    }
    let granted = policy(&["find", "find -exec", "ls"]);
    assert!(!denied(&granted, "find . -exec ls {} \\;"));
    assert!(denied(&granted, "find . -exec id {} \\;"));
    assert!(denied(&granted, "find . -delete"));
}

#[test]
fn bash_evaluation_of_variable_text_is_refused_only_when_the_shell_is_bash() {
    let bash = policy(&["echo", "test", "["]).for_shell(Path::new("/bin/bash"));
    let dash = policy(&["echo", "test", "["]).for_shell(Path::new("/bin/dash"));
    for command in [
        "x='a[$(id)]'; echo $((x))",
        "d=$; b=\"x[${d}(id)]\"; echo $((b))",
        "x='$(id)'; echo \"${x@P}\"",
        "[ -v 'x[$(id>&2)]' ]",
        "y='a[$(id>&2)]'; x=abc; echo ${x:y}",
        "echo ${!x}",
        "read 'a[$(id)]' <<< 1",
        "[[ $x -eq 1 ]]",
        "a[i]=1",
    ] {
        assert!(denied(&bash, command), "{command}");
    }
    for command in ["x='a[$(id)]'; echo $((x))", "echo ${!x}", "[ -v x ]"] {
        assert!(!denied(&dash, command), "{command}");
    }
    for command in ["echo $((1 + 2))", "echo ${x:-default} ${x:1:2} ${#x}", "[[ -n $x ]]"] {
        assert!(!denied(&bash, command), "{command}");
    }
}

#[test]
fn redirections_outside_the_writable_roots_are_refused() {
    let p = policy(&[]);
    for command in
        ["echo x > /etc/passwd", "echo x >> /root/.bashrc", "echo x &> /etc/x", "ls 2>/var/log/x", "echo > ../etc/x"]
    {
        assert!(denied(&p, command), "{command}");
    }
    for command in [
        "echo x > out.txt",
        "echo x > /tmp/a/b",
        "echo x 2>/dev/null",
        "echo x >&2",
        "echo x > \"$f\"",
        "cd /etc; echo x > y",
    ] {
        assert!(!denied(&p, command), "{command}");
    }
}

#[test]
fn input_hygiene_is_checked_first() {
    let p = Policy::new(&[], &[], 100).unwrap();
    let Decision::Deny { rule, reason, .. } = check(&p, &"x".repeat(101)) else { panic!("long command allowed") };
    assert_eq!(rule, Rule::Input);
    assert_eq!(rule.as_str(), "input");
    assert!(reason.contains("100") && reason.contains("MCP_MAX_COMMAND_BYTES"), "{reason}");
    assert!(denied(&p, "echo a\0b"));
}

#[test]
fn call_environment_cannot_change_program_lookup_under_an_allowlist() {
    let p = policy(&["ls"]);
    for name in ["PATH", "LD_PRELOAD", "BASH_ENV", "ENV", "BASH_FUNC_echo%%", "IFS", "LESSOPEN", "GIT_SSH_COMMAND"] {
        assert!(matches!(p.check_env(name), Decision::Deny { .. }), "{name}");
    }
    assert_eq!(p.check_env("GREETING"), Decision::Allow);
    assert_eq!(policy(&[]).check_env("PATH"), Decision::Allow);
}

#[test]
fn every_git_variable_but_identity_dates_and_pathspecs_is_refused_with_home_and_xdg() {
    let p = policy(&["git", "env"]);
    let refused = [
        "GIT_ALLOW_PROTOCOL",
        "GIT_EXTERNAL_DIFF",
        "GIT_CONFIG_SYSTEM",
        "GIT_CONFIG_NOSYSTEM",
        "GIT_TEMPLATE_DIR",
        "GIT_SEQUENCE_EDITOR",
        "GIT_PROXY_COMMAND",
        "GIT_COMMON_DIR",
        "GIT_WORK_TREE",
        "GIT_SOMETHING_NEW",
        "HOME",
        "XDG_CONFIG_HOME",
        "XDG_CONFIG_DIRS",
    ];
    for name in refused {
        assert!(matches!(p.check_env(name), Decision::Deny { .. }), "{name}");
        assert!(denied(&p, &format!("{name}=x git status")), "{name}");
        assert!(denied(&p, &format!("env {name}=x git status")), "env {name}");
    }
    for name in ["GIT_AUTHOR_NAME", "GIT_COMMITTER_EMAIL", "GIT_AUTHOR_DATE", "GIT_LITERAL_PATHSPECS"] {
        assert_eq!(p.check_env(name), Decision::Allow, "{name}");
        assert!(!denied(&p, &format!("{name}=x git status")), "{name}");
    }
}

#[test]
fn a_program_path_in_a_writable_root_is_refused_whatever_it_resolves_to() {
    let dir = tempfile::tempdir().unwrap();
    let root = std::fs::canonicalize(dir.path()).unwrap();
    std::os::unix::fs::symlink("/bin/ls", root.join("ls")).unwrap();
    let p = policy(&["ls"]);
    let roots = vec![root.clone()];
    let scope = Scope { cwd: &root, writable_roots: &roots };
    let program = root.join("ls").display().to_string();
    let Decision::Deny { rule, .. } = p.check(&program, scope) else { panic!("{program} allowed") };
    assert_eq!(rule, Rule::ProgramInWritableRoot);
    assert_eq!(rule.as_str(), "allowlist: program in a writable root");
    assert_eq!(p.check("/bin/ls -l", scope), Decision::Allow, "the program by its own path");
}

#[test]
fn refusals_name_the_rule_the_part_and_what_is_allowed() {
    let p = policy(&["ls", "cat"]);
    let Decision::Deny { rule, command, reason } = check(&p, "ls && id -u") else { panic!("id allowed") };
    assert_eq!(rule, Rule::NotAllowed);
    assert_eq!(rule.as_str(), "allowlist");
    assert_eq!(command, "id -u");
    assert!(reason.contains("'id'") && reason.contains("ls, cat"), "{reason}");
    let message = check(&p, "id").message().unwrap();
    assert!(message.contains("rule: allowlist") && message.contains("refused: id"), "{message}");
}

#[test]
fn escape_and_blocklist_refusals_name_the_program_trigger_and_entry() {
    let p = policy(&["find", "ls"]);
    let Decision::Deny { rule, .. } = check(&p, "find . -exec id \\;") else { panic!("find -exec allowed") };
    assert_eq!(rule, Rule::Escape { program: "find".into(), trigger: "-exec".into() });
    assert_eq!(rule.as_str(), "escape: find -exec");
    let Decision::Deny { rule, .. } = check(&p, "ls $(cat x)") else { panic!("a substitution allowed") };
    assert_eq!(rule.as_str(), "allowlist");
    let Decision::Deny { rule, .. } = check(&policy(&[]), "sudo rm -rf /") else { panic!("rm -rf / allowed") };
    assert_eq!(rule.as_str(), "blocklist: rm -rf /");
}

#[test]
fn empty_allowlist_allows_what_is_not_blocked() {
    let p = policy(&[]);
    assert!(!denied(&p, "echo hi; id; $x; eval ls"));
    assert!(p.allow_all());
}

#[test]
fn bad_allowlist_entries_are_reported() {
    for entry in ["ls; id", "$x", "a | b", "ls > f"] {
        let error = Policy::new(&[entry.to_string()], &[], 100).unwrap_err();
        assert!(error.contains(entry), "{error}");
    }
}

#[test]
fn sed_scripts_after_an_operand_are_read_as_getopt_reads_them() {
    let p = policy(&["sed"]);
    for command in
        ["sed p -e 'e id' f", "sed 'i\\' -e 'e id' f", "sed 'y/x/y/' --expression='e id' f", "sed -n p -f s f"]
    {
        assert!(denied(&p, command), "{command}");
    }
    for command in ["sed -n p f", "sed -e p -- f", "sed p f -n", "sed -e 's/a/b/' f g"] {
        assert!(!denied(&p, command), "{command}");
    }
}
