//! The allowlist holds in the kernel even where a shell is reachable.
//!
//! With `MCP_ALLOWED_COMMANDS=ls,cat,find,xargs,env,awk,git,sed,tar`, each
//! route below tries to run `id` (which is not allowed) from an allowed
//! program: directly, through the dynamic loader, through git
//! configuration, hooks and aliases planted by an earlier call, awk, sed,
//! find, xargs, env, tar's command options, a copy and a symlink. None may
//! run it. The evidence is a refusal by the policy, or else the kernel's
//! `Permission denied` and a control: the same route run by a principal
//! whose allowlist adds `id` does run it, so the route is real and the
//! kernel was the wall. Twins: the legitimate uses of the same programs.
//!
//! Each route works in a directory of its own, made by `git init`, in its
//! principal's workspace; both principals are served by one daemon, in the
//! host's mode and in the image's.

mod common;

use std::time::Duration;

use common::{Daemon, Mode, eventually, fresh_dir, tokens_file};
use serde_json::json;

const AGENT: &str = "agent-token-0123456789abcdef";
const CONTROL: &str = "control-token-0123456789abcd";
const ALLOWED: [&str; 9] = ["ls", "cat", "find", "xargs", "env", "awk", "git", "sed", "tar"];

/// A step: a command, its standard input.
type Step = (&'static str, &'static str);

/// One route from an allowed program to `id`: steps that plant what it
/// needs (run by the same principal, in the same directory), then the
/// attack. `control`: whether the control principal shows the route is
/// real (false where even an allowed program could not run that way).
struct Route {
    name: &'static str,
    setup: &'static [Step],
    attack: Step,
    control: bool,
}

const fn route(name: &'static str, setup: &'static [Step], attack: &'static str) -> Route {
    Route { name, setup, attack: (attack, ""), control: true }
}

const fn hook(name: &'static str, setup: &'static [Step], attack: &'static str) -> Route {
    Route { name, setup, attack: (attack, ""), control: false }
}

const fn fed(name: &'static str, setup: &'static [Step], attack: &'static str, stdin: &'static str) -> Route {
    Route { name, setup, attack: (attack, stdin), control: true }
}

const IDENTITY: Step = ("git config user.email agent@example.invalid && git config user.name agent", "");
const COMMIT: Step = (
    "git config user.email agent@example.invalid && git config user.name agent && git commit -q --allow-empty -m first",
    "",
);
const CHANGE: Step = (
    "git config user.email agent@example.invalid && git config user.name agent && cat > file && git add file && git \
     commit -q -m file && cat /dev/null > file",
    "one\n",
);
const TWO_FILES: Step = ("cat > a && cat a a > b", "one\n");
const GREP: Step = ("cat > g && git add g", "one\n");
const LIST: Step = ("cat > list", "/usr/bin/id\n");
const LOADER_LIST: Step = ("cat > list", "/lib64/ld-linux-x86-64.so.2 /usr/bin/id\n");
/// An executable hook, by an archive that carries the mode (no chmod).
const EXECUTABLE_HOOK: Step =
    ("cat > hook && tar -cf hook.tar --mode=755 hook && tar -xf hook.tar -C .git/hooks", "#!/bin/sh\nid\n");
/// A symbolic link `lnk` to `/usr/bin/id`, unpacked from an archive on
/// standard input (no ln; see [`link_archive`]).
const LINK_TO_ID: Step = ("tar -x", "LINK:/usr/bin/id");
const LINK_TO_LS: Step = ("tar -x", "LINK:/usr/bin/ls");

const ROUTES: &[Route] = &[
    // Direct, and through the loader.
    route("by name", &[], "id"),
    route("by path", &[], "/usr/bin/id"),
    route("sh -c", &[], "sh -c id"),
    route("env", &[], "env id"),
    route("env, by path", &[], "env /usr/bin/id"),
    route("the loader", &[], "/lib64/ld-linux-x86-64.so.2 /usr/bin/id"),
    route("the loader by its /usr/lib path", &[], "/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2 /usr/bin/id"),
    route("env runs the loader", &[], "env /lib64/ld-linux-x86-64.so.2 /usr/bin/id"),
    route("env -S", &[], "env -S 'id -u'"),
    // find, xargs.
    route("find -exec", &[], "find . -maxdepth 0 -exec id \\;"),
    route("find -execdir", &[], "find . -maxdepth 0 -execdir id \\;"),
    fed("find -ok", &[], "find . -maxdepth 0 -ok id \\;", "y\n"),
    route("find -exec the loader", &[], "find . -maxdepth 0 -exec /lib64/ld-linux-x86-64.so.2 /usr/bin/id \\;"),
    route("find -exec env", &[], "find /usr/bin/id -exec env {} \\;"),
    route("xargs", &[], "ls -d . | xargs id"),
    route("xargs env, names from ls", &[], "ls -d /usr/bin/id | xargs env"),
    route("xargs -I env", &[], "ls -d /usr/bin/id | xargs -I{} env {}"),
    route("xargs -a env", &[LIST], "xargs -a list env"),
    route("xargs env, names from a file", &[LIST], "xargs env < list"),
    route("xargs env runs the loader", &[LOADER_LIST], "xargs env < list"),
    route("xargs with no command (echo) from a file", &[LIST], "xargs -a list -I{} env {}"),
    // Copies: unreadable, and noexec where they would land.
    route("a copy by cat", &[], "cat /usr/bin/id > idcopy; env ./idcopy"),
    route("a copy by tar", &[], "tar -cf id.tar -C /usr/bin id && tar -xf id.tar && env ./id"),
    route("a copy run by the loader", &[], "cat /usr/bin/id > idcopy; env /lib64/ld-linux-x86-64.so.2 ./idcopy"),
    Route {
        name: "a copy of an allowed program, from a writable root",
        setup: &[],
        attack: ("cat /usr/bin/ls > lscopy; env /lib64/ld-linux-x86-64.so.2 ./lscopy -d /usr/bin/id", ""),
        control: false,
    },
    // Symbolic links in a writable root.
    route("a link to id", &[LINK_TO_ID], "./lnk"),
    route("a link to id through env", &[LINK_TO_ID], "env ./lnk"),
    route("a link to id by its absolute path", &[LINK_TO_ID], "@DIR@/lnk"),
    fed(
        "a link judged as ls, replaced by a link to id within the command",
        &[LINK_TO_LS],
        "tar -x && ./lnk",
        "LINK:/usr/bin/id",
    ),
    fed(
        "a link judged as ls by its absolute path, then replaced",
        &[LINK_TO_LS],
        "tar -x && @DIR@/lnk",
        "LINK:/usr/bin/id",
    ),
    // tar.
    route("tar --to-command", &[LIST], "tar -cf l.tar list && tar -xf l.tar --to-command=id"),
    route("tar --checkpoint-action", &[LIST], "tar -cf /dev/null --checkpoint=1 --checkpoint-action=exec=id list"),
    route("tar -I", &[LIST], "tar -I id -cf l.tar list"),
    route("tar --use-compress-program", &[LIST], "tar --use-compress-program=id -cf l.tar list"),
    route("tar, bundled I", &[LIST], "tar cIf id l.tar list"),
    route("tar --info-script", &[LIST], "tar -cf l.tar -L 1 --info-script=id list"),
    route("tar TAR_OPTIONS", &[LIST], "env TAR_OPTIONS=--to-command=id tar -xf l.tar"),
    // awk and sed.
    route("awk system", &[], "awk 'BEGIN { system(\"id\") }'"),
    route("awk print to a pipe", &[], "awk 'BEGIN { print \"\" | \"id\" }'"),
    route("awk getline from a pipe", &[], "awk 'BEGIN { \"id\" | getline x; print x }'"),
    route("awk system, the loader", &[], "awk 'BEGIN { system(\"/lib64/ld-linux-x86-64.so.2 /usr/bin/id\") }'"),
    route("awk -f, a program from a file", &[("cat > p.awk", "BEGIN { system(\"id\") }\n")], "awk -f p.awk"),
    route(
        "awk -f, the loader",
        &[("cat > p.awk", "BEGIN { system(\"/lib64/ld-linux-x86-64.so.2 /usr/bin/id\") }\n")],
        "awk -f p.awk",
    ),
    route("awk, a command built from strings", &[], "awk 'BEGIN { c = \"i\" \"d\"; system(c) }'"),
    route("awk, a command read from input", &[LIST], "awk '{ system($0) }' list"),
    route("awk, a regular expression holding a quote", &[], "awk '/\"/ { } BEGIN { system(\"id\") }'"),
    route("sed e", &[LIST], "sed -n '1e id' list"),
    route("sed s///e", &[LIST], "sed 's/.*/id/e' list"),
    route("sed -f, a script from a file", &[LIST, ("cat > s.sed", "1e /usr/bin/id\n")], "sed -n -f s.sed list"),
    route("sed e, the loader", &[LIST], "sed -n '1e /lib64/ld-linux-x86-64.so.2 /usr/bin/id' list"),
    route("sed, the command read from input", &[LIST], "sed -n 'e' list"),
    // git: options on the command line.
    route("git -c alias", &[], "git -c alias.x='!id' x"),
    route("git --config-env", &[], "env X='!id' git --config-env=alias.x=X x"),
    route("git -c core.pager", &[COMMIT], "git -c core.pager=id -p log"),
    route("git --exec-path", &[], "git --exec-path=. x"),
    route("git ls-remote --upload-pack", &[COMMIT], "git ls-remote --upload-pack=id ."),
    route("git clone -u", &[COMMIT], "git clone -q -u id . copy"),
    route("git grep -O", &[GREP], "git grep -Oid one"),
    route("git grep --open-files-in-pager", &[GREP], "git grep --open-files-in-pager=id one"),
    // git: the environment.
    route("GIT_SSH_COMMAND", &[], "env GIT_SSH_COMMAND=id git ls-remote ssh://example.invalid/x"),
    route("GIT_EXTERNAL_DIFF", &[IDENTITY, CHANGE], "env GIT_EXTERNAL_DIFF=id git diff HEAD"),
    route("GIT_CONFIG_GLOBAL", &[("cat > cfg", "[alias]\n\tx = !id\n")], "env GIT_CONFIG_GLOBAL=cfg git x"),
    route("GIT_CONFIG_COUNT", &[], "env GIT_CONFIG_COUNT=1 GIT_CONFIG_KEY_0=alias.x GIT_CONFIG_VALUE_0='!id' git x"),
    route("HOME and a .gitconfig", &[("cat > .gitconfig", "[alias]\n\tx = !id\n")], "env HOME=. git x"),
    route(
        "XDG_CONFIG_HOME",
        &[("git init -q c && cat > c/config", "[alias]\n\tx = !id\n")],
        "env XDG_CONFIG_HOME=. git --no-pager x",
    ),
    route(
        "GIT_DIR",
        &[("git init -q --bare b.git && cd b.git && git config alias.x '!id'", "")],
        "env GIT_DIR=b.git git x",
    ),
    // git: configuration planted by an earlier call.
    route("an alias", &[("git config alias.x '!id'", "")], "git x"),
    route(
        "an alias running the loader",
        &[("git config alias.x '!/lib64/ld-linux-x86-64.so.2 /usr/bin/id'", "")],
        "git x",
    ),
    route("an alias running sh", &[("git config alias.x '!sh -c id'", "")], "git x"),
    route(
        "an alias by include.path",
        &[("cat > inc", "[alias]\n\tx = !id\n"), ("git config include.path ../inc", "")],
        "git x",
    ),
    route("core.editor", &[IDENTITY, ("git config core.editor id", "")], "git commit -q --allow-empty"),
    route(
        "core.editor, the loader",
        &[IDENTITY, ("git config core.editor '/lib64/ld-linux-x86-64.so.2 /usr/bin/id'", "")],
        "git commit -q --allow-empty",
    ),
    route("core.fsmonitor", &[IDENTITY, COMMIT, ("git config core.fsmonitor id", "")], "git status"),
    route("diff.external", &[TWO_FILES, ("git config diff.external id", "")], "git diff --no-index a b"),
    route(
        "a textconv driver",
        &[TWO_FILES, ("cat > .gitattributes && git config diff.t.textconv id", "* diff=t\n")],
        "git diff --no-index a b",
    ),
    route(
        "a clean filter",
        &[
            IDENTITY,
            ("cat > .gitattributes && git config filter.f.clean 'id >&2'", "* filter=f\n"),
            ("cat > data", "x\n"),
        ],
        "git add data && git show :data",
    ),
    route(
        "a filter process",
        &[
            IDENTITY,
            ("cat > .gitattributes && git config filter.f.process 'id >&2'", "* filter=f\n"),
            ("cat > data", "x\n"),
        ],
        "git add data",
    ),
    fed(
        "a credential helper",
        &[("git config credential.helper '!id'", "")],
        "git credential fill",
        "protocol=https\nhost=example.invalid\nusername=u\n\n",
    ),
    route("core.sshCommand", &[("git config core.sshCommand id", "")], "git ls-remote ssh://example.invalid/x"),
    route("core.gitProxy", &[("git config core.gitProxy id", "")], "git ls-remote git://example.invalid/x"),
    route("an ext:: remote", &[("git config protocol.ext.allow always", "")], "git ls-remote 'ext::sh -c id% >&2'"),
    route(
        "remote.*.uploadpack",
        &[IDENTITY, COMMIT, ("git config remote.o.url . && git config remote.o.uploadpack id", "")],
        "git fetch -q o",
    ),
    route("gpg.program", &[IDENTITY, ("git config gpg.program id", "")], "git commit -q -S --allow-empty -m signed"),
    route(
        "sequence.editor",
        &[IDENTITY, COMMIT, COMMIT, ("git config sequence.editor id", "")],
        "git rebase -q -i HEAD~1",
    ),
    route("a difftool", &[TWO_FILES, ("git config difftool.t.cmd id", "")], "git difftool -y -t t --no-index a b"),
    // git: hooks planted by an earlier call. A hook in a writable root
    // cannot run even when it is an allowed program (noexec), so these have
    // no control; each is executable (by an archive that carries the mode).
    hook(
        "a pre-commit hook",
        &[IDENTITY, EXECUTABLE_HOOK, ("tar -xf hook.tar -C .git/hooks --transform s/hook/pre-commit/", "")],
        "ls -l .git/hooks/pre-commit && git commit -q --allow-empty -m x",
    ),
    hook(
        "core.hooksPath to a planted hook",
        &[
            IDENTITY,
            EXECUTABLE_HOOK,
            (
                "git config core.hooksPath .git/hooks && tar -xf hook.tar -C .git/hooks --transform s/hook/post-commit/",
                "",
            ),
        ],
        "git commit -q --allow-empty -m x",
    ),
    hook(
        "a hook that names the loader as its interpreter",
        &[
            IDENTITY,
            (
                "cat > hook && tar -cf hook.tar --mode=755 hook && tar -xf hook.tar -C .git/hooks --transform \
                 s/hook/pre-commit/",
                "#!/lib64/ld-linux-x86-64.so.2 /usr/bin/id\n",
            ),
        ],
        "git commit -q --allow-empty -m x",
    ),
];

/// The legitimate uses of the same programs: each must succeed and print
/// what it names.
const TWINS: &[(&str, &[Step], Step, &str)] = &[
    (
        "git init, add, commit, status, log, diff",
        &[IDENTITY],
        (
            "cat > notes && git add notes && git commit -q -m notes && git status --short && git log --oneline && cat /dev/null > notes && git diff --stat",
            "hello\n",
        ),
        "1 file changed",
    ),
    (
        "git, an alias of a git command",
        &[IDENTITY, COMMIT, ("git config alias.st status", "")],
        ("git st --short --branch", ""),
        "## ",
    ),
    (
        "awk, regular and bracket expressions",
        &[],
        ("awk '/^[a-c]+$/ { n++ } $0 ~ /[[:digit:]]/ { d++ } END { print n, d }'", "abc\nx1\nbb\n"),
        "2 1",
    ),
    (
        "awk, comments, strings and a division",
        &[],
        ("awk '# sum | count\n{ s += $1 / 2 } END { print \"sum|\" s }'", "2\n4\n"),
        "sum|3",
    ),
    (
        "tar -x",
        &[("cat > a && tar -cf a.tar a && cat /dev/null > a", "content\n")],
        ("tar -xf a.tar && cat a", ""),
        "content",
    ),
    ("find -name -print", &[("cat > needle", "")], ("find . -name needle -print", ""), "./needle"),
    ("xargs cat", &[("cat > a", "inside\n")], ("ls a | xargs cat", ""), "inside"),
    ("sed", &[], ("sed -n 's/^a/A/p'", "abc\n"), "Abc"),
    ("env, an assignment", &[], ("env GREETING=hi env", ""), "GREETING=hi"),
    ("git, its own helpers", &[IDENTITY, COMMIT], ("git clone -q . copy && ls copy/.git", ""), "HEAD"),
];

struct Served {
    daemon: Daemon,
}

fn serve(mode: Mode) -> Served {
    let dir = fresh_dir("allowlist", 0o755);
    let narrowed = format!("allowed_commands = {ALLOWED:?}");
    let tokens = tokens_file(&dir, &[("agent", AGENT, &narrowed), ("control", CONTROL, "")]);
    let mut command = mode.command();
    command.env("MCP_TOKENS_FILE", &tokens).env("MCP_ALLOWED_COMMANDS", format!("{},id", ALLOWED.join(",")));
    let daemon = Daemon::launch_command(command, &[("MCP_DEFAULT_TIMEOUT", "20s")], &[]);
    Served { daemon }
}

/// What one call gave: refused by the policy (with its reason), or what
/// the command printed.
#[derive(Debug)]
enum Outcome {
    Refused(String),
    Ran { exit: i64, output: String },
}

impl Served {
    fn call(&self, token: &str, (command, stdin): (&str, &str), dir: &str) -> Outcome {
        let command = if command.contains("@DIR@") {
            command.replace("@DIR@", &format!("{}/{dir}", self.workspace(token)))
        } else {
            command.to_string()
        };
        let mut arguments = json!({ "command": command, "working_directory": dir });
        if let Some(target) = stdin.strip_prefix("LINK:") {
            arguments["stdin"] = link_archive("lnk", target).into();
        } else if !stdin.is_empty() {
            arguments["stdin"] = stdin.into();
        }
        let result = self.daemon.call_tool_as(token, "execute_command", arguments);
        let structured = &result["structuredContent"];
        let text = |key: &str| structured[key].as_str().unwrap_or_default().to_string();
        let error = text("error");
        if error.contains("command refused by policy") {
            return Outcome::Refused(error);
        }
        let message = result["content"][0]["text"].as_str().unwrap_or_default();
        if message.contains("command refused by policy") {
            return Outcome::Refused(message.to_string());
        }
        Outcome::Ran {
            exit: structured["exit_code"].as_i64().unwrap_or(-1),
            output: text("stdout") + &text("stderr") + &error,
        }
    }

    fn workspace(&self, token: &str) -> String {
        let info = self.daemon.call_tool_as(token, "get_shell_info", json!({}));
        info["structuredContent"]["working_directory"].as_str().unwrap().to_string()
    }

    /// Makes the route's directory, runs its steps and then its attack.
    fn attempt(&self, token: &str, dir: &str, setup: &[Step], attack: Step) -> Outcome {
        match self.call(token, (&format!("git init -q {dir}"), ""), ".") {
            Outcome::Ran { exit: 0, .. } => {}
            other => panic!("git init {dir}: {other:?}"),
        }
        for step in setup {
            match self.call(token, *step, dir) {
                Outcome::Ran { exit: 0, .. } => {}
                refused @ Outcome::Refused(_) => return refused,
                failed => panic!("the step {:?} failed: {failed:?}", step.0),
            }
        }
        self.call(token, attack, dir)
    }
}

/// A tar archive holding one symbolic link, `name` to `target`, as text
/// (every byte is ASCII or NUL).
fn link_archive(name: &str, target: &str) -> String {
    let mut header = [0u8; 512];
    let mut put = |at: usize, text: &str| header[at..at + text.len()].copy_from_slice(text.as_bytes());
    put(0, name);
    put(100, "0000777");
    put(108, "0000000");
    put(116, "0000000");
    put(124, "00000000000");
    put(136, "00000000000");
    put(148, "        ");
    put(156, "2");
    put(157, target);
    put(257, "ustar");
    put(263, "00");
    let sum: u32 = header.iter().map(|b| u32::from(*b)).sum();
    let checksum = format!("{sum:06o}\0 ");
    header[148..156].copy_from_slice(checksum.as_bytes());
    let mut archive = header.to_vec();
    archive.extend([0u8; 1024]);
    String::from_utf8(archive).unwrap()
}

/// Whether `id` ran: its output, or its own complaint about the
/// arguments a route gave it (`id: 'x': no such user`), not the shell's
/// or git's report that it could not be run.
fn ran_id(outcome: &Outcome) -> bool {
    let Outcome::Ran { output, .. } = outcome else { return false };
    // git before 2.40 (the image's 2.39) keeps its signing program's stderr,
    // where `id` complains of git's options, to itself: that git got as far
    // as a failed signature, with no error starting the program, shows
    // that `id` ran.
    let signed_by_id = output.contains("gpg failed to sign the data")
        && !["cannot exec", "cannot run", "Permission denied", "No such file"].iter().any(|m| output.contains(m));
    signed_by_id
        || output.contains("uid=")
        || output.lines().any(|line| {
            (line.starts_with("id: ") || line.starts_with("/usr/bin/id: "))
                && !["Permission denied", "not found", "error while loading"].iter().any(|m| line.contains(m))
        })
}

fn check_corpus(mode: Mode) {
    let served = serve(mode);
    let mut kernel = 0;
    let mut policy = 0;
    let mut failures = Vec::new();
    for (index, route) in ROUTES.iter().enumerate() {
        let dir = format!("r{index}");
        let outcome = served.attempt(AGENT, &dir, route.setup, route.attack);
        if ran_id(&outcome) {
            failures.push(format!("route '{}' ran id: {outcome:?}", route.name));
            continue;
        }
        match &outcome {
            Outcome::Refused(reason) => {
                policy += 1;
                eprintln!("[{}] refused by the policy: {reason}", route.name);
            }
            Outcome::Ran { output, .. } => {
                kernel += 1;
                eprintln!("[{}] refused by the kernel: {}", route.name, output.trim().replace('\n', " | "));
                let signs =
                    ["Permission denied", "cannot open shared object", "ignored because it's not set as executable"];
                if !signs.iter().any(|m| output.contains(m)) {
                    failures.push(format!("route '{}' gave no sign of a refusal: {output}", route.name));
                }
                if route.control {
                    // Where a program writes to `id`, which reads nothing,
                    // whether `id` gets to print first is a race: up to
                    // three tries, each in a directory of its own.
                    let mut control = served.attempt(CONTROL, &dir, route.setup, route.attack);
                    for again in 1..3 {
                        if ran_id(&control) {
                            break;
                        }
                        control = served.attempt(CONTROL, &format!("{dir}-{again}"), route.setup, route.attack);
                    }
                    if !ran_id(&control) {
                        failures.push(format!(
                            "route '{}' is not real: with id allowed it does not run it either ({control:?})",
                            route.name
                        ));
                    }
                }
            }
        }
    }
    eprintln!("{}: {} routes: {policy} refused by the policy, {kernel} by the kernel", mode.name(), ROUTES.len());
    for (name, setup, step, expected) in TWINS {
        let dir = format!("t{}", name.len());
        let outcome = served.attempt(AGENT, &dir, setup, *step);
        match &outcome {
            Outcome::Ran { exit: 0, output } if output.contains(expected) => {}
            other => failures.push(format!("twin '{name}' failed: {other:?}")),
        }
    }
    assert!(failures.is_empty(), "{}:\n{}", mode.name(), failures.join("\n"));
    assert!(kernel >= 20, "{}: only {kernel} routes reach the kernel: the corpus no longer tests it", mode.name());
}

#[test]
fn the_corpus_is_large() {
    assert!(ROUTES.len() >= 60, "{} routes", ROUTES.len());
}

#[test]
fn no_route_from_an_allowed_program_runs_one_that_is_not_on_the_host() {
    check_corpus(Mode::Host);
}

#[test]
fn no_route_from_an_allowed_program_runs_one_that_is_not_in_the_image_mode() {
    check_corpus(Mode::Image);
}

#[test]
fn the_daemon_says_how_many_programs_are_out_of_reach() {
    let served = serve(Mode::Host);
    let logged = eventually(Duration::from_secs(5), || {
        served.daemon.log.lock().unwrap().iter().any(|line| line.contains("allowlist: programs beneath the read paths"))
    });
    assert!(logged, "{:?}", served.daemon.log.lock().unwrap());
}

/// `mcp-commander run` as root on the host, in a mount namespace where
/// `dir` is a `noexec` bind mount of the root filesystem's own directory,
/// with the read paths `/` and then `dir`.
fn run_beside_a_noexec_view(allowed: &str, command: &str) -> String {
    let dir = fresh_dir("noexec-view", 0o755);
    let script = "mount --bind \"$0\" \"$0\" && mount -o remount,bind,noexec \"$0\" \"$0\" && \
                  MCP_READ_PATHS=/,\"$0\" exec \"$1\" run -- \"$2\"";
    let output = std::process::Command::new("unshare")
        .args(["--mount", "--propagation", "private", "--", "sh", "-c", script])
        .arg(&dir)
        .arg(env!("CARGO_BIN_EXE_mcp-commander"))
        .arg(command)
        .env("MCP_ALLOWED_COMMANDS", allowed)
        .env("MCP_LOG_LEVEL", "error")
        .current_dir("/tmp")
        .output()
        .expect("unshare");
    String::from_utf8_lossy(&output.stdout).into_owned() + &String::from_utf8_lossy(&output.stderr)
}

#[test]
fn a_noexec_view_of_a_filesystem_does_not_keep_its_programs_from_the_search() {
    let attack = "git init -q s && cd s && git config alias.e '!/lib64/ld-linux-x86-64.so.2 /usr/bin/id' && git e";
    let output = run_beside_a_noexec_view(&ALLOWED.join(","), attack);
    assert!(!output.contains("uid="), "the loader ran id: {output}");
    assert!(output.contains("cannot open shared object file: Permission denied"), "{output}");
    // The control: with id allowed, the same route runs it.
    let control = run_beside_a_noexec_view(&format!("{},id", ALLOWED.join(",")), attack);
    assert!(control.contains("uid="), "{control}");
}
