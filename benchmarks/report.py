"""The Performance pages' measured parts, generated from a benchmark result in both languages.

Every measured number the pages show comes from here: each page holds named regions between
``<!-- bench:NAME:start -->`` and ``<!-- bench:NAME:end -->``, and :func:`render_page` rewrites them
from a result (``benchmarks/results/*.json``); the prose around them is hand-written and quotes no
measurement. ``tests/test_bench.py`` fails when a committed page differs from what this module makes
of the committed result. The charts are drawn per language, one per workload, into
``docs/<lang>/charts/``: each language tree holds its own, so both pages link to the same relative path.

Units: times in ms or s; weights and bandwidth in decimal units (MB = 10⁶ bytes, GB/s = 10⁹ bytes
per second); memory peaks in MiB (2²⁰ bytes), as the operating system counts resident memory.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks.bench import HEAD_ROWS, OPTIMIZED_ROWS, PROMPT, ROOT, decode_bytes_per_token

PAGES = {"es": ROOT / "docs" / "es" / "performance.md", "en": ROOT / "docs" / "en" / "performance.md"}
REGION = re.compile(r"(<!-- bench:(?P<name>[\w-]+):start -->\n)(?P<body>.*?)(<!-- bench:(?P=name):end -->)", re.S)

BF, FB, LIN, HEAD = "block forward", "block forward+backward", "linear 768->3072", "output head 768->50257"
FWD, GEN = "GPT-2 124M forward", "GPT-2 124M greedy generation"
MEM_BLOCK, MEM_TRAIN, MEM_GEN = "block forward memory", "block training memory", "generation memory"

LABELS = {
    "es": {"gptblock explicit": "gptblock explícito", "gptblock": "gptblock", "gptblock optimized":
           "gptblock optimizado", "HF eager": "HF eager", "HF sdpa": "HF sdpa", "gptblock sdpa": "gptblock sdpa",
           "gptblock no cache": "gptblock sin caché", "gptblock cache": "gptblock con caché",
           "gptblock cache optimized": "gptblock con caché, optimizado", "HF eager cache": "HF eager con caché",
           "HF sdpa cache": "HF sdpa con caché", "F.linear (MKL)": "F.linear (MKL)",
           "x @ W.T contiguous": "x @ Wᵀ contiguo", "oneDNN packed": "oneDNN empaquetado",
           "gptblock Linear": "Linear de gptblock"},
    "en": {"gptblock explicit": "gptblock explicit", "gptblock": "gptblock", "gptblock optimized":
           "gptblock optimized", "HF eager": "HF eager", "HF sdpa": "HF sdpa", "gptblock sdpa": "gptblock sdpa",
           "gptblock no cache": "gptblock no cache", "gptblock cache": "gptblock cache",
           "gptblock cache optimized": "gptblock cache, optimized", "HF eager cache": "HF eager cache",
           "HF sdpa cache": "HF sdpa cache", "F.linear (MKL)": "F.linear (MKL)",
           "x @ W.T contiguous": "x @ Wᵀ contiguous", "oneDNN packed": "oneDNN packed",
           "gptblock Linear": "gptblock Linear"},
}

# The words of the tables and charts, per language.
WORDS = {
    "es": {"impl": "implementación", "median": "mediana", "range": "mín – máx", "peak": "% del pico",
           "tokens": "tokens/s", "vs_hf": "× transformers", "memory": "memoria pico", "target": "objetivo",
           "measured": "medido", "goal": "meta", "met": "¿cumplido?", "yes": "sí", "no": "no",
           "shape": "forma", "rows": "filas", "share_axis": "% del pico de cálculo medido",
           "tokens_axis": "tokens por segundo", "memory_axis": "MiB por encima de lo ya ocupado",
           "floor": "suelo de lectura de pesos"},
    "en": {"impl": "implementation", "median": "median", "range": "min – max", "peak": "% of peak",
           "tokens": "tokens/s", "vs_hf": "× transformers", "memory": "peak memory", "target": "target",
           "measured": "measured", "goal": "goal", "met": "met?", "yes": "yes", "no": "no",
           "shape": "shape", "rows": "rows", "share_axis": "% of the measured compute peak",
           "tokens_axis": "tokens per second", "memory_axis": "MiB above what was in use",
           "floor": "weight-streaming floor"},
}


# --------------------------------------------------------------------------------------------------
# Numbers as each language writes them: 0,80 and 2.360.064 in Spanish, 0.80 and 2,360,064 in English.


def num(value: float, decimals: int, lang: str) -> str:
    text = f"{value:,.{decimals}f}"
    return text.translate(str.maketrans(",.", ".,")) if lang == "es" else text


def ratio(value: float, lang: str) -> str:
    return num(value, 2, lang) + "×"


def percent(share: float, lang: str) -> str:
    return num(100 * share, 0, lang) + (" %" if lang == "es" else "%")


def duration(seconds: float, lang: str) -> str:
    """ms below a second, with two significant decimals for small times; s above."""
    if seconds >= 1:
        return num(seconds, 2, lang) + " s"
    ms = seconds * 1e3
    return num(ms, 2 if ms < 10 else 1 if ms < 100 else 0, lang) + " ms"


def mib(value: float, lang: str) -> str:
    return num(value, 0, lang) + " MiB"


def shape_text(shape: list[int] | tuple[int, ...]) -> str:
    return "(" + ", ".join(str(s) for s in shape) + ")"


# --------------------------------------------------------------------------------------------------
# Reading a result


def find(result: dict[str, Any], workload: str, shape: list[int] | tuple[int, ...], contender: str) -> dict:
    for row in result["rows"]:
        if row["workload"] == workload and row["contender"] == contender and row["shape"][:len(shape)] == list(shape):
            return row
    raise KeyError((workload, shape, contender))


def rows_of(result: dict[str, Any], workload: str, shape: list[int] | tuple[int, ...]) -> list[dict]:
    return [r for r in result["rows"] if r["workload"] == workload and r["shape"][:len(shape)] == list(shape)]


def hf_best_tokens_per_s(result: dict[str, Any]) -> float:
    """transformers' cached generate, the faster of its two attentions."""
    return max(find(result, GEN, (1, PROMPT), f"HF {impl} cache")["tokens_per_s"] for impl in ("eager", "sdpa"))


def targets(result: dict[str, Any]) -> list[dict[str, Any]]:
    """The issue's targets as values of this result, each with whether it is met."""
    def t(workload: str, shape: tuple[int, ...], contender: str) -> float:
        return find(result, workload, shape, contender)["median_s"]

    def tokens(contender: str) -> float:
        return find(result, GEN, (1, PROMPT), contender)["tokens_per_s"]

    def peak(workload: str, contender: str) -> float:
        return find(result, workload, (), contender)["peak_extra_mib"]

    hf = hf_best_tokens_per_s(result)
    goals = [  # (id, value, goal, at_most)
        ("forward", t(FWD, (1, 1024), "gptblock") / t(FWD, (1, 1024), "HF sdpa"), 0.9, True),
        ("forward_optimized", t(FWD, (1, 1024), "gptblock optimized") / t(FWD, (1, 1024), "HF sdpa"), 0.9, True),
        ("decode_optimized", tokens("gptblock cache optimized") / hf, 1.5, False),
        ("decode", tokens("gptblock cache") / hf, 1.1, False),
        ("decode_memory", peak(MEM_GEN, "gptblock cache"), 150.0, True),
        ("block", t(BF, (4, 1024), "gptblock") / t(BF, (4, 1024), "HF sdpa"), 0.95, True),
        ("block_memory", peak(MEM_BLOCK, "gptblock") / peak(MEM_BLOCK, "gptblock explicit"), 0.5, True),
        ("training", t(FB, (8, 256), "gptblock") / t(FB, (8, 256), "HF sdpa"), 0.95, True),
    ]
    return [{"id": name, "value": value, "goal": goal, "at_most": at_most,
             "met": value <= goal if at_most else value >= goal} for name, value, goal, at_most in goals]


TARGET_LABELS = {
    "es": {"forward": "GPT-2 124M, forward (1, 1024): gptblock ÷ HF sdpa",
           "forward_optimized": "GPT-2 124M, forward (1, 1024): gptblock optimizado ÷ HF sdpa",
           "decode_optimized": "generación voraz: gptblock optimizado ÷ transformers (tokens/s)",
           "decode": "generación voraz: gptblock ÷ transformers (tokens/s)",
           "decode_memory": "memoria pico de gptblock al generar un token (MiB)",
           "block": "bloque (4, 1024): gptblock ÷ HF sdpa",
           "block_memory": "bloque (4, 1024), memoria pico: gptblock ÷ explícito",
           "training": "bloque adelante y atrás (8, 256): gptblock ÷ HF sdpa"},
    "en": {"forward": "GPT-2 124M, forward (1, 1024): gptblock ÷ HF sdpa",
           "forward_optimized": "GPT-2 124M, forward (1, 1024): gptblock optimized ÷ HF sdpa",
           "decode_optimized": "greedy decoding: gptblock optimized ÷ transformers (tokens/s)",
           "decode": "greedy decoding: gptblock ÷ transformers (tokens/s)",
           "decode_memory": "gptblock's peak memory when generating one token (MiB)",
           "block": "block (4, 1024): gptblock ÷ HF sdpa",
           "block_memory": "block (4, 1024), peak memory: gptblock ÷ explicit",
           "training": "block forward and backward (8, 256): gptblock ÷ HF sdpa"},
}


# --------------------------------------------------------------------------------------------------
# Markdown pieces


def table(header: list[str], rows: list[list[str]], align: str) -> str:
    """A Markdown table; ``align`` has one letter per column: l (left) or r (right)."""
    marks = {"l": "---", "r": "---:"}
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join(marks[a] for a in align) + " |"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def time_table(result: dict[str, Any], workload: str, shape: tuple[int, ...], lang: str) -> str:
    w, labels = WORDS[lang], LABELS[lang]
    rows = [[labels[r["contender"]], duration(r["median_s"], lang),
             f"{duration(r['min_s'], lang)} – {duration(r['max_s'], lang)}", percent(r["share_of_peak"], lang)]
            for r in rows_of(result, workload, shape)]
    return table([w["impl"], w["median"], w["range"], w["peak"]], rows, "lrrr")


def chart_tag(name: str, lang: str, alt: str) -> str:
    # Raw <img>, relative to the page's address (/performance/ or /en/performance/): docs/<lang>/charts/
    # is served at /charts/ or /en/charts/, so both languages write the same link.
    return f'<img src="../charts/performance-{name}.svg" alt="{alt}">'


def region_machine(result: dict[str, Any], lang: str) -> str:
    m, lim = result["machine"], result["limits"]
    minutes = num(result["seconds"] / 60, 0, lang)
    low, high = num(lim["matmul_gflops_min"], 0, lang), num(lim["matmul_gflops_max"], 0, lang)
    read_low, read_high = num(lim["read_gbs_min"], 1, lang), num(lim["read_gbs_max"], 1, lang)
    if lang == "es":
        return (f"Máquina: **{m['cpu']}** ({m['cpu_capability']}), {m['cores']} núcleos y {m['threads']} hilos, "
                f"torch {m['torch']}, transformers {m['transformers']}. Límites medidos en la misma ejecución: "
                f"multiplicación de matrices fp32 de 4096³, **{num(lim['matmul_gflops'], 0, lang)} GFLOP/s** "
                f"(entre {low} y {high}); lectura de memoria, **{num(lim['read_gbs'], 1, lang)} GB/s** "
                f"(entre {read_low} y {read_high}). {result['repeats']} repeticiones por fila; la ejecución "
                f"entera duró {minutes} minutos, en una máquina compartida con otros procesos.")
    return (f"Machine: **{m['cpu']}** ({m['cpu_capability']}), {m['cores']} cores and {m['threads']} threads, "
            f"torch {m['torch']}, transformers {m['transformers']}. Limits measured in the same run: "
            f"fp32 4096³ matrix multiply, **{num(lim['matmul_gflops'], 0, lang)} GFLOP/s** "
            f"(between {low} and {high}); memory read, **{num(lim['read_gbs'], 1, lang)} GB/s** "
            f"(between {read_low} and {read_high}). {result['repeats']} repeats per row; the whole "
            f"run took {minutes} minutes, on a machine shared with other processes.")


def region_targets(result: dict[str, Any], lang: str) -> str:
    w = WORDS[lang]
    found = targets(result)
    rows = []
    for t in found:
        value = num(t["value"], 0, lang) if t["id"] == "decode_memory" else num(t["value"], 2, lang)
        goal = num(t["goal"], 0, lang) if t["id"] == "decode_memory" else num(t["goal"], 2, lang)
        rows.append([TARGET_LABELS[lang][t["id"]], value, f"{'≤' if t['at_most'] else '≥'} {goal}",
                     w["yes"] if t["met"] else w["no"]])
    met = sum(t["met"] for t in found)
    sentence = (f"{met} de los {len(found)} objetivos se cumplen en esta ejecución." if lang == "es"
                else f"{met} of the {len(found)} targets are met in this run.")
    return table([w["target"], w["measured"], w["goal"], w["met"]], rows, "lrrl") + "\n\n" + sentence


def region_block(result: dict[str, Any], lang: str) -> str:
    def t(shape, contender):
        return find(result, BF, shape, contender)["median_s"]

    big, small = (4, 1024), (2, 4)
    vs_hf, vs_explicit = t(big, "gptblock") / t(big, "HF sdpa"), t(big, "gptblock") / t(big, "gptblock explicit")
    small_opt = t(small, "gptblock optimized") / t(small, "HF sdpa")
    small_default = t(small, "gptblock") / t(small, "HF sdpa")
    share = find(result, BF, big, "gptblock")["share_of_peak"]
    if lang == "es":
        alt = "Parte del pico de cálculo de cada implementación en las tres formas del bloque"
        text = (f"En (4, 1024), `gptblock` tarda {ratio(vs_hf, lang)} lo que HF sdpa y {ratio(vs_explicit, lang)} "
                f"lo que el camino explícito, y llega al {percent(share, lang)} del pico. En (2, 4) tarda "
                f"{ratio(small_default, lang)} lo que HF sdpa, y {ratio(small_opt, lang)} tras "
                f"`optimize_for_cpu(model, rows={OPTIMIZED_ROWS})`.")
        caption = "Forma {shape}, {gflop} GFLOP por llamada:"
    else:
        alt = "Share of the compute peak of each implementation at the block's three shapes"
        text = (f"At (4, 1024), `gptblock` takes {ratio(vs_hf, lang)} the time of HF sdpa and "
                f"{ratio(vs_explicit, lang)} that of the explicit path, and reaches {percent(share, lang)} of the "
                f"peak. At (2, 4) it takes {ratio(small_default, lang)} the time of HF sdpa, and "
                f"{ratio(small_opt, lang)} after `optimize_for_cpu(model, rows={OPTIMIZED_ROWS})`.")
        caption = "Shape {shape}, {gflop} GFLOP per call:"
    parts = [chart_tag("block", lang, alt), text]
    for shape in ((2, 4), (8, 256), (4, 1024)):
        gflop = num(find(result, BF, shape, "gptblock")["gflop"], 3 if shape == small else 1, lang)
        parts += [caption.format(shape=shape_text(shape), gflop=gflop), time_table(result, BF, shape, lang)]
    return "\n\n".join(parts)


def region_training(result: dict[str, Any], lang: str) -> str:
    def t(contender):
        return find(result, FB, (8, 256), contender)["median_s"]

    explicit, hf = t("gptblock explicit") / t("HF sdpa"), t("gptblock") / t("HF sdpa")
    if lang == "es":
        text = (f"Un paso hacia delante y hacia atrás en (8, 256), sin dropout: `gptblock` tarda {ratio(hf, lang)} "
                f"lo que HF sdpa; con la atención explícita, {ratio(explicit, lang)}.")
    else:
        text = (f"One forward and backward step at (8, 256), without dropout: `gptblock` takes {ratio(hf, lang)} "
                f"the time of HF sdpa; with explicit attention, {ratio(explicit, lang)}.")
    return text + "\n\n" + time_table(result, FB, (8, 256), lang)


def region_linear(result: dict[str, Any], lang: str) -> str:
    def t(rows, contender):
        return find(result, LIN, (rows,), contender)["median_s"]

    parts = []
    blocks = t(1, "gptblock Linear") / t(1, "F.linear (MKL)")
    parts.append(f"Con una fila, el `Linear` de gptblock (en bloques de filas) tarda {ratio(blocks, lang)} lo que "
                 "`F.linear`; con 8 filas, es `F.linear`." if lang == "es" else
                 f"With one row, gptblock's `Linear` (in row blocks) takes {ratio(blocks, lang)} the time of "
                 "`F.linear`; with 8 rows, it is `F.linear`.")
    if any(r["contender"] == "oneDNN packed" for r in result["rows"]):
        eight, one = t(8, "oneDNN packed") / t(8, "F.linear (MKL)"), t(1, "oneDNN packed") / t(1, "F.linear (MKL)")
        parts[-1] += (f" oneDNN con el peso empaquetado tarda {ratio(eight, lang)} lo que `F.linear` con 8 filas, "
                      f"y {ratio(one, lang)} con una." if lang == "es" else
                      f" oneDNN with the packed weight takes {ratio(eight, lang)} the time of `F.linear` with 8 rows, "
                      f"and {ratio(one, lang)} with one.")
    caption = "{rows} × 768 por 768 × 3072:" if lang == "es" else "{rows} × 768 by 768 × 3072:"
    for rows in (1, 8):
        parts += [caption.format(rows=rows), time_table(result, LIN, (rows,), lang)]
    head = find(result, HEAD, (HEAD_ROWS,), "gptblock Linear")["median_s"] / find(
        result, HEAD, (HEAD_ROWS,), "F.linear (MKL)")["median_s"]
    rows_text = num(HEAD_ROWS, 0, lang)
    parts.append(f"La cabeza de salida, con {rows_text} filas hacia 50.257 logits: el `Linear` de gptblock (por "
                 f"bloques de columnas) tarda {ratio(head, lang)} lo que `F.linear`." if lang == "es" else
                 f"The output head, with {rows_text} rows into 50,257 logits: gptblock's `Linear` (in column "
                 f"blocks) takes {ratio(head, lang)} the time of `F.linear`.")
    caption = "{rows} × 768 por 768 × 50.257:" if lang == "es" else "{rows} × 768 by 768 × 50,257:"
    parts += [caption.format(rows=rows_text), time_table(result, HEAD, (HEAD_ROWS,), lang)]
    return "\n\n".join(parts)


def region_model(result: dict[str, Any], lang: str) -> str:
    def t(shape, contender):
        return find(result, FWD, shape, contender)["median_s"]

    big = (1, 1024)
    default, optimized = t(big, "gptblock") / t(big, "HF sdpa"), t(big, "gptblock optimized") / t(big, "HF sdpa")
    if lang == "es":
        alt = "Parte del pico de cálculo de GPT-2 124M entero en dos formas"
        text = (f"En (1, 1024), `gptblock` tarda {ratio(default, lang)} lo que HF sdpa; tras "
                f"`optimize_for_cpu(model, rows={OPTIMIZED_ROWS})`, {ratio(optimized, lang)}.")
        caption = "Forma {shape}, {gflop} GFLOP por llamada:"
    else:
        alt = "Share of the compute peak of the whole GPT-2 124M at two shapes"
        text = (f"At (1, 1024), `gptblock` takes {ratio(default, lang)} the time of HF sdpa; after "
                f"`optimize_for_cpu(model, rows={OPTIMIZED_ROWS})`, {ratio(optimized, lang)}.")
        caption = "Shape {shape}, {gflop} GFLOP per call:"
    parts = [chart_tag("model", lang, alt), text]
    for shape in ((1, 1024), (8, 128)):
        gflop = num(find(result, FWD, shape, "gptblock")["gflop"], 0, lang)
        parts += [caption.format(shape=shape_text(shape), gflop=gflop), time_table(result, FWD, shape, lang)]
    return "\n\n".join(parts)


def region_generation(result: dict[str, Any], lang: str) -> str:
    w, labels = WORDS[lang], LABELS[lang]
    hf = hf_best_tokens_per_s(result)
    gen = rows_of(result, GEN, (1, PROMPT))
    floor = gen[0]["floor_tokens_per_s"]
    mb = num(decode_bytes_per_token() / 1e6, 0, lang)

    def speed(contender):
        return find(result, GEN, (1, PROMPT), contender)["tokens_per_s"]

    if lang == "es":
        alt = "Tokens por segundo al generar con GPT-2 124M, y el suelo de lectura de pesos"
        text = (f"Con la caché, `gptblock` genera {num(speed('gptblock cache'), 1, lang)} tokens/s, "
                f"{ratio(speed('gptblock cache') / hf, lang)} lo que `generate` de transformers (la más rápida de "
                f"sus dos atenciones); tras `optimize_for_cpu(model)`, "
                f"{num(speed('gptblock cache optimized'), 1, lang)} "
                f"tokens/s, {ratio(speed('gptblock cache optimized') / hf, lang)}. Sin caché, "
                f"{num(speed('gptblock no cache'), 1, lang)} tokens/s. El suelo de lectura de pesos (leer {mb} MB "
                f"por token al ancho de banda medido) está en {num(floor, 1, lang)} tokens/s.")
        caption = f"Prompt de {PROMPT} tokens y {gen[0]['shape'][2]} tokens nuevos, decisión voraz:"
    else:
        alt = "Tokens per second when generating with GPT-2 124M, and the weight-streaming floor"
        text = (f"With the cache, `gptblock` generates {num(speed('gptblock cache'), 1, lang)} tokens/s, "
                f"{ratio(speed('gptblock cache') / hf, lang)} transformers' `generate` (the faster of its two "
                f"attentions); after `optimize_for_cpu(model)`, "
                f"{num(speed('gptblock cache optimized'), 1, lang)} tokens/s, "
                f"{ratio(speed('gptblock cache optimized') / hf, lang)}. Without a cache, "
                f"{num(speed('gptblock no cache'), 1, lang)} tokens/s. The weight-streaming floor (reading {mb} MB "
                f"per token at the measured bandwidth) lies at {num(floor, 1, lang)} tokens/s.")
        caption = f"A {PROMPT}-token prompt and {gen[0]['shape'][2]} new tokens, greedy:"
    rows = [[labels[r["contender"]], duration(r["median_s"], lang), num(r["tokens_per_s"], 1, lang),
             num(r["tokens_per_s"] / hf, 2, lang)] for r in gen]
    return "\n\n".join([chart_tag("generation", lang, alt), text, caption,
                        table([w["impl"], w["median"], w["tokens"], w["vs_hf"]], rows, "lrrr")])


def region_memory(result: dict[str, Any], lang: str) -> str:
    w, labels = WORDS[lang], LABELS[lang]

    def peak(workload, contender):
        return find(result, workload, (), contender)["peak_extra_mib"]

    default, optimized = peak(MEM_GEN, "gptblock cache"), peak(MEM_GEN, "gptblock cache optimized")
    if lang == "es":
        alt = "Memoria pico de cada implementación en tres casos"
        text = (f"Generar un token con la caché hace crecer el pico {mib(default, lang)} en `gptblock` "
                f"(ningún peso copiado) y {mib(optimized, lang)} si se cuenta `optimize_for_cpu(model)`. El bloque en "
                f"(4, 1024) pide {mib(peak(MEM_BLOCK, 'gptblock'), lang)} frente a "
                f"{mib(peak(MEM_BLOCK, 'gptblock explicit'), lang)} del camino explícito; un paso de entrenamiento "
                f"con dropout en (8, 256), {mib(peak(MEM_TRAIN, 'gptblock sdpa'), lang)} con `attn_impl=\"sdpa\"` "
                f"frente a {mib(peak(MEM_TRAIN, 'gptblock explicit'), lang)}.")
        captions = {MEM_GEN: f"Un token nuevo tras un prompt de {PROMPT}, GPT-2 124M con la cabeza atada:",
                    MEM_BLOCK: "Un bloque hacia delante en (4, 1024):",
                    MEM_TRAIN: "Un paso de entrenamiento de un bloque en (8, 256), dropout 0,1:"}
    else:
        alt = "Peak memory of each implementation in three cases"
        text = (f"Generating one token with the cache raises the peak by {mib(default, lang)} in `gptblock` (no "
                f"weight copied) and by {mib(optimized, lang)} when `optimize_for_cpu(model)` is counted. The block at "
                f"(4, 1024) takes {mib(peak(MEM_BLOCK, 'gptblock'), lang)} against "
                f"{mib(peak(MEM_BLOCK, 'gptblock explicit'), lang)} for the explicit path; a training step with "
                f"dropout at (8, 256), {mib(peak(MEM_TRAIN, 'gptblock sdpa'), lang)} with `attn_impl=\"sdpa\"` "
                f"against {mib(peak(MEM_TRAIN, 'gptblock explicit'), lang)}.")
        captions = {MEM_GEN: f"One new token after a {PROMPT}-token prompt, GPT-2 124M with its head tied:",
                    MEM_BLOCK: "One block forward at (4, 1024):",
                    MEM_TRAIN: "One training step of a block at (8, 256), dropout 0.1:"}
    parts = [chart_tag("memory", lang, alt), text]
    for workload in (MEM_GEN, MEM_BLOCK, MEM_TRAIN):
        rows = [[labels[r["contender"]], mib(r["peak_extra_mib"], lang)] for r in rows_of(result, workload, ())]
        parts += [captions[workload], table([w["impl"], w["memory"]], rows, "lr")]
    return "\n\n".join(parts)


REGIONS: dict[str, Callable[[dict[str, Any], str], str]] = {
    "machine": region_machine, "targets": region_targets, "block": region_block, "training": region_training,
    "linear": region_linear, "model": region_model, "generation": region_generation, "memory": region_memory,
}


def render_page(text: str, result: dict[str, Any], lang: str) -> str:
    """``text`` with every ``bench`` region rewritten from ``result``.

    Raises:
        ValueError: a region is unknown, or one of :data:`REGIONS` is missing from the page.
    """
    seen = []

    def fill(match: re.Match) -> str:
        name = match.group("name")
        if name not in REGIONS:
            raise ValueError(f"unknown bench region {name!r}")
        seen.append(name)
        return match.group(1) + REGIONS[name](result, lang) + "\n" + match.group(4)

    rendered = REGION.sub(fill, text)
    missing = [name for name in REGIONS if name not in seen]
    if missing:
        raise ValueError(f"the page lacks the bench region(s) {', '.join(missing)}")
    return rendered


# --------------------------------------------------------------------------------------------------
# Charts: one per workload and language, horizontal bars, text large enough for a phone


def charts(result: dict[str, Any], lang: str, folder: Path | None = None) -> list[Path]:
    """Draw the four charts of ``lang`` into ``folder`` (default ``docs/<lang>/charts``); return their paths."""
    folder = ROOT / "docs" / lang / "charts" if folder is None else folder
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update({"svg.hashsalt": "gptblock", "svg.fonttype": "none", "font.size": 12,
                         "axes.titlesize": 12, "figure.facecolor": "white", "axes.facecolor": "white"})
    w, labels = WORDS[lang], LABELS[lang]
    folder.mkdir(parents=True, exist_ok=True)

    def color(contender: str) -> str:
        if contender.startswith("HF"):
            return "#ef6c00"
        return "#1a237e" if "optimized" in contender else "#3949ab" if "explicit" not in contender else "#9fa8da"

    def panels(groups: list[tuple[str, list[dict]]], value: Callable[[dict], float],
               show: Callable[[float], str], axis: str, name: str, line: float | None = None,
               line_label: str = "") -> Path:
        heights = [max(1, len(rows)) * 0.42 + 0.55 for _, rows in groups]
        fig, axes = plt.subplots(len(groups), 1, figsize=(5.4, sum(heights) + 0.5),
                                 gridspec_kw={"height_ratios": heights}, squeeze=False)
        top = max(value(r) for _, rows in groups for r in rows)
        top = max(top, line or 0) * 1.4  # room for the value after the longest bar
        for ax, (title, rows) in zip(axes[:, 0], groups, strict=True):
            values = [value(r) for r in rows]
            ax.barh(range(len(rows)), values, color=[color(r["contender"]) for r in rows], height=0.7)
            ax.set_yticks(range(len(rows)), [labels[r["contender"]] for r in rows])
            ax.invert_yaxis()
            for i, v in enumerate(values):
                ax.text(v, i, " " + show(v), va="center", fontsize=11)
            ax.set_xlim(0, top)
            ax.set_title(title, loc="left")
            if line is not None:
                ax.axvline(line, color="dimgray", lw=1.2, ls="--", label=line_label)
                ax.legend(loc="lower right", fontsize=10, frameon=False)
            for side in ("top", "right"):
                ax.spines[side].set_visible(False)
        axes[-1, 0].set_xlabel(axis)
        fig.tight_layout()
        path = folder / f"performance-{name}.svg"
        fig.savefig(path, metadata={"Date": None}, bbox_inches="tight", pad_inches=0.1)
        plt.close(fig)
        return path

    def pct(v: float) -> str:
        return percent(v / 100, lang)

    def caption(word: str, shape) -> str:
        return f"{word} {shape_text(shape)}"

    paths = [
        panels([(caption(w["shape"], s), rows_of(result, BF, s)) for s in ((2, 4), (8, 256), (4, 1024))],
               lambda r: 100 * r["share_of_peak"], pct, w["share_axis"], "block"),
        panels([(caption(w["shape"], s), rows_of(result, FWD, s)) for s in ((1, 1024), (8, 128))],
               lambda r: 100 * r["share_of_peak"], pct, w["share_axis"], "model"),
    ]
    gen = rows_of(result, GEN, (1, PROMPT))
    paths.append(panels([("GPT-2 124M", gen)], lambda r: r["tokens_per_s"], lambda v: num(v, 1, lang),
                        w["tokens_axis"], "generation", line=gen[0]["floor_tokens_per_s"], line_label=w["floor"]))
    titles = ({MEM_GEN: "generar un token", MEM_BLOCK: "bloque (4, 1024)", MEM_TRAIN: "entrenar (8, 256)"}
              if lang == "es" else
              {MEM_GEN: "generating one token", MEM_BLOCK: "block (4, 1024)", MEM_TRAIN: "training (8, 256)"})
    paths.append(panels([(titles[wl], rows_of(result, wl, ())) for wl in (MEM_GEN, MEM_BLOCK, MEM_TRAIN)],
                        lambda r: r["peak_extra_mib"], lambda v: mib(v, lang), w["memory_axis"], "memory"))
    return paths


def update_docs(result: dict[str, Any]) -> list[Path]:
    """Rewrite both Performance pages' regions and draw their charts; return what was written."""
    written = []
    for lang, page in PAGES.items():
        page.write_text(render_page(page.read_text(encoding="utf-8"), result, lang), encoding="utf-8")
        written += [page, *charts(result, lang)]
    return written

