//! A small `--flag value` parser: the interface is fixed by the issue, so a hand-written
//! parser with exact error messages is simpler than a framework.

use anyhow::{bail, Context, Result};
use std::collections::HashMap;
use std::str::FromStr;

pub struct Args {
    values: HashMap<String, String>,
    flags: Vec<String>,
}

impl Args {
    /// `allowed` lists the flags that take a value; `switches` those that do not.
    pub fn parse(raw: &[String], allowed: &[&str], switches: &[&str]) -> Result<Self> {
        let mut values = HashMap::new();
        let mut flags = Vec::new();
        let mut it = raw.iter();
        while let Some(arg) = it.next() {
            let Some(name) = arg.strip_prefix("--") else {
                bail!("unexpected argument '{arg}'");
            };
            let (name, inline) = match name.split_once('=') {
                Some((n, v)) => (n, Some(v.to_string())),
                None => (name, None),
            };
            if switches.contains(&name) {
                flags.push(name.to_string());
            } else if allowed.contains(&name) {
                let v = match inline {
                    Some(v) => v,
                    None => it.next().with_context(|| format!("--{name} needs a value"))?.clone(),
                };
                values.insert(name.to_string(), v);
            } else {
                let all: Vec<String> = allowed.iter().chain(switches).map(|a| format!("--{a}")).collect();
                bail!("unknown option '--{name}' (expected one of: {})", all.join(", "));
            }
        }
        Ok(Self { values, flags })
    }

    pub fn required(&self, name: &str) -> Result<&str> {
        self.values.get(name).map(|s| s.as_str()).with_context(|| format!("missing --{name}"))
    }

    pub fn get<T: FromStr>(&self, name: &str, default: T) -> Result<T>
    where
        T::Err: std::fmt::Display,
    {
        match self.values.get(name) {
            None => Ok(default),
            Some(v) => v.parse().map_err(|e| anyhow::anyhow!("--{name} '{v}': {e}")),
        }
    }

    pub fn optional(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(|s| s.as_str())
    }

    pub fn flag(&self, name: &str) -> bool {
        self.flags.iter().any(|f| f == name)
    }
}
