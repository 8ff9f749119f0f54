//! Hook-name patterns: exact TransformerLens names or globs (`blocks.*.hook_resid_pre`,
//! `blocks.1?.attn.hook_pattern`). `*` matches any run of characters, `?` one character.

use loupe_model::{HookPoint, LoupeError, Result};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Glob(String);

impl Glob {
    pub fn new(pattern: &str) -> Self {
        Self(pattern.trim().to_string())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn matches(&self, name: &str) -> bool {
        wildcard_match(self.0.as_bytes(), name.as_bytes())
    }
}

/// Iterative wildcard matching with single-star backtracking: O(len(p) · len(s)).
fn wildcard_match(p: &[u8], s: &[u8]) -> bool {
    let (mut pi, mut si) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while si < s.len() {
        if pi < p.len() && (p[pi] == b'?' || p[pi] == s[si]) {
            pi += 1;
            si += 1;
        } else if pi < p.len() && p[pi] == b'*' {
            star = Some((pi, si));
            pi += 1;
        } else if let Some((sp, ss)) = star {
            pi = sp + 1;
            si = ss + 1;
            star = Some((sp, ss + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == b'*')
}

/// The hook points, in forward order, matched by any of `patterns`. A pattern that matches
/// nothing is an error naming it, so a typo never silently captures nothing.
pub fn resolve_patterns(patterns: &[String], n_layers: usize) -> Result<Vec<HookPoint>> {
    let all = HookPoint::all(n_layers);
    let names: Vec<String> = all.iter().map(|h| h.to_string()).collect();
    let mut selected = vec![false; all.len()];
    for pattern in patterns.iter().map(|p| p.trim()).filter(|p| !p.is_empty()) {
        let glob = Glob::new(pattern);
        let mut any = false;
        for (i, name) in names.iter().enumerate() {
            if glob.matches(name) {
                selected[i] = true;
                any = true;
            }
        }
        if !any {
            return Err(LoupeError::BadInput(format!(
                "no hook matches '{pattern}' (hooks look like 'blocks.3.hook_resid_pre'; this model has blocks 0..{})",
                n_layers.saturating_sub(1)
            )));
        }
    }
    Ok(all.into_iter().zip(selected).filter(|(_, s)| *s).map(|(h, _)| h).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_match_like_shell_patterns() {
        let g = Glob::new("blocks.*.hook_resid_pre");
        assert!(g.matches("blocks.0.hook_resid_pre"));
        assert!(g.matches("blocks.29.hook_resid_pre"));
        assert!(!g.matches("blocks.0.hook_resid_post"));
        assert!(Glob::new("blocks.1?.attn.*").matches("blocks.12.attn.hook_q"));
        assert!(!Glob::new("blocks.1?.attn.*").matches("blocks.1.attn.hook_q"));
        assert!(Glob::new("*").matches("hook_embed"));
    }

    #[test]
    fn resolve_keeps_forward_order_and_rejects_typos() -> Result<()> {
        let hooks = resolve_patterns(&["blocks.1.hook_resid_pre".into(), "hook_embed".into()], 2)?;
        assert_eq!(hooks[0], HookPoint::Embed);
        assert_eq!(hooks.len(), 2);
        assert!(resolve_patterns(&["blocks.*.hook_resid".into()], 2).is_err());
        Ok(())
    }
}
