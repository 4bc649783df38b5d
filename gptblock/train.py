"""Train a GPT on text files, in one process or several (``torchrun``, DistributedDataParallel).

``gptblock train`` and ``python -m gptblock.train`` are the same command::

    python -m gptblock.train --corpus training/corpus --steps 500 --log log.jsonl --out model.safetensors

The loop is the book's: draw a batch of windows, compute the cross-entropy of every next token,
backpropagate, take an AdamW step, and now and then measure the loss on text the model never trains
on. Around it: the learning rate warms up linearly and then follows a cosine down to ``--min-lr``,
gradients are clipped to a norm of ``--grad-clip``, and weight decay applies to the weight matrices
only (decaying LayerNorm's scale and the biases towards 0 would only fight the normalisation).
The output head is tied to the token embedding, as in GPT-2, which halves the model.

Every random draw of step ``s`` comes from a seed made of ``--seed`` and ``s``: the windows of the
global batch, and (with the rank) the dropout masks. A run is therefore the same whether it runs
straight through or stops and resumes (``--state`` writes the weights, AdamW's moments and the step;
``--resume`` continues from that file), and the log of a run can be re-checked step by step.

One JSON object per line goes to ``--log``: ``step``, ``loss`` (the mean cross-entropy of that step's
global batch, before its update), ``lr``, ``tokens`` seen so far and ``elapsed_s``; the steps that
evaluate (the first, every ``--eval-every``, the last) add ``train_loss`` and ``val_loss``, measured
after the update in eval mode on fixed windows. The first record of a run, and the first after each
resume, also holds ``run``: the options, the machine, the token counts.

Several processes on one machine::

    torchrun --standalone --nproc_per_node=2 -m gptblock.train --corpus training/corpus ...

Under ``torchrun`` each process joins a ``torch.distributed`` process group (gloo on CPU, nccl when
CUDA is present) and wraps the model in ``DistributedDataParallel``. ``--batch-size`` is the global
batch: every process draws the same windows and keeps its own contiguous share, DDP averages the
gradients of the shares (the gradient of the global mean), and the logged loss is the mean over the
processes. With dropout 0, one process and two log the same losses, up to float rounding. Only rank 0
writes the log, the model and the state.

Several machines run the same command, one ``torchrun`` per machine, meeting at a rendezvous::

    torchrun --nnodes=2 --nproc-per-node=2 --rdzv-backend=c10d --rdzv-endpoint=HOST:29400 \\
        --rdzv-id=gpt-run-1 -m gptblock.train --corpus training/corpus ...

``HOST`` is any one of the machines, reachable from all of them; the c10d rendezvous hands out the
ranks. With the static rendezvous instead, each machine says who it is: ``--node-rank=0`` (on
``--master-addr``) and ``--node-rank=1`` with the same ``--master-addr=HOST --master-port=PORT``.
The corpus path must exist on every machine. Only the multi-process, one-machine case is tested here.

DDP keeps a whole copy of the weights, the gradients and AdamW's two moments on every process:
about 16 bytes per parameter in float32, 2 GB for GPT-2 124M. When that copy no longer fits in one
device's memory (around a billion parameters on a 24 GB GPU, before activations), Fully Sharded
Data Parallel takes over: ``torch.distributed.fsdp.fully_shard`` applied to each ``TransformerBlock``
and then to the model shards all four across the processes and gathers each block's weights only
while it runs. This module does not do that.
"""

from __future__ import annotations

import argparse
import copy
import ctypes
import hashlib
import json
import math
import os
import platform
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file
from torch import nn
from torch.nn import functional as F
from torch.nn.parallel import DistributedDataParallel
from tqdm import tqdm

from gptblock import GPTModel, check_config, count_parameters, load_gpt2_tokenizer, save_checkpoint
from gptblock.dataset import (
    TokenSplit,
    find_text_files,
    random_windows,
    read_documents,
    spread_windows,
    tiled_windows,
    tokenize_split,
)
from gptblock.files import write_atomically
from gptblock.safetensors_files import check_finite
from gptblock.tokenizer import ENDOFTEXT_ID

PROG = "gptblock train"
STATE_FORMAT = "gptblock-train-state/1"
OUT_DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}


@dataclass
class TrainOptions:
    """Everything a training run needs; the command line's options, one field each.

    The fields down to ``seed`` define the run: a state file records them and a resumed run keeps them.
    The others say how long to go on and where to write, and may change when resuming. The defaults are
    those of the committed model, ``training/model.safetensors`` (see ``training/README.md``).
    """

    corpus: list[str] = field(default_factory=list)
    val_fraction: float = 0.1
    emb_dim: int = 128
    n_layers: int = 4
    n_heads: int = 4
    context_length: int = 128
    dropout: float = 0.0
    batch_size: int = 8
    lr: float = 4e-3
    min_lr: float | None = None  # None: lr / 10
    warmup: int = 30
    weight_decay: float = 0.1
    grad_clip: float = 1.0
    seed: int = 123

    steps: int = 500
    eval_every: int = 25
    log: str | None = None
    out: str | None = None
    out_dtype: str = "float32"
    state: str | None = None
    save_every: int | None = None
    resume: str | None = None
    tokenizer_dir: str | None = None
    threads: int | None = None
    device: str = "auto"
    progress: bool = True

    def run_options(self) -> dict[str, Any]:
        """The options that define the run (recorded in the state file and the log)."""
        return {f.name: getattr(self, f.name) for f in fields(self)[:RUN_FIELDS]}

    def model_config(self) -> dict[str, Any]:
        """The GPT configuration these options describe (GPT-2's vocabulary, no QKV bias)."""
        return check_config({
            "vocab_size": ENDOFTEXT_ID + 1, "context_length": self.context_length, "emb_dim": self.emb_dim,
            "n_heads": self.n_heads, "n_layers": self.n_layers, "drop_rate": self.dropout, "qkv_bias": False,
        })

    def final_lr(self) -> float:
        return self.lr / 10 if self.min_lr is None else self.min_lr


RUN_FIELDS = [f.name for f in fields(TrainOptions)].index("seed") + 1


class Interrupted(KeyboardInterrupt):
    """Ctrl-C during training, with the step reached and the last step saved to ``--state``."""

    def __init__(self, step: int, saved_step: int | None) -> None:
        super().__init__(step, saved_step)
        self.step, self.saved_step = step, saved_step


# ------------------------------------------------------------------------------------ the pieces
@dataclass(frozen=True)
class Distributed:
    """Where this process stands: its rank among ``world_size`` processes, and its device."""

    rank: int
    world_size: int
    device: torch.device

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def mean(self, value: torch.Tensor) -> float:
        """The mean of a scalar over the processes."""
        value = value.detach()
        if self.world_size > 1:
            value = value.clone()
            dist.all_reduce(value)
            value /= self.world_size
        return float(value)


def start_distributed(device: str) -> Distributed:
    """Join the process group when started by ``torchrun`` (which sets ``WORLD_SIZE``), else run alone."""
    use_cuda = device == "cuda" or (device == "auto" and torch.cuda.is_available())
    if use_cuda and not torch.cuda.is_available():
        raise ValueError("--device cuda: CUDA is not available on this machine")
    if "WORLD_SIZE" not in os.environ:
        return Distributed(0, 1, torch.device("cuda" if use_cuda else "cpu"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if use_cuda:
        torch.cuda.set_device(local_rank)
    dist.init_process_group(backend="nccl" if use_cuda else "gloo")
    return Distributed(rank=dist.get_rank(), world_size=dist.get_world_size(),
                       device=torch.device("cuda", local_rank) if use_cuda else torch.device("cpu"))


def step_seed(seed: int, purpose: str, step: int, rank: int = 0) -> int:
    """A seed for the random draws of one step, the same on every run and machine (a hash, not ``+``)."""
    digest = hashlib.sha256(f"{seed}/{purpose}/{step}/{rank}".encode()).digest()
    return int.from_bytes(digest[:8], "little") >> 1  # 63 bits: any torch generator accepts it


def build_model(cfg: dict[str, Any], seed: int) -> GPTModel:
    """A fresh GPT with its output head tied to the token embedding, initialised for training.

    The tied head multiplies by the embedding table: PyTorch's default ``N(0, 1)`` rows would give
    first logits with a standard deviation of ``sqrt(emb_dim)`` and a first loss far above ``ln(vocab)``.
    GPT-2's initialisation of the embeddings (standard deviations 0.02 and 0.01) starts near ``ln(vocab)``.
    """
    torch.manual_seed(seed)
    model = GPTModel(cfg)
    model.out_head.weight = model.tok_emb.weight
    nn.init.normal_(model.tok_emb.weight, std=0.02)
    nn.init.normal_(model.pos_emb.weight, std=0.01)
    return model


def build_optimizer(model: nn.Module, options: TrainOptions) -> torch.optim.AdamW:
    """AdamW, with weight decay on the matrices and embeddings only."""
    params = list(model.parameters())
    groups = [
        {"params": [p for p in params if p.dim() >= 2], "weight_decay": options.weight_decay},
        {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0},  # biases, norm scales and shifts
    ]
    return torch.optim.AdamW(groups, lr=options.lr)


def learning_rate(step: int, options: TrainOptions) -> float:
    """The rate of step ``step`` (from 1): a linear warm-up to ``lr``, then a cosine down to the final rate."""
    if step <= options.warmup:
        return options.lr * step / options.warmup
    decay_steps = options.steps - options.warmup
    progress = min(1.0, (step - options.warmup) / decay_steps) if decay_steps > 0 else 1.0
    low = options.final_lr()
    return low + 0.5 * (options.lr - low) * (1.0 + math.cos(math.pi * progress))


@torch.no_grad()
def evaluate(model: nn.Module, windows: tuple[torch.Tensor, torch.Tensor], batch_size: int,
             where: Distributed) -> float:
    """Mean cross-entropy per token over ``windows``, in eval mode, shared out among the processes."""
    was_training = model.training
    model.eval()
    inputs, targets = (t[where.rank::where.world_size] for t in windows)  # this process' share
    total = torch.zeros(2, dtype=torch.float64, device=where.device)  # (sum of losses, tokens)
    for start in range(0, len(inputs), batch_size):
        x = inputs[start:start + batch_size].to(where.device)
        y = targets[start:start + batch_size].to(where.device)
        logits = model(x)  # (b, T, vocab)
        total[0] += F.cross_entropy(logits.flatten(0, 1), y.flatten(), reduction="sum").double()
        total[1] += y.numel()
    if where.world_size > 1:
        dist.all_reduce(total)
    model.train(was_training)
    return float(total[0] / total[1])


# ------------------------------------------------------------------------------------ state files
def save_state(path: Path, model: GPTModel, optimizer: torch.optim.Optimizer, step: int,
               options: TrainOptions, split: TokenSplit, elapsed: float) -> None:
    """Write what a resumed run needs (float32 weights, AdamW's moments, the step) to one safetensors file."""
    tensors = {f"model.{name}": t.detach().contiguous() for name, t in model.state_dict().items()
               if name != "out_head.weight"}  # tied: stored once, as tok_emb.weight
    opt = optimizer.state_dict()
    for index, state in opt["state"].items():
        for key, value in state.items():
            tensors[f"optimizer.{index}.{key}"] = torch.as_tensor(value).detach().contiguous()
    metadata = {
        "format": "pt", "gptblock_train_state": STATE_FORMAT, "step": str(step), "steps": str(options.steps),
        "elapsed_s": str(elapsed),
        "options": json.dumps(options.run_options()), "config": json.dumps(model.cfg),
        "param_groups": json.dumps(opt["param_groups"]), "corpus_fingerprint": split.fingerprint(),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    # beside path, then renamed: a Ctrl-C in the middle never leaves half a state file
    write_atomically([(path, lambda tmp: save_file(tensors, str(tmp), metadata=metadata))])


def read_state(path: Path, *, tensors: bool = True) -> tuple[dict[str, str], dict[str, torch.Tensor]]:
    """The metadata and (unless ``tensors=False``) the tensors of a state file written by :func:`save_state`."""
    if not path.is_file():
        raise FileNotFoundError(f"no such state file: {path}")
    try:
        with safe_open(str(path), framework="pt") as source:
            metadata = source.metadata() or {}
            if metadata.get("gptblock_train_state") != STATE_FORMAT:
                raise ValueError(f"{path} is not a gptblock training state (write one with --state)")
            loaded = {name: source.get_tensor(name) for name in source.keys()} if tensors else {}
    except SafetensorError as exc:
        raise ValueError(f"{path} is not a readable safetensors file ({exc})") from None
    for name, tensor in loaded.items():  # a NaN in a weight or a moment would poison every later step
        check_finite(tensor, name, str(path))
    return metadata, loaded


def restore_state(model: GPTModel, optimizer: torch.optim.Optimizer, tensors: dict[str, torch.Tensor],
                  metadata: dict[str, str], path: Path) -> None:
    """Load a state file's weights and AdamW moments into a model and optimizer built from its options."""
    weights = {name.removeprefix("model."): t for name, t in tensors.items() if name.startswith("model.")}
    weights["out_head.weight"] = weights.get("tok_emb.weight")
    try:
        model.load_state_dict(weights)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(f"{path}: the weights do not fit the model of its options ({exc})") from None
    moments: dict[int, dict[str, torch.Tensor]] = {}
    for name, tensor in tensors.items():
        if name.startswith("optimizer."):
            _, index, key = name.split(".", 2)
            moments.setdefault(int(index), {})[key] = tensor
    optimizer.load_state_dict({"state": moments, "param_groups": json.loads(metadata["param_groups"])})


def save_model(path: Path, model: GPTModel, dtype: str) -> None:
    """The trained model as a gptblock checkpoint (``load_checkpoint``), stored in ``dtype``."""
    if dtype != "float32":
        model = copy.deepcopy(model).to(OUT_DTYPES[dtype])  # the copy keeps the tie
    path.parent.mkdir(parents=True, exist_ok=True)
    save_checkpoint(model, path)  # written beside path, then renamed into place


def machine() -> dict[str, Any]:
    """What decides the last bits of a float result: the CPU, its vector unit, torch, the threads.

    The CPU is named as ``/proc/cpuinfo`` names it, with its family and model numbers (a virtual machine
    may call two processor generations by the same name), else as :mod:`platform` does.
    """
    cpuinfo: dict[str, str] = {}
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            for line in info:
                key, _, value = line.partition(":")
                cpuinfo.setdefault(key.strip(), value.strip())
    except OSError:
        pass
    cpu = cpuinfo.get("model name") or platform.processor() or platform.machine()
    if "cpu family" in cpuinfo and "model" in cpuinfo:
        cpu += f" (family {cpuinfo['cpu family']}, model {cpuinfo['model']})"
    return {"cpu": cpu, "capability": torch.backends.cpu.get_cpu_capability(), "torch": torch.__version__,
            "threads": torch.get_num_threads()}


# ------------------------------------------------------------------------------------ the loop
def keep_freed_memory() -> None:
    """Ask glibc's malloc to keep large freed blocks for reuse instead of handing them back to the system.

    Every step allocates and frees a few ``(batch * context, 50257)`` float tensors (the logits, their
    log-softmax, their gradients: 200 MB each in the committed run). glibc serves blocks that large with
    ``mmap`` and unmaps them when they are freed, so each step page-faults its way through fresh zeroed
    memory again: measured 0.55 s of system time in a 1.6 s step. With the thresholds raised, the next
    step reuses the same memory (0.06 s). Elsewhere than glibc (macOS, Windows, musl) this does nothing.
    """
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return
    m_trim_threshold, m_mmap_threshold = -1, -3  # from glibc's malloc.h
    libc.mallopt(m_mmap_threshold, 1 << 30)
    libc.mallopt(m_trim_threshold, (1 << 31) - 1)


def train(options: TrainOptions, *, stop_after: int | None = None) -> list[dict[str, Any]]:
    """Train as ``options`` say; write the log, the model and the state (on rank 0).

    Args:
        options: the run (see :class:`TrainOptions`; ``options.resume`` continues a saved state).
        stop_after: run only the steps up to this one, without evaluating and without writing anything:
            a quick re-check of the first steps of a long run (evaluation draws nothing at random, so
            leaving it out changes no training loss).

    Returns:
        The log records of the steps run by this call (on every rank).

    Raises:
        FileNotFoundError: a corpus path, the tokenizer folder or the state file does not exist.
        ValueError: the corpus is too short for one window, a file is unreadable, or the state file
            does not match the options.
        Interrupted: Ctrl-C (a ``KeyboardInterrupt``).
    """
    if options.threads is not None:
        torch.set_num_threads(options.threads)
    keep_freed_memory()
    where = start_distributed(options.device)
    try:
        return _train(options, where, stop_after)
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()


@dataclass(frozen=True)
class TrainingData:
    """The corpus as token streams, and the fixed windows on which the losses are evaluated."""

    split: TokenSplit
    train_sample: tuple[torch.Tensor, torch.Tensor]  # as many training windows as validation ones
    val: tuple[torch.Tensor, torch.Tensor]  # every validation window


def load_data(options: TrainOptions) -> TrainingData:
    """Read, tokenize and split the corpus (see :mod:`gptblock.dataset`)."""
    documents = read_documents(find_text_files(options.corpus))
    split = tokenize_split(documents, load_gpt2_tokenizer(options.tokenizer_dir), options.val_fraction)
    if len(split.train) <= options.context_length:
        raise ValueError(f"the corpus has {len(split.train)} training tokens: too few for one window of "
                         f"--context-length {options.context_length} plus its next token")
    val = tiled_windows(split.val, options.context_length)
    return TrainingData(split, spread_windows(split.train, options.context_length, max(len(val[0]), 8)), val)


def batch_share(train_ids: torch.Tensor, options: TrainOptions, step: int,
                where: Distributed) -> tuple[torch.Tensor, torch.Tensor]:
    """This process' rows of step ``step``'s global batch: every process draws the same windows."""
    generator = torch.Generator().manual_seed(step_seed(options.seed, "batch", step))
    inputs, targets = random_windows(train_ids, options.batch_size, options.context_length, generator)
    share = options.batch_size // where.world_size
    rows = slice(where.rank * share, (where.rank + 1) * share)
    return inputs[rows].to(where.device), targets[rows].to(where.device)  # (b, T) each


def _train(options: TrainOptions, where: Distributed, stop_after: int | None) -> list[dict[str, Any]]:
    started = time.perf_counter()
    resumed = read_state(Path(options.resume)) if options.resume else None
    if options.batch_size % where.world_size:
        raise ValueError(f"--batch-size {options.batch_size} does not split evenly over {where.world_size} processes")
    data = load_data(options)
    model = build_model(options.model_config(), options.seed)
    optimizer = build_optimizer(model, options)
    first_step, elapsed_before = 1, 0.0
    if resumed is not None:
        metadata, tensors = resumed
        if metadata["corpus_fingerprint"] != data.split.fingerprint():
            raise ValueError(f"{options.resume}: the corpus has changed since this state was saved")
        restore_state(model, optimizer, tensors, metadata, Path(options.resume))
        first_step, elapsed_before = int(metadata["step"]) + 1, float(metadata["elapsed_s"])
        if first_step > options.steps:
            raise ValueError(f"{options.resume} is at step {first_step - 1}: --steps {options.steps} leaves "
                             "nothing to do (give more steps to go on)")
    model.to(where.device).train()
    engine = DistributedDataParallel(model) if where.world_size > 1 else model

    checking = stop_after is not None
    log = _open_log(options, first_step) if where.is_main and options.log and not checking else None
    run = {"options": options.run_options(), "steps": options.steps, "world_size": where.world_size,
           "device": str(where.device), **machine(), "parameters": count_parameters(model),
           "documents": data.split.documents, "train_tokens": len(data.split.train),
           "val_tokens": len(data.split.val), "corpus_fingerprint": data.split.fingerprint(),
           "resumed_from": first_step - 1 if resumed else None}
    eval_batch = options.batch_size // where.world_size
    records: list[dict[str, Any]] = []
    saved_step = first_step - 1 if resumed else None
    bar = tqdm(total=options.steps, initial=first_step - 1, desc="training", unit="step", dynamic_ncols=True,
               disable=True if not (options.progress and where.is_main) else None)
    step = first_step - 1
    try:
        for step in range(first_step, options.steps + 1):
            lr = learning_rate(step, options)
            for group in optimizer.param_groups:
                group["lr"] = lr
            inputs, targets = batch_share(data.split.train, options, step, where)
            torch.manual_seed(step_seed(options.seed, "dropout", step, where.rank))  # this step's dropout masks

            logits = engine(inputs)  # (b, T, vocab)
            loss = F.cross_entropy(logits.flatten(0, 1), targets.flatten())
            optimizer.zero_grad(set_to_none=True)
            loss.backward()  # under DDP the gradients arrive averaged over the processes
            if options.grad_clip > 0:
                nn.utils.clip_grad_norm_(model.parameters(), options.grad_clip)
            optimizer.step()

            record: dict[str, Any] = {"step": step, "loss": where.mean(loss), "lr": lr,
                                      "tokens": step * options.batch_size * options.context_length}
            if not checking and (step == first_step or step % options.eval_every == 0 or step == options.steps):
                record["train_loss"] = evaluate(model, data.train_sample, eval_batch, where)
                if len(data.val[0]):
                    record["val_loss"] = evaluate(model, data.val, eval_batch, where)
            record["elapsed_s"] = round(elapsed_before + time.perf_counter() - started, 2)
            if step == first_step:
                record["run"] = run
            records.append(record)
            _report(record, options, where, log, bar)
            if checking and step >= stop_after:
                return records
            if options.save_every and step % options.save_every == 0 and step < options.steps:
                _save(options, where, model, optimizer, step, data.split, record["elapsed_s"])
                saved_step = step if options.state else saved_step
    except KeyboardInterrupt:
        raise Interrupted(step, saved_step) from None
    finally:
        bar.close()
        if log is not None:
            log.close()
    if first_step <= options.steps and not checking:
        _save(options, where, model, optimizer, options.steps, data.split, records[-1]["elapsed_s"])
    return records


def _report(record: dict[str, Any], options: TrainOptions, where: Distributed, log, bar: tqdm) -> None:
    """One step done: a line in the log, the progress bar, and a printed line when it was evaluated."""
    if log is not None:
        log.write(json.dumps(record) + "\n")
        log.flush()
    bar.update(1)
    bar.set_postfix(loss=f"{record['loss']:.3f}", refresh=False)
    if "train_loss" in record and where.is_main:
        val = f", val {record['val_loss']:.3f}" if "val_loss" in record else ""
        tqdm.write(f"step {record['step']}/{options.steps}: loss {record['loss']:.3f}, "
                   f"train {record['train_loss']:.3f}{val}")


def _save(options: TrainOptions, where: Distributed, model: GPTModel, optimizer: torch.optim.Optimizer,
          step: int, split: TokenSplit, elapsed: float) -> None:
    if not where.is_main:
        return
    if options.out:
        save_model(Path(options.out), model, options.out_dtype)
    if options.state:
        save_state(Path(options.state), model, optimizer, step, options, split, elapsed)


def _open_log(options: TrainOptions, first_step: int):
    """The log, opened for appending; a fresh run starts it empty, a resumed one drops the steps it redoes."""
    path = Path(options.log)
    path.parent.mkdir(parents=True, exist_ok=True)
    kept = []
    if first_step > 1 and path.is_file():
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip() and json.loads(line).get("step", 0) < first_step:
                kept.append(line + "\n")
    path.write_text("".join(kept), encoding="utf-8")
    return path.open("a", encoding="utf-8")


# ------------------------------------------------------------------------------------ command line
class _Parser(argparse.ArgumentParser):
    """argparse, with its errors on one line (the usage of this many options would fill the screen)."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _number(kind, lowest, *, above: bool = False, below: float | None = None, what: str = ""):
    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be {what}, got {text!r}") from None
        if not (value > lowest if above else value >= lowest) or (below is not None and not value < below):
            raise argparse.ArgumentTypeError(f"must be {what}, got {text}")
        return value
    return parse


_POSITIVE = _number(int, 1, what="a positive integer")
_NON_NEGATIVE = _number(float, 0.0, what="a number >= 0")
_RATE = _number(float, 0.0, above=True, below=math.inf, what="a number > 0")
_FRACTION = _number(float, 0.0, below=1.0, what="a number in [0, 1)")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``gptblock train`` (every default is ``None``: see :func:`parse_options`)."""
    d = TrainOptions()
    parser = _Parser(
        prog=PROG,
        description="Train a small GPT (GPT-2's tokenizer, tied output head) on text files with AdamW. "
                    "Runs alone, or under torchrun with DistributedDataParallel: "
                    "torchrun --standalone --nproc_per_node=2 -m gptblock.train ...",
        epilog="--batch-size is the global batch, split evenly among the torchrun processes. "
               "Exit status: 0 done, 1 unusable file, 2 bad arguments, 130 interrupted.",
    )
    data = parser.add_argument_group("data")
    data.add_argument("--corpus", action="append", metavar="PATH",
                      help="a text file, or a folder whose *.txt files are read (repeatable; required)")
    data.add_argument("--val-fraction", type=_FRACTION, metavar="F",
                      help=f"share of each document held out for validation (default: {d.val_fraction})")
    data.add_argument("--tokenizer-dir", metavar="DIR", help="folder with GPT-2's vocab.bpe and encoder.json "
                                                             "(default: $GPTBLOCK_TOKENIZER_DIR)")
    model = parser.add_argument_group("model")
    model.add_argument("--emb-dim", type=_POSITIVE, metavar="N", help=f"width (default: {d.emb_dim})")
    model.add_argument("--n-layers", type=_POSITIVE, metavar="N", help=f"transformer blocks (default: {d.n_layers})")
    model.add_argument("--n-heads", type=_POSITIVE, metavar="N", help=f"attention heads (default: {d.n_heads})")
    model.add_argument("--context-length", type=_POSITIVE, metavar="N",
                       help=f"tokens per window (default: {d.context_length})")
    model.add_argument("--dropout", type=_FRACTION, metavar="P", help=f"dropout rate (default: {d.dropout})")
    opt = parser.add_argument_group("optimisation")
    opt.add_argument("--batch-size", type=_POSITIVE, metavar="N",
                     help=f"windows per step, over all processes (default: {d.batch_size})")
    opt.add_argument("--steps", type=_POSITIVE, metavar="N", help=f"optimiser steps in all (default: {d.steps})")
    opt.add_argument("--lr", type=_RATE, metavar="LR", help=f"peak learning rate (default: {d.lr})")
    opt.add_argument("--min-lr", type=_NON_NEGATIVE, metavar="LR",
                     help="rate reached at the last step by the cosine decay (default: --lr / 10)")
    opt.add_argument("--warmup", type=_number(int, 0, what="an integer >= 0"), metavar="N",
                     help=f"steps of linear warm-up (default: {d.warmup})")
    opt.add_argument("--weight-decay", type=_NON_NEGATIVE, metavar="W",
                     help=f"AdamW weight decay of the matrices (default: {d.weight_decay})")
    opt.add_argument("--grad-clip", type=_NON_NEGATIVE, metavar="NORM",
                     help=f"clip the gradient norm; 0 turns it off (default: {d.grad_clip})")
    opt.add_argument("--seed", type=int, metavar="S", help=f"random seed (default: {d.seed})")
    out = parser.add_argument_group("output")
    out.add_argument("--eval-every", type=_POSITIVE, metavar="N",
                     help=f"evaluate every N steps, and at the first and last (default: {d.eval_every})")
    out.add_argument("--log", "--log-file", metavar="FILE",
                     help="write one JSON object per step (JSON lines); under torchrun spell it --log-file, "
                          "since torchrun takes --log for an abbreviation of its own --log-dir")
    out.add_argument("--out", metavar="PATH", help="write the trained model (a gptblock checkpoint, safetensors)")
    out.add_argument("--out-dtype", choices=OUT_DTYPES, help="dtype of the stored model; load_checkpoint(path)"
                                                             ".float() restores float32 (default: float32)")
    out.add_argument("--state", metavar="PATH",
                     help="also write what --resume needs (weights, AdamW moments, step) to PATH")
    out.add_argument("--save-every", type=_POSITIVE, metavar="N",
                     help="write --out and --state every N steps too (default: only at the end)")
    out.add_argument("--resume", metavar="STATE", help="continue the run saved in STATE (written by --state); "
                                                        "--state defaults to STATE")
    run = parser.add_argument_group("machine")
    run.add_argument("--threads", type=_POSITIVE, metavar="N", help="CPU threads of this process "
                                                                   "(default: PyTorch's; torchrun sets 1)")
    run.add_argument("--device", choices=("auto", "cpu", "cuda"), help="default: auto (CUDA when present)")
    run.add_argument("--no-progress", dest="progress", action="store_false", default=None,
                     help="hide the progress bar (it is hidden anyway when stderr is not a terminal)")
    return parser


def parse_options(argv: Sequence[str] | None = None) -> TrainOptions:
    """Parse the command line into :class:`TrainOptions`; a resumed run takes its run options from its state.

    Raises:
        SystemExit: bad arguments (status 2, one line on stderr), or ``--help``.
        FileNotFoundError, ValueError: the ``--resume`` file is missing or unreadable.
    """
    parser = build_parser()
    given = {k: v for k, v in vars(parser.parse_args(argv)).items() if v is not None}
    options = TrainOptions()
    if "resume" in given:
        metadata, _ = read_state(Path(given["resume"]), tensors=False)
        saved = {**json.loads(metadata["options"]), "steps": int(metadata["steps"])}
        for name, value in saved.items():
            if name == "steps":  # a resumed run may be made longer
                continue
            if name in given and name != "corpus" and given[name] != value:
                flag = "--" + name.replace("_", "-")
                parser.error(f"{flag} {given[name]} differs from {value}, the value of the run being resumed")
            setattr(options, name, value)
        options.steps = saved["steps"]
    elif "corpus" not in given:
        parser.error("the following arguments are required: --corpus")
    for name, value in given.items():
        setattr(options, name, value)
    if options.resume and options.state is None:
        options.state = options.resume  # a resumed run goes on saving where it was saved
    if options.emb_dim % options.n_heads:
        parser.error(f"--emb-dim {options.emb_dim} is not divisible by --n-heads {options.n_heads}")
    if options.final_lr() > options.lr:
        parser.error(f"--min-lr {options.min_lr} is above --lr {options.lr}")
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if options.batch_size % world_size:
        parser.error(f"--batch-size {options.batch_size} does not split evenly over {world_size} processes")
    return options


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``gptblock train`` and ``python -m gptblock.train`` (also under torchrun).

    Returns:
        The exit status: 0 done, 1 for a missing or unusable file, 2 for bad arguments, 130 on Ctrl-C.
    """
    speaks = os.environ.get("RANK", "0") == "0"  # under torchrun, one process reports
    try:
        options = parse_options(argv)
        records = train(options)
    except Interrupted as stop:
        saved = f" (--resume {options.state} continues after step {stop.saved_step})" if stop.saved_step else ""
        if speaks:
            print(f"{PROG}: interrupted at step {stop.step}{saved}", file=sys.stderr)
        return 130
    except KeyboardInterrupt:
        if speaks:
            print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    except (OSError, ValueError) as exc:
        if speaks:
            print(f"{PROG}: error: {' '.join(str(exc).split())}", file=sys.stderr)
        return 1
    if speaks and records:
        last = records[-1]
        val = f", val_loss {last['val_loss']:.4f}" if "val_loss" in last else ""
        wrote = "".join(f"; wrote {path}" for path in (options.out, options.state) if path)
        print(f"step {last['step']}: loss {last['loss']:.4f}, train_loss {last['train_loss']:.4f}{val}{wrote}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
