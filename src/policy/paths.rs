//! Path arithmetic for the policy, done on text: `/.`, `//` and `/tmp/..`
//! are `/`; a relative path joins the directory a command runs in, which
//! follows the literal `cd` commands before it.

use std::path::{Component, Path, PathBuf};

use super::word::Word;

/// Removes `.`, `..` and repeated slashes without touching the disk.
pub(crate) fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::RootDir => out.push("/"),
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            Component::Normal(part) => out.push(part),
            Component::Prefix(_) => {}
        }
    }
    if out.as_os_str().is_empty() && path.is_absolute() {
        out.push("/");
    }
    out
}

/// The working directory after `words` ran, when it is still known.
pub(crate) fn after_cd(cwd: Option<PathBuf>, words: &[Word]) -> Option<PathBuf> {
    let Some(program) = words.first() else {
        return cwd;
    };
    if !["cd", "pushd", "popd"].contains(&program.text.as_str()) {
        return cwd;
    }
    let target = words[1..].iter().find(|w| !w.text.starts_with('-') || w.text == "-")?;
    if program.text != "cd" || !target.is_static() || target.text == "-" {
        return None;
    }
    let path = Path::new(&target.text);
    if path.is_absolute() { Some(normalize(path)) } else { cwd.map(|cwd| normalize(&cwd.join(path))) }
}

/// Whether `path` lies below one of `roots` (or is one), after resolving
/// what exists of it; `/dev/stdout`, `/dev/stderr` and `/dev/fd/N` name
/// descriptors, not files.
pub(crate) fn within(path: &Path, roots: &[PathBuf]) -> bool {
    let lexical = normalize(path);
    let descriptor = ["/dev/stdout", "/dev/stderr", "/dev/stdin"].iter().any(|d| lexical == Path::new(d))
        || lexical.starts_with("/dev/fd")
        || lexical.starts_with("/proc/self/fd");
    if descriptor {
        return true;
    }
    let physical = resolve_existing(&lexical);
    roots.iter().any(|root| {
        let root = normalize(root);
        lexical.starts_with(&root) && physical.starts_with(std::fs::canonicalize(&root).unwrap_or(root.clone()))
    })
}

/// Whether `path`, as written or wherever what exists of it leads, lies
/// below one of `roots` (or is one).
pub(crate) fn reaches_into(path: &Path, roots: &[PathBuf]) -> bool {
    let lexical = normalize(path);
    let parent_real = lexical.parent().map(resolve_existing);
    roots.iter().any(|root| {
        let root = normalize(root);
        let real_root = std::fs::canonicalize(&root).unwrap_or(root.clone());
        lexical.starts_with(&root)
            || parent_real.as_ref().is_some_and(|p| p.starts_with(&real_root))
            || resolve_existing(&lexical).starts_with(&real_root)
    })
}

/// Canonicalizes the longest existing ancestor of `path` and appends the
/// rest, so a symlinked directory counts where it points.
fn resolve_existing(path: &Path) -> PathBuf {
    let mut existing = path.to_path_buf();
    let mut rest = Vec::new();
    loop {
        if let Ok(real) = std::fs::canonicalize(&existing) {
            let mut out = real;
            out.extend(rest.iter().rev());
            return out;
        }
        match (existing.file_name().map(|n| n.to_os_string()), existing.parent()) {
            (Some(name), Some(parent)) => {
                rest.push(name);
                existing = parent.to_path_buf();
            }
            _ => return path.to_path_buf(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spellings_of_the_root_normalize_to_it() {
        for path in ["/", "//", "/.", "/./", "/tmp/..", "/../.."] {
            assert_eq!(normalize(Path::new(path)), PathBuf::from("/"), "{path}");
        }
        assert_eq!(normalize(Path::new("/a//b/./c/../d")), PathBuf::from("/a/b/d"));
    }

    #[test]
    fn cd_moves_the_known_directory() {
        let start = Some(PathBuf::from("/srv/work"));
        let cd = |arg: &str| vec![Word::literal("cd"), Word::literal(arg)];
        assert_eq!(after_cd(start.clone(), &cd("/")), Some(PathBuf::from("/")));
        assert_eq!(after_cd(start.clone(), &cd("../..")), Some(PathBuf::from("/")));
        assert_eq!(after_cd(start.clone(), &cd("-")), None);
        assert_eq!(after_cd(start.clone(), &[Word::literal("ls")]), start);
    }

    #[test]
    fn a_program_path_reaches_into_a_root_as_written_or_through_links() {
        let dir = tempfile::tempdir().unwrap();
        let root = std::fs::canonicalize(dir.path()).unwrap();
        std::os::unix::fs::symlink("/bin/sh", root.join("lnk")).unwrap();
        std::os::unix::fs::symlink(&root, root.join("back")).unwrap();
        let roots = vec![root.clone()];
        assert!(reaches_into(&root.join("lnk"), &roots), "a link in a root, whatever it points to");
        assert!(reaches_into(&root.join("back/lnk"), &roots));
        assert!(!reaches_into(Path::new("/bin/sh"), &roots));
    }

    #[test]
    fn writes_must_land_below_a_root() {
        let roots = vec![PathBuf::from("/tmp"), PathBuf::from("/dev/null")];
        assert!(within(Path::new("/tmp/x/y"), &roots));
        assert!(within(Path::new("/dev/null"), &roots));
        assert!(within(Path::new("/dev/stderr"), &roots));
        assert!(!within(Path::new("/tmp/../etc/passwd"), &roots));
        assert!(!within(Path::new("/etc/passwd"), &roots));
        assert!(!within(Path::new("/dev/nullx"), &roots));
    }
}
