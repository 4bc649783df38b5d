"""The configurations, and the one check every class runs on the configuration it is given."""

from __future__ import annotations

import pytest

from gptblock import (
    CONFIG_KEYS,
    GPT2_CONFIGS,
    GPT_CONFIG_124M,
    GPT_CONFIG_355M,
    GPT_CONFIG_774M,
    GPT_CONFIG_1558M,
    FeedForward,
    GPTModel,
    TransformerBlock,
    check_config,
)

KNOWN = "vocab_size, context_length, emb_dim, n_heads, n_layers, drop_rate, qkv_bias"


def test_124m_is_written_as_the_seed_writes_it():
    assert GPT_CONFIG_124M == {
        "vocab_size": 50257,
        "context_length": 1024,
        "emb_dim": 768,
        "n_heads": 12,
        "n_layers": 12,
        "drop_rate": 0.1,
        "qkv_bias": False,
    }
    assert list(GPT_CONFIG_124M) == [
        "vocab_size", "context_length", "emb_dim", "n_heads", "n_layers", "drop_rate", "qkv_bias",
    ]
    assert type(GPT_CONFIG_124M) is dict
    assert GPT_CONFIG_124M["emb_dim"] == 768  # the seed's access keeps working
    assert CONFIG_KEYS == tuple(GPT_CONFIG_124M)


@pytest.mark.parametrize(
    ("cfg", "emb_dim", "n_layers", "n_heads"),
    [
        (GPT_CONFIG_124M, 768, 12, 12),
        (GPT_CONFIG_355M, 1024, 24, 16),
        (GPT_CONFIG_774M, 1280, 36, 20),
        (GPT_CONFIG_1558M, 1600, 48, 25),
    ],
)
def test_gpt2_sizes(cfg, emb_dim, n_layers, n_heads):
    assert (cfg["emb_dim"], cfg["n_layers"], cfg["n_heads"]) == (emb_dim, n_layers, n_heads)
    # Everything else is shared with the 124M model.
    others = {k: v for k, v in cfg.items() if k not in ("emb_dim", "n_layers", "n_heads")}
    assert others == {k: v for k, v in GPT_CONFIG_124M.items() if k not in ("emb_dim", "n_layers", "n_heads")}
    assert check_config(cfg) == cfg
    assert emb_dim % n_heads == 0


def test_gpt2_configs_lists_the_four_sizes():
    assert list(GPT2_CONFIGS.values()) == [GPT_CONFIG_124M, GPT_CONFIG_355M, GPT_CONFIG_774M, GPT_CONFIG_1558M]


def test_check_config_returns_a_plain_copy(tiny_cfg):
    checked = check_config(tiny_cfg)
    assert checked == tiny_cfg
    assert checked is not tiny_cfg
    assert type(checked) is dict


def test_classes_do_not_mutate_the_config(tiny_cfg):
    before = dict(tiny_cfg)
    model = GPTModel(tiny_cfg)
    assert tiny_cfg == before
    assert model.cfg == before


def test_unknown_key_names_itself_and_the_known_keys(tiny_cfg):
    bad = {**tiny_cfg, "n_head": 2}
    with pytest.raises(ValueError, match=rf"unknown config key 'n_head'; known keys: {KNOWN}$"):
        check_config(bad)


def test_missing_key_names_itself(tiny_cfg):
    del tiny_cfg["qkv_bias"]
    with pytest.raises(ValueError, match=r"missing config key 'qkv_bias'"):
        check_config(tiny_cfg)


def test_typo_instead_of_key_reports_the_typo_first(tiny_cfg):
    tiny_cfg["n_head"] = tiny_cfg.pop("n_heads")
    with pytest.raises(ValueError, match=r"unknown config key 'n_head'"):
        check_config(tiny_cfg)


def test_emb_dim_not_divisible_by_heads_names_both(tiny_cfg):
    bad = {**tiny_cfg, "emb_dim": 30, "n_heads": 4}
    with pytest.raises(ValueError, match=r"emb_dim \(30\).*n_heads \(4\)"):
        check_config(bad)


@pytest.mark.parametrize("rate", [-0.1, 1.5, "0.1", None, True])
def test_drop_rate_outside_unit_interval(tiny_cfg, rate):
    with pytest.raises(ValueError, match=rf"drop_rate must be a number in \[0, 1\], got {rate!r}"):
        check_config({**tiny_cfg, "drop_rate": rate})


@pytest.mark.parametrize("rate", [0, 0.0, 1, 1.0, 0.5])
def test_drop_rate_bounds_are_accepted(tiny_cfg, rate):
    assert check_config({**tiny_cfg, "drop_rate": rate})["drop_rate"] == rate


def test_sizes_must_be_positive_integers(tiny_cfg):
    for key in ("vocab_size", "context_length", "emb_dim", "n_heads", "n_layers"):
        for value in (0, -3, 2.0, "8", True, None):
            with pytest.raises(ValueError, match=rf"{key} must be a positive integer, got {value!r}"):
                check_config({**tiny_cfg, key: value})


@pytest.mark.parametrize("value", [0, 1, "False", None])
def test_qkv_bias_must_be_a_bool(tiny_cfg, value):
    with pytest.raises(ValueError, match=rf"qkv_bias must be True or False, got {value!r}"):
        check_config({**tiny_cfg, "qkv_bias": value})


def test_config_must_be_a_mapping():
    with pytest.raises(TypeError, match=r"a config must be a dict, got list"):
        check_config([("emb_dim", 768)])


@pytest.mark.parametrize("cls", [FeedForward, TransformerBlock, GPTModel])
def test_every_class_checks_its_config(cls, tiny_cfg):
    with pytest.raises(ValueError, match=r"unknown config key 'n_head'"):
        cls({**tiny_cfg, "n_head": 2})
