//! The machinery behind the settings table (`settings.rs`): what one
//! declared setting is ([`Spec`]), how its text becomes a typed value
//! ([`Kind`] and the kinds below), and the `settings!` macro that turns
//! each declaration into a clap argument (long flag, `MCP_*` variable,
//! help), a TOML key of the configuration file and a typed accessor.
//!
//! As in ripgrep's `flags/defs.rs`, one definition per setting drives
//! parsing and documentation; unlike ripgrep, clap's derive still renders
//! the help from the doc comments, and [`with_default`] adds the declared
//! default to it.

use std::marker::PhantomData;
use std::time::Duration;

use clap::builder::{Resettable, ValueRange};

use super::parse::{parse_bool, parse_bytes, parse_number, parse_timeout, split_list};
use super::settings::SETTINGS;

/// What the table declares about one setting, besides its help text.
#[derive(Debug)]
pub(crate) struct Spec {
    /// The field name, which is also the TOML key; the flag is it with
    /// dashes for underscores.
    pub(crate) name: &'static str,
    /// The `MCP_*` environment variable.
    pub(crate) env: &'static str,
    /// The lines of the help, as written in the table.
    pub(crate) help: &'static [&'static str],
    /// The value used when the setting is unset (and, for every kind but
    /// [`Text`], blank), written as an operator would write it, parsed like
    /// the operator's text and shown in the help as `[default: ...]`.
    pub(crate) default: Option<&'static str>,
    /// The accepted forms quoted by a numeric kind's error message.
    pub(crate) forms: Option<&'static str>,
    /// Whether the configuration file may set it (never for secrets).
    pub(crate) file: bool,
}

impl Spec {
    /// The help clap shows: the lines joined, as clap's derive joins the
    /// lines of a paragraph (a setting's help is one paragraph), and the
    /// default.
    fn help_with_default(&self, default: &str) -> String {
        let lines: Vec<&str> = self.help.iter().map(|line| line.trim()).collect();
        format!("{} [default: {default}]", lines.join(" "))
    }

    /// How error messages name the setting: `--max-body-bytes / MCP_MAX_BODY_BYTES`.
    pub(crate) fn label(&self) -> String {
        format!("--{} / {}", self.name.replace('_', "-"), self.env)
    }
}

/// One setting's raw text together with its declaration, as handed out by
/// the accessor `RawSettings::<name>()`.
pub(crate) struct Field<'a, K> {
    /// The text from the flag, the variable or the file, as written.
    pub(crate) text: Option<&'a str>,
    pub(crate) spec: &'static Spec,
    kind: PhantomData<K>,
}

impl<'a, K: Kind> Field<'a, K> {
    pub(crate) fn new(text: Option<&'a str>, spec: &'static Spec) -> Field<'a, K> {
        Field { text, spec, kind: PhantomData }
    }

    /// The validated value, or an error naming the flag and the variable.
    pub(crate) fn get(&self) -> Result<K::Value, String> {
        K::parse(self)
    }

    pub(crate) fn label(&self) -> String {
        self.spec.label()
    }

    /// The trimmed text when it is not blank, else the declared default.
    pub(crate) fn text_or_default(&self) -> Option<&'a str> {
        self.text.map(str::trim).filter(|t| !t.is_empty()).or(self.spec.default)
    }

    /// [`Self::text_or_default`] for a kind that needs a value: a setting
    /// of it without a default is a mistake in the table, which the first
    /// start (and the test of the defaults) reports.
    fn value(&self) -> Result<&'a str, String> {
        self.text_or_default().ok_or_else(|| format!("{} is unset and declares no default", self.label()))
    }
}

/// The type of a setting: its value, how clap takes it, how its text parses.
pub(crate) trait Kind: Sized {
    type Value;
    /// Hidden in the help's `[env: ...]` and never read from the file.
    const SECRET: bool = false;
    /// A switch: the flag alone means `true` (`--allow-udp`).
    const SWITCH: bool = false;
    fn parse(field: &Field<'_, Self>) -> Result<Self::Value, String>;
}

/// For clap, on every argument: the help of a setting with a default ends
/// in `[default: ...]`. (clap's derive reads doc comments, not the default.)
pub(crate) fn with_default(arg: clap::Arg) -> clap::Arg {
    let declared = SETTINGS.iter().find(|spec| spec.name == arg.get_id().as_str());
    match declared.and_then(|spec| Some((spec, spec.default?))) {
        Some((spec, default)) => arg.help(spec.help_with_default(default)),
        None => arg,
    }
}

/// For clap: a switch takes zero or one value; other kinds exactly one.
pub(crate) fn num_args<K: Kind>() -> Resettable<ValueRange> {
    if K::SWITCH { Resettable::Value((0..=1).into()) } else { Resettable::Reset }
}

/// For clap: the value of a switch given without one.
pub(crate) fn missing_value<K: Kind>() -> Option<&'static str> {
    K::SWITCH.then_some("true")
}

/// Text used as written (untrimmed), else the default, else empty; settings
/// whose resolution parses the text itself.
pub(crate) struct Text;

impl Kind for Text {
    type Value = String;
    fn parse(field: &Field<'_, Self>) -> Result<String, String> {
        Ok(field.text.or(field.spec.default).unwrap_or("").to_owned())
    }
}

/// A secret: trimmed, `None` when blank; the help does not show the
/// variable's value, and the file may not set it.
pub(crate) struct Secret;

impl Kind for Secret {
    type Value = Option<String>;
    const SECRET: bool = true;
    fn parse(field: &Field<'_, Self>) -> Result<Option<String>, String> {
        Ok(field.text.map(str::trim).filter(|t| !t.is_empty()).map(str::to_owned))
    }
}

/// A comma-separated list, trimmed, without empty entries.
pub(crate) struct List;

impl Kind for List {
    type Value = Vec<String>;
    fn parse(field: &Field<'_, Self>) -> Result<Vec<String>, String> {
        Ok(split_list(field.text.or(field.spec.default)))
    }
}

/// true/1/yes/on or false/0/no/off; unset or blank is `false` unless
/// the default says otherwise.
pub(crate) struct Bool;

impl Kind for Bool {
    type Value = bool;
    const SWITCH: bool = true;
    fn parse(field: &Field<'_, Self>) -> Result<bool, String> {
        parse_bool(field.text_or_default(), &field.label())
    }
}

/// A positive byte count: 1048576, 512K, 1MiB, 8G.
pub(crate) struct Bytes;

impl Kind for Bytes {
    type Value = usize;
    fn parse(field: &Field<'_, Self>) -> Result<usize, String> {
        parse_bytes(Some(field.value()?), 0, &field.label())
    }
}

/// A positive duration: a Go duration or a number of seconds.
pub(crate) struct Timeout;

impl Kind for Timeout {
    type Value = Duration;
    fn parse(field: &Field<'_, Self>) -> Result<Duration, String> {
        parse_timeout(Some(field.value()?), Duration::ZERO, &field.label())
    }
}

/// A positive duration, or `off` (`None`).
pub(crate) struct TimeoutOrOff;

impl Kind for TimeoutOrOff {
    type Value = Option<Duration>;
    fn parse(field: &Field<'_, Self>) -> Result<Option<Duration>, String> {
        match field.value()? {
            "off" => Ok(None),
            text => parse_timeout(Some(text), Duration::ZERO, &field.label()).map(Some),
        }
    }
}

/// A whole number of type `T`; the error quotes the declared `forms`, or
/// "a whole number".
pub(crate) struct Number<T>(PhantomData<T>);

impl<T: std::str::FromStr> Kind for Number<T> {
    type Value = T;
    fn parse(field: &Field<'_, Self>) -> Result<T, String> {
        let (name, forms) = (field.label(), field.spec.forms.unwrap_or("a whole number"));
        let text = field.value()?;
        text.parse().map_err(|_| format!("invalid value '{text}' for {name}; expected {forms}"))
    }
}

/// A whole number of at least 1.
pub(crate) struct Positive;

impl Kind for Positive {
    type Value = usize;
    fn parse(field: &Field<'_, Self>) -> Result<usize, String> {
        let (name, forms) = (field.label(), "a whole number of at least 1");
        match parse_number(Some(field.value()?), 0, &name, forms)? {
            0 => Err(format!("invalid value '0' for {name}; expected {forms}")),
            value => Ok(value),
        }
    }
}

/// `Some($value)` when given, else `None`.
macro_rules! optional {
    () => {
        None
    };
    ($value:literal) => {
        Some($value)
    };
}

/// `$value` when given, else `true`.
macro_rules! or_true {
    () => {
        true
    };
    ($value:literal) => {
        $value
    };
}

/// Declares every setting once. Each entry is
///
/// ```text
/// /// Help text (clap's derive renders it).
/// name: Kind { env: "MCP_NAME", value: "VALUE-NAME", default: "30s", forms: "...", file: false },
/// ```
///
/// with `default`, `forms` and `file` optional and in that order, and an
/// optional `#[arg(...)]` after the help for a clap attribute of its own. It
/// generates `RawSettings` (one `Option<String>` per setting, the long
/// flag named after the field, the variable, the help followed by
/// `[default: ...]`), the accessor `RawSettings::name()` returning a
/// [`Field`], [`RawSettings::file_slot`] for the configuration file, and
/// `SETTINGS`, every [`Spec`] in order.
macro_rules! settings {
    ($(
        $(#[doc = $doc:literal])*
        $(#[arg($($arg:tt)*)])?
        $name:ident: $kind:ty {
            env: $env:literal, value: $value:literal
            $(, default: $default:literal)? $(, forms: $forms:literal)? $(, file: $file:literal)? $(,)?
        },
    )*) => {
        /// The settings shared by every mode, as unvalidated text: clap fills
        /// them from a flag or else its `MCP_*` variable, the configuration
        /// file fills what is still unset, and `config::resolve` validates.
        #[derive(Debug, Clone, clap::Args, Default)]
        #[command(mut_args = $crate::config::kind::with_default)]
        pub(crate) struct RawSettings {$(
            $(#[doc = $doc])*
            #[arg(
                long,
                env = $env,
                value_name = $value,
                hide_env_values = <$kind as $crate::config::kind::Kind>::SECRET,
                num_args = $crate::config::kind::num_args::<$kind>(),
                default_missing_value = $crate::config::kind::missing_value::<$kind>()
            )]
            $(#[arg($($arg)*)])?
            pub(crate) $name: Option<String>,
        )*}

        /// Every declared setting, in the order of the help.
        pub(crate) const SETTINGS: &[$crate::config::kind::Spec] = &[$(
            $crate::config::kind::Spec {
                name: stringify!($name),
                env: $env,
                help: &[$($doc),*],
                default: $crate::config::kind::optional!($($default)?),
                forms: $crate::config::kind::optional!($($forms)?),
                file: $crate::config::kind::or_true!($($file)?)
                    && !<$kind as $crate::config::kind::Kind>::SECRET,
            },
        )*];

        /// The declaration of the setting `name`, which is in the table.
        fn spec(name: &str) -> &'static $crate::config::kind::Spec {
            SETTINGS.iter().find(|spec| spec.name == name).expect("every field is declared")
        }

        // A setting whose resolution reads its text directly does not call
        // its accessor.
        #[allow(dead_code)]
        impl RawSettings {
            $(
                pub(crate) fn $name(&self) -> $crate::config::kind::Field<'_, $kind> {
                    $crate::config::kind::Field::new(self.$name.as_deref(), spec(stringify!($name)))
                }
            )*

            /// The field the file's `key` fills, if the file may set it.
            pub(crate) fn file_slot(&mut self, key: &str) -> Option<&mut Option<String>> {
                match SETTINGS.iter().find(|spec| spec.name == key && spec.file)?.name {
                    $(stringify!($name) => Some(&mut self.$name),)*
                    _ => None,
                }
            }
        }
    };
}

pub(crate) use {optional, or_true, settings};
