#!/usr/bin/env python3
"""Checks the PyTorch twin (and, given --artifacts, its OpenVINO builds) against inspectd's own
maps, part by part, through `inspectd score --raw-maps` (the smoothed R × R map of MODEL.md §6
step 7) on copies of the model folder that make each part visible in that map:

- latent: source `amn`, no standardising, `amn.recon` zeroed → the map is mean_c z², smoothed:
  the backbone, the upsampling and the standardisation, before any of the CDAD network;
- amn: source `amn` → the AMN's reconstruction (standardised residual map); amn_pooling3 the
  same with a 3 × 3 window (the profiles use none);
- full: the model as it is (source `diffusion` for the standard profile) → AMN condition, scoring
  noise, every DDIM step, the maps, the image score.

Figures per frame: max |twin − inspectd| / max |inspectd| over the map, the median per-pixel
relative difference, and the relative difference of the raw image score. With --artifacts also
the OpenVINO fp32/int8/int8-all/fp32-ovdefault maps against inspectd fp32, and inspectd int8 against inspectd
fp32; with --auroc the image AUROC of each over the whole test folder.

Benchmark/verification only: nothing here runs in inspectd. Prints one JSON object."""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cdad_twin as twin  # noqa: E402


def write_safetensors(path, tensors, metadata):
    header, offset, blobs = {"__metadata__": metadata}, 0, []
    for name in sorted(tensors):
        a = np.ascontiguousarray(tensors[name])
        kind = {np.float32: "F32", np.int8: "I8"}[a.dtype.type]
        header[name] = {"dtype": kind, "shape": list(a.shape), "data_offsets": [offset, offset + a.nbytes]}
        blobs.append(a.tobytes())
        offset += a.nbytes
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(len(text).to_bytes(8, "little") + text + b"".join(blobs))


def variant(model_dir, scratch, name, scoring=None, zero=()):
    """A copy of the model folder with manifest `scoring` keys replaced and `zero` tensors zeroed."""
    out = os.path.join(scratch, name)
    os.makedirs(out)
    for f in os.listdir(model_dir):
        if f not in ("manifest.json", "weights.safetensors"):
            os.symlink(os.path.join(os.path.abspath(model_dir), f), os.path.join(out, f))
    with open(os.path.join(model_dir, "manifest.json")) as f:
        manifest = json.load(f)
    manifest["scoring"].update(scoring or {})
    with open(os.path.join(out, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)
    if zero:
        weights, meta = twin.read_safetensors(os.path.join(model_dir, "weights.safetensors"))
        for n in zero:
            weights[n] = np.zeros_like(weights[n])
        write_safetensors(os.path.join(out, "weights.safetensors"), weights, meta)
    else:
        os.symlink(os.path.join(os.path.abspath(model_dir), "weights.safetensors"), os.path.join(out, "weights.safetensors"))
    return out


def inspectd_maps(binary, model_dir, frames, scratch, precision="fp32", threads=2):
    """inspectd's raw maps [N, R, R] and raw scores of `frames`."""
    out = tempfile.mkdtemp(dir=scratch)
    run = subprocess.run([binary, "score", "--model", model_dir, "--raw-maps", out, "--precision", precision,
                          "--threads", str(threads)] + frames, capture_output=True, text=True, check=True)
    rows = [json.loads(line) for line in run.stdout.splitlines() if line.startswith("{")]
    by_file = {r["file"]: r for r in rows}
    rows = [by_file[f] for f in frames]
    return np.stack([np.load(r["raw_map"]) for r in rows]), np.array([r["raw_score"] for r in rows], np.float64)


def compare(maps, scores, ref_maps, ref_scores):
    per = []
    for a, b, s, r in zip(maps, ref_maps, scores, ref_scores):
        per.append({"map_max_rel": float(np.abs(a - b).max() / np.abs(b).max()),
                    "map_median_rel": float(np.median(np.abs(a - b) / np.maximum(np.abs(b), 1e-30))),
                    "score_rel": float(abs(s - r) / abs(r))})
    worst = {k: max(p[k] for p in per) for k in per[0]}
    return {"worst": worst, "frames": per}


def auroc(scores, labels):
    s, l = np.asarray(scores), np.asarray(labels, bool)
    pos, neg = s[l], s[~l]
    greater = (pos[:, None] > neg[None]).sum() + 0.5 * (pos[:, None] == neg[None]).sum()
    return float(greater / (len(pos) * len(neg)))


def batched(scoring, images, batch=8):
    maps, scores = [], []
    for i in range(0, len(images), batch):
        m, s, _ = scoring.analyse(images[i:i + batch])
        maps.append(np.array(m))
        scores.append(np.array(s))
    return np.concatenate(maps), np.concatenate(scores)


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", required=True)
    ap.add_argument("--inspectd", required=True)
    ap.add_argument("--data", default=os.path.join(here, "../../../shared/data/mvtec_bottle"))
    ap.add_argument("--frames", nargs="*", help="frames to compare (default: 2 normal and 4 defective test frames)")
    ap.add_argument("--artifacts", help="OpenVINO build folder (openvino_parts.build) to check too")
    ap.add_argument("--auroc", action="store_true", help="image AUROC of each engine over the whole test folder")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    import torch
    torch.set_num_threads(args.threads)

    test = os.path.join(args.data, "test")
    frames = args.frames or [os.path.join(test, p) for p in
                             ("good/000.png", "good/010.png", "broken_large/000.png", "broken_small/003.png",
                              "contamination/001.png", "contamination/010.png")]
    frames = [os.path.abspath(f) for f in frames]
    images = [twin.load_frame(f) for f in frames]
    report = {"inspectd": args.inspectd, "model": os.path.abspath(args.model), "frames": frames, "checks": {}}
    scratch = tempfile.mkdtemp(prefix="inspectd-twin-check-")
    try:
        variants = {
            "latent": variant(args.model, scratch, "latent", {"source": "amn", "standardise_residuals": False},
                              zero=("amn.recon.weight", "amn.recon.bias")),
            "amn": variant(args.model, scratch, "amn", {"source": "amn"}),
            # The profiles score without pooling; this keeps §6 step 5's window checked too.
            "amn_pooling3": variant(args.model, scratch, "amn_pooling3", {"source": "amn", "pooling": 3}),
            "full": args.model,
        }
        for name, folder in variants.items():
            ref_maps, ref_scores = inspectd_maps(args.inspectd, folder, frames, scratch, threads=args.threads)
            model = twin.ModelFolder(folder)
            maps, scores, _ = twin.Twin(model).scoring().analyse(images)
            report["checks"][f"twin_{name}"] = compare(maps, scores, ref_maps, ref_scores)
            if name == "full":
                full_ref = (ref_maps, ref_scores)

        model = twin.ModelFolder(args.model)
        maps8, scores8 = inspectd_maps(args.inspectd, args.model, frames, scratch, "int8", args.threads)
        report["checks"]["inspectd_int8_vs_fp32"] = compare(maps8, scores8, *full_ref)
        if args.artifacts:
            import openvino_parts as ovp
            for precision in ovp.VARIANTS:
                r = ovp.Runner(args.artifacts, precision, batch=len(images), threads=args.threads)
                maps, scores, _ = twin.Scoring(model, r.latent, r.amn, r.unet).analyse(images)
                report["checks"][f"openvino_{precision}_vs_inspectd_fp32"] = compare(maps, scores, *full_ref)

        if args.auroc:
            files, labels = [], []
            for kind in sorted(os.listdir(test)):
                for f in sorted(os.listdir(os.path.join(test, kind))):
                    files.append(os.path.join(test, kind, f))
                    labels.append(kind != "good")
            all_images = [twin.load_frame(f) for f in files]
            result = {"frames": len(files), "defective": int(sum(labels))}
            for precision in ("fp32", "int8"):
                _, s = inspectd_maps(args.inspectd, args.model, files, scratch, precision, args.threads)
                result[f"inspectd_{precision}"] = auroc(s, labels)
            if args.artifacts:
                for precision in ovp.VARIANTS:
                    r = ovp.Runner(args.artifacts, precision, batch=8, threads=args.threads)
                    s = twin.Scoring(model, r.latent, r.amn, r.unet)
                    padded = all_images + all_images[:(-len(all_images)) % 8]
                    result[f"openvino_{precision}"] = auroc(batched(s, padded)[1][:len(files)], labels)
            report["image_auroc"] = result
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
