//! The command line, declared once: clap derives the parser, the help and the usage errors
//! from these types. Each subcommand's flags live beside the code that runs it; the flags
//! several share are in `shared`.

use crate::{analyses, bench, call, commands, gradients, steering};
use anyhow::Result;
use clap::{CommandFactory, Parser, Subcommand};

/// Interpretability of a small LLM: the same core as the browser explorer, on the command line.
#[derive(Parser)]
#[command(
    name = "loupe",
    version,
    after_help = "TOK is a token's exact text, e.g. ' Paris', or #ID. Analysis results are JSON. \
                  Errors are one line on stderr and exit status 1."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Subcommand)]
pub enum Command {
    /// List every analysis of the registry (what `loupe call` runs)
    Analyses(call::AnalysesArgs),
    /// Run any analysis by name with the page's own request (loupe.call)
    Call(call::CallArgs),
    /// Capture activations at hooks to a safetensors file
    Capture(commands::CaptureArgs),
    /// Generate text, streamed to stdout
    Generate(commands::GenerateArgs),
    /// List every hook name with its shape
    Hooks(commands::HooksArgs),
    /// Print the prompt's tokens and the top next tokens as JSON
    Run(commands::RunArgs),
    /// Time forward passes and generation (docs/BENCHMARKS.md)
    Bench(bench::BenchArgs),
    /// Logit lens: the next-token distribution read at every layer
    Lens(analyses::LensArgs),
    /// Direct logit attribution to heads and MLPs
    Dla(analyses::DlaArgs),
    /// Activation patching from a corrupted prompt into a clean one
    Patch(analyses::PatchArgs),
    /// Previous-token, duplicate-token and induction head scores
    Heads(analyses::HeadsArgs),
    /// Ablate one head, MLP or neuron and measure the metric's change
    Ablate(analyses::AblateArgs),
    /// Minimal pair: both next-token distributions, KL, residual divergence
    Pair(analyses::PairArgs),
    /// A neuron's activations and the tokens it promotes and suppresses
    Neuron(analyses::NeuronArgs),
    /// Input attribution: which prompt tokens the target depends on (f32 gradients)
    Attribute(gradients::AttributeArgs),
    /// Gradients of the target at any hooks, to a safetensors file
    Grad(gradients::GradArgs),
    /// Attribution patching: the gradient estimate of activation patching
    Attrpatch(gradients::AttrpatchArgs),
    /// A contrastive steering vector (CAA) from two sets of prompts
    Direction(steering::DirectionArgs),
    /// Steer with a direction: the next-token shift, and steered vs unsteered text
    Steer(steering::SteerArgs),
    /// SAE features per token, a feature's promoted/suppressed tokens, feature-clamped text
    Sae(steering::SaeArgs),
    /// Linear probes per layer, with held-out accuracy
    Probe(steering::ProbeArgs),
}

impl Command {
    pub fn run(self) -> Result<()> {
        match self {
            Command::Analyses(a) => call::analyses(a),
            Command::Call(a) => call::call(a),
            Command::Capture(a) => commands::capture(a),
            Command::Generate(a) => commands::generate(a),
            Command::Hooks(a) => commands::hooks(a),
            Command::Run(a) => commands::run(a),
            Command::Bench(a) => bench::bench(a),
            Command::Lens(a) => analyses::lens(a),
            Command::Dla(a) => analyses::dla(a),
            Command::Patch(a) => analyses::patch(a),
            Command::Heads(a) => analyses::heads(a),
            Command::Ablate(a) => analyses::ablate_cmd(a),
            Command::Pair(a) => analyses::pair(a),
            Command::Neuron(a) => analyses::neuron(a),
            Command::Attribute(a) => gradients::attribute(a),
            Command::Grad(a) => gradients::grad(a),
            Command::Attrpatch(a) => gradients::attrpatch(a),
            Command::Direction(a) => steering::direction(a),
            Command::Steer(a) => steering::steer(a),
            Command::Sae(a) => steering::sae(a),
            Command::Probe(a) => steering::probe(a),
        }
    }
}

/// The derived command with two rules the old `--flag value` parser had, which scripts may
/// rely on: a flag's value is the next argument whatever it starts with (`--strength -0.3`,
/// `--prompt '-5 degrees'`), and a repeated flag's last value wins.
pub fn command() -> clap::Command {
    Cli::command().args_override_self(true).mut_subcommands(|sub| {
        sub.mut_args(|arg| {
            let takes_value = arg.get_long().is_some() && arg.get_action().takes_values();
            arg.allow_hyphen_values(takes_value)
        })
    })
}

#[cfg(test)]
mod tests {
    use super::command;
    use crate::errors::usage;

    #[test]
    fn the_declarations_are_consistent() {
        // clap's own checks (conflicting names, groups and requirements naming real flags).
        command().debug_assert();
    }

    #[test]
    fn usage_errors_are_one_line_and_name_the_flag() {
        let error = |args: &[&str]| usage(&command().try_get_matches_from(args).expect_err("a usage error"));
        let site = error(&["loupe", "patch", "--model", "m", "--clean", "a", "--corrupted", "b", "--token", "x", "--site", "foo"]);
        assert!(site.starts_with("--site 'foo': unknown variant `foo`, expected one of `resid_pre`"), "{site}");
        let missing = error(&["loupe", "neuron", "--model", "m"]);
        assert_eq!(missing, "the following required arguments were not provided: --prompt <TEXT>");
        let unknown = error(&["loupe", "run", "--promt", "hi"]);
        assert!(unknown.starts_with("unknown option '--promt'") && !unknown.contains('\n'), "{unknown}");
    }

    #[test]
    fn values_may_start_with_a_hyphen_and_the_last_repeat_wins() {
        let m = command()
            .try_get_matches_from([
                "loupe",
                "dla",
                "--model",
                "m",
                "--prompt",
                "-5 °C",
                "--token",
                "x",
                "--position",
                "-1",
                "--position",
                "-2",
            ])
            .expect("parses");
        let (_, dla) = m.subcommand().expect("dla");
        assert_eq!(dla.get_one::<String>("prompt").map(String::as_str), Some("-5 °C"));
        assert_eq!(dla.get_one::<i64>("position"), Some(&-2));
    }
}
