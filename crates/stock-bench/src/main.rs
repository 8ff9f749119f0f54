//! `stock-bench`: the native half of the stock-candle reference (bench/bench.mjs --stock runs
//! the wasm half, `StockLlama`, in Chromium in the same invocation). Prints one JSON line:
//!
//!     stock-bench --model M.gguf --ids 1,2,3 --gen-ids 4,5 [--reps 5] [--gen 32]
//!
//! load_ms (parse + build), forward64_ms (median of --reps forwards of --ids from position 0,
//! after one warm-up), top1 (their greedy next token), decode_tok_per_s (greedy: the prefill of
//! --gen-ids gives the first token, then --gen − 1 single-token steps are timed), and the
//! generated ids. Threads: candle's default; set RAYON_NUM_THREADS (bench.mjs passes its
//! --native-threads, 1 by default).

use std::time::Instant;
use stock_bench::Stock;

fn ids(s: &str) -> Result<Vec<u32>, String> {
    s.split(',').map(|t| t.trim().parse::<u32>().map_err(|e| format!("bad id {t:?}: {e}"))).collect()
}

fn run() -> Result<(), String> {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let arg = |name: &str| -> Option<&str> {
        argv.iter().position(|a| a == &format!("--{name}")).and_then(|i| argv.get(i + 1)).map(|s| s.as_str())
    };
    let model = arg("model").ok_or("--model is required")?;
    let prompt = ids(arg("ids").ok_or("--ids is required")?)?;
    let gen_prompt = ids(arg("gen-ids").ok_or("--gen-ids is required")?)?;
    let reps: usize = arg("reps").unwrap_or("5").parse().map_err(|e| format!("--reps: {e}"))?;
    let gen: usize = arg("gen").unwrap_or("32").parse().map_err(|e| format!("--gen: {e}"))?;
    if reps == 0 || gen < 2 {
        return Err("--reps must be ≥ 1 and --gen ≥ 2".into());
    }
    let bytes = std::fs::read(model).map_err(|e| format!("{model}: {e}"))?;
    let err = |e: candle_core::Error| e.to_string();

    let t = Instant::now();
    let mut stock = Stock::from_bytes(&bytes).map_err(err)?;
    let load_ms = t.elapsed().as_secs_f64() * 1e3;

    let top1 = stock.forward_top1(&prompt, 0).map_err(err)?; // warm-up
    let mut ms = Vec::with_capacity(reps);
    for _ in 0..reps {
        let t = Instant::now();
        stock.forward_top1(&prompt, 0).map_err(err)?;
        ms.push(t.elapsed().as_secs_f64() * 1e3);
    }
    ms.sort_by(f64::total_cmp);
    let forward64_ms = ms[ms.len() / 2];

    let mut generated = vec![stock.forward_top1(&gen_prompt, 0).map_err(err)?];
    let t = Instant::now();
    for i in 1..gen {
        let last = generated[i - 1];
        generated.push(stock.forward_top1(&[last], gen_prompt.len() + i - 1).map_err(err)?);
    }
    let decode_tok_per_s = (gen - 1) as f64 / t.elapsed().as_secs_f64();

    let json = serde_json::json!({
        "runtime": "native",
        "model": "candle-transformers 0.11.1 quantized_llama",
        "prompt_tokens": prompt.len(),
        "load_ms": load_ms,
        "forward64_ms": forward64_ms,
        "top1": top1,
        "decode_tok_per_s": decode_tok_per_s,
        "generated": generated,
        "reps": reps,
    });
    println!("{json}");
    Ok(())
}

fn main() {
    if let Err(e) = run() {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}
