"""Benchmark gptblock beside Hugging Face transformers' GPT-2 on this machine (run by hand, never by the tests).

From the repository's root, with the ``bench`` extra installed (``transformers``, ``matplotlib``)::

    python benchmarks/bench.py --json benchmarks/results/cpu-2core.json --update-docs  # measure, save, pages
    python benchmarks/bench.py --quick                  # a first look, nothing written
    python benchmarks/bench.py --update-docs            # the pages and charts from the committed result

Everything runs in one process, float32, with ``torch.set_num_threads`` set once to the number of
cores. For each workload the contenders are interleaved (A, B, C, A, B, C, ...) after a warm-up, so
that a slow minute on a shared machine hits all of them; each row gives the median, min and max of
the repeats. The machine's own limits are measured in the same run, at its start and at its end:
the float32 matrix-multiply rate (4096 x 4096 x 4096) and the memory read bandwidth; every row is put
against the better of the two medians. Peak memory is measured in a fresh process per case.

The Hugging Face models are built from a random ``GPT2Config``: nothing is downloaded. The script
imports gptblock from this checkout, installed or not.
"""

from __future__ import annotations

import argparse
import copy
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

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script: the gptblock of this checkout, without an install
    sys.path.insert(0, str(ROOT))

import torch  # noqa: E402
from torch.nn import functional as F  # noqa: E402

from gptblock import GPT_CONFIG_124M, GPTModel, TransformerBlock, generate, optimize_for_cpu  # noqa: E402
from gptblock.linear import Linear  # noqa: E402
from gptblock.optimize import PackedLinear, onednn_linear_works  # noqa: E402

EMB, HEADS, LAYERS, CONTEXT, VOCAB = 768, 12, 12, 1024, 50257
RESULTS = ROOT / "benchmarks" / "results"
DEFAULT_RESULT = RESULTS / "cpu-2core.json"
CFG = {**GPT_CONFIG_124M, "drop_rate": 0.0}
PROMPT, NEW_TOKENS = 16, 128  # greedy decoding: a 16-token prompt and 128 new tokens
# The forward rows' optimized model: optimize_for_cpu(model, rows=8), linear layers packed for oneDNN. Generation
# (one row at a time) uses optimize_for_cpu(model), as the command line does: fused layer norms, query, key and
# value in one product.
OPTIMIZED_ROWS = 8
HEAD_ROWS = 1024  # the output head alone, at the rows of the (1, 1024) forward

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
        "onednn_packed_linear": onednn_linear_works(),
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
    a, b, out = torch.randn(4096, 4096), torch.randn(4096, 4096), torch.empty(4096, 4096)
    mm = interleaved({"matmul": lambda: torch.mm(a, b, out=out)}, repeats, warmup=1, min_seconds=0)["matmul"]
    big = torch.ones(128 * 2**20)  # 512 MiB of float32
    bw = interleaved({"read": lambda: big.sum()}, repeats, warmup=1, min_seconds=0)["read"]
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
# Contenders. gptblock's: "gptblock explicit" (attn_impl="explicit": the book's score matrix),
# "gptblock" (the default: fused attention when nothing is random), "gptblock optimized" (the default
# after optimize_for_cpu). Hugging Face's: GPT2Block / GPT2LMHeadModel with eager or sdpa attention.


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


def gptblock_blocks(drop_rate: float = 0.0) -> dict[str, torch.nn.Module]:
    """The default block, and the same weights with explicit attention and after optimize_for_cpu."""
    cfg = {**CFG, "drop_rate": drop_rate}
    default = TransformerBlock(cfg)
    explicit = TransformerBlock(cfg, attn_impl="explicit")
    explicit.load_state_dict(default.state_dict())
    optimized = optimize_for_cpu(copy.deepcopy(default).eval(), rows=OPTIMIZED_ROWS)
    return {"gptblock explicit": explicit, "gptblock": default, "gptblock optimized": optimized}


def gptblock_models() -> dict[str, torch.nn.Module]:
    """GPT-2 124M three ways (one set of weights), in eval mode."""
    default = GPTModel(CFG).eval()
    explicit = GPTModel(CFG, attn_impl="explicit").eval()
    explicit.load_state_dict(default.state_dict())
    optimized = optimize_for_cpu(copy.deepcopy(default), rows=OPTIMIZED_ROWS)
    return {"gptblock explicit": explicit, "gptblock": default, "gptblock optimized": optimized}


def causal_additive_mask(tokens: int) -> torch.Tensor:
    """What HF's GPT2Model gives an eager block: 0 on and below the diagonal, the lowest float above."""
    mask = torch.full((tokens, tokens), torch.finfo(torch.float32).min).triu(1)
    return mask[None, None]


def block_contenders(batch: int, tokens: int, backward: bool) -> dict[str, Callable[[], object]]:
    x = torch.randn(batch, tokens, EMB)
    mods: dict[str, torch.nn.Module] = gptblock_blocks()
    if backward:  # a packed layer has no gradient
        del mods["gptblock optimized"]
    mods.update({"HF eager": hf_block("eager"), "HF sdpa": hf_block("sdpa")})
    calls: dict[str, Callable[[], object]] = {}
    for name, mod in mods.items():
        kwargs = {"attention_mask": causal_additive_mask(tokens)} if name == "HF eager" else {}
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
    return calls


def linear_contenders(rows: int, d_in: int = EMB, d_out: int = 4 * EMB,
                      bias: bool = True) -> dict[str, Callable[[], object]]:
    """One (rows x d_in) . (d_in x d_out) product (the first feed-forward layer by default), four ways."""
    linear = torch.nn.Linear(d_in, d_out, bias=bias)
    x = torch.randn(rows, d_in)
    weight, b = linear.weight.detach(), None if linear.bias is None else linear.bias.detach()
    weight_t = weight.t().contiguous()
    ours = Linear(d_in, d_out, bias=bias)
    ours.load_state_dict(linear.state_dict())
    calls: dict[str, Callable[[], object]] = {
        "F.linear (MKL)": lambda: F.linear(x, weight, b),
        "x @ W.T contiguous": lambda: x @ weight_t if b is None else torch.addmm(b, x, weight_t),
        "gptblock Linear": lambda: ours(x),
    }
    if onednn_linear_works():
        packed = PackedLinear(linear)
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


def hf_generate(hf: torch.nn.Module, ids: torch.Tensor, new_tokens: int) -> torch.Tensor:
    with torch.no_grad():
        out = hf.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=new_tokens,
                          min_new_tokens=new_tokens, do_sample=False, use_cache=True, pad_token_id=0)
    if out.shape[1] != ids.shape[1] + new_tokens:
        raise RuntimeError(f"HF generate returned {out.shape[1] - ids.shape[1]} tokens")
    return out


def generation_contenders(new_tokens: int, models: dict[str, torch.nn.Module]) -> dict[str, Callable[[], object]]:
    ids = torch.randint(0, VOCAB, (1, PROMPT))
    calls: dict[str, Callable[[], object]] = {
        "gptblock cache": lambda: generate(models["gptblock"], ids, new_tokens, CONTEXT),
        "gptblock cache optimized": lambda: generate(models["gptblock one row"], ids, new_tokens, CONTEXT),
    }
    for impl in ("eager", "sdpa"):
        calls[f"HF {impl} cache"] = lambda hf=models[f"HF {impl}"]: hf_generate(hf, ids, new_tokens)
    return calls


# --------------------------------------------------------------------------------------------------
# Peak memory, one fresh process per case

MEMORY_CASES = {
    # workload: (shape, contenders)
    "block forward memory": ((4, 1024), ("gptblock explicit", "gptblock", "HF eager", "HF sdpa")),
    "block training memory": ((8, 256), ("gptblock explicit", "gptblock sdpa")),
    "generation memory": ((1, PROMPT, 1), ("gptblock cache", "gptblock cache optimized", "HF sdpa cache")),
}


def memory_case(workload: str, contender: str) -> dict[str, float]:
    """Peak resident memory of one case above what was resident before it (MiB), in this process."""
    torch.set_num_threads(cores())
    torch.manual_seed(0)
    shape = MEMORY_CASES[workload][0]
    if workload == "block forward memory":
        x = torch.randn(*shape, EMB)
        if contender.startswith("HF"):
            mod = hf_block(contender.split()[1]).eval()
            kwargs = {"attention_mask": causal_additive_mask(shape[1])} if contender == "HF eager" else {}

            def run() -> None:
                mod(x, **kwargs)

            def warm() -> None:
                mod(x[:, :8], **({"attention_mask": causal_additive_mask(8)} if kwargs else {}))
        else:
            mod = gptblock_blocks()[contender].eval()

            def run() -> None:
                mod(x)

            def warm() -> None:
                mod(x[:, :8])
        with torch.no_grad():
            warm()  # load the kernels
            before = peak_rss_kib(reset=True)
            run()
            after = peak_rss_kib()
    elif workload == "block training memory":  # one step with dropout 0.1: the book's path or SDPA's
        mod = TransformerBlock({**CFG, "drop_rate": 0.1}, attn_impl=contender.split()[1]).train()
        x = torch.randn(*shape, EMB)
        mod(x[:, :8]).sum().backward()
        mod.zero_grad(set_to_none=True)
        before = peak_rss_kib(reset=True)
        mod(x).sum().backward()
        after = peak_rss_kib()
    else:  # one new token after the prompt, above the built model: the cache and any copy of the weights
        ids = torch.randint(0, VOCAB, (1, PROMPT))
        if contender.startswith("HF"):
            hf = hf_model("sdpa")
            hf_generate(hf, ids[:, :2], 1)  # load the kernels
            before = peak_rss_kib(reset=True)
            hf_generate(hf, ids, 1)
        else:
            model = GPTModel(CFG).eval()
            model.out_head.weight = model.tok_emb.weight  # tied, as GPT-2's published weights are
            generate(model, ids[:, :2], 1, CONTEXT)
            before = peak_rss_kib(reset=True)
            if contender == "gptblock cache optimized":
                optimize_for_cpu(model)  # counted: whatever the conversion costs is part of this path
            generate(model, ids, 1, CONTEXT)
        after = peak_rss_kib()
    return {"peak_extra_mib": (after - before) / 1024}


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


def memory_rows(log: Callable[[str], None]) -> list[dict[str, Any]]:
    rows = []
    for workload, (shape, contenders) in MEMORY_CASES.items():
        for contender in contenders:
            out = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--memory-case", workload, contender],
                                 capture_output=True, text=True, check=True)
            result = json.loads(out.stdout.strip().splitlines()[-1])
            rows.append({"workload": workload, "shape": list(shape), "contender": contender, **result})
            log(format_row(rows[-1]))
    return rows


# --------------------------------------------------------------------------------------------------
# The run


def run(quick: bool = False, log: Callable[[str], None] = print) -> dict[str, Any]:
    torch.set_num_threads(cores())  # once: OpenMP threads are costly to start and stop
    torch.manual_seed(0)
    repeats = 3 if quick else 5
    new_tokens = 32 if quick else NEW_TOKENS
    began = time.perf_counter()
    result: dict[str, Any] = {"machine": machine(), "quick": quick, "repeats": repeats, "rows": []}
    log(f"machine: {json.dumps(result['machine'])}")
    limits = measure_limits(repeats)
    log(f"limits: matmul {limits['matmul_gflops']:.0f} GFLOP/s, read {limits['read_gbs']:.1f} GB/s")
    rows = result["rows"]

    def add(workload: str, shape: tuple[int, ...], times: dict[str, list[float]], flop: float | None = None,
            tokens: int | None = None) -> None:
        for name, seconds in times.items():
            row = {"workload": workload, "shape": list(shape), "contender": name, **summary(seconds)}
            if flop is not None:
                row["gflop"] = flop / 1e9
                row["gflops"] = flop / row["median_s"] / 1e9
            if tokens is not None:
                row["tokens_per_s"] = tokens / row["median_s"]
            rows.append(row)
            log(format_row(row))

    for shape in ((2, 4), (8, 256), (4, 1024)):
        add("block forward", shape, interleaved(block_contenders(*shape, backward=False), repeats),
            block_forward_flop(*shape))
    add("block forward+backward", (8, 256), interleaved(block_contenders(8, 256, backward=True), repeats),
        3 * block_forward_flop(8, 256))
    for n_rows in (1, 8):
        add("linear 768->3072", (n_rows, EMB, 4 * EMB), interleaved(linear_contenders(n_rows), repeats),
            2.0 * n_rows * EMB * 4 * EMB)
    add("output head 768->50257", (HEAD_ROWS, EMB, VOCAB),
        interleaved(linear_contenders(HEAD_ROWS, EMB, VOCAB, bias=False), repeats, warmup=1),
        2.0 * HEAD_ROWS * EMB * VOCAB)

    torch.manual_seed(0)
    models = {**gptblock_models(), "HF eager": hf_model("eager"), "HF sdpa": hf_model("sdpa")}
    for shape in ((1, 1024), (8, 128)):
        add("GPT-2 124M forward", shape, interleaved(model_contenders(*shape, models), repeats, warmup=1),
            model_forward_flop(*shape))
    del models["gptblock explicit"], models["gptblock optimized"]
    models["gptblock one row"] = optimize_for_cpu(copy.deepcopy(models["gptblock"]))  # as the command line

    log(f"generation: {PROMPT}-token prompt + {new_tokens} new tokens, greedy")
    add("GPT-2 124M greedy generation", (1, PROMPT, new_tokens),
        interleaved(generation_contenders(new_tokens, models), repeats, warmup=1, min_seconds=0), tokens=new_tokens)
    # The book's loop runs the whole window at every step: an order of magnitude slower, so it is
    # measured apart, with fewer repeats, instead of stretching every round of the others.
    ids, default = torch.randint(0, VOCAB, (1, PROMPT)), models.pop("gptblock")
    del models
    add("GPT-2 124M greedy generation", (1, PROMPT, new_tokens),
        interleaved({"gptblock no cache": lambda: generate(default, ids, new_tokens, CONTEXT, use_cache=False)},
                    max(2, repeats - 2), warmup=0, min_seconds=0), tokens=new_tokens)

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
    rows += memory_rows(log)
    result["seconds"] = time.perf_counter() - began
    return result


def format_row(row: dict[str, Any]) -> str:
    shape = "x".join(str(s) for s in row["shape"])
    head = f"{row['workload']:<30} {shape:<10} {row['contender']:<26}"
    if "peak_extra_mib" in row:
        return f"{head} peak +{row['peak_extra_mib']:.0f} MiB"
    text = f"{head} {row['median_s'] * 1e3:10.2f} ms [{row['min_s'] * 1e3:.2f} .. {row['max_s'] * 1e3:.2f}]"
    if "gflops" in row:
        text += f"  {row['gflops']:6.1f} GFLOP/s"
    if "tokens_per_s" in row:
        text += f"  {row['tokens_per_s']:6.2f} tok/s"
    return text


def load_result(path: str | os.PathLike | None = None) -> dict[str, Any]:
    """A result written by ``--json`` (default: the committed ``benchmarks/results/cpu-2core.json``)."""
    return json.loads(Path(path or DEFAULT_RESULT).read_text(encoding="utf-8"))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python benchmarks/bench.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="3 repeats and 32 new tokens instead of 5 and 128")
    parser.add_argument("--json", metavar="PATH", help="measure and write the result there")
    parser.add_argument("--update-docs", action="store_true",
                        help="rewrite the Performance pages and their charts from the result (the one just measured "
                             "with --json, else the committed one, or --result)")
    parser.add_argument("--result", metavar="JSON", help="the result --update-docs reads (default: --json's, else "
                                                          f"{DEFAULT_RESULT.relative_to(ROOT)})")
    parser.add_argument("--memory-case", nargs=2, metavar=("WORKLOAD", "CONTENDER"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.memory_case:
        print(json.dumps(memory_case(*args.memory_case)))
        return
    if args.json or args.quick or not args.update_docs:
        result = run(quick=args.quick)
        print(f"\n{result['seconds']:.0f} s in all")
        if args.json:
            Path(args.json).parent.mkdir(parents=True, exist_ok=True)
            Path(args.json).write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
            print(f"wrote {args.json}")
    if args.update_docs:
        from benchmarks.report import update_docs  # matplotlib is needed only here

        written = update_docs(load_result(args.result or args.json))
        print("wrote " + ", ".join(str(p.relative_to(ROOT)) for p in written))


if __name__ == "__main__":
    main()
