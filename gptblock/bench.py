"""Benchmark gptblock beside Hugging Face transformers' GPT-2 on this machine (run by hand, not a test).

    python -m gptblock.bench                      # full run: table on screen
    python -m gptblock.bench --quick              # fewer repeats and tokens, for a first look
    python -m gptblock.bench --json benchmarks/results/cpu-2core.json
    python -m gptblock.bench --plot benchmarks/results/cpu-2core.json --out docs/assets/performance-cpu-2core.svg
    python -m gptblock.bench --markdown benchmarks/results/cpu-2core.json --lang en
    python -m gptblock.bench --update-docs benchmarks/results/cpu-2core.json   # pages' tables + plot

Everything runs in one process, float32, with ``torch.set_num_threads`` set once to the number of
cores. For each workload the contenders are interleaved (A, B, C, A, B, C, ...) after a warm-up,
so that a slow minute on a shared machine hits all of them; each row gives the median, min and max of
the repeats. The machine's own limits are measured in the same run, at its start and at its end: the
float32 matrix-multiply rate (4096 x 4096 x 4096) and the memory read bandwidth; every row is put
against the better of the two medians.

Needs ``transformers`` (the ``bench`` extra); the Hugging Face models are built from a random
``GPT2Config``, nothing is downloaded.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from gptblock.config import GPT_CONFIG_124M
from gptblock.model import GPTModel

EMB, HEADS, LAYERS, CONTEXT, VOCAB = 768, 12, 12, 1024, 50257
RESULTS = Path(__file__).resolve().parents[1] / "benchmarks" / "results"
DEFAULT_RESULT = RESULTS / "cpu-2core.json"

# --------------------------------------------------------------------------------------------------
# Work counted per workload (multiply-adds count 2 FLOP; causal attention counts the half it computes)


def block_forward_flop(batch: int, tokens: int, emb_dim: int = EMB) -> float:
    """FLOP of one block's forward: the six linear layers plus causal attention (QKᵀ and AV)."""
    rows = batch * tokens
    linear = 2 * rows * (4 * emb_dim * emb_dim + 2 * emb_dim * 4 * emb_dim)  # q, k, v, out; ff in, ff out
    attention = 2 * 2 * batch * tokens * tokens * emb_dim / 2  # two products, half of the (T, T) grid
    return float(linear + attention)


def model_forward_flop(batch: int, tokens: int) -> float:
    """FLOP of GPT-2 124M's forward with the logits of every position."""
    return LAYERS * block_forward_flop(batch, tokens) + 2.0 * batch * tokens * EMB * VOCAB


def decode_bytes_per_token() -> float:
    """Bytes of weights read for one new token of GPT-2 124M (all but the two embedding tables)."""
    attention = 4 * EMB * EMB + EMB  # query, key, value (no bias), output projection with its bias
    feed_forward = 2 * EMB * 4 * EMB + 4 * EMB + EMB
    norms = 2 * 2 * EMB
    return 4.0 * (LAYERS * (attention + feed_forward + norms) + 2 * EMB + EMB * VOCAB)


# --------------------------------------------------------------------------------------------------
# Timing


def interleaved(contenders: dict[str, Callable[[], object]], repeats: int, warmup: int = 2,
                min_seconds: float = 0.2) -> dict[str, list[float]]:
    """Seconds per call of each contender: ``repeats`` rounds, each contender once per round.

    A call faster than ``min_seconds`` is repeated inside a measurement (the same count for a
    contender in every round) and the time divided.
    """
    inner = {}
    for name, fn in contenders.items():
        start = time.perf_counter()
        for _ in range(warmup):
            fn()
        once = (time.perf_counter() - start) / max(warmup, 1)
        inner[name] = max(1, int(min_seconds / max(once, 1e-9)))
    times: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(repeats):
        for name, fn in contenders.items():
            start = time.perf_counter()
            for _ in range(inner[name]):
                fn()
            times[name].append((time.perf_counter() - start) / inner[name])
    return times


def summary(seconds: list[float]) -> dict[str, float]:
    return {"median_s": statistics.median(seconds), "min_s": min(seconds), "max_s": max(seconds),
            "repeats": len(seconds)}


# --------------------------------------------------------------------------------------------------
# The machine


def machine() -> dict[str, Any]:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    config = torch.__config__.show()
    return {
        "cpu": cpu,
        "cores": cores(),
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "mkl": "MKL" in config or "Math Kernel Library" in config,
        "onednn": torch.backends.mkldnn.is_available(),
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "transformers": _transformers_version(),
    }


def cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def _transformers_version() -> str | None:
    try:
        import transformers
    except ImportError:
        return None
    return transformers.__version__


def measure_limits(repeats: int) -> dict[str, Any]:
    """Float32 matmul rate at 4096³ and memory read bandwidth (sum over a 512 MiB tensor)."""
    def matmul_seconds() -> list[float]:
        a, b, out = torch.randn(4096, 4096), torch.randn(4096, 4096), torch.empty(4096, 4096)
        return interleaved({"matmul": lambda: torch.mm(a, b, out=out)}, repeats, warmup=1, min_seconds=0)["matmul"]

    def read_seconds() -> list[float]:
        big = torch.ones(128 * 2**20)  # 512 MiB of float32
        return interleaved({"read": lambda: big.sum()}, repeats, warmup=1, min_seconds=0)["read"]

    mm, bw = matmul_seconds(), read_seconds()
    flop, size = 2.0 * 4096**3, 512 * 2**20
    return {
        "matmul_gflops": flop / statistics.median(mm) / 1e9,
        "matmul_gflops_min": flop / max(mm) / 1e9,
        "matmul_gflops_max": flop / min(mm) / 1e9,
        "read_gbs": size / statistics.median(bw) / 1e9,
        "read_gbs_min": size / max(bw) / 1e9,
        "read_gbs_max": size / min(bw) / 1e9,
    }


def combine_limits(first: dict[str, Any], second: dict[str, Any]) -> dict[str, Any]:
    """The better median of two measurements of the limits, with the extremes of both."""
    combined = {}
    for key in ("matmul_gflops", "read_gbs"):
        combined[key] = max(first[key], second[key])
        combined[key + "_min"] = min(first[key + "_min"], second[key + "_min"])
        combined[key + "_max"] = max(first[key + "_max"], second[key + "_max"])
        combined[key + "_measurements"] = [first[key], second[key]]
    return combined


# --------------------------------------------------------------------------------------------------
# Contenders


def hf_config(n_layer: int):
    from transformers import GPT2Config

    return GPT2Config(n_embd=EMB, n_head=HEADS, n_layer=n_layer, n_positions=CONTEXT, vocab_size=VOCAB,
                      resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0)


def hf_block(impl: str):
    from transformers.models.gpt2.modeling_gpt2 import GPT2Block

    config = hf_config(1)
    config._attn_implementation = impl
    return GPT2Block(config, layer_idx=0)


def hf_model(impl: str):
    from transformers import GPT2LMHeadModel

    return GPT2LMHeadModel._from_config(hf_config(LAYERS), attn_implementation=impl).eval()


def gpt_block(fused: bool):
    from gptblock.block import TransformerBlock

    block = TransformerBlock({**GPT_CONFIG_124M, "drop_rate": 0.0})
    block.att.allow_fused = fused
    return block


def causal_additive_mask(tokens: int) -> torch.Tensor:
    """What HF's GPT2Model gives an eager block: 0 on and below the diagonal, the lowest float above."""
    mask = torch.full((tokens, tokens), torch.finfo(torch.float32).min).triu(1)
    return mask[None, None]


def block_contenders(batch: int, tokens: int, backward: bool) -> dict[str, Callable[[], object]]:
    from gptblock.kv_cache import CachedBlock

    x = torch.randn(batch, tokens, EMB)
    mask = causal_additive_mask(tokens)
    mods = {"gptblock explicit": gpt_block(False), "gptblock fused": gpt_block(True),
            "HF eager": hf_block("eager"), "HF sdpa": hf_block("sdpa")}
    calls: dict[str, Callable[[], object]] = {}
    for name, mod in mods.items():
        kwargs = {"attention_mask": mask} if name == "HF eager" else {}
        if backward:
            mod.train()
            xg = x.clone().requires_grad_(True)

            def step(mod=mod, kwargs=kwargs, xg=xg):
                mod.zero_grad(set_to_none=True)
                mod(xg, **kwargs).sum().backward()
        else:
            mod.eval()

            def step(mod=mod, kwargs=kwargs):
                with torch.no_grad():
                    mod(x, **kwargs)
        calls[name] = step
    if not backward:  # gptblock's inference path: the block as the KV cache runs it, whole prompt at once
        cached = CachedBlock(mods["gptblock fused"], batch_size=batch, max_len=tokens)

        def step_cached():
            cached.cache.reset()
            cached(x)
        calls["gptblock inference"] = step_cached
    return calls


def small_linear_contenders(rows: int, d_in: int = EMB, d_out: int = 4 * EMB) -> dict[str, Callable[[], object]]:
    """One (rows x d_in) . (d_in x d_out) product, the first feed-forward layer at the (2, 4) shape, four ways."""
    from torch.nn import functional as F

    from gptblock.kv_cache import _Linear

    linear = torch.nn.Linear(d_in, d_out)
    x = torch.randn(rows, d_in)
    weight, bias = linear.weight.detach(), linear.bias.detach()
    weight_t = weight.t().contiguous()
    packed = _Linear(linear, rows_hint=rows)
    calls: dict[str, Callable[[], object]] = {
        "F.linear (MKL)": lambda: F.linear(x, weight, bias),
        "x @ W.T contiguous": lambda: torch.addmm(bias, x, weight_t),
        "one vector at a time": lambda: [F.linear(x[i], weight, bias) for i in range(rows)],
    }
    if packed.packed:
        calls["oneDNN packed"] = lambda: packed(x)
    return {name: torch.no_grad()(fn) for name, fn in calls.items()}


def model_contenders(batch: int, tokens: int, models: dict[str, torch.nn.Module]) -> dict[str, Callable[[], object]]:
    ids = torch.randint(0, VOCAB, (batch, tokens))
    calls = {}
    for name, model in models.items():
        def step(model=model):
            with torch.no_grad():
                model(ids)
        calls[name] = step
    return calls


def generation_contenders(prompt_len: int, new_tokens: int,
                          models: dict[str, torch.nn.Module]) -> dict[str, Callable[[], object]]:
    from gptblock.generation import generate

    ids = torch.randint(0, VOCAB, (1, prompt_len))
    ours = models["gptblock fused"]
    calls: dict[str, Callable[[], object]] = {
        "gptblock no cache": lambda: generate(ours, ids, new_tokens, CONTEXT, use_cache=False),
        "gptblock cache": lambda: generate(ours, ids, new_tokens, CONTEXT, use_cache=True),
    }
    for impl in ("eager", "sdpa"):
        hf = models[f"HF {impl}"]

        def step(hf=hf):
            with torch.no_grad():
                out = hf.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=new_tokens,
                                  min_new_tokens=new_tokens, do_sample=False, use_cache=True, pad_token_id=0)
            if out.shape[1] != prompt_len + new_tokens:
                raise RuntimeError(f"HF generate returned {out.shape[1] - prompt_len} tokens")
        calls[f"HF {impl} cache"] = step
    return calls


# --------------------------------------------------------------------------------------------------
# Peak memory, one fresh process per case


def memory_case(case: str, batch: int, tokens: int) -> dict[str, float]:
    """Peak resident memory of one block's eval forward above what was resident before it (MiB)."""
    torch.set_num_threads(cores())
    mod = {"gptblock explicit": lambda: gpt_block(False), "gptblock fused": lambda: gpt_block(True),
           "HF eager": lambda: hf_block("eager"), "HF sdpa": lambda: hf_block("sdpa")}[case]().eval()
    x = torch.randn(batch, tokens, EMB)
    kwargs = {"attention_mask": causal_additive_mask(tokens)} if case == "HF eager" else {}
    with torch.no_grad():
        mod(x[:, :8], **({"attention_mask": causal_additive_mask(8)} if kwargs else {}))  # load the kernels
        before = peak_rss_kib(reset=True)
        mod(x, **kwargs)
        after = peak_rss_kib()
    return {"peak_extra_mib": (after - before) / 1024, "input_mib": x.numel() * 4 / 2**20}


def peak_rss_kib(reset: bool = False) -> int:
    """This process's peak resident memory (KiB); ``reset`` first brings the peak down to the current size.

    Linux's ``ru_maxrss`` survives fork and exec (a child starts with its parent's peak), so the
    peak is read from ``/proc/self/status`` (VmHWM), which ``/proc/self/clear_refs`` can reset.
    """
    status = Path("/proc/self/status")
    if not status.exists():
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    if reset:
        try:
            Path("/proc/self/clear_refs").write_text("5")
        except OSError:  # read-only on some hosts: the peak then includes the start-up, a fresh process's
            pass
    for line in status.read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise RuntimeError("no VmHWM in /proc/self/status")


def memory_rows(batch: int, tokens: int) -> list[dict[str, Any]]:
    rows = []
    for case in ("gptblock explicit", "gptblock fused", "HF eager", "HF sdpa"):
        out = subprocess.run([sys.executable, "-m", "gptblock.bench", "--memory-case", case,
                              "--shape", f"{batch},{tokens}"], capture_output=True, text=True, check=True)
        result = json.loads(out.stdout.strip().splitlines()[-1])
        rows.append({"workload": "block memory", "shape": [batch, tokens], "contender": case, **result})
    return rows


# --------------------------------------------------------------------------------------------------
# The run


def run(quick: bool = False, log: Callable[[str], None] = print) -> dict[str, Any]:
    torch.set_num_threads(cores())  # once: OpenMP threads are costly to start and stop
    torch.manual_seed(0)
    repeats = 3 if quick else 5
    new_tokens = 32 if quick else 128
    began = time.perf_counter()
    result: dict[str, Any] = {"machine": machine(), "quick": quick, "repeats": repeats, "rows": []}
    log(f"machine: {json.dumps(result['machine'])}")
    limits = measure_limits(repeats)
    result["limits"] = limits
    log(f"limits: matmul {limits['matmul_gflops']:.0f} GFLOP/s, read {limits['read_gbs']:.1f} GB/s")
    rows = result["rows"]

    def add(workload: str, shape: tuple[int, ...], times: dict[str, list[float]], flop: float | None = None,
            tokens: int | None = None, weight_bytes: float | None = None) -> None:
        for name, seconds in times.items():
            row = {"workload": workload, "shape": list(shape), "contender": name, **summary(seconds)}
            if flop is not None:
                row["gflop"] = flop / 1e9
                row["gflops"] = flop / row["median_s"] / 1e9
                row["share_of_peak"] = row["gflops"] / limits["matmul_gflops"]
            if weight_bytes is not None:  # how fast the weights went by (they sit in the L3 cache here)
                row["weight_gbs"] = weight_bytes / row["median_s"] / 1e9
            if tokens is not None:
                row["tokens_per_s"] = tokens / row["median_s"]
                floor = limits["read_gbs"] * 1e9 / decode_bytes_per_token()
                row["floor_tokens_per_s"] = floor
                row["share_of_floor"] = row["tokens_per_s"] / floor
            rows.append(row)
            log(format_row(row))

    for shape in ((2, 4), (8, 256), (4, 1024)):
        add("block forward", shape, interleaved(block_contenders(*shape, backward=False), repeats),
            block_forward_flop(*shape))
    for n_rows in (1, 8):
        add("linear 768->3072", (n_rows, EMB, 4 * EMB), interleaved(small_linear_contenders(n_rows), repeats),
            2.0 * n_rows * EMB * 4 * EMB, weight_bytes=4.0 * (EMB * 4 * EMB + 4 * EMB))
    add("block forward+backward", (8, 256), interleaved(block_contenders(8, 256, backward=True), repeats),
        3 * block_forward_flop(8, 256))

    torch.manual_seed(0)
    explicit = GPTModel({**GPT_CONFIG_124M, "drop_rate": 0.0}).eval()
    fused = GPTModel({**GPT_CONFIG_124M, "drop_rate": 0.0}).eval()
    fused.load_state_dict(explicit.state_dict())
    for block in explicit.trf_blocks:
        block.att.allow_fused = False
    models = {"gptblock explicit": explicit, "gptblock fused": fused, "HF eager": hf_model("eager"),
              "HF sdpa": hf_model("sdpa")}
    for shape in ((1, 1024), (8, 128)):
        add("GPT-2 124M forward", shape, interleaved(model_contenders(*shape, models), repeats, warmup=1),
            model_forward_flop(*shape))
    del models["gptblock explicit"], explicit

    log(f"generation: 16-token prompt + {new_tokens} new tokens, greedy")
    add("GPT-2 124M greedy generation", (1, 16, new_tokens),
        interleaved(generation_contenders(16, new_tokens, models), repeats, warmup=1, min_seconds=0),
        tokens=new_tokens)
    del models

    # The limits again at the end: on a shared machine one measurement may fall in a busy minute.
    # The peak is the better of the two medians; the share of each row is computed against it.
    limits = combine_limits(limits, measure_limits(repeats))
    result["limits"] = limits
    log(f"limits at the end: matmul {limits['matmul_gflops']:.0f} GFLOP/s, read {limits['read_gbs']:.1f} GB/s "
        "(the better of the two measurements)")
    for row in rows:
        if "gflops" in row:
            row["share_of_peak"] = row["gflops"] / limits["matmul_gflops"]
        if "tokens_per_s" in row:
            row["floor_tokens_per_s"] = limits["read_gbs"] * 1e9 / decode_bytes_per_token()
            row["share_of_floor"] = row["tokens_per_s"] / row["floor_tokens_per_s"]

    log("peak memory, one fresh process per case")
    for row in memory_rows(4, 1024):
        rows.append(row)
        log(format_row(row))
    result["targets"] = targets(result)
    result["seconds"] = time.perf_counter() - began
    return result


# --------------------------------------------------------------------------------------------------
# Reading a result


def find(result: dict[str, Any], workload: str, shape: list[int] | tuple[int, ...], contender: str) -> dict:
    for row in result["rows"]:
        if row["workload"] == workload and row["contender"] == contender and list(row["shape"])[:2] == list(shape)[:2]:
            return row
    raise KeyError((workload, shape, contender))


def targets(result: dict[str, Any]) -> list[dict[str, Any]]:
    """The issue's targets as measured ratios, each with whether it is met."""
    out = []

    def ratio(name: str, value: float, goal: float, at_most: bool = True) -> None:
        met = value <= goal if at_most else value >= goal
        out.append({"target": name, "value": value, "goal": goal, "at_most": at_most, "met": met})

    def t(workload, shape, contender):
        return find(result, workload, shape, contender)["median_s"]

    bf, gen = "block forward", "GPT-2 124M greedy generation"
    ratio("block (4, 1024) fused: share of matmul peak", find(result, bf, (4, 1024), "gptblock fused")["share_of_peak"],
          0.85, at_most=False)
    ratio("block (4, 1024) inference: share of matmul peak",
          find(result, bf, (4, 1024), "gptblock inference")["share_of_peak"], 0.85, at_most=False)
    ratio("block (4, 1024) fused / HF sdpa", t(bf, (4, 1024), "gptblock fused") / t(bf, (4, 1024), "HF sdpa"), 0.95)
    ratio("block (4, 1024) fused / explicit",
          t(bf, (4, 1024), "gptblock fused") / t(bf, (4, 1024), "gptblock explicit"), 0.6)
    ratio("block fwd+bwd (8, 256) fused / HF sdpa",
          t("block forward+backward", (8, 256), "gptblock fused") / t("block forward+backward", (8, 256), "HF sdpa"),
          0.95)
    ratio("GPT-2 124M forward (1, 1024) fused / HF sdpa",
          t("GPT-2 124M forward", (1, 1024), "gptblock fused") / t("GPT-2 124M forward", (1, 1024), "HF sdpa"), 0.9)
    ratio("greedy decoding: gptblock cache / HF sdpa cache (tokens/s)",
          find(result, gen, (1, 16), "gptblock cache")["tokens_per_s"]
          / find(result, gen, (1, 16), "HF sdpa cache")["tokens_per_s"], 1.5, at_most=False)
    ratio("greedy decoding: gptblock cache, share of the weight-streaming floor",
          find(result, gen, (1, 16), "gptblock cache")["share_of_floor"], 0.7, at_most=False)
    ratio("block (2, 4): HF sdpa / gptblock inference (speed-up)",
          t(bf, (2, 4), "HF sdpa") / t(bf, (2, 4), "gptblock inference"), 2.0, at_most=False)
    ratio("block (2, 4): HF sdpa / gptblock fused (speed-up)",
          t(bf, (2, 4), "HF sdpa") / t(bf, (2, 4), "gptblock fused"), 2.0, at_most=False)
    mem = {r["contender"]: r["peak_extra_mib"] for r in result["rows"] if r["workload"] == "block memory"}
    ratio("block (4, 1024) peak memory fused / explicit", mem["gptblock fused"] / mem["gptblock explicit"], 0.5)
    return out


def format_row(row: dict[str, Any]) -> str:
    shape = "x".join(str(s) for s in row["shape"])
    head = f"{row['workload']:<30} {shape:<10} {row['contender']:<20}"
    if row["workload"] == "block memory":
        return f"{head} peak +{row['peak_extra_mib']:.0f} MiB"
    text = (f"{head} {fmt_time(row['median_s']):>9} [{fmt_time(row['min_s'])} .. {fmt_time(row['max_s'])}]")
    if "share_of_peak" in row:
        text += f"  {row['gflops']:6.1f} GFLOP/s  {100 * row['share_of_peak']:5.1f}% of peak"
    if "weight_gbs" in row:
        text += f"  {row['weight_gbs']:6.1f} GB/s of weights"
    if "tokens_per_s" in row:
        text += f"  {row['tokens_per_s']:6.2f} tok/s  {100 * row['share_of_floor']:5.1f}% of floor"
    return text


def fmt_time(seconds: float) -> str:
    return f"{seconds * 1e3:.2f} ms" if seconds < 1 else f"{seconds:.2f} s"


HEADERS = {
    "es": ("carga", "forma", "implementación", "mediana", "mín-máx", "GFLOP/s", "% del pico", "tokens/s",
           "% del suelo", "memoria pico"),
    "en": ("workload", "shape", "implementation", "median", "min-max", "GFLOP/s", "% of peak", "tokens/s",
           "% of floor", "peak memory"),
}


def markdown_table(result: dict[str, Any], lang: str = "en") -> str:
    """The rows of a result as a Markdown table (headers in ``lang``: "es" or "en")."""
    h = HEADERS[lang]
    lines = [f"| {h[0]} | {h[1]} | {h[2]} | {h[3]} | {h[4]} | {h[5]} | {h[6]} | {h[7]} | {h[8]} |",
             "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for row in result["rows"]:
        shape = "x".join(str(s) for s in row["shape"])
        if row["workload"] == "block memory":
            lines.append(f"| {row['workload']} | {shape} | {row['contender']} | "
                         f"+{row['peak_extra_mib']:.0f} MiB ({h[9]}) | | | | | |")
            continue
        cells = [row["workload"], shape, row["contender"], fmt_time(row["median_s"]),
                 f"{fmt_time(row['min_s'])} - {fmt_time(row['max_s'])}"]
        cells += [f"{row['gflops']:.1f}", f"{100 * row['share_of_peak']:.0f}"] if "gflops" in row else ["", ""]
        cells += ([f"{row['tokens_per_s']:.1f}", f"{100 * row['share_of_floor']:.0f}"]
                  if "tokens_per_s" in row else ["", ""])
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def targets_table(result: dict[str, Any], lang: str = "en") -> str:
    """The targets as a Markdown table (recomputed from the rows)."""
    head = {"es": ("objetivo", "medido", "meta", "¿cumplido?", "sí", "no"),
            "en": ("target", "measured", "goal", "met?", "yes", "no")}[lang]
    lines = [f"| {head[0]} | {head[1]} | {head[2]} | {head[3]} |", "| --- | ---: | ---: | --- |"]
    for t in targets(result):
        lines.append(f"| {t['target']} | {t['value']:.2f} | {'≤' if t['at_most'] else '≥'} {t['goal']:.2f} | "
                     f"{head[4] if t['met'] else head[5]} |")
    return "\n".join(lines)


PAGES = {"es": Path("docs/es/performance.md"), "en": Path("docs/en/performance.md")}
TABLE_START, TABLE_END = "<!-- bench-tables:start -->", "<!-- bench-tables:end -->"


def page_tables(result: dict[str, Any], lang: str) -> str:
    """What the performance page shows between its two markers: the machine, the rows, the targets."""
    m, lim = result["machine"], result["limits"]
    if lang == "es":
        head = (f"Máquina: **{m['cpu']}**, {m['cores']} núcleos, {m['threads']} hilos, torch {m['torch']}, "
                f"transformers {m['transformers']}. Límites medidos en la misma ejecución: multiplicación "
                f"de matrices fp32 (4096³) **{lim['matmul_gflops']:.0f} GFLOP/s** "
                f"({lim['matmul_gflops_min']:.0f}-{lim['matmul_gflops_max']:.0f}); lectura de memoria "
                f"**{lim['read_gbs']:.1f} GB/s** ({lim['read_gbs_min']:.1f}-{lim['read_gbs_max']:.1f}). "
                f"{result['repeats']} repeticiones, {result['seconds'] / 60:.0f} minutos en total.")
    else:
        head = (f"Machine: **{m['cpu']}**, {m['cores']} cores, {m['threads']} threads, torch {m['torch']}, "
                f"transformers {m['transformers']}. Limits measured in the same run: fp32 matrix "
                f"multiply (4096³) **{lim['matmul_gflops']:.0f} GFLOP/s** "
                f"({lim['matmul_gflops_min']:.0f}-{lim['matmul_gflops_max']:.0f}); memory read "
                f"**{lim['read_gbs']:.1f} GB/s** ({lim['read_gbs_min']:.1f}-{lim['read_gbs_max']:.1f}). "
                f"{result['repeats']} repeats, {result['seconds'] / 60:.0f} minutes in all.")
    return f"{head}\n\n{targets_table(result, lang)}\n\n{markdown_table(result, lang)}"


def update_pages(result: dict[str, Any], root: Path | None = None) -> None:
    """Rewrite the tables between the markers of both performance pages from ``result``."""
    for lang, page in PAGES.items():
        path = (root or Path.cwd()) / page
        text = path.read_text(encoding="utf-8")
        start, end = text.index(TABLE_START) + len(TABLE_START), text.index(TABLE_END)
        path.write_text(text[:start] + "\n" + page_tables(result, lang) + "\n" + text[end:], encoding="utf-8")


def load_result(path: str | os.PathLike | None = None) -> dict[str, Any]:
    """A result written by ``--json`` (default: the committed ``benchmarks/results/cpu-2core.json``)."""
    if path is None:
        path = DEFAULT_RESULT if DEFAULT_RESULT.exists() else Path.cwd() / "benchmarks" / "results" / "cpu-2core.json"
    return json.loads(Path(path).read_text(encoding="utf-8"))


def plot(result: dict[str, Any], out: str | os.PathLike) -> None:
    """Two panels: share of the matmul peak per workload and contender; decoding tokens/s and the floor."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams["svg.hashsalt"] = "gptblock"
    order = ["gptblock explicit", "gptblock fused", "gptblock inference", "HF eager", "HF sdpa"]
    colors = {"gptblock explicit": "#9fa8da", "gptblock fused": "#3949ab", "gptblock inference": "#1a237e",
              "HF eager": "#ffcc80", "HF sdpa": "#ef6c00"}
    groups = [(r["workload"], tuple(r["shape"])) for r in result["rows"]
              if "share_of_peak" in r and r["contender"] in order]
    groups = list(dict.fromkeys(groups))
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 4.6), gridspec_kw={"width_ratios": [3, 1.3]})
    width = 0.8 / len(order)
    for i, name in enumerate(order):
        xs, ys = [], []
        for g, (workload, shape) in enumerate(groups):
            try:
                row = find(result, workload, shape, name)
            except KeyError:
                continue
            xs.append(g + (i - (len(order) - 1) / 2) * width)
            ys.append(100 * row["share_of_peak"])
        ax1.bar(xs, ys, width, label=name, color=colors[name])
    labels = [f"{w.replace('GPT-2 124M ', '124M ').replace('forward+backward', 'fwd+bwd')}\n"
              f"{'x'.join(map(str, s))}" for w, s in groups]
    ax1.set_xticks(range(len(groups)), labels, fontsize=8)
    ax1.axhline(100, color="grey", lw=0.8, ls="--")
    ax1.set_ylabel("% of measured fp32 matmul peak (4096³)")
    ax1.set_ylim(0, 130)
    ax1.legend(fontsize=8, ncol=5, loc="upper left")
    ax1.set_title(f"matmul peak {result['limits']['matmul_gflops']:.0f} GFLOP/s", fontsize=10)

    gen = [r for r in result["rows"] if "tokens_per_s" in r]
    names = [r["contender"] for r in gen]
    ax2.barh(names, [r["tokens_per_s"] for r in gen],
             color=["#3949ab" if n.startswith("gptblock") else "#ef6c00" for n in names])
    floor = gen[0]["floor_tokens_per_s"]
    ax2.axvline(floor, color="grey", lw=0.8, ls="--")
    ax2.text(floor, len(gen) - 0.5, " weight-streaming floor", fontsize=8, va="center", ha="right")
    ax2.set_xlabel("tokens/s (greedy, 16-token prompt)")
    ax2.tick_params(axis="y", labelsize=8)
    m = result["machine"]
    fig.suptitle(f"{m['cpu']}, {m['threads']} threads, torch {m['torch']}, float32", fontsize=10)
    fig.tight_layout()
    fig.savefig(out, metadata={"Date": None} if str(out).endswith(".svg") else None)
    plt.close(fig)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m gptblock.bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="3 repeats and 32 new tokens instead of 5 and 128")
    parser.add_argument("--json", metavar="PATH", help="write the result there")
    parser.add_argument("--plot", metavar="JSON", help="draw a result instead of measuring (with --out)")
    parser.add_argument("--out", metavar="IMAGE", default="docs/assets/performance-cpu-2core.svg")
    parser.add_argument("--markdown", metavar="JSON", help="print a result's tables in Markdown (with --lang)")
    parser.add_argument("--lang", choices=("es", "en"), default="en")
    parser.add_argument("--update-docs", metavar="JSON",
                        help="rewrite the performance pages' tables and the plot (--out) from a result")
    parser.add_argument("--memory-case", help=argparse.SUPPRESS)
    parser.add_argument("--shape", default="4,1024", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.memory_case:
        batch, tokens = (int(s) for s in args.shape.split(","))
        print(json.dumps(memory_case(args.memory_case, batch, tokens)))
        return
    if args.plot:
        plot(load_result(args.plot), args.out)
        print(f"wrote {args.out}")
        return
    if args.update_docs:
        result = load_result(args.update_docs)
        update_pages(result)
        plot(result, args.out)
        print(f"updated {', '.join(str(p) for p in PAGES.values())} and {args.out}")
        return
    if args.markdown:
        result = load_result(args.markdown)
        print(markdown_table(result, args.lang) + "\n\n" + targets_table(result, args.lang))
        return
    result = run(quick=args.quick)
    print()
    print(targets_table(result))
    print(f"\n{result['seconds']:.0f} s in all")
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
