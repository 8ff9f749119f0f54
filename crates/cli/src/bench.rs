//! `loupe bench`: the native half of the side-by-side benchmark (scripts/bench.sh runs the
//! wasm half in Chromium in the same invocation and prints the ratios; docs/BENCHMARKS.md).
//!
//! Measures, per weight mode: model build time, a 64-token forward pass without and with
//! capture of every residual stream (median of `--reps`), greedy generation speed (decode
//! tokens/s after the prefill), full activation-patching sweeps (residual stream 30 layers ×
//! 16 positions; heads 30 × 9), and peak resident memory.
//!
//! With `--attribution`, instead: Integrated Gradients (32 steps) and SmoothGrad (16
//! samples) on a 20-token prompt with the f32 differentiable model, and the peak memory.

use crate::shared::ModelFile;
use anyhow::Result;
use clap::Args;
use loupe_interp::patching::{Metric, PatchRequest, PatchSite, PatchSweep};
use loupe_interp::run::{generate_text, run_prompt, GenerateRequest, RunRequest};
use loupe_interp::target::TokenRef;
use loupe_model::{Llama, LoupeTokenizer, WeightMode};
use std::path::PathBuf;
use std::time::Instant;

/// A 16-token clean/corrupted pair (checked at run time) for the patching sweeps.
pub const PATCH_CLEAN: &str = "When Mary and John went to the store yesterday, John gave a cold drink to";
pub const PATCH_CORRUPTED: &str = "When Mary and John went to the store yesterday, Mary gave a cold drink to";

/// 64 tokens with the default model's tokenizer (checked at run time).
pub const BENCH_PROMPT: &str = "The quick brown fox jumps over the lazy dog. The quick brown fox jumps over the lazy dog. The quick brown fox jumps over the lazy dog. The quick brown fox jumps over the lazy dog. The quick brown fox jumps over the lazy dog. The quick brown fox jumps over the lazy dog. The quick brown fox";

#[derive(Args)]
pub struct BenchArgs {
    #[command(flatten)]
    model: ModelFile,
    /// Forward passes timed per measurement (the median is reported)
    #[arg(long, value_name = "N", default_value_t = 5)]
    reps: usize,
    /// Tokens generated
    #[arg(long, value_name = "N", default_value_t = 32)]
    gen: usize,
    /// Time one weight mode (quantized, q8 or f32) [default: all three]
    #[arg(long, value_name = "MODE")]
    weights: Option<WeightMode>,
    /// Print the JSON on one line
    #[arg(long)]
    json: bool,
    /// Time Integrated Gradients and SmoothGrad instead
    #[arg(long)]
    attribution: bool,
    /// Time steered generation and SAE encoding instead
    #[arg(long)]
    steering: bool,
    /// With --steering: the SAE whose encoding is timed (SAELens format)
    #[arg(long, value_name = "DIR")]
    sae: Option<PathBuf>,
}

pub fn bench(args: BenchArgs) -> Result<()> {
    if args.attribution {
        return bench_attribution(&args);
    }
    if args.steering {
        return bench_steering(&args);
    }
    let (reps, gen) = (args.reps, args.gen);
    let modes = match args.weights {
        Some(w) => vec![w],
        None => vec![WeightMode::Quantized, WeightMode::Q8, WeightMode::F32],
    };
    let file = args.model.read()?;
    let tok = LoupeTokenizer::from_gguf(&file)?;
    let mut results = Vec::new();
    for mode in modes {
        let t0 = Instant::now();
        let model = Llama::load(&file, mode)?;
        let load_ms = t0.elapsed().as_secs_f64() * 1e3;
        results.push(bench_mode(&model, &tok, mode, load_ms, reps, gen)?);
    }
    let json = serde_json::json!({ "runtime": "native", "results": results, "peak_rss_mb": peak_rss_mb() });
    if args.json {
        println!("{json}");
    } else {
        println!("{}", serde_json::to_string_pretty(&json)?);
    }
    Ok(())
}

fn bench_mode(model: &Llama, tok: &LoupeTokenizer, mode: WeightMode, load_ms: f64, reps: usize, gen: usize) -> Result<serde_json::Value> {
    let n = tok.encode(BENCH_PROMPT, false)?.len();
    anyhow::ensure!(n == 64, "bench prompt is {n} tokens, expected 64");
    let timed = |capture: Vec<String>| -> Result<f64> {
        let req = RunRequest { prompt: BENCH_PROMPT.into(), capture, top_k: 10, ..Default::default() };
        run_prompt(model, tok, &req, 1024)?; // warm-up
        let mut ms: Vec<f64> = (0..reps)
            .map(|_| {
                let t = Instant::now();
                run_prompt(model, tok, &req, 1024).map(|_| t.elapsed().as_secs_f64() * 1e3)
            })
            .collect::<loupe_model::Result<_>>()?;
        ms.sort_by(f64::total_cmp);
        Ok(ms[ms.len() / 2])
    };
    let forward_ms = timed(vec![])?;
    let forward_capture_ms = timed(vec!["blocks.*.hook_resid_pre".into(), "blocks.*.hook_resid_post".into()])?;
    let req = GenerateRequest {
        prompt: "The Eiffel Tower is located in the city of".into(),
        max_tokens: gen,
        stop_at_eos: false,
        ..Default::default()
    };
    let start = Instant::now();
    let mut first: Option<Instant> = None;
    let out = generate_text(model, tok, &req, 1024, |_| {
        first.get_or_insert_with(Instant::now);
        true
    })?;
    let total_s = start.elapsed().as_secs_f64();
    let decode_s = first.map(|f| f.elapsed().as_secs_f64()).unwrap_or(total_s);
    let sweep_s = |site: PatchSite| -> Result<f64> {
        let req = PatchRequest {
            clean: PATCH_CLEAN.into(),
            corrupted: PATCH_CORRUPTED.into(),
            metric: Metric::LogitDiff { token: TokenRef::Text(" Mary".into()), minus: TokenRef::Text(" John".into()) },
            site,
            prepend_bos: false,
        };
        let t = Instant::now();
        let mut sweep = PatchSweep::start(model, tok, &req, 1024)?;
        anyhow::ensure!(sweep.result().clean_tokens.len() == 16, "patching pair is not 16 tokens");
        while sweep.step(model)? {}
        Ok(t.elapsed().as_secs_f64())
    };
    let patch_resid_s = sweep_s(PatchSite::ResidPre)?;
    let patch_heads_s = sweep_s(PatchSite::HeadZ)?;
    Ok(serde_json::json!({
        "weights": mode,
        "patch_resid_30x16_s": patch_resid_s,
        "patch_heads_30x9_s": patch_heads_s,
        "load_ms": load_ms,
        "forward64_ms": forward_ms,
        "forward64_capture_resid_ms": forward_capture_ms,
        "generate_tokens": out.len(),
        "generate_total_s": total_s,
        "decode_tok_per_s": (out.len().saturating_sub(1)) as f64 / decode_s,
    }))
}

/// 20 tokens with the default model's tokenizer (checked at run time); the model answers " Rome".
pub const ATTRIBUTION_PROMPT: &str = "The Eiffel Tower is in Paris, and the famous Colosseum is located in the city of";

fn bench_attribution(args: &BenchArgs) -> Result<()> {
    use loupe_interp::attribution::{attribute, AttributeRequest, AttributionParams, Method};
    use loupe_interp::gradient::{Target, TargetKind};
    let file = args.model.read()?;
    let tok = LoupeTokenizer::from_gguf(&file)?;
    anyhow::ensure!(tok.encode(ATTRIBUTION_PROMPT, false)?.len() == 20, "attribution prompt is not 20 tokens");
    let model = Llama::load(&file, WeightMode::F32)?.differentiable()?;
    let model_rss_mb = peak_rss_mb();
    let target = Target { kind: TargetKind::Logprob, token: TokenRef::Text(" Rome".into()), minus: None, position: -1 };
    let time = |method: Method, params: AttributionParams| -> Result<(f64, usize)> {
        let req = AttributeRequest { prompt: ATTRIBUTION_PROMPT.into(), target: target.clone(), method, params, prepend_bos: false };
        let t = Instant::now();
        let (result, _) = attribute(&model, &tok, &req, 1024)?;
        Ok((t.elapsed().as_secs_f64(), result.passes))
    };
    let (ig_s, ig_passes) = time(Method::IntegratedGradients, AttributionParams { steps: 32, ..Default::default() })?;
    let (sg_s, sg_passes) = time(Method::Smoothgrad, AttributionParams { samples: 16, ..Default::default() })?;
    let json = serde_json::json!({
        "runtime": "native",
        "threads": candle_core::utils::get_num_threads(),
        "ig32_s": ig_s, "ig32_passes": ig_passes,
        "smoothgrad16_s": sg_s, "smoothgrad16_passes": sg_passes,
        "model_rss_mb": model_rss_mb,
        "peak_rss_mb": peak_rss_mb(),
    });
    println!("{json}");
    Ok(())
}

/// Steered vs unsteered generation (the page default, quantized, a contrastive direction added at layer 12 at every
/// position) and the SAE's encode cost per token (`--sae DIR`, SAELens format).
fn bench_steering(args: &BenchArgs) -> Result<()> {
    use loupe_interp::sae::Sae;
    use loupe_interp::steering::{contrastive_direction, DirectionRequest, Reduce, SteerMode, Steering};
    let file = args.model.read()?;
    let tok = LoupeTokenizer::from_gguf(&file)?;
    let model = Llama::load(&file, WeightMode::Quantized)?;
    let gen = args.gen;
    let prompt = "I went to see the film last night and I thought it was";
    let direction = contrastive_direction(
        &model,
        &tok,
        &DirectionRequest {
            positive: vec!["I love this movie, it is wonderful".into(), "What a fantastic and happy day".into()],
            negative: vec!["I hate this movie, it is terrible".into(), "What an awful and sad day".into()],
            layer: 12,
            reduce: Reduce::Last,
            prepend_bos: false,
        },
        1024,
    )?;
    let steering = Steering { direction: direction.vector, layers: vec![12], positions: None, mode: SteerMode::Add { strength: -0.2 } };
    let (interventions, _) = steering.interventions(&model, &tok.encode(prompt, false)?)?;
    let tokens_per_s = |interventions: Vec<loupe_interp::Intervention>| -> Result<f64> {
        let req = GenerateRequest { prompt: prompt.into(), max_tokens: gen, stop_at_eos: false, interventions, ..Default::default() };
        let mut first: Option<Instant> = None;
        let out = generate_text(&model, &tok, &req, 1024, |_| {
            first.get_or_insert_with(Instant::now);
            true
        })?;
        Ok(out.len().saturating_sub(1) as f64 / first.map(|f| f.elapsed().as_secs_f64()).unwrap_or(f64::NAN))
    };
    let unsteered = tokens_per_s(Vec::new())?;
    let steered = tokens_per_s(interventions)?;
    let sae_encode_us = match &args.sae {
        Some(dir) => {
            let sae = Sae::load(
                &std::fs::read_to_string(dir.join("cfg.json"))?,
                &std::fs::read(dir.join("sae_weights.safetensors"))?,
                &model.cfg,
            )?;
            let x = candle_core::Tensor::randn(0f32, 1.0, (256, sae.cfg.d_in), &candle_core::Device::Cpu)?;
            sae.encode(&x)?; // warm-up
            let t = Instant::now();
            for _ in 0..10 {
                sae.encode(&x)?;
            }
            Some(t.elapsed().as_secs_f64() * 1e6 / (10.0 * 256.0))
        }
        None => None,
    };
    println!(
        "{}",
        serde_json::json!({
            "runtime": "native", "threads": candle_core::utils::get_num_threads(),
            "decode_tok_per_s_unsteered": unsteered, "decode_tok_per_s_steered": steered,
            "sae_encode_us_per_token": sae_encode_us,
        })
    );
    Ok(())
}

/// Peak resident set size of this process (Linux `VmHWM`), in MB.
fn peak_rss_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}
