//! The `resolved!` macro: a resolved struct (`Config`, `Limits`) written as
//! one list of fields, each with its type, its doc and the expression that
//! computes it, so a resolved setting is declared in one place.
//!
//! ```text
//! resolved! {
//!     #[derive(Debug, Clone)]
//!     pub(crate) struct Limits;
//!     pub(crate) fn resolve(raw: &RawSettings);
//!
//!     /// Commands running at once.
//!     max_commands: usize = raw.max_concurrent_commands().get()?;
//!     let () = a_check(max_commands)?;
//! }
//! ```
//!
//! generates the struct (every field `pub(crate)`) and the function, which
//! computes the fields in the order written, so an expression may use the
//! fields above it (and the function's arguments), and `?` returns the
//! first error. A `let` line is a step that is no field: a value several
//! fields use, or a check across fields.

macro_rules! resolved {
    (
        $(#[$meta:meta])*
        pub(crate) struct $name:ident;
        $(#[$fn_meta:meta])*
        pub(crate) fn $resolve:ident($($args:tt)*);
        $($entries:tt)*
    ) => {
        $crate::config::resolved::resolved!(
            @entries [$(#[$meta])* $name] [$(#[$fn_meta])* $resolve ($($args)*)] [] [] [] $($entries)*
        );
    };
    (@entries $head:tt $fun:tt [$($decl:tt)*] [$($field:ident)*] [$($body:tt)*]
        let $local:pat = $value:expr; $($rest:tt)*
    ) => {
        $crate::config::resolved::resolved!(
            @entries $head $fun [$($decl)*] [$($field)*] [$($body)* let $local = $value;] $($rest)*
        );
    };
    (@entries $head:tt $fun:tt [$($decl:tt)*] [$($field:ident)*] [$($body:tt)*]
        $(#[doc = $doc:literal])* $new:ident: $ty:ty = $value:expr; $($rest:tt)*
    ) => {
        $crate::config::resolved::resolved!(
            @entries $head $fun
            [$($decl)* $(#[doc = $doc])* pub(crate) $new: $ty,]
            [$($field)* $new]
            [$($body)* let $new: $ty = $value;]
            $($rest)*
        );
    };
    (@entries
        [$(#[$meta:meta])* $name:ident] [$(#[$fn_meta:meta])* $resolve:ident ($($args:tt)*)]
        [$($decl:tt)*] [$($field:ident)*] [$($body:tt)*]
    ) => {
        $(#[$meta])*
        pub(crate) struct $name {
            $($decl)*
        }

        $(#[$fn_meta])*
        pub(crate) fn $resolve($($args)*) -> Result<$name, String> {
            $($body)*
            Ok($name { $($field),* })
        }
    };
}

pub(crate) use resolved;
