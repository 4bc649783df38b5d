"""generate_text_simple and generate: greedy decoding, top-k, temperature, end-of-text."""

from __future__ import annotations

import pytest
import torch

from gptblock import GPTModel, generate, generate_text_simple
from gptblock.generation import generate_stream


@pytest.fixture
def model(tiny_cfg):
    torch.manual_seed(0)
    return GPTModel(tiny_cfg).eval()


@pytest.fixture
def prompt():
    return torch.tensor([[5, 17, 42], [1, 2, 3]])


def manual_greedy(model, idx, steps, context_size):
    for _ in range(steps):
        with torch.no_grad():
            logits = model(idx[:, -context_size:])[:, -1]
        idx = torch.cat([idx, logits.argmax(-1, keepdim=True)], dim=1)
    return idx


def test_greedy_appends_the_argmax(model, prompt):
    out = generate_text_simple(model, prompt, max_new_tokens=6, context_size=16)
    assert out.shape == (2, 9)
    assert torch.equal(out[:, :3], prompt)
    assert torch.equal(out, manual_greedy(model, prompt, 6, 16))
    assert out.requires_grad is False


def test_generate_at_temperature_0_equals_generate_text_simple(model, prompt):
    simple = generate_text_simple(model, prompt, max_new_tokens=8, context_size=16)
    assert torch.equal(generate(model, prompt, max_new_tokens=8, context_size=16), simple)
    assert torch.equal(generate(model, prompt, max_new_tokens=8, context_size=16, temperature=0.0, top_k=3), simple)


@pytest.mark.parametrize("options", [{}, {"temperature": 1.0, "top_k": 3}, {"eos_id": 7}, {"use_cache": False}])
def test_new_tokens_are_ordinary_tensors(model, prompt, options):
    """Each step runs under torch.inference_mode; what it hands back must still be an ordinary tensor
    (an inference tensor refuses in-place writes and autograd outside that mode)."""
    torch.manual_seed(0)
    steps = list(generate_stream(model, prompt, max_new_tokens=4, context_size=16, **options))
    out = generate(model, prompt, max_new_tokens=4, context_size=16, **options)
    assert steps and not any(token.is_inference() for token in steps)
    assert not out.is_inference()
    out[0, 0] = 1  # in place, outside any special mode
    steps[0].add_(0)


def test_the_prompt_is_left_untouched(model, prompt):
    before = prompt.clone()
    generate(model, prompt, max_new_tokens=3, context_size=16, temperature=1.0)
    assert torch.equal(prompt, before)


def test_zero_new_tokens_returns_the_prompt(model, prompt):
    assert torch.equal(generate_text_simple(model, prompt, 0, 16), prompt)
    assert torch.equal(generate(model, prompt, 0, 16, temperature=1.0), prompt)


def test_int32_prompt(model, prompt):
    out32 = generate_text_simple(model, prompt.to(torch.int32), 4, 16)
    assert torch.equal(out32.long(), generate_text_simple(model, prompt, 4, 16))


def test_long_prompt_is_cropped_to_the_context(model):
    long_prompt = torch.arange(40).remainder(99).view(1, 40)  # longer than context_length=16
    out = generate_text_simple(model, long_prompt, max_new_tokens=5, context_size=16)
    assert out.shape == (1, 45)
    assert torch.equal(out[:, :40], long_prompt)
    assert torch.equal(out, manual_greedy(model, long_prompt, 5, 16))
    # the model only ever saw the last 16 tokens: generating from them gives the same new tokens
    assert torch.equal(generate_text_simple(model, long_prompt[:, -16:], 5, 16)[:, 16:], out[:, 40:])
    sampled = generate(model, long_prompt, max_new_tokens=3, context_size=16, temperature=1.0)
    assert sampled.shape == (1, 43)


def test_smaller_context_size_crops_more(model):
    prompt = torch.tensor([[9, 8, 7, 6, 5, 4]])
    out = generate_text_simple(model, prompt, max_new_tokens=4, context_size=3)
    assert torch.equal(out, manual_greedy(model, prompt, 4, 3))


def test_eos_stops_generation(model):
    prompt = torch.tensor([[5, 17, 42]])
    greedy = generate_text_simple(model, prompt, max_new_tokens=8, context_size=16)
    new = greedy[0, 3:].tolist()
    eos = new[3]
    first = new.index(eos)  # the first time greedy produces that token
    out = generate(model, prompt, max_new_tokens=8, context_size=16, eos_id=eos)
    assert out[0].tolist() == greedy[0, : 3 + first].tolist()  # stops before appending eos
    # an eos that never comes changes nothing
    absent = next(t for t in range(99) if t not in new)
    assert torch.equal(generate(model, prompt, max_new_tokens=8, context_size=16, eos_id=absent), greedy)


def test_eos_in_a_batch_pads_finished_rows(model, prompt):
    greedy = generate_text_simple(model, prompt, max_new_tokens=6, context_size=16)
    row0, row1 = greedy[0, 3:].tolist(), greedy[1, 3:].tolist()
    # a token that row 0 produces and row 1 never does
    step, eos = next((i, t) for i, t in enumerate(row0) if t not in row1 and i < 5)
    out = generate(model, prompt, max_new_tokens=6, context_size=16, eos_id=eos)
    assert out.shape == greedy.shape  # row 1 never finishes, so all 6 steps run
    assert out[0].tolist() == greedy[0, : 3 + step].tolist() + [eos] * (6 - step)
    assert torch.equal(out[1], greedy[1])


def test_top_k_restricts_sampling_to_the_k_best(model):
    prompt = torch.tensor([[5, 17, 42]])
    with torch.no_grad():
        logits = model(prompt)[0, -1]
    for k in (1, 3, 10):
        allowed = set(torch.topk(logits, k).indices.tolist())
        torch.manual_seed(k)
        out = generate(model, prompt.expand(400, 3), max_new_tokens=1, context_size=16, temperature=5.0, top_k=k)
        drawn = set(out[:, -1].tolist())
        assert drawn <= allowed
        assert len(drawn) == k  # at a high temperature all k are drawn from 400 samples
    torch.manual_seed(0)
    free = generate(model, prompt.expand(400, 3), max_new_tokens=1, context_size=16, temperature=5.0)
    assert len(set(free[:, -1].tolist())) > 10


def test_top_k_1_is_greedy_whatever_the_temperature(model, prompt):
    greedy = generate_text_simple(model, prompt, max_new_tokens=6, context_size=16)
    torch.manual_seed(0)
    assert torch.equal(generate(model, prompt, 6, 16, temperature=3.0, top_k=1), greedy)


def test_top_k_equal_to_vocab_size_is_accepted(model, prompt):
    torch.manual_seed(1)
    everything = generate(model, prompt, 5, 16, temperature=1.0, top_k=99)
    torch.manual_seed(1)
    assert torch.equal(everything, generate(model, prompt, 5, 16, temperature=1.0))


def test_temperature_sampling_is_reproducible_with_a_seed(model, prompt):
    batch = prompt.repeat(8, 1)
    torch.manual_seed(42)
    first = generate(model, batch, max_new_tokens=10, context_size=16, temperature=1.5, top_k=20)
    torch.manual_seed(42)
    second = generate(model, batch, max_new_tokens=10, context_size=16, temperature=1.5, top_k=20)
    torch.manual_seed(43)
    third = generate(model, batch, max_new_tokens=10, context_size=16, temperature=1.5, top_k=20)
    assert first.shape == (16, 13)
    assert torch.equal(first, second)
    assert not torch.equal(first, third)


def test_sampling_matches_softmax_of_scaled_logits(model):
    """The sampled frequencies follow softmax(logits / temperature)."""
    prompt = torch.tensor([[3, 1, 4]])
    with torch.no_grad():
        logits = model(prompt)[0, -1]
    temperature = 0.7
    probs = torch.softmax(logits / temperature, dim=-1)
    torch.manual_seed(0)
    n = 4000
    out = generate(model, prompt.expand(n, 3), max_new_tokens=1, context_size=16, temperature=temperature)
    freq = torch.bincount(out[:, -1], minlength=99).float() / n
    assert (freq - probs).abs().max() < 0.03
