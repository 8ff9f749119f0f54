//! The interpretability contract: hook names and shapes exactly as TransformerLens names
//! them for a Llama model (GQA: k/v/rot_k carry the 3 KV heads, as TL's
//! GroupedQueryAttention hooks do). The golden file is written by hand, not generated.

use loupe_model::{HookPoint, LlamaConfig};

fn smollm2_config(n_layers: usize) -> LlamaConfig {
    LlamaConfig {
        n_layers,
        d_model: 576,
        n_heads: 9,
        n_kv_heads: 3,
        d_head: 64,
        d_mlp: 1536,
        vocab_size: 49152,
        context_length: 8192,
        rms_norm_eps: 1e-5,
        rope_theta: 100_000.0,
    }
}

#[test]
fn hook_names_and_shapes_match_the_golden_list() {
    let cfg = smollm2_config(2);
    let got: Vec<String> = HookPoint::all(2).into_iter().map(|h| format!("{h}\t{:?}", h.shape(&cfg, 1, 5))).collect();
    let golden: Vec<&str> = include_str!("golden/hook_names_2_layers.txt").lines().collect();
    assert_eq!(got, golden);
}

#[test]
fn every_name_round_trips_and_the_full_model_has_633_hooks() {
    let all = HookPoint::all(30);
    // 1 embed + 30 blocks × 21 sites + 2 final-norm hooks.
    assert_eq!(all.len(), 633);
    for h in all {
        let parsed: HookPoint = h.to_string().parse().expect("own names parse");
        assert_eq!(parsed, h);
    }
    assert!("blocks.0.attn.hook_nope".parse::<HookPoint>().is_err());
    assert!("blocks.x.hook_resid_pre".parse::<HookPoint>().is_err());
}
