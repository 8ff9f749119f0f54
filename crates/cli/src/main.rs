//! `loupe`: the command line over the same core as the browser explorer.
//!
//!   loupe capture  --model F.gguf --prompt TEXT --hooks PATTERNS --out OUT.safetensors [--weights f32|quantized]
//!   loupe generate --model F.gguf --prompt TEXT --max-tokens N [--temperature T --top-p P --seed S]
//!   loupe hooks    --model F.gguf [--pos N]
//!   loupe bench    --model F.gguf [--tokens 64 --gen 32 --json]
//!
//! Errors are one line on stderr and exit status 1.

mod args;
mod bench;
mod commands;

fn main() {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let result = match argv.first().map(|s| s.as_str()) {
        Some("capture") => commands::capture(&argv[1..]),
        Some("generate") => commands::generate(&argv[1..]),
        Some("hooks") => commands::hooks(&argv[1..]),
        Some("run") => commands::run(&argv[1..]),
        Some("bench") => bench::bench(&argv[1..]),
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

const USAGE: &str = "usage: loupe <capture|generate|hooks|run|bench> --model FILE.gguf [options]
  capture  --prompt TEXT --hooks PATTERNS --out OUT.safetensors [--weights f32|quantized] [--prepend-bos]
  generate --prompt TEXT --max-tokens N [--temperature T] [--top-p P] [--seed S] [--weights W]
  hooks    [--pos N]             list every hook name with its shape
  run      --prompt TEXT [--top-k K]   print the top next tokens as JSON
  bench    [--tokens N] [--gen N]      time forward and generation (docs/BENCHMARKS.md)";
