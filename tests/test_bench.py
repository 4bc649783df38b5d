"""The benchmark's bookkeeping: what it counts, how it reports, and that the pages show the committed result.

No test here measures a time.
"""

from __future__ import annotations

import posixpath
import re

import pytest
import torch

from gptblock import GPT_CONFIG_124M, GPTModel, TransformerBlock, bench

pytest.importorskip("transformers")


def test_block_flop_counts_each_weight_twice_per_row_plus_causal_attention():
    block = TransformerBlock(GPT_CONFIG_124M)
    linear_weights = sum(m.weight.numel() for m in block.modules() if isinstance(m, torch.nn.Linear))
    assert bench.block_forward_flop(2, 256) == 2 * 2 * 256 * linear_weights + 2 * 2 * 256**2 * 768
    assert bench.block_forward_flop(8, 1) == 2 * 8 * linear_weights + 2 * 8 * 768


def test_decode_bytes_are_the_weights_outside_the_embedding_tables():
    model = GPTModel(GPT_CONFIG_124M)
    read = sum(p.numel() for p in model.parameters()) - model.tok_emb.weight.numel() - model.pos_emb.weight.numel()
    assert bench.decode_bytes_per_token() == 4 * read


def synthetic_result() -> dict:
    rows = []
    for workload, shape, contenders in (
        ("block forward", [2, 4], ["gptblock explicit", "gptblock fused", "HF eager", "HF sdpa", "gptblock inference"]),
        ("block forward", [4, 1024], ["gptblock explicit", "gptblock fused", "HF eager", "HF sdpa",
                                     "gptblock inference"]),
        ("block forward+backward", [8, 256], ["gptblock explicit", "gptblock fused", "HF sdpa"]),
        ("GPT-2 124M forward", [1, 1024], ["gptblock fused", "HF sdpa"]),
    ):
        for i, name in enumerate(contenders):
            seconds = 1.0 + i / 10
            rows.append({"workload": workload, "shape": shape, "contender": name, "median_s": seconds,
                         "min_s": seconds, "max_s": seconds, "repeats": 5, "gflops": 50.0 / seconds,
                         "share_of_peak": 0.5 / seconds})
    for name, speed in (("gptblock cache", 30.0), ("HF sdpa cache", 12.0)):
        rows.append({"workload": "GPT-2 124M greedy generation", "shape": [1, 16, 128], "contender": name,
                     "median_s": 128 / speed, "min_s": 1, "max_s": 20, "repeats": 5, "tokens_per_s": speed,
                     "floor_tokens_per_s": 36.0, "share_of_floor": speed / 36})
    for name, mib in (("gptblock explicit", 640.0), ("gptblock fused", 150.0)):
        rows.append({"workload": "block memory", "shape": [4, 1024], "contender": name, "peak_extra_mib": mib})
    result = {"machine": {"cpu": "Test CPU", "cores": 2, "threads": 2, "torch": "2", "transformers": "5"},
              "limits": {"matmul_gflops": 100.0, "matmul_gflops_min": 90.0, "matmul_gflops_max": 110.0,
                         "read_gbs": 18.0, "read_gbs_min": 17.0, "read_gbs_max": 19.0},
              "repeats": 5, "seconds": 600.0, "rows": rows}
    result["targets"] = bench.targets(result)
    return result


def test_targets_are_ratios_of_one_run():
    targets = {t["target"]: t for t in synthetic_result()["targets"]}
    decoding = targets["greedy decoding: gptblock cache / HF sdpa cache (tokens/s)"]
    assert decoding["value"] == pytest.approx(2.5) and decoding["met"]
    memory = targets["block (4, 1024) peak memory fused / explicit"]
    assert memory["value"] == pytest.approx(150 / 640) and memory["met"]
    fused_vs_explicit = targets["block (4, 1024) fused / explicit"]
    assert fused_vs_explicit["value"] == pytest.approx(1.1) and not fused_vs_explicit["met"]


@pytest.mark.parametrize("lang", ["es", "en"])
def test_tables_and_plot(tmp_path, lang):
    result = synthetic_result()
    text = bench.page_tables(result, lang)
    assert "Test CPU" in text
    assert "| GPT-2 124M greedy generation | 1x16x128 | gptblock cache | 4.27 s |" in text
    out = tmp_path / "plot.svg"
    bench.plot(result, out)
    assert out.read_text().startswith("<?xml")


def test_the_pages_show_the_committed_result():
    result = bench.load_result()
    assert result["repeats"] >= 5 and not result["quick"]
    for lang, page in bench.PAGES.items():
        text = (bench.RESULTS.parents[1] / page).read_text(encoding="utf-8")
        start = text.index(bench.TABLE_START) + len(bench.TABLE_START)
        shown = text[start:text.index(bench.TABLE_END)].strip()
        assert shown == bench.page_tables(result, lang), (
            f"{page} is out of date: python -m gptblock.bench --update-docs benchmarks/results/cpu-2core.json")


def test_every_contender_runs_once():
    for calls in (bench.block_contenders(1, 4, backward=False), bench.block_contenders(1, 4, backward=True),
                  bench.small_linear_contenders(2)):
        for call in calls.values():
            call()


def test_peak_memory_of_one_case():
    result = bench.memory_case("gptblock fused", 1, 8)
    assert result["peak_extra_mib"] >= 0 and result["input_mib"] == pytest.approx(8 * 768 * 4 / 2**20)


def test_the_pages_show_the_committed_plot():
    # Raw <img> tags: the English pages are served one folder deeper (/en/performance/), and the
    # shared docs/assets folder is not a documentation file of the English build.
    docs = bench.RESULTS.parents[1] / "docs"
    for lang, served_at in (("es", "performance/"), ("en", "en/performance/")):
        text = (docs / lang / "performance.md").read_text(encoding="utf-8")
        src = re.search(r'<img src="([^"]+)"', text).group(1)
        assert (docs / posixpath.normpath(posixpath.join(served_at, src))).is_file(), src
