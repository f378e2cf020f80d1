"""Predicts the CUDA backend's error against a fixture's reference logits without a GPU.

A float64 DeepSeek forward (the fixtures' gen.py `ref_forward`, re-written in numpy) that rounds to BF16 exactly
where a numerics scheme of the GPU path stores or multiplies BF16 values, and quantizes every FP8 linear's input
per 1x128 group as the W8A8 reference does. Each scheme is a set of rounding points; the script prints, per
scheme and prompt, the median and 90th percentile of the relative L2 row error against `logits_w8a8.i` (FP8
models) or `logits.i`, for the un-absorbed (prefill) and the absorbed (decode) attention forms. A scheme may
also round each FP8 linear's 128-wide block sums to the tensor cores' FP8 accumulator precision (about 13
mantissa bits on Hopper, as SageAttention2 measured) or to float32's 24.

    .venv/bin/python bench/cuda/emulate_gpu_numerics.py [MODEL_DIR ...]

Rounding points (names used by SCHEMES):
  residual      the residual stream is stored in BF16 after every add (the norm reads the unrounded sum)
  normed        RMSNorm outputs (input, post-attention, final) feeding the FP8 linears are BF16
  gemm_input    inputs of BF16-weight GEMMs (router, lm_head) are BF16 (the GEMM reads BF16 operands)
  q_lora        q_a_proj output and q_a_layernorm output are BF16
  query         q_b_proj / q_proj output is BF16, and the roped query again
  kv_a          kv_a_proj_with_mqa output is BF16
  cache         the cached latent (after its W8A8 rounding) and rope key are BF16
  expanded      kv_b_proj's expanded keys / values are BF16 (prefill)
  probs         softmax numerators are rounded to BF16 before the P.V product (prefill, tensor cores)
  absorbed      W_UK / W_UV, q_latent and o_latent are BF16 (decode)
  attn_out      the attention output (o_proj's input) is BF16
  o_out         o_proj's output is BF16
  mlp_inner     dense / shared MLP gate and up outputs and silu(gate) * up are BF16
  mlp_out       dense / shared MLP down output is BF16
  expert_rows   each routed expert's down output is BF16
  moe_out       the MoE sum (shared + routed) is stored BF16
"""
import json
import math
import os
import struct
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(HERE, "..", "..", "testdata", "fixtures")

ALL_POINTS = {"residual", "normed", "gemm_input", "q_lora", "query", "kv_a", "cache", "expanded", "probs", "absorbed",
              "attn_out", "o_out", "mlp_inner", "mlp_out", "expert_rows", "moe_out"}
F32_INTO_QUANTIZATION = {"residual", "normed", "q_lora", "kv_a", "o_out", "mlp_inner", "mlp_out", "moe_out"}
# name -> (BF16 rounding points, FP8 block-sum accumulator bits: None = exact, 13 = the tensor cores' FP8 mma)
SCHEMES = {
    "round 1 (BF16 activations)": (ALL_POINTS, 13),
    "BF16, F32 residual": (ALL_POINTS - {"residual"}, 13),
    "BF16, F32 residual + F32 norm / GEMM outputs into quantization": (ALL_POINTS - F32_INTO_QUANTIZATION, 13),
    "BF16 only inside attention (cache, query, P, absorbed weights)": (
        {"query", "cache", "probs", "expanded", "absorbed"}, 13),
    "F32 activations, FP8 sums on tensor cores": (set(), 13),
    "F32 activations, float32 sums (CUDA cores)": (set(), 24),
    "float64 (the W8A8 reference itself)": (set(), None),
}


# ---------------------------------------------------------------- safetensors without dependencies
def e4m3_table():
    values = np.zeros(256)
    for code in range(256):
        sign = -1.0 if code & 0x80 else 1.0
        exponent, mantissa = (code >> 3) & 0xF, code & 0x7
        if exponent == 0xF and mantissa == 0x7:
            values[code] = np.nan
        elif exponent == 0:
            values[code] = sign * mantissa / 8.0 * 2.0 ** -6
        else:
            values[code] = sign * (1.0 + mantissa / 8.0) * 2.0 ** (exponent - 7)
    return values


E4M3 = e4m3_table()


def load_safetensors(path):
    with open(path, "rb") as file:
        header_length = struct.unpack("<Q", file.read(8))[0]
        header = json.loads(file.read(header_length))
        data = file.read()
    tensors = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        begin, end = entry["data_offsets"]
        raw, shape, dtype = data[begin:end], entry["shape"], entry["dtype"]
        if dtype == "BF16":
            values = (np.frombuffer(raw, np.uint16).astype(np.uint32) << 16).view(np.float32).astype(np.float64)
        elif dtype == "F8_E4M3":
            values = E4M3[np.frombuffer(raw, np.uint8)]
        elif dtype == "F32":
            values = np.frombuffer(raw, np.float32).astype(np.float64)
        elif dtype == "I64":
            values = np.frombuffer(raw, np.int64)
        else:
            raise ValueError(f"{path}: tensor {name} has unsupported dtype {dtype}")
        tensors[name] = values.reshape(shape)
    return tensors


def load_model(folder):
    config = json.load(open(os.path.join(folder, "config.json")))
    raw = {}
    for name in sorted(os.listdir(folder)):
        if name.startswith("model-") and name.endswith(".safetensors"):
            raw.update(load_safetensors(os.path.join(folder, name)))
    fp8 = {name for name in raw if name.endswith(".weight") and name + "_scale_inv" in raw}
    weights = {}
    for name, tensor in raw.items():
        if name.endswith("weight_scale_inv"):
            continue
        scale_name = name + "_scale_inv"
        if name in fp8:  # FP8: dequantize by 128x128 blocks (edge blocks partial)
            scale = np.repeat(np.repeat(raw[scale_name], 128, 0), 128, 1)[: tensor.shape[0], : tensor.shape[1]]
            tensor = tensor * scale
        weights[name] = tensor
    return config, weights, fp8


# ---------------------------------------------------------------- rounding
def bf16(x):
    """Round float64 values through float32 to BF16, nearest-even (as __float2bfloat16_rn)."""
    bits = np.asarray(x, np.float64).astype(np.float32).view(np.uint32).astype(np.uint64)
    rounded = ((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16) << 16
    return rounded.astype(np.uint32).view(np.float32).astype(np.float64)


def e4m3_round(x):
    """float32 values to the nearest e4m3fn value (nearest-even; inputs are within +-448 here)."""
    magnitude = np.abs(x)
    _, exponent = np.frexp(magnitude)
    step = np.where(magnitude >= 2.0 ** -6, np.ldexp(1.0, exponent - 4), 2.0 ** -9)
    return np.sign(x) * np.minimum(np.round(magnitude / step) * step, 448.0)


def round_mantissa(x, bits):
    """Round to `bits` significant bits (nearest), a model of a reduced-precision accumulator."""
    mantissa, exponent = np.frexp(x)
    return np.ldexp(np.round(mantissa * 2.0 ** bits) / 2.0 ** bits, exponent)


def quantize_groups(x):
    """W8A8: per 1x128 group, scale = max(amax / 448, 1e-10), e4m3(float32(x / scale)) * scale."""
    rows, width = x.shape
    pad = (-width) % 128
    groups = np.pad(x, ((0, 0), (0, pad))).reshape(rows, -1, 128)
    scale = np.maximum(np.abs(groups).max(-1, keepdims=True) / 448.0, 1e-10)
    quantized = e4m3_round((groups / scale).astype(np.float32).astype(np.float64)) * scale
    return quantized.reshape(rows, -1)[:, :width]


# ---------------------------------------------------------------- the forward
def rope_tables(config, length):
    scaling, dim, base = config["rope_scaling"], config["qk_rope_head_dim"], float(config.get("rope_theta", 10000))
    inverse = 1.0 / (base ** (np.arange(0, dim, 2) / dim))
    attention_scale = 1.0
    if scaling and scaling.get("type") == "yarn":
        factor, original = scaling["factor"], scaling["original_max_position_embeddings"]

        def correction(rotations):
            return dim * math.log(original / (rotations * 2 * math.pi)) / (2 * math.log(base))

        low = max(math.floor(correction(scaling["beta_fast"])), 0)
        high = min(math.ceil(correction(scaling["beta_slow"])), dim - 1)
        if low == high:
            high += 0.001
        keep = 1 - np.clip((np.arange(dim // 2) - low) / (high - low), 0, 1)
        inverse = inverse / factor * (1 - keep) + inverse * keep

        def mscale(s, m):
            return 1.0 if s <= 1 else 0.1 * m * math.log(s) + 1.0

        attention_scale = (mscale(factor, scaling.get("mscale", 1)) / mscale(factor, scaling["mscale_all_dim"])
                           if scaling.get("mscale_all_dim") else mscale(factor, scaling.get("mscale", 1)))
    angles = np.arange(length)[:, None] * inverse[None, :]
    return np.cos(angles) * attention_scale, np.sin(angles) * attention_scale


def softmax_scale(config):
    scale = (config["qk_nope_head_dim"] + config["qk_rope_head_dim"]) ** -0.5
    scaling = config["rope_scaling"]
    if scaling and scaling.get("type") == "yarn" and scaling.get("mscale_all_dim"):
        m = 0.1 * scaling["mscale_all_dim"] * math.log(scaling["factor"]) + 1.0
        scale *= m * m
    return scale


def forward(config, weights, fp8_names, ids, points, absorbed, accumulator_bits=None):
    def round_at(point, x):
        return bf16(x) if point in points else x

    def rms(x, w):
        return w * (x / np.sqrt((x * x).mean(-1, keepdims=True) + config["rms_norm_eps"]))

    def linear(x, name):
        if name in fp8_names:
            if accumulator_bits is None:
                return quantize_groups(x) @ weights[name].T
            # Each 128-wide K block's sum rounded to the tensor cores' accumulator precision before scaling.
            quantized, weight, total = quantize_groups(x), weights[name], 0.0
            for begin in range(0, x.shape[1], 128):
                total = total + round_mantissa(quantized[:, begin:begin + 128] @ weight[:, begin:begin + 128].T,
                                               accumulator_bits)
            return total
        return round_at("gemm_input", x) @ weights[name].T

    length = len(ids)
    heads = config["num_attention_heads"]
    nope, rope_dim, value_dim = config["qk_nope_head_dim"], config["qk_rope_head_dim"], config["v_head_dim"]
    latent = config["kv_lora_rank"]
    cos, sin = rope_tables(config, length)

    def rope(x):  # [..., L, rope_dim], interleaved pairs
        even, odd = x[..., 0::2], x[..., 1::2]
        out = np.empty_like(x)
        out[..., 0::2] = even * cos - odd * sin
        out[..., 1::2] = even * sin + odd * cos
        return out

    hidden = weights["model.embed_tokens.weight"][np.array(ids)]  # the stored residual stream
    norm_input = hidden  # what the next norm reads: add_rms_norm normalises the sum before it is stored
    mask = np.triu(np.full((length, length), -np.inf), 1)
    scale = softmax_scale(config)
    for layer in range(config["num_hidden_layers"]):
        prefix = f"model.layers.{layer}."
        attn = prefix + "self_attn."
        x = round_at("normed", rms(norm_input, weights[prefix + "input_layernorm.weight"]))
        if config["q_lora_rank"]:
            q_lora = round_at("q_lora", linear(x, attn + "q_a_proj.weight"))
            q_lora = round_at("q_lora", rms(q_lora, weights[attn + "q_a_layernorm.weight"]))
            query = round_at("query", linear(q_lora, attn + "q_b_proj.weight"))
        else:
            query = round_at("query", linear(x, attn + "q_proj.weight"))
        query = query.reshape(length, heads, nope + rope_dim).transpose(1, 0, 2)
        q_nope, q_rope = query[..., :nope], round_at("query", rope(query[..., nope:]))
        kv = round_at("kv_a", linear(x, attn + "kv_a_proj_with_mqa.weight"))
        compressed = rms(kv[:, :latent], weights[attn + "kv_a_layernorm.weight"])
        kv_b_name = attn + "kv_b_proj.weight"
        if kv_b_name in fp8_names:  # the cache holds the latent as kv_b_proj's quantized input sees it
            compressed = quantize_groups(compressed)
        compressed = round_at("cache", compressed)
        k_rope = round_at("cache", rope(kv[:, latent:]))
        kv_b = weights[kv_b_name].reshape(heads, nope + value_dim, latent)
        if absorbed:
            w_uk = round_at("absorbed", kv_b[:, :nope, :])  # [heads, nope, latent]
            w_uv = round_at("absorbed", kv_b[:, nope:, :])  # [heads, v, latent]
            q_latent = round_at("absorbed", np.einsum("hln,hnc->hlc", q_nope, w_uk))
            scores = (q_latent @ compressed.T + q_rope @ k_rope.T) * scale + mask
            probs = np.exp(scores - scores.max(-1, keepdims=True))
            probs /= probs.sum(-1, keepdims=True)
            o_latent = round_at("absorbed", probs @ compressed)  # [heads, L, latent]
            out = np.einsum("hlc,hvc->hlv", o_latent, w_uv)
        else:
            expanded = linear(compressed, kv_b_name)
            expanded = round_at("expanded", expanded).reshape(length, heads, nope + value_dim).transpose(1, 0, 2)
            k_nope, values = expanded[..., :nope], expanded[..., nope:]
            scores = (q_nope @ k_nope.transpose(0, 2, 1) + q_rope @ k_rope.T) * scale + mask
            numerators = np.exp(scores - scores.max(-1, keepdims=True))
            out = (round_at("probs", numerators) @ values) / numerators.sum(-1, keepdims=True)
        out = round_at("attn_out", out.transpose(1, 0, 2).reshape(length, heads * value_dim))
        total = hidden + round_at("o_out", linear(out, attn + "o_proj.weight"))
        hidden = round_at("residual", total)
        x = round_at("normed", rms(total, weights[prefix + "post_attention_layernorm.weight"]))
        mlp = prefix + "mlp."

        def gated(x, p):
            gate = round_at("mlp_inner", linear(x, p + "gate_proj.weight"))
            up = round_at("mlp_inner", linear(x, p + "up_proj.weight"))
            act = round_at("mlp_inner", gate / (1 + np.exp(-gate)) * up)
            return round_at("mlp_out", linear(act, p + "down_proj.weight"))

        if layer < config["first_k_dense_replace"]:
            out = gated(x, mlp)
        else:
            out = routed(config, weights, x, mlp, gated, linear, round_at)
        norm_input = hidden + out
        hidden = round_at("residual", norm_input)
    x = round_at("gemm_input", rms(norm_input, weights["model.norm.weight"]))
    return x @ weights["lm_head.weight"].T


def routed(config, weights, x, mlp, gated, linear, round_at):
    experts, top_k = config["n_routed_experts"], config["num_experts_per_tok"]
    logits = round_at("gemm_input", x) @ weights[mlp + "gate.weight"].T
    length = x.shape[0]
    if config.get("scoring_func", "softmax") == "sigmoid":
        scores = 1 / (1 + np.exp(-logits))
        choice = scores + weights[mlp + "gate.e_score_correction_bias"]
        group_scores = np.sort(choice.reshape(length, config["n_group"], -1), -1)[..., -2:].sum(-1)
    else:
        scores = np.exp(logits - logits.max(-1, keepdims=True))
        scores /= scores.sum(-1, keepdims=True)
        choice = scores
        group_scores = choice.reshape(length, config["n_group"] or 1, -1).max(-1)
    if config.get("topk_method") in ("noaux_tc", "group_limited_greedy"):
        kept = np.argsort(-group_scores, -1, kind="stable")[:, : config["topk_group"]]
        group_mask = np.zeros_like(group_scores)
        np.put_along_axis(group_mask, kept, 1, 1)
        choice = np.where(np.repeat(group_mask, experts // config["n_group"], -1) == 0, -np.inf, choice)
    chosen = np.argsort(-choice, -1, kind="stable")[:, :top_k]
    routing = np.take_along_axis(scores, chosen, 1)
    if config.get("norm_topk_prob") and top_k > 1:
        routing = routing / (routing.sum(-1, keepdims=True) + 1e-20)
    routing = routing * config["routed_scaling_factor"]
    out = gated(x, mlp + "shared_experts.")
    for t in range(length):
        for j in range(top_k):
            expert = f"{mlp}experts.{int(chosen[t, j])}."
            row = x[t:t + 1]
            gate = linear(row, expert + "gate_proj.weight")  # gate / up / act stay F32 inside the grouped GEMM
            up = linear(row, expert + "up_proj.weight")
            down = linear(gate / (1 + np.exp(-gate)) * up, expert + "down_proj.weight")
            out[t] += routing[t, j] * round_at("expert_rows", down)[0]
    return round_at("moe_out", out)


def row_errors(actual, expected):
    return np.linalg.norm(actual - expected, axis=1) / np.linalg.norm(expected, axis=1)


def main():
    folders = sys.argv[1:] or [os.path.join(FIXTURES, "dsv3-tiny-fp8")]
    for folder in folders:
        config, weights, fp8_names = load_model(folder)
        reference = load_safetensors(os.path.join(folder, "reference.safetensors"))
        prefix = "logits_w8a8." if fp8_names else "logits."
        prompts = sorted(int(name.split(".")[1]) for name in reference if name.startswith("sequence."))
        print(f"## {os.path.basename(os.path.normpath(folder))} against {prefix}i: median / p90 of the row errors")
        print("| scheme | attention | " + " | ".join(f"prompt {p} ({len(reference[f'sequence.{p}'])})" for p in prompts) + " |")
        print("|---|---|" + "---|" * len(prompts))
        for name, (points, accumulator_bits) in SCHEMES.items():
            for absorbed in (False, True):
                cells = []
                for p in prompts:
                    logits = forward(config, weights, fp8_names, [int(i) for i in reference[f"sequence.{p}"]], points,
                                     absorbed, accumulator_bits)
                    errors = row_errors(logits, reference[prefix + str(p)])
                    cells.append(f"{np.median(errors):.2e} / {np.percentile(errors, 90, method='lower'):.2e}")
                print(f"| {name} | {'absorbed' if absorbed else 'expanded'} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
