//! What a parsed command string can do: every simple command with its
//! words, assignments and standard input, the redirections that write, the
//! functions it defines and the constructs that cannot be judged. The
//! [`super::walker`] fills it in; the judge and the blocklist read it.

use super::super::word::Word;

/// One simple command.
#[derive(Debug, Clone, Default)]
pub(crate) struct Invocation {
    /// Leading `NAME=value` words.
    pub(crate) assignments: Vec<(String, Word)>,
    /// The command word and its arguments.
    pub(crate) words: Vec<Word>,
    /// The body of a here-document or here-string on its standard input.
    pub(crate) stdin: Option<Word>,
    /// The command as written, for messages.
    pub(crate) source: String,
}

/// A redirection that opens a file for writing.
#[derive(Debug, Clone)]
pub(crate) struct OutputRedirect {
    pub(crate) target: Word,
    /// The redirection as written, for messages.
    pub(crate) source: String,
}

/// Everything a command string can do, as far as it can be known
/// before it runs.
#[derive(Debug, Default)]
pub(crate) struct Script {
    /// Every simple command, in source order, substitutions and function
    /// bodies included.
    pub(crate) commands: Vec<Invocation>,
    /// Every redirection that writes a file.
    pub(crate) output_redirects: Vec<OutputRedirect>,
    /// Names of the functions the script defines.
    pub(crate) functions: Vec<String>,
    /// Constructs that cannot be judged statically, described for the
    /// refusal message.
    pub(crate) unjudgeable: Vec<String>,
    /// Bash-only constructs that `sh` (dash) reads differently: judged
    /// as parsed when the shell is bash, unjudgeable otherwise.
    pub(crate) unjudgeable_in_sh: Vec<String>,
    /// The first construct through which bash evaluates a variable's text
    /// as an expression (arithmetic on variables, `${!x}`, `[[ -eq ]]`,
    /// `read 'a[…]'`), running any `$(…)` hidden in an array subscript.
    pub(crate) bash_evaluation: Option<String>,
    /// Calls made inside function bodies: (caller, callee, whether in a
    /// pipeline or in the background).
    pub(super) calls: Vec<(String, String, bool)>,
}

impl Script {
    /// A function that, directly or through others, calls itself in a
    /// pipeline or in the background: a fork bomb, whatever its name.
    pub(crate) fn fork_bomb(&self) -> Option<&str> {
        let reaches = |from: &str, to: &str| {
            let mut seen = vec![from];
            let mut index = 0;
            while index < seen.len() {
                if seen[index] == to {
                    return true;
                }
                for (caller, callee, _) in &self.calls {
                    if caller == seen[index] && !seen.contains(&callee.as_str()) {
                        seen.push(callee);
                    }
                }
                index += 1;
            }
            false
        };
        self.calls
            .iter()
            .find(|(caller, callee, spawned)| *spawned && self.functions.contains(callee) && reaches(callee, caller))
            .map(|(caller, _, _)| caller.as_str())
    }
}
