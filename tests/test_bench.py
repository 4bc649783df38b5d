"""The benchmark's bookkeeping, and the Performance pages it writes from the committed result.

No test here measures a time. ``test_the_committed_pages_are_what_the_result_gives`` is the one that
fails when a page's measured numbers were typed by hand or come from another run.
"""

from __future__ import annotations

import itertools
import posixpath
import re

import pytest
import torch
from torch import nn

from benchmarks import bench, report
from gptblock import GPT_CONFIG_124M, GPTModel, TransformerBlock

TIMED = {  # workload: (shapes, contenders)
    report.BF: ([(2, 4), (8, 256), (4, 1024)], ["gptblock explicit", "gptblock", "gptblock optimized", "HF eager",
                                               "HF sdpa"]),
    report.FB: ([(8, 256)], ["gptblock explicit", "gptblock", "HF eager", "HF sdpa"]),
    report.LIN: ([(1, 768, 3072), (8, 768, 3072)], ["F.linear (MKL)", "x @ W.T contiguous", "gptblock Linear",
                                                   "oneDNN packed"]),
    report.HEAD: ([(1024, 768, 50257)], ["F.linear (MKL)", "x @ W.T contiguous", "gptblock Linear", "oneDNN packed"]),
    report.FWD: ([(1, 1024), (8, 128)], ["gptblock explicit", "gptblock", "gptblock optimized", "HF eager", "HF sdpa"]),
}


def synthetic_result() -> dict:
    """A result shaped as bench.run writes it, with made-up but distinct numbers (1234.5 ms, 2.5x ...)."""
    rows = []
    for workload, (shapes, contenders) in TIMED.items():
        for s, shape in enumerate(shapes):
            for i, name in enumerate(contenders):
                seconds = (1.0 + i / 8) * 10.0 ** (s - 2)
                rows.append({"workload": workload, "shape": list(shape), "contender": name, "median_s": seconds,
                             "min_s": seconds * 0.9, "max_s": seconds * 1.25, "repeats": 5, "gflop": 64.4,
                             "gflops": 64.4 / seconds, "share_of_peak": 0.5 + i / 20})
    for name, speed in (("gptblock cache", 30.0), ("gptblock cache optimized", 45.5), ("HF eager cache", 11.0),
                        ("HF sdpa cache", 12.0), ("gptblock no cache", 4.25)):
        rows.append({"workload": report.GEN, "shape": [1, 16, 128], "contender": name, "median_s": 128 / speed,
                     "min_s": 1.0, "max_s": 20.0, "repeats": 5, "tokens_per_s": speed, "floor_tokens_per_s": 36.0,
                     "share_of_floor": speed / 36})
    for workload, shape, values in ((report.MEM_BLOCK, [4, 1024], {"gptblock explicit": 640.0, "gptblock": 150.0,
                                                                   "HF eager": 450.0, "HF sdpa": 250.0}),
                                    (report.MEM_TRAIN, [8, 256], {"gptblock explicit": 290.0, "gptblock sdpa": 291.0}),
                                    (report.MEM_GEN, [1, 16, 1], {"gptblock cache": 19.5, "gptblock cache optimized":
                                                                  1157.0, "HF sdpa cache": 10.3})):
        rows += [{"workload": workload, "shape": shape, "contender": name, "peak_extra_mib": mib}
                 for name, mib in values.items()]
    return {"machine": {"cpu": "Test CPU", "cores": 2, "threads": 2, "torch": "2.13.0+cpu", "transformers": "5.24.0",
                        "cpu_capability": "AVX2"},
            "limits": {"matmul_gflops": 100.0, "matmul_gflops_min": 90.0, "matmul_gflops_max": 1110.0,
                       "read_gbs": 18.0, "read_gbs_min": 17.0, "read_gbs_max": 19.0},
            "repeats": 5, "quick": False, "seconds": 600.0, "rows": rows}


def test_block_flop_counts_each_weight_twice_per_row_plus_causal_attention():
    block = TransformerBlock(GPT_CONFIG_124M)
    linear_weights = sum(m.weight.numel() for m in block.modules() if isinstance(m, nn.Linear))
    assert bench.block_forward_flop(2, 256) == 2 * 2 * 256 * linear_weights + 2 * 2 * 256**2 * 768
    assert bench.block_forward_flop(8, 1) == 2 * 8 * linear_weights + 2 * 8 * 768


def test_decode_bytes_are_the_weights_outside_the_embedding_tables():
    with torch.device("meta"):
        model = GPTModel(GPT_CONFIG_124M)
    read = sum(p.numel() for p in model.parameters()) - model.tok_emb.weight.numel() - model.pos_emb.weight.numel()
    assert bench.decode_bytes_per_token() == 4 * read


def test_targets_are_ratios_of_one_run():
    targets = {t["id"]: t for t in report.targets(synthetic_result())}
    assert targets["decode_optimized"]["value"] == pytest.approx(45.5 / 12) and targets["decode_optimized"]["met"]
    assert targets["decode"]["value"] == pytest.approx(2.5) and targets["decode"]["met"]
    assert targets["decode_memory"]["value"] == 19.5 and targets["decode_memory"]["met"]
    assert targets["block_memory"]["value"] == pytest.approx(150 / 640) and targets["block_memory"]["met"]
    assert targets["forward"]["value"] == pytest.approx(1.125 / 1.5) and targets["forward"]["met"]
    assert targets["training"]["value"] == pytest.approx(1.125 / 1.375)


def test_numbers_are_written_as_each_language_writes_them():
    assert report.num(2360064, 0, "es") == "2.360.064" and report.num(2360064, 0, "en") == "2,360,064"
    assert report.ratio(0.8, "es") == "0,80×" and report.ratio(0.8, "en") == "0.80×"
    assert report.duration(1.2345, "es") == "1,23 s" and report.duration(0.0123, "en") == "12.3 ms"
    assert report.percent(0.77, "es") == "77 %" and report.percent(0.77, "en") == "77%"


def numbers(text: str, lang: str) -> list[float]:
    """Every number of a generated text, read as its language writes it (version strings left out)."""
    text = re.sub(r"(torch|transformers) \S+", "", text)
    thousands, decimal = (r"\.", ",") if lang == "es" else (",", r"\.")
    pattern = rf"\d{{1,3}}(?:{thousands}\d{{3}})+(?:{decimal}\d+)?|\d+(?:{decimal}\d+)?"
    found = re.findall(pattern, text)
    return [float(n.replace("." if lang == "es" else ",", "").replace(",", ".")) for n in found]


def structure(text: str) -> list[str]:
    """What must match between the languages: each line's kind, and the cells of table rows."""
    kinds = []
    for line in text.splitlines():
        if line.startswith("|"):
            kinds.append(f"table row of {line.count('|') - 1} cells")
        elif line.startswith("<img"):
            kinds.append("chart")
        elif line.strip():
            kinds.append("paragraph")
    return kinds


@pytest.mark.parametrize("name", list(report.REGIONS))
def test_both_languages_say_the_same_numbers_in_the_same_structure(name):
    result = synthetic_result()
    es, en = report.REGIONS[name](result, "es"), report.REGIONS[name](result, "en")
    assert numbers(es, "es") == numbers(en, "en") != []
    assert structure(es) == structure(en)
    if name == "machine":  # a four-digit number with each language's separator
        assert "1.110" in es and "1,110" in en


def test_the_committed_pages_are_what_the_result_gives():
    """Regenerate every measured region of both pages from the committed JSON: a hand edit or a stale page fails.

    To refresh them: python benchmarks/bench.py --update-docs
    """
    result = bench.load_result()
    assert result["repeats"] >= 5 and not result["quick"]
    for lang, page in report.PAGES.items():
        text = page.read_text(encoding="utf-8")
        expected = report.render_page(text, result, lang)
        pairs = enumerate(itertools.zip_longest(text.splitlines(), expected.splitlines(), fillvalue=""), 1)
        wrong = [(n, line, want) for n, (line, want) in pairs if line != want] or [(0, "", "")]
        assert text == expected, (f"docs/{lang}/{page.name}:{wrong[0][0]} is not what the committed result gives:\n"
                                  f"  page:   {wrong[0][1]}\n  result: {wrong[0][2]}\n"
                                  "(python benchmarks/bench.py --update-docs rewrites it)")


def test_the_staleness_check_sees_an_edited_number():
    result, page = bench.load_result(), report.PAGES["en"].read_text(encoding="utf-8")
    match = re.search(r"(\d+)\.(\d\d)×", report.REGIONS["block"](result, "en"))
    edited = page.replace(match.group(0), f"{int(match.group(1)) + 1}.{match.group(2)}×", 1)
    assert edited != page and report.render_page(edited, result, "en") != edited


def test_a_page_without_its_regions_is_refused():
    with pytest.raises(ValueError, match="lacks the bench region"):
        report.render_page("# Performance\n", synthetic_result(), "en")
    with pytest.raises(ValueError, match="unknown bench region 'typo'"):
        report.render_page("<!-- bench:typo:start -->\n<!-- bench:typo:end -->", synthetic_result(), "en")


def test_charts_are_drawn_per_language(tmp_path):
    pytest.importorskip("matplotlib")
    result = synthetic_result()
    for lang, word in (("es", "con caché"), ("en", "cache")):
        paths = report.charts(result, lang, tmp_path / lang)
        assert [p.name for p in paths] == [f"performance-{n}.svg" for n in ("block", "model", "generation", "memory")]
        svg = paths[2].read_text(encoding="utf-8")
        assert svg.startswith("<?xml") and word in svg and ("45,5" if lang == "es" else "45.5") in svg


def test_the_pages_show_their_charts():
    docs = report.ROOT / "docs"
    for lang, served_at in (("es", "performance/"), ("en", "en/performance/")):
        text = (docs / lang / "performance.md").read_text(encoding="utf-8")
        sources = re.findall(r'<img src="([^"]+)"', text)
        assert len(sources) == 4
        for src in sources:
            served = posixpath.normpath(posixpath.join(served_at, src))  # where the browser fetches it
            site_root = "" if lang == "es" else "en/"
            assert served.startswith(site_root + "charts/performance-"), src
            assert (docs / lang / served.removeprefix(site_root)).is_file(), src


def test_every_contender_runs_once():
    pytest.importorskip("transformers")
    for calls in (bench.block_contenders(1, 4, backward=False), bench.block_contenders(1, 4, backward=True),
                  bench.linear_contenders(2), bench.linear_contenders(3, 8, 70, bias=False)):
        for call in calls.values():
            call()
