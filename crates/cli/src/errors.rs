//! Every error reaches the user as one line on stderr, `loupe: error: …`, and exit status 1:
//! usage errors from clap (rendered over several lines, with a usage block) as well as the
//! analyses' own errors (a chain of causes).

use clap::error::{ContextKind, ContextValue, ErrorKind};

pub fn fail(message: &str) -> ! {
    eprintln!("loupe: error: {message}");
    std::process::exit(1);
}

/// The chain of causes joined, no backtrace.
pub fn runtime(e: &anyhow::Error) -> String {
    format!("{e:#}").replace('\n', " ")
}

/// clap's message on one line: its core sentence and tips, without the usage block and the
/// "For more information" line. Two kinds say it as the old parser did, naming the flag first
/// (`--method 'lime': unknown variant …`) or calling a flag an option.
pub fn usage(e: &clap::Error) -> String {
    let rendered = e.render().to_string();
    let text = rendered.trim();
    let text = text.strip_prefix("error: ").unwrap_or(text);
    let mut blocks = text
        .split("\n\n")
        .filter(|b| !b.starts_with("Usage:") && !b.starts_with("For more information"))
        .map(|b| b.lines().map(str::trim).filter(|l| !l.is_empty()).collect::<Vec<_>>().join(" "));
    let core = blocks.next().unwrap_or_default();
    let core = reworded(e).unwrap_or(core);
    std::iter::once(core).chain(blocks).collect::<Vec<_>>().join("; ")
}

fn reworded(e: &clap::Error) -> Option<String> {
    let context = |kind| match e.get(kind) {
        Some(ContextValue::String(s)) => Some(s.as_str()),
        _ => None,
    };
    match e.kind() {
        ErrorKind::ValueValidation => {
            // InvalidArg is `--method <METHOD>`; the source is the value parser's own error.
            let flag = context(ContextKind::InvalidArg)?.split(' ').next()?;
            let value = context(ContextKind::InvalidValue)?;
            let why = std::error::Error::source(e)?.to_string().replace('\n', " ");
            Some(format!("{flag} '{value}': {why}"))
        }
        ErrorKind::UnknownArgument => {
            let arg = context(ContextKind::InvalidArg)?;
            arg.starts_with("--").then(|| format!("unknown option '{}'", arg.split('=').next().unwrap_or(arg)))
        }
        _ => None,
    }
}
