#!/usr/bin/env python3
"""PyTorch (HF transformers, native CPU) reference for bench/bench.mjs --torch (issue 3;
docs/BENCHMARKS.md, "References"). Run with the Python reference environment of
../shared/TOOLCHAIN.md §5 (bench.mjs uses $LOUPE_REF_PYTHON, default /tmp/ref/bin/python):

    /tmp/ref/bin/python scripts/bench_torch.py --ids 504,2365,... --gen-ids 504,... [--reps 5] \
        [--gen 32] [--threads 1,2] [--model models/SmolLM2-135M-Instruct.Q4_1.gguf]
    echo '{"ids": [...], "genIds": [...]}' | /tmp/ref/bin/python scripts/bench_torch.py --stdin

Without ids it tokenizes the benchmark prompts itself with transformers' GGUF tokenizer
(bench.mjs always passes the ids of loupe-web's own tokenizer).

The model is the same GGUF loaded by transformers dequantized to float32 (as
scripts/export_onnx.py loads it: the weights of Loupe's `f32` mode), eager attention, eval
mode, everything under torch.inference_mode(). For each thread count (torch.set_num_threads):
  - forward64_ms: one forward of the 64 ids, use_cache=False, an all-ones attention mask,
    logits_to_keep=1 (the last position's logits only: transformers slices the hidden state
    before lm_head, as Loupe's `run` does by default); forward64_all_logits_ms: the same with
    every position's logits (logits_to_keep=0, as the all-logits ONNX export). Warm-up, then the
    median of --reps.
  - decode_tok_per_s: greedy decoding with the KV cache, a hand-written loop (no generate()):
    prefill the Eiffel prompt ids (logits_to_keep=1), then gen - 1 single-token steps feeding
    the cache back, each step's argmax on the host; the gen - 1 steps after the prefill are
    timed, as `loupe bench` and stock-bench time them. One warm-up run, then the median of
    --decode-reps.
  - decode_generate_tok_per_s: the same through model.generate(do_sample=False,
    max_new_tokens=gen, no EOS stop), timed from the first to the last call of a logits
    processor (so the gen - 1 steps after the prefill, generate()'s per-step overheads included).
Prints one JSON object (the top-1 next token of the 64 ids, the greedy continuation, versions).
"""

import argparse
import copy
import inspect
import json
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")

import torch  # noqa: E402

BENCH_PROMPT = "The quick brown fox jumps over the lazy dog. " * 6 + "The quick brown fox"
GEN_PROMPT = "The Eiffel Tower is located in the city of"


def parse_ids(s):
    return [int(x) for x in s.split(",") if x.strip()] if s else None


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="models/SmolLM2-135M-Instruct.Q4_1.gguf")
    ap.add_argument("--ids", help="the 64-token benchmark prompt's ids, comma-separated")
    ap.add_argument("--gen-ids", help="the decode prompt's ids, comma-separated")
    ap.add_argument("--stdin", action="store_true", help='read {"ids": [...], "genIds": [...]} from stdin')
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--decode-reps", type=int, default=3)
    ap.add_argument("--gen", type=int, default=32)
    ap.add_argument("--threads", default="1,2", help="thread counts to measure, comma-separated")
    ap.add_argument("--no-generate", action="store_true", help="skip the generate() measurement")
    args = ap.parse_args()

    import transformers
    from transformers import AutoModelForCausalLM, LogitsProcessor, LogitsProcessorList

    ids, gen_ids = parse_ids(args.ids), parse_ids(args.gen_ids)
    if args.stdin:
        given = json.load(sys.stdin)
        ids, gen_ids = given.get("ids", ids), given.get("genIds", gen_ids)
    gguf = Path(args.model)
    t0 = time.perf_counter()
    model = AutoModelForCausalLM.from_pretrained(
        str(gguf.parent), gguf_file=gguf.name, dtype=torch.float32, attn_implementation="eager"
    ).eval()
    load_s = time.perf_counter() - t0
    if ids is None or gen_ids is None:
        from transformers import AutoTokenizer

        tok = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
        ids = ids or tok(BENCH_PROMPT)["input_ids"]
        gen_ids = gen_ids or tok(GEN_PROMPT)["input_ids"]

    # transformers 5.x calls the KV cache argument `cache` (`past_key_values` is deprecated).
    cache_kw = "cache" if "cache" in inspect.signature(model.forward).parameters else "past_key_values"
    keep_supported = "logits_to_keep" in inspect.signature(model.forward).parameters
    x = torch.tensor([ids], dtype=torch.long)
    mask = torch.ones_like(x)

    def forward(keep):
        extra = {"logits_to_keep": keep} if keep_supported else {}
        return model(input_ids=x, attention_mask=mask, use_cache=False, **extra).logits

    def median_ms(fn, reps):
        fn()  # warm-up
        ms = []
        for _ in range(reps):
            t = time.perf_counter()
            fn()
            ms.append((time.perf_counter() - t) * 1e3)
        return statistics.median(ms)

    def decode_loop():
        prompt = torch.tensor([gen_ids], dtype=torch.long)
        extra = {"logits_to_keep": 1} if keep_supported else {}
        out = model(input_ids=prompt, use_cache=True, **extra)
        cache = getattr(out, "cache", None) or getattr(out, "past_key_values", None)
        generated = [int(out.logits[0, -1].argmax())]
        t = time.perf_counter()
        for _ in range(args.gen - 1):
            step = torch.tensor([[generated[-1]]], dtype=torch.long)
            out = model(input_ids=step, use_cache=True, **{cache_kw: cache}, **extra)
            cache = getattr(out, "cache", None) or getattr(out, "past_key_values", None)
            generated.append(int(out.logits[0, -1].argmax()))
        return (args.gen - 1) / (time.perf_counter() - t), generated

    class Clock(LogitsProcessor):
        def __init__(self):
            self.times = []

        def __call__(self, input_ids, scores):
            self.times.append(time.perf_counter())
            return scores

    # No EOS stop (as `loupe bench`'s stopAtEos: false): min_new_tokens would instead mask the EOS
    # logit and change the greedy continuation, which reaches EOS on this prompt.
    gen_config = copy.deepcopy(model.generation_config)
    gen_config.pad_token_id = gen_config.pad_token_id if gen_config.pad_token_id is not None else gen_config.eos_token_id
    gen_config.eos_token_id = []  # None would fall back to the model's EOS (transformers 5.24)
    gen_config.do_sample = False
    gen_config.max_new_tokens = args.gen
    for k in ("temperature", "top_p", "top_k", "min_new_tokens", "max_length"):
        setattr(gen_config, k, None)

    def decode_generate():
        clock = Clock()
        prompt = torch.tensor([gen_ids], dtype=torch.long)
        out = model.generate(
            input_ids=prompt,
            attention_mask=torch.ones_like(prompt),
            generation_config=gen_config,
            logits_processor=LogitsProcessorList([clock]),
        )
        return (len(clock.times) - 1) / (clock.times[-1] - clock.times[0]), out[0, len(gen_ids):].tolist()

    results = []
    with torch.inference_mode():
        top1 = int(forward(1)[0, -1].argmax())
        top1_all = int(forward(0)[0, -1].argmax())
        for n in [int(t) for t in args.threads.split(",") if t.strip()]:
            torch.set_num_threads(n)
            r = {"threads": torch.get_num_threads()}
            r["forward64_ms"] = median_ms(lambda: forward(1), args.reps)
            r["forward64_all_logits_ms"] = median_ms(lambda: forward(0), args.reps)
            decode_loop()  # warm-up
            runs = [decode_loop() for _ in range(max(1, args.decode_reps))]
            r["decode_tok_per_s"] = statistics.median(s for s, _ in runs)
            r["generated"] = runs[0][1]
            if not args.no_generate:
                decode_generate()  # warm-up
                g = [decode_generate() for _ in range(max(1, args.decode_reps))]
                r["decode_generate_tok_per_s"] = statistics.median(s for s, _ in g)
                r["generate_matches_loop"] = g[0][1] == r["generated"]
                if not r["generate_matches_loop"]:
                    r["generated_by_generate"] = g[0][1]
            results.append(r)

    print(
        json.dumps(
            {
                "torch_version": torch.__version__,
                "transformers_version": transformers.__version__,
                "logits_to_keep": keep_supported,
                "cache_argument": cache_kw,
                "attn_implementation": model.config._attn_implementation,
                "dtype": str(next(model.parameters()).dtype),
                "load_s": load_s,
                "n_ids": len(ids),
                "top1": top1,
                "top1_all_logits": top1_all,
                "results": results,
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
