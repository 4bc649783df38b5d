"""gptblock: the GPT-2 transformer block, its components and the GPT-2 model."""

from gptblock.attention import MultiHeadAttention
from gptblock.block import TransformerBlock
from gptblock.checkpoint import load_checkpoint, save_checkpoint
from gptblock.config import (
    CONFIG_KEYS,
    GPT2_CONFIGS,
    GPT_CONFIG_124M,
    GPT_CONFIG_355M,
    GPT_CONFIG_774M,
    GPT_CONFIG_1558M,
    check_config,
)
from gptblock.feed_forward import GELU, FeedForward
from gptblock.generation import generate, generate_text_simple
from gptblock.hf_gpt2 import export_gpt2_weights, load_gpt2_weights
from gptblock.kv_cache import KVCache
from gptblock.layer_norm import LayerNorm
from gptblock.model import GPTModel
from gptblock.optimize import optimize_for_cpu
from gptblock.size import count_parameters, count_parameters_tied, model_size_mb
from gptblock.tokenizer import load_gpt2_tokenizer

__all__ = [
    "CONFIG_KEYS",
    "GELU",
    "GPT2_CONFIGS",
    "GPT_CONFIG_124M",
    "GPT_CONFIG_355M",
    "GPT_CONFIG_774M",
    "GPT_CONFIG_1558M",
    "FeedForward",
    "GPTModel",
    "KVCache",
    "LayerNorm",
    "MultiHeadAttention",
    "TransformerBlock",
    "check_config",
    "count_parameters",
    "count_parameters_tied",
    "export_gpt2_weights",
    "generate",
    "generate_text_simple",
    "load_checkpoint",
    "load_gpt2_tokenizer",
    "load_gpt2_weights",
    "model_size_mb",
    "optimize_for_cpu",
    "save_checkpoint",
]

__version__ = "0.1.0"
