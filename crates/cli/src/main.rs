//! `loupe`: the command line over the same core as the browser explorer.
//!
//!   loupe analyses | call NAME --model F.gguf --request JSON   (any analysis of the registry)
//!   loupe capture  --model F.gguf --prompt TEXT --hooks PATTERNS --out OUT.safetensors [--weights f32|quantized]
//!   loupe generate --model F.gguf --prompt TEXT --max-tokens N [--temperature T --top-p P --seed S]
//!   loupe hooks    --model F.gguf [--pos N]
//!   loupe bench    --model F.gguf [--reps 5 --gen 32 --json]
//!   loupe lens | dla | patch | heads --model F.gguf …   (analyses, JSON out)
//!   loupe attribute | grad | attrpatch --model F.gguf …  (gradients, f32 weights)
//!
//! Errors are one line on stderr and exit status 1.

mod analyses;
mod args;
mod bench;
mod call;
mod commands;
mod gradients;
mod steering;

fn main() {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let result = match argv.first().map(|s| s.as_str()) {
        Some("analyses") => call::analyses(&argv[1..]),
        Some("call") => call::call(&argv[1..]),
        Some("capture") => commands::capture(&argv[1..]),
        Some("generate") => commands::generate(&argv[1..]),
        Some("hooks") => commands::hooks(&argv[1..]),
        Some("run") => commands::run(&argv[1..]),
        Some("bench") => bench::bench(&argv[1..]),
        Some("lens") => analyses::lens(&argv[1..]),
        Some("dla") => analyses::dla(&argv[1..]),
        Some("patch") => analyses::patch(&argv[1..]),
        Some("heads") => analyses::heads(&argv[1..]),
        Some("ablate") => analyses::ablate_cmd(&argv[1..]),
        Some("pair") => analyses::pair(&argv[1..]),
        Some("neuron") => analyses::neuron(&argv[1..]),
        Some("attribute") => gradients::attribute(&argv[1..]),
        Some("grad") => gradients::grad(&argv[1..]),
        Some("attrpatch") => gradients::attrpatch(&argv[1..]),
        Some("direction") => steering::direction(&argv[1..]),
        Some("steer") => steering::steer(&argv[1..]),
        Some("sae") => steering::sae(&argv[1..]),
        Some("probe") => steering::probe(&argv[1..]),
        Some("-h" | "--help" | "help") | None => {
            println!("{}", USAGE);
            Ok(())
        }
        Some(other) => Err(anyhow::anyhow!("unknown command '{other}'\n{USAGE}")),
    };
    if let Err(e) = result {
        // One clear line: the chain of causes joined, no backtrace.
        let msg = format!("{e:#}").replace('\n', " ");
        eprintln!("loupe: error: {msg}");
        std::process::exit(1);
    }
}

const USAGE: &str = "usage: loupe <command> --model FILE.gguf [--weights quantized|q8|f32] [options]
  analyses [--json]              list every analysis of the registry (what `loupe call` runs)
  call NAME --request JSON|@FILE [--sae DIR] [--out F.json] [--tensors F.safetensors]
                                 any analysis by name with the page's request (loupe.call)
  capture  --prompt TEXT --hooks PATTERNS --out OUT.safetensors [--weights f32|quantized] [--prepend-bos]
  generate --prompt TEXT --max-tokens N [--temperature T] [--top-p P] [--seed S] [--weights W]
  hooks    [--pos N]             list every hook name with its shape
  run      --prompt TEXT [--top-k K]   print the top next tokens as JSON
  bench    [--reps N] [--gen N]        time forward and generation (docs/BENCHMARKS.md)
  lens     --prompt TEXT [--target TOK] [--top-k K] [--out F.json]     logit lens
  dla      --prompt TEXT --token TOK [--minus TOK] [--position P]      direct logit attribution
  patch    --clean TEXT --corrupted TEXT --token TOK [--minus TOK] [--site resid_pre|attn_out|mlp_out|head_z|head_z_pos]
  heads    --prompt TEXT [--seed S] [--random-length N]                previous-token/duplicate/induction scores
  ablate   --prompt TEXT (--head L.H | --mlp L | --neuron L.N) [--method zero|mean|resample|mean_reference --reference TEXT --references 'A|B|…'] --token TOK [--minus TOK]
  pair     --a TEXT --b TEXT [--top-k K]                                 minimal pair: distributions, KL, residual divergence
  neuron   --prompt TEXT --layer L --neuron N                           activations and promoted/suppressed tokens
  attribute --prompt TEXT --token TOK [--minus TOK] [--kind logprob|logit|logit_diff] [--position P]
           [--method saliency|grad_x_input|integrated_gradients|smoothgrad|occlusion] [--steps N --baseline zero|TOK --keep-first
            --adaptive --tolerance E --max-passes N] [--samples N --noise S --seed S] [--window W --remove]
  grad     --prompt TEXT --hooks PATTERNS --token TOK [--minus TOK --kind K --position P] --out GRADS.safetensors
  attrpatch --clean TEXT --corrupted TEXT --token TOK [--minus TOK]   attribution patching (gradient estimate)
  direction --positive 'A|B|…' --negative 'C|D|…' --layer L [--reduce last|mean]   contrastive steering vector (CAA)
  steer    --prompt TEXT --layers L[,L2] (--direction FILE.json | --positive … --negative …) [--mode add|clamp|ablate
           --strength S --value V] [--max-tokens N --temperature T --seed S]   next-token shift + steered vs unsteered text
  sae      --sae DIR --prompt TEXT [--top-k K] [--feature F] [--clamp FEATURE=VALUE --max-tokens N]
           SAE features per token (SAELens format), a feature's promoted/suppressed tokens, feature-clamped text
  probe    --positive 'A|B|…' --negative 'C|D|…' [--layers 0,6,12] [--reduce last|mean]   linear probes per layer, held-out accuracy
  (TOK is a token's exact text, e.g. ' Paris', or #ID; analysis results are JSON)";
