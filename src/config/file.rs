//! The optional TOML configuration file (`--config` / `MCP_CONFIG`).
//!
//! Keys are the long option names with underscores (`default_timeout`,
//! `allowed_commands`, ...): every setting of `settings.rs` but the
//! secrets and `config` itself; sandbox keys may also sit in a `[sandbox]`
//! table. Values may be strings, numbers, booleans or arrays (joined with
//! commas), so the file reads naturally. The file only fills settings that
//! no flag or variable set: flag, then environment, then file, then default.

use toml::{Table, Value};

use super::cli::RawSettings;

/// Fills the unset fields of `raw` from the file at `path`.
pub(crate) fn apply(raw: &mut RawSettings, path: &str) -> Result<(), String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("--config / MCP_CONFIG: cannot read {path}: {e}"))?;
    let table: Table = text.parse().map_err(|e| format!("--config / MCP_CONFIG: {path} is not valid TOML: {e}"))?;
    for (key, value) in &table {
        match (key.as_str(), value) {
            ("sandbox", Value::Table(sandbox)) => {
                for (key, value) in sandbox {
                    set(raw, key, value, path)?;
                }
            }
            _ => set(raw, key, value, path)?,
        }
    }
    Ok(())
}

fn set(raw: &mut RawSettings, key: &str, value: &Value, path: &str) -> Result<(), String> {
    let text = as_text(value).ok_or_else(|| format!("{path}: '{key}' must be a string, number, boolean or array"))?;
    if key == "auth_token" {
        return Err(format!("{path}: 'auth_token' is not read from files; set MCP_AUTH_TOKEN from a secret instead"));
    }
    let slot =
        raw.file_slot(key).ok_or_else(|| format!("{path}: unknown setting '{key}' (see mcp-commander --help)"))?;
    if slot.is_none() {
        *slot = Some(text);
    }
    Ok(())
}

fn as_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Integer(i) => Some(i.to_string()),
        Value::Float(f) => Some(f.to_string()),
        Value::Boolean(b) => Some(b.to_string()),
        Value::Array(items) => items.iter().map(as_text).collect::<Option<Vec<_>>>().map(|v| v.join(",")),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(text: &str) -> tempfile::NamedTempFile {
        let file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(file.path(), text).unwrap();
        file
    }

    #[test]
    fn file_values_fill_only_unset_settings() {
        let file = write(
            "default_timeout = \"45s\"\nport = 4000\nallowed_commands = [\"ls\", \"git status\"]\n\
             [sandbox]\nrequire = 1\nwritable_roots = [\"/srv/work\"]\nrlimit_nproc = 64\n"
                .replace("require = 1\n", "")
                .as_str(),
        );
        let mut raw = RawSettings { port: Some("5000".into()), ..RawSettings::default() };
        apply(&mut raw, file.path().to_str().unwrap()).unwrap();
        assert_eq!(raw.port.as_deref(), Some("5000"), "the variable wins over the file");
        assert_eq!(raw.default_timeout.as_deref(), Some("45s"));
        assert_eq!(raw.allowed_commands.as_deref(), Some("ls,git status"));
        assert_eq!(raw.writable_roots.as_deref(), Some("/srv/work"));
        assert_eq!(raw.rlimit_nproc.as_deref(), Some("64"));
    }

    #[test]
    fn unknown_keys_and_tokens_are_refused() {
        let file = write("colour = \"blue\"\n");
        let error = apply(&mut RawSettings::default(), file.path().to_str().unwrap()).unwrap_err();
        assert!(error.contains("colour"));
        let file = write("auth_token = \"x\"\n");
        let error = apply(&mut RawSettings::default(), file.path().to_str().unwrap()).unwrap_err();
        assert!(error.contains("MCP_AUTH_TOKEN"));
        for key in ["audit_hmac_key", "config"] {
            let file = write(&format!("{key} = \"x\"\n"));
            let error = apply(&mut RawSettings::default(), file.path().to_str().unwrap()).unwrap_err();
            assert!(error.contains("unknown setting"), "{error}");
        }
    }

    #[test]
    fn the_file_accepts_every_setting_but_the_secrets_and_itself() {
        let settings = crate::config::settings::SETTINGS;
        let refused: Vec<&str> = settings.iter().filter(|s| !s.file).map(|s| s.name).collect();
        assert_eq!(refused, ["auth_token", "audit_hmac_key", "config"]);
        for key in settings.iter().filter(|s| s.file).map(|s| s.name) {
            let mut raw = RawSettings::default();
            raw.file_slot(key).unwrap_or_else(|| panic!("{key} has no slot")).replace("1".into());
            assert!(format!("{raw:?}").contains(&format!(" {key}: Some(\"1\")")), "{key} fills another field");
        }
    }
}
