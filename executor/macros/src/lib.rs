//! `#[loopwork::main]` and `#[loopwork::test]`: run an `async fn` on a
//! loopwork event loop.
//!
//! Use them through `loopwork` (its default `macros` feature re-exports
//! them), not from this crate directly:
//!
//! ```
//! #[loopwork::main(workers = 2)]
//! async fn main() {
//!     let task = loopwork::spawn(async { 6 * 7 });
//!     assert_eq!(task.await.unwrap(), 42);
//! }
//! ```
//!
//! The attribute arguments are parsed by hand from the token stream, so the
//! crate has no dependencies: a server that takes loopwork with its default
//! features pays for no parser crates at build time.

#![doc(test(attr(deny(warnings))))]

use proc_macro::{Delimiter, Group, Ident, Literal, Punct, Spacing, Span, TokenStream, TokenTree};
use std::str::FromStr;

/// Runs an `async fn main` on a new loopwork event loop, as
/// `loopwork::run` does: the loop is built, drives the body with
/// `EventLoop::block_on` on the main thread, and is closed when the body
/// returns (tasks still running are cancelled).
///
/// Options:
/// - `workers = N`: the number of worker threads (default: one per CPU).
/// - `strict`: no worker threads (`workers = 0`): every task runs on the
///   main thread in asyncio's exact FIFO order.
///
/// # Examples
///
/// ```
/// #[loopwork::main(strict)]
/// async fn main() -> Result<(), std::num::ParseIntError> {
///     let order = loopwork::spawn(async { "7".parse::<u32>() }).await.unwrap()?;
///     assert_eq!(order, 7);
///     Ok(())
/// }
/// ```
///
/// Misuse is a compile error pointing at the offending code:
///
/// ```compile_fail
/// #[loopwork::main]
/// fn main() {} // not async
/// ```
///
/// ```compile_fail
/// #[loopwork::main(strict, workers = 4)] // strict already means no workers
/// async fn main() {}
/// ```
///
/// ```compile_fail
/// #[loopwork::main(paused_clock)] // a test-only option
/// async fn main() {}
/// ```
///
/// # Panics
///
/// The generated `main` panics if the OS refuses to start the worker
/// threads.
#[proc_macro_attribute]
pub fn main(args: TokenStream, item: TokenStream) -> TokenStream {
    expand(Entry::Main, args, item)
}

/// Runs an `async fn` test on its own loopwork event loop; the test fails
/// if the body panics or returns `Err`.
///
/// Options:
/// - `workers = N`: the number of worker threads (default: one per CPU).
/// - `strict`: no worker threads (`workers = 0`).
/// - `paused_clock`: the loop's virtual clock (`Builder::paused_clock`):
///   timers fire as soon as every task waits, so timeouts test in
///   milliseconds.
/// - `chaos_seeds = N`: schedule exploration. The body runs N times in strict
///   mode, each time under a different chaos seed (`Builder::chaos_seed`),
///   which randomizes the order of ready tasks and injects yields and
///   spurious wake-ups; a seed reproduces its interleaving exactly. The first
///   failing seed stops the test, and the test prints the seed and the line
///   that replays just that seed, e.g.
///   `LOOPWORK_CHAOS_SEED=0x2a cargo test -p my-crate tests::transfer`.
///   Seeds run from 0 to N - 1; the environment variable
///   `LOOPWORK_CHAOS_SEEDS=M` overrides N (explore more in a nightly job),
///   and `LOOPWORK_CHAOS_SEED=S` runs seed S alone.
///
/// # Examples
///
/// ```
/// #[loopwork::test(paused_clock)]
/// async fn a_day_of_timeouts_in_no_time() {
///     let day = std::time::Duration::from_secs(86_400);
///     let slow = loopwork::timeout(day, std::future::pending::<()>());
///     assert!(slow.await.is_err());
/// }
///
/// #[loopwork::test(chaos_seeds = 64)]
/// async fn counter_is_never_lost() {
///     let count = std::sync::Arc::new(loopwork::sync::Lock::new(0));
///     let tasks: Vec<_> = (0..8)
///         .map(|_| {
///             let count = count.clone();
///             loopwork::spawn(async move {
///                 let mut guard = count.lock().await;
///                 loopwork::yield_now().await;
///                 *guard += 1;
///             })
///         })
///         .collect();
///     loopwork::gather(tasks).await.unwrap();
///     assert_eq!(*count.lock().await, 8);
/// }
/// # fn main() {}
/// ```
///
/// Misuse is a compile error pointing at the offending code:
///
/// ```compile_fail
/// #[loopwork::test]
/// async fn takes_an_argument(port: u16) {} // tests take no arguments
/// # fn main() {}
/// ```
///
/// ```compile_fail
/// #[loopwork::test(chaos_seeds = 16, workers = 2)] // seeds replay only in strict mode
/// async fn explored() {}
/// # fn main() {}
/// ```
///
/// ```compile_fail
/// #[loopwork::test(chaos_seeds = 0)] // at least one seed
/// async fn explored() {}
/// # fn main() {}
/// ```
///
/// # Panics
///
/// The generated test panics (fails) if the body panics, if the OS refuses
/// to start the worker threads, or if `LOOPWORK_CHAOS_SEEDS` /
/// `LOOPWORK_CHAOS_SEED` is set to something other than a number.
#[proc_macro_attribute]
pub fn test(args: TokenStream, item: TokenStream) -> TokenStream {
    expand(Entry::Test, args, item)
}

#[derive(Clone, Copy, PartialEq)]
enum Entry {
    Main,
    Test,
}

impl Entry {
    fn attribute(self) -> &'static str {
        match self {
            Entry::Main => "#[loopwork::main]",
            Entry::Test => "#[loopwork::test]",
        }
    }
}

/// A compile error covering the user's tokens from `start` to `end`.
struct Error {
    start: Span,
    end: Span,
    message: String,
}

impl Error {
    fn at(span: Span, message: impl Into<String>) -> Error {
        Error { start: span, end: span, message: message.into() }
    }

    fn covering(first: &TokenTree, last: &TokenTree, message: impl Into<String>) -> Error {
        Error { start: first.span(), end: last.span(), message: message.into() }
    }

    /// `::core::compile_error! { "message" }`, its first tokens spanned at
    /// `start` and its braces at `end`, so rustc underlines the whole range.
    fn into_tokens(self) -> TokenStream {
        let mut colons = [Punct::new(':', Spacing::Joint), Punct::new(':', Spacing::Alone)];
        colons.iter_mut().for_each(|colon| colon.set_span(self.start));
        let mut tokens: Vec<TokenTree> = vec![colons[0].clone().into(), colons[1].clone().into()];
        tokens.push(Ident::new("core", self.start).into());
        tokens.extend(colons.iter().cloned().map(TokenTree::from));
        tokens.push(Ident::new("compile_error", self.start).into());
        let mut bang = Punct::new('!', Spacing::Alone);
        bang.set_span(self.start);
        tokens.push(bang.into());
        let mut message = Literal::string(&self.message);
        message.set_span(self.end);
        let mut braces = Group::new(Delimiter::Brace, TokenStream::from(TokenTree::from(message)));
        braces.set_span(self.end);
        tokens.push(braces.into());
        tokens.into_iter().collect()
    }
}

/// The attribute's options, as the loop builder calls they become.
#[derive(Default)]
struct Options {
    workers: Option<(usize, Span)>,
    strict: Option<Span>,
    paused_clock: bool,
    chaos_seeds: Option<u64>,
}

impl Options {
    fn parse(entry: Entry, args: TokenStream) -> Result<Options, Error> {
        let mut options = Options::default();
        let mut tokens = args.into_iter().peekable();
        while let Some(token) = tokens.next() {
            let TokenTree::Ident(name) = &token else {
                return Err(Error::at(token.span(), expected_option(entry)));
            };
            let value = match tokens.peek() {
                Some(TokenTree::Punct(equals)) if equals.as_char() == '=' => {
                    let equals = tokens.next().expect("peeked");
                    Some(tokens.next().ok_or_else(|| Error::at(equals.span(), format!("`{name} =` needs a number")))?)
                }
                _ => None,
            };
            match (name.to_string().as_str(), entry) {
                ("workers", _) => {
                    let count = number(name, value)?;
                    options.workers = Some((usize::try_from(count).unwrap_or(usize::MAX), name.span()));
                }
                ("strict", _) => {
                    flag(name, &value)?;
                    options.strict = Some(name.span());
                }
                ("paused_clock", Entry::Test) => {
                    flag(name, &value)?;
                    options.paused_clock = true;
                }
                ("chaos_seeds", Entry::Test) => {
                    let count = number(name, value)?;
                    if count == 0 {
                        return Err(Error::at(name.span(), "`chaos_seeds` needs at least one seed"));
                    }
                    options.chaos_seeds = Some(count);
                }
                ("paused_clock" | "chaos_seeds", Entry::Main) => {
                    return Err(Error::at(
                        name.span(),
                        format!("`{name}` is an option of #[loopwork::test]; #[loopwork::main] takes `workers = N` or `strict`"),
                    ));
                }
                _ => {
                    return Err(Error::at(name.span(), format!("unknown option `{name}`: {}", expected_option(entry))))
                }
            }
            match tokens.next() {
                None => break,
                Some(TokenTree::Punct(comma)) if comma.as_char() == ',' => {}
                Some(other) => return Err(Error::at(other.span(), "expected `,` between options")),
            }
        }
        if let (Some((_, workers)), Some(_)) = (options.workers, options.strict) {
            return Err(Error::at(workers, "`strict` already means `workers = 0`: use one or the other"));
        }
        if let (Some((count, workers)), Some(_)) = (options.workers, options.chaos_seeds) {
            if count != 0 {
                return Err(Error::at(
                    workers,
                    "`chaos_seeds` runs every seed in strict mode (`workers = 0`), where a seed replays its schedule \
                     exactly: remove `workers`",
                ));
            }
        }
        Ok(options)
    }

    /// The builder calls after `EventLoop::builder()`, as source text.
    fn builder_calls(&self) -> String {
        let workers = match (self.workers, self.strict.is_some() || self.chaos_seeds.is_some()) {
            (_, true) => Some(0),
            (Some((count, _)), false) => Some(count),
            (None, false) => None,
        };
        let mut calls = String::new();
        if let Some(count) = workers {
            calls.push_str(&format!(".workers({count})"));
        }
        if self.paused_clock {
            calls.push_str(".paused_clock()");
        }
        calls
    }
}

fn expected_option(entry: Entry) -> &'static str {
    match entry {
        Entry::Main => "expected `workers = N` or `strict`",
        Entry::Test => "expected `workers = N`, `strict`, `paused_clock` or `chaos_seeds = N`",
    }
}

fn number(name: &Ident, value: Option<TokenTree>) -> Result<u64, Error> {
    let Some(value) = value else {
        return Err(Error::at(name.span(), format!("`{name}` needs a number: `{name} = 4`")));
    };
    let text = value.to_string().replace('_', "");
    let digits = ["usize", "u64", "u32"].iter().find_map(|suffix| text.strip_suffix(suffix)).unwrap_or(&text);
    match (&value, digits.parse::<u64>()) {
        (TokenTree::Literal(_), Ok(count)) => Ok(count),
        _ => Err(Error::at(value.span(), format!("`{name}` needs a whole number, like `{name} = 4`"))),
    }
}

fn flag(name: &Ident, value: &Option<TokenTree>) -> Result<(), Error> {
    match value {
        None => Ok(()),
        Some(value) => Err(Error::at(value.span(), format!("`{name}` takes no value: write just `{name}`"))),
    }
}

/// An `async fn` cut where the expansion needs it.
struct Function {
    attributes: Vec<TokenTree>,
    /// Visibility and qualifiers before `fn`, without `async`.
    qualifiers: Vec<TokenTree>,
    name: Ident,
    /// What stands between the parameters and the body: `-> T`, if anything.
    output: Vec<TokenTree>,
    body: Group,
}

impl Function {
    fn parse(entry: Entry, item: TokenStream) -> Result<Function, Error> {
        let tokens: Vec<TokenTree> = item.into_iter().collect();
        let mut at = 0;
        let mut attributes = Vec::new();
        while let (Some(TokenTree::Punct(hash)), Some(TokenTree::Group(group))) = (tokens.get(at), tokens.get(at + 1)) {
            if hash.as_char() != '#' || group.delimiter() != Delimiter::Bracket {
                break;
            }
            if entry == Entry::Test && group.stream().to_string().trim() == "test" {
                return Err(Error::covering(
                    &tokens[at],
                    &tokens[at + 1],
                    "#[loopwork::test] adds `#[test]` itself: remove this one",
                ));
            }
            attributes.extend_from_slice(&tokens[at..at + 2]);
            at += 2;
        }
        let fn_at = tokens[at..]
            .iter()
            .position(|token| matches!(token, TokenTree::Ident(ident) if ident.to_string() == "fn"))
            .map(|offset| at + offset)
            .ok_or_else(|| {
                Error::at(
                    Span::call_site(),
                    format!("{} goes on a function: `async fn name() {{ ... }}`", entry.attribute()),
                )
            })?;
        let is_async = |token: &TokenTree| matches!(token, TokenTree::Ident(ident) if ident.to_string() == "async");
        if !tokens[at..fn_at].iter().any(is_async) {
            return Err(Error::at(
                tokens[fn_at].span(),
                format!("{} runs an async function: write `async fn`", entry.attribute()),
            ));
        }
        let qualifiers = tokens[at..fn_at].iter().filter(|token| !is_async(token)).cloned().collect();
        let Some(TokenTree::Ident(name)) = tokens.get(fn_at + 1) else {
            return Err(Error::at(tokens[fn_at].span(), "expected the function's name after `fn`"));
        };
        match tokens.get(fn_at + 2) {
            Some(TokenTree::Group(params)) if params.delimiter() == Delimiter::Parenthesis => {
                if !params.stream().is_empty() {
                    let what = match entry {
                        Entry::Main => "`main` takes no arguments",
                        Entry::Test => "a test takes no arguments",
                    };
                    return Err(Error::at(params.span(), what));
                }
            }
            Some(other) => {
                return Err(Error::at(
                    other.span(),
                    format!("{} cannot be generic: the loop calls it with no type arguments", entry.attribute()),
                ));
            }
            None => return Err(Error::at(name.span(), "expected `()` after the function's name")),
        }
        let Some((TokenTree::Group(body), output)) = tokens[fn_at + 3..].split_last() else {
            return Err(Error::at(name.span(), "expected the function's body"));
        };
        if body.delimiter() != Delimiter::Brace {
            return Err(Error::at(body.span(), "expected the function's body in braces"));
        }
        Ok(Function { attributes, qualifiers, name: name.clone(), output: output.to_vec(), body: body.clone() })
    }

    /// `attributes qualifiers fn name() output { inner }`.
    fn with_body(self, outer_attribute: Option<&str>, inner: TokenStream) -> TokenStream {
        let mut tokens = TokenStream::new();
        if let Some(attribute) = outer_attribute {
            tokens.extend(parse(attribute));
        }
        tokens.extend(self.attributes);
        tokens.extend(self.qualifiers);
        tokens.extend([
            TokenTree::from(Ident::new("fn", Span::call_site())),
            self.name.into(),
            Group::new(Delimiter::Parenthesis, TokenStream::new()).into(),
        ]);
        tokens.extend(self.output);
        let mut body = Group::new(Delimiter::Brace, inner);
        body.set_span(self.body.span());
        tokens.extend([TokenTree::from(body)]);
        tokens
    }
}

fn parse(source: &str) -> TokenStream {
    TokenStream::from_str(source).expect("the expansion's own code parses")
}

fn expand(entry: Entry, args: TokenStream, item: TokenStream) -> TokenStream {
    let options = match Options::parse(entry, args) {
        Ok(options) => options,
        // The function itself still compiles, so rustc reports only this.
        Err(error) => return error.into_tokens().into_iter().chain(strip_async(item)).collect(),
    };
    let function = match Function::parse(entry, item.clone()) {
        Ok(function) => function,
        Err(error) => return error.into_tokens().into_iter().chain(strip_async(item)).collect(),
    };
    let builder = format!("::loopwork::EventLoop::builder(){}", options.builder_calls());
    // `async move { body }`: `return` and `?` in the body leave the async
    // block, whose output is the function's return type.
    let mut future = parse("async move");
    future.extend([TokenTree::from(function.body.clone())]);
    match entry {
        Entry::Main => {
            let mut inner = parse("let body = ");
            inner.extend(future);
            inner.extend(parse(&format!(";\n::loopwork::__macro_support::run_main({builder}, body)")));
            function.with_body(None, inner)
        }
        Entry::Test => {
            let chaos_seeds = match options.chaos_seeds {
                Some(count) => format!("::core::option::Option::Some({count})"),
                None => "::core::option::Option::None".to_owned(),
            };
            let mut arguments = parse(&format!(
                "::loopwork::__macro_support::TestEntry {{\
                    module: ::core::module_path!(),\
                    name: \"{name}\",\
                    package: ::core::env!(\"CARGO_PKG_NAME\"),\
                    chaos_seeds: {chaos_seeds},\
                }},\
                || {builder},\
                || ",
                name = function.name,
            ));
            arguments.extend(future);
            let mut inner = parse("::loopwork::__macro_support::run_test");
            inner.extend([TokenTree::from(Group::new(Delimiter::Parenthesis, arguments))]);
            function.with_body(Some("#[::core::prelude::v1::test]"), inner)
        }
    }
}

/// The item with its `async` removed, emitted beside a compile error so
/// that rustc does not add errors of its own (an async `main`, say).
fn strip_async(item: TokenStream) -> TokenStream {
    item.into_iter().filter(|token| !matches!(token, TokenTree::Ident(ident) if ident.to_string() == "async")).collect()
}
