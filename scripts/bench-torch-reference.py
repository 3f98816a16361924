#!/usr/bin/env python3
"""PyTorch eager reference for `inspectd bench --train`: the same network (docs/MODEL.md, standard
profile) and the same training step (backbone forward without gradients at batch 8, AMN, U-Net,
both losses, backward, gradient clipping, AdamW), timed on the same machine; also the U-Net and the
AMN apart at batch 8, as `inspectd bench-engine` times them (`model_parts`).

Benchmark only: nothing here runs in inspectd. Needs `torch` (pip). Weights are random: the time
of a step does not depend on their values. Prints one JSON line."""
import json, math, statistics, sys, time
import torch
import torch.nn as nn
import torch.nn.functional as F

threads = int(sys.argv[1]) if len(sys.argv) > 1 else 2
steps = int(sys.argv[2]) if len(sys.argv) > 2 else 6
torch.set_num_threads(threads)
torch.manual_seed(0)

class MBConv(nn.Module):
    def __init__(self, cin, cout, k, stride, expand):
        super().__init__()
        mid = cin * expand
        self.expand = nn.Sequential(nn.Conv2d(cin, mid, 1, bias=False), nn.BatchNorm2d(mid, eps=1e-3), nn.ReLU6()) if expand != 1 else nn.Identity()
        self.dw = nn.Sequential(nn.Conv2d(mid, mid, k, stride, k // 2, groups=mid, bias=False), nn.BatchNorm2d(mid, eps=1e-3), nn.ReLU6())
        self.project = nn.Sequential(nn.Conv2d(mid, cout, 1, bias=False), nn.BatchNorm2d(cout, eps=1e-3))
        self.residual = stride == 1 and cin == cout
    def forward(self, x):
        y = self.project(self.dw(self.expand(x)))
        return x + y if self.residual else y

class Lite0Features(nn.Module):
    """EfficientNet-Lite0 up to block 10: stride-8 (40 ch) and stride-16 (112 ch) outputs."""
    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 32, 3, 2, 1, bias=False), nn.BatchNorm2d(32, eps=1e-3), nn.ReLU6())
        spec = [(32, 16, 3, 1, 1), (16, 24, 3, 2, 6), (24, 24, 3, 1, 6), (24, 40, 5, 2, 6), (40, 40, 5, 1, 6),
                (40, 80, 3, 2, 6), (80, 80, 3, 1, 6), (80, 80, 3, 1, 6), (80, 112, 5, 1, 6), (112, 112, 5, 1, 6), (112, 112, 5, 1, 6)]
        self.blocks = nn.ModuleList(MBConv(*s) for s in spec)
    def forward(self, x):
        x = self.stem(x)
        for i, block in enumerate(self.blocks):
            x = block(x)
            if i == 4: s8 = x
        return s8, x

def sine_positions(h, w, d):
    half = d // 2
    ys = torch.arange(1, h + 1, dtype=torch.float32) / h * 2 * math.pi
    xs = torch.arange(1, w + 1, dtype=torch.float32) / w * 2 * math.pi
    freq = torch.tensor([10000 ** (2 * (i // 2) / half) for i in range(half)])
    def enc(p):
        v = p[:, None] / freq
        out = torch.empty_like(v); out[:, 0::2] = v[:, 0::2].sin(); out[:, 1::2] = v[:, 1::2].cos(); return out
    py, px = enc(ys), enc(xs)
    return torch.cat([py[:, None, :].expand(h, w, half), px[None, :, :].expand(h, w, half)], -1).reshape(h * w, d)

def neighbour_mask(h, w, window=7):
    r = window // 2
    ys, xs = torch.meshgrid(torch.arange(h), torch.arange(w), indexing="ij")
    ys, xs = ys.flatten(), xs.flatten()
    near = ((ys[:, None] - ys[None, :]).abs() <= r) & ((xs[:, None] - xs[None, :]).abs() <= r)
    return torch.zeros(h * w, h * w).masked_fill(near, float("-inf"))

class EncoderLayer(nn.Module):
    def __init__(self, d, heads, ffn):
        super().__init__()
        self.heads = heads
        self.norm1, self.norm2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.q, self.k, self.v, self.out = (nn.Linear(d, d) for _ in range(4))
        self.fc1, self.fc2 = nn.Linear(d, ffn), nn.Linear(ffn, d)
    def forward(self, x, pos, mask):
        b, t, d = x.shape
        n = self.norm1(x)
        split = lambda y: y.view(b, t, self.heads, d // self.heads).transpose(1, 2)
        a = F.scaled_dot_product_attention(split(self.q(n + pos)), split(self.k(n + pos)), split(self.v(n)), attn_mask=mask)
        x = x + self.out(a.transpose(1, 2).reshape(b, t, d))
        return x + self.fc2(F.gelu(self.fc1(self.norm2(x))))

class AMN(nn.Module):
    def __init__(self, c=152, d=128, layers=4, heads=2, ffn=256, cond=96):
        super().__init__()
        self.proj = nn.Linear(c, d)
        self.layers = nn.ModuleList(EncoderLayer(d, heads, ffn) for _ in range(layers))
        self.norm, self.recon, self.cond = nn.LayerNorm(d), nn.Linear(d, c), nn.Linear(d, cond)
        self.register_buffer("pos", sine_positions(32, 32, d))
        self.register_buffer("mask", neighbour_mask(32, 32))
    def forward(self, z):
        b, c, h, w = z.shape
        x = self.proj(z.flatten(2).transpose(1, 2))
        for layer in self.layers: x = layer(x, self.pos, self.mask)
        x = self.norm(x)
        to_map = lambda y: y.transpose(1, 2).reshape(b, -1, h, w)
        return to_map(self.recon(x)), to_map(self.cond(x))

class ResBlock(nn.Module):
    def __init__(self, cin, cout, e, groups):
        super().__init__()
        self.norm1, self.conv1 = nn.GroupNorm(groups, cin), nn.Conv2d(cin, cout, 3, padding=1)
        self.time_proj = nn.Linear(e, cout)
        self.norm2, self.conv2 = nn.GroupNorm(groups, cout), nn.Conv2d(cout, cout, 3, padding=1)
        self.skip = nn.Conv2d(cin, cout, 1) if cin != cout else nn.Identity()
    def forward(self, x, s):
        h = self.conv1(F.silu(self.norm1(x))) + self.time_proj(s)[:, :, None, None]
        return self.conv2(F.silu(self.norm2(h))) + self.skip(x)

class UNet(nn.Module):
    def __init__(self, c=152, w=(96, 192, 192), e=384, groups=32):
        super().__init__()
        self.fc1, self.fc2 = nn.Linear(w[0], e), nn.Linear(e, e)
        self.conv_in = nn.Conv2d(c, w[0], 3, padding=1)
        self.d0, self.ds0 = ResBlock(w[0], w[0], e, groups), nn.Conv2d(w[0], w[0], 3, 2, 1)
        self.d1, self.ds1 = ResBlock(w[0], w[1], e, groups), nn.Conv2d(w[1], w[1], 3, 2, 1)
        self.d2 = ResBlock(w[1], w[2], e, groups)
        self.u2, self.us2 = ResBlock(2 * w[2], w[2], e, groups), nn.Conv2d(w[2], w[1], 3, padding=1)
        self.u1, self.us1 = ResBlock(2 * w[1], w[1], e, groups), nn.Conv2d(w[1], w[0], 3, padding=1)
        self.u0 = ResBlock(2 * w[0], w[0], e, groups)
        self.norm_out, self.conv_out = nn.GroupNorm(groups, w[0]), nn.Conv2d(w[0], c, 3, padding=1)
        self.half = w[0] // 2
    def forward(self, z, t, cond):
        f = torch.exp(-math.log(10000) * torch.arange(self.half) / self.half)
        emb = torch.cat([torch.cos(t[:, None] * f), torch.sin(t[:, None] * f)], -1)
        s = F.silu(self.fc2(F.silu(self.fc1(emb))))
        h = self.conv_in(z) + cond
        k0 = self.d0(h, s); k1 = self.d1(self.ds0(k0), s); k2 = self.d2(self.ds1(k1), s)
        h = self.u2(torch.cat([k2, k2], 1), s)
        h = self.u1(torch.cat([self.us2(F.interpolate(h, scale_factor=2.0)), k1], 1), s)
        h = self.u0(torch.cat([self.us1(F.interpolate(h, scale_factor=2.0)), k0], 1), s)
        return self.conv_out(F.silu(self.norm_out(h)))

backbone = Lite0Features().eval()
amn, unet = AMN(), UNet()
params = list(amn.parameters()) + list(unet.parameters())
optimiser = torch.optim.AdamW(params, lr=2e-4, weight_decay=0.01)
betas = (torch.linspace(0.00085 ** 0.5, 0.012 ** 0.5, 1000) ** 2)
alphas_bar = torch.cumprod(1 - betas, 0)
images = torch.rand(8, 3, 256, 256) * 2 - 1

def step():
    with torch.no_grad():
        s8, s16 = backbone(images)
        z = torch.cat([s8, F.interpolate(s16, size=s8.shape[-2:], mode="bilinear", align_corners=False)], 1)
        z = (z - z.mean((0, 2, 3), keepdim=True)) / (z.std((0, 2, 3), keepdim=True) + 1e-6)
    t = torch.randint(0, 1000, (8,))
    eps = torch.randn_like(z)
    ab = alphas_bar[t][:, None, None, None]
    zt = ab.sqrt() * z + (1 - ab).sqrt() * eps
    recon, cond = amn(z)
    loss = F.mse_loss(unet(zt, t.float(), cond), eps) + F.mse_loss(recon, z)
    optimiser.zero_grad()
    loss.backward()
    torch.nn.utils.clip_grad_norm_(params, 1.0)
    optimiser.step()

@torch.no_grad()
def score(ddim_steps, noise_level=50):
    """Scoring of a batch of 8 as docs/MODEL.md §6: backbone, one AMN pass, DDIM from t_s."""
    s8, s16 = backbone(images)
    z = torch.cat([s8, F.interpolate(s16, size=s8.shape[-2:], mode="bilinear", align_corners=False)], 1)
    recon, cond = amn(z)
    timesteps = [round(noise_level * (ddim_steps - i) / ddim_steps) for i in range(ddim_steps)]
    x = alphas_bar[noise_level].sqrt() * z + (1 - alphas_bar[noise_level]).sqrt() * torch.randn_like(z)
    for i, t in enumerate(timesteps):
        eps = unet(x, torch.full((8,), float(t)), cond)
        ab = alphas_bar[t]
        x0 = (x - (1 - ab).sqrt() * eps) / ab.sqrt()
        nxt = alphas_bar[timesteps[i + 1]] if i + 1 < len(timesteps) else None
        x = x0 if nxt is None else nxt.sqrt() * x0 + (1 - nxt).sqrt() * eps
    return ((x - z) ** 2).mean(1), ((recon - z) ** 2).mean(1)

def timed(fn, repeats):
    fn(); fn()
    out = []
    for _ in range(repeats):
        t0 = time.perf_counter(); fn(); out.append(time.perf_counter() - t0)
    return out

train = timed(step, steps)
report = {"framework": f"pytorch {torch.__version__} eager", "threads": threads,
          "parameters": sum(p.numel() for p in params),
          "train_step_s_median": round(statistics.median(train), 3), "train_step_s_all": [round(x, 3) for x in train]}
for ddim in (3, 5):
    runs = timed(lambda: score(ddim), 3)
    report[f"score_ms_per_frame_ddim{ddim}_batch8"] = round(statistics.median(runs) / 8 * 1000, 1)
z, cond = torch.randn(8, 152, 32, 32), torch.randn(8, 96, 32, 32)
ts = torch.arange(8).float() * 100 + 37
def unet_training():
    unet(z, ts, cond).sum().backward(); unet.zero_grad(set_to_none=True)
def amn_training():
    recon, c = amn(z); (recon.sum() + c.sum()).backward(); amn.zero_grad(set_to_none=True)
with torch.no_grad():
    unet_forward = timed(lambda: unet(z, ts, cond), 5)
    amn_forward = timed(lambda: amn(z), 5)
parts = {"unet_forward_ms_b8": unet_forward, "unet_forward_backward_ms_b8": timed(unet_training, 5),
         "amn_forward_ms_b8": amn_forward, "amn_forward_backward_ms_b8": timed(amn_training, 5)}
report["model_parts"] = {k: round(statistics.median(v) * 1000, 1) for k, v in parts.items()}
print(json.dumps(report))
