#!/usr/bin/env python3
"""Times scoring on the OpenVINO build of the twin (openvino_parts.py) the way `inspectd bench`
times inspectd: frames decoded beforehand, one warm-up round, then `rounds` rounds over the
frames in batches, each batch's wall time divided by its frames; the parts (latent, AMN, U-Net
per DDIM step, whole batch) on the first batch once per round. What a frame's time includes is
the same as in inspectd: the input conversion, the three parts, the scoring noise, DDIM, the
maps, the smoothing and the image score; only decoding is outside, as in inspectd's bench.

Benchmark only: nothing here runs in inspectd. Needs numpy, pillow and openvino. Prints one
JSON line."""
import argparse
import json
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cdad_twin as twin  # noqa: E402
import openvino_parts as ovp  # noqa: E402


def percentile(sorted_values, q):
    """inspectd's: the element at round((n − 1)·q)."""
    if not sorted_values:
        return 0.0
    return sorted_values[min(len(sorted_values) - 1, int(round((len(sorted_values) - 1) * q)))]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--artifacts", required=True, help="folder written by openvino_parts.build")
    ap.add_argument("--model", required=True)
    ap.add_argument("--images", required=True)
    ap.add_argument("--precision", default="fp32", choices=list(ovp.VARIANTS))
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--limit", type=int, default=32)
    ap.add_argument("--ddim-steps", type=int)
    ap.add_argument("--noise-level", type=int)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--hint", default="LATENCY", choices=["LATENCY", "THROUGHPUT"])
    args = ap.parse_args()

    model = twin.ModelFolder(args.model)
    files = sorted(f for f in os.listdir(args.images) if f.lower().endswith((".png", ".jpg", ".jpeg")))[:args.limit]
    frames = [twin.load_frame(os.path.join(args.images, f)) for f in files]
    t0 = time.perf_counter()
    runner = ovp.Runner(args.artifacts, args.precision, args.batch, args.threads, args.hint)
    compile_s = time.perf_counter() - t0
    scoring = twin.Scoring(model, runner.latent, runner.amn, runner.unet,
                           ddim_steps=args.ddim_steps, noise_level=args.noise_level)
    # A short last batch would change the compiled shape; inspectd's bench runs it as it comes,
    # so it is padded here with frames from the start and timed per real frame.
    batches = []
    for start in range(0, len(frames), args.batch):
        chunk = frames[start:start + args.batch]
        batches.append((chunk + frames[:args.batch - len(chunk)], len(chunk)))

    def score_all():
        out = []
        for chunk, real in batches:
            t = time.perf_counter()
            scoring.analyse(chunk)
            out.append((time.perf_counter() - t) * 1000 / real)
        return out

    score_all()
    per_frame = []
    t0 = time.perf_counter()
    for _ in range(args.rounds):
        per_frame += score_all()
    seconds = time.perf_counter() - t0
    per_frame.sort()

    parts = {}
    first = batches[0][0]
    for _ in range(max(1, args.rounds)):
        for part, s in scoring.analyse(first)[2].items():
            parts.setdefault(part, []).append(s * 1000 / len(first))

    import openvino
    build = json.load(open(os.path.join(args.artifacts, "build.json")))
    print(json.dumps({
        "engine": "openvino", "openvino": openvino.get_version(), "precision": args.precision,
        "quantised_parts": [p for p, k in build["precisions"][ovp.VARIANTS[args.precision][0]].items() if k == "int8"],
        "threads": args.threads, "hint": args.hint, "inference_precision": runner.inference_precision,
        "batch": args.batch, "images": len(frames), "rounds": args.rounds, "ddim_steps": scoring.steps,
        "noise_level": scoring.t_s, "source": scoring.source, "compile_s": round(compile_s, 2),
        "parts_ms_per_frame": {k: round(statistics.median(v), 2) for k, v in parts.items()},
        "score_ms_p50": round(percentile(per_frame, 0.5), 2), "score_ms_p95": round(percentile(per_frame, 0.95), 2),
        "frames_per_s": round(len(frames) * args.rounds / seconds, 2),
    }))


if __name__ == "__main__":
    main()
