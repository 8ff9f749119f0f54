#!/usr/bin/env python3
"""Export SmolLM2-135M-Instruct to an f32 ONNX graph for the onnxruntime-web reference in
bench/bench.mjs --onnx (docs/BENCHMARKS.md, "References: onnxruntime-web and stock candle").

Run from the repository root with the Python reference environment of ../shared/TOOLCHAIN.md §5
plus the ONNX packages:

    /tmp/ref/bin/pip install onnx onnxruntime onnxscript
    /tmp/ref/bin/python scripts/export_onnx.py [--model models/SmolLM2-135M-Instruct.Q4_1.gguf] \
        [--out models/smollm2-135m-f32.onnx] [--last-only]

HF transformers loads the GGUF dequantized to float32 (the same weights Loupe's `f32` mode
uses), with eager attention. The graph is `input_ids` int64 [1, seq] -> `logits` float32
[1, seq, vocab], no KV cache (use_cache=False), the sequence axis dynamic.

--last-only (default --out models/smollm2-135m-f32-last.onnx) exports `logits` [1, 1, vocab]
instead: the last position's only, the final hidden state sliced to that position before lm_head
(transformers' `logits_to_keep=1`), so the unembedding runs for one position, as
Loupe's `run` does when `RunRequest.all_logits` is false (the page's default). bench/bench.mjs
--onnx runs both files when both exist. It is exported with
the TorchScript exporter (dynamo=False, opset 17; verified with torch 2.15 / transformers 5.24)
and falls back to the dynamo exporter if that fails; one file either way (622 MiB from the
TorchScript exporter, which stores the tied unembedding separately; git-ignored: models/*.onnx).

It then checks the file with onnx.checker and runs it with onnxruntime (CPU) on the benchmark's
64-token prompt and on the 10-token Eiffel prompt, printing the largest |logit difference| against torch
(expected ~1e-4) and both top-1 next tokens; it exits 1 if they differ by more than --tol or
the top-1 tokens disagree. No network access is needed (HF_HUB_OFFLINE is forced on).
"""

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402

# The benchmark's 64-token prompt (bench/bench-page.js, crates/cli/src/bench.rs).
BENCH_PROMPT = "The quick brown fox jumps over the lazy dog. " * 6 + "The quick brown fox"
SHORT_PROMPT = "The Eiffel Tower is located in the city of"


class LogitsOnly(torch.nn.Module):
    """input_ids -> logits, no cache. The all-ones attention mask is passed explicitly: without
    one, transformers looks for packed sequences in the position ids with torch.diff, which the
    TorchScript exporter cannot translate. last_only: logits_to_keep=1, i.e. the hidden state is
    sliced to the last position before lm_head (one [576] x [576, vocab] product, not seq)."""

    def __init__(self, model, last_only=False):
        super().__init__()
        self.model = model
        self.logits_to_keep = 1 if last_only else 0

    def forward(self, input_ids):
        mask = torch.ones_like(input_ids)
        return self.model(input_ids=input_ids, attention_mask=mask, use_cache=False, logits_to_keep=self.logits_to_keep).logits


def export(wrapper, example, out: Path, last_only: bool) -> str:
    kwargs = dict(
        input_names=["input_ids"],
        output_names=["logits"],
        dynamic_axes={"input_ids": {1: "seq"}, **({} if last_only else {"logits": {1: "seq"}})},
        opset_version=17,
        do_constant_folding=True,
    )
    try:
        torch.onnx.export(wrapper, (example,), str(out), dynamo=False, **kwargs)
        return "torchscript (dynamo=False)"
    except Exception as e:  # the legacy exporter is gone or cannot trace this model
        print(f"TorchScript exporter failed ({type(e).__name__}: {str(e)[:300]}); trying dynamo", file=sys.stderr)
    seq = torch.export.Dim("seq", min=1, max=8192)
    program = torch.onnx.export(
        wrapper,
        (example,),
        dynamo=True,
        input_names=["input_ids"],
        output_names=["logits"],
        dynamic_shapes={"input_ids": {1: seq}},
        opset_version=18,
        external_data=False,
    )
    program.save(str(out), external_data=False)
    return "dynamo"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="models/SmolLM2-135M-Instruct.Q4_1.gguf")
    ap.add_argument("--out", default=None, help="default models/smollm2-135m-f32.onnx, or models/smollm2-135m-f32-last.onnx with --last-only")
    ap.add_argument("--last-only", action="store_true", help="logits of the last position only (the unembedding for one position)")
    ap.add_argument("--tol", type=float, default=1e-3, help="largest allowed |logit difference| vs torch")
    args = ap.parse_args()

    import onnx
    import onnxruntime as ort
    from transformers import AutoModelForCausalLM, AutoTokenizer

    gguf = Path(args.model)
    out = Path(args.out or ("models/smollm2-135m-f32-last.onnx" if args.last_only else "models/smollm2-135m-f32.onnx"))
    out.parent.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    t0 = time.time()
    model = AutoModelForCausalLM.from_pretrained(
        str(gguf.parent), gguf_file=gguf.name, dtype=torch.float32, attn_implementation="eager"
    ).eval()
    tok = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    print(f"loaded {gguf} in {time.time() - t0:.1f} s")

    ids = {name: tok(text, return_tensors="pt")["input_ids"] for name, text in [("bench", BENCH_PROMPT), ("short", SHORT_PROMPT)]}
    print(f"bench prompt: {ids['bench'].shape[1]} tokens, first ids {ids['bench'][0, :12].tolist()}")

    wrapper = LogitsOnly(model, args.last_only).eval()
    t0 = time.time()
    with torch.no_grad():
        how = export(wrapper, ids["short"], out, args.last_only)
    print(f"exported with the {how} exporter to {out} ({out.stat().st_size / 2**20:.1f} MiB) in {time.time() - t0:.1f} s")

    onnx.checker.check_model(str(out))
    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    ok = True
    for name, x in ids.items():
        with torch.no_grad():
            ref = wrapper(x)[0].numpy()
        got = session.run(["logits"], {"input_ids": x.numpy().astype(np.int64)})[0][0]
        if args.last_only:  # torch with every position's logits: the last must match
            with torch.no_grad():
                full = LogitsOnly(model).eval()(x)[0].numpy()
            if got.shape[0] != 1 or ref.shape[0] != 1:
                print(f"{name}: expected one position's logits, got {got.shape[0]} (torch {ref.shape[0]})")
                ok = False
            ref = np.concatenate([ref, full[-1:]])  # compare against both
            got = np.concatenate([got, got])
        diff = float(np.abs(got - ref).max())
        top_ref, top_got = int(ref[-1].argmax()), int(got[-1].argmax())
        print(
            f"{name} ({x.shape[1]} tokens): max |logit onnxruntime - torch| = {diff:.2e} over "
            f"{'the last position (vs torch logits_to_keep=1 and all positions)' if args.last_only else 'all positions'} "
            f"(logit scale {float(np.abs(ref).max()):.1f}); top-1 next token torch {top_ref} {tok.decode([top_ref])!r}, "
            f"onnxruntime {top_got} {tok.decode([top_got])!r}"
        )
        ok &= diff <= args.tol and top_ref == top_got
    print("OK" if ok else f"MISMATCH (tolerance {args.tol})")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
