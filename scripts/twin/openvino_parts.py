#!/usr/bin/env python3
"""The twin's three scoring parts (latent, AMN, one U-Net step) in OpenVINO: exported from the
PyTorch twin to ONNX, read into OpenVINO, and quantised to int8 with NNCF post-training
quantisation. Benchmark only; inspectd never runs any of this.

Precisions built:
- fp32: the exported graphs as they are, run with INFERENCE_PRECISION_HINT f32 (on a CPU with
  AVX512-BF16 or AMX OpenVINO would otherwise quietly run "fp32" models in bf16; the run variant
  fp32-ovdefault times that);
- int8: AMN and U-Net quantised, the latent (backbone) kept fp32: quantising the backbone with
  per-tensor activation scales cost accuracy badly in the issue author's trials, and costs
  OpenVINO little to leave out (issue 21). This is the variant reported;
- int8-all: everything quantised, backbone included, to show what that costs.
Calibration: normal frames evenly spaced over the training folder; the AMN and the U-Net see the
inputs the fp32 scoring loop gives them (every DDIM step of every frame)."""
import argparse
import json
import os
import time
import warnings

import numpy as np

import cdad_twin as twin

PARTS = ("latent", "amn", "unet")
INPUTS = {"latent": ["x"], "amn": ["z"], "unet": ["z_t", "temb", "cond"]}
OUTPUTS = {"latent": ["latent"], "amn": ["recon", "cond"], "unet": ["prediction"]}
PRECISIONS = {"fp32": {}, "int8": {"amn": "int8", "unet": "int8"},
              "int8-all": {"latent": "int8", "amn": "int8", "unet": "int8"}}
# What a run can ask for: the build it reads and the INFERENCE_PRECISION_HINT its float
# operations run in. "fp32-ovdefault" leaves the hint to OpenVINO, which picks bf16 on CPUs with
# AVX512-BF16 or AMX: what a user who does not set it gets, and not fp32.
VARIANTS = {"fp32": ("fp32", "f32"), "int8": ("int8", "f32"), "int8-all": ("int8-all", "f32"),
            "fp32-ovdefault": ("fp32", None)}


def export_onnx(model, out_dir):
    """ONNX of each part, batch axis left free (each run fixes it before compiling)."""
    import torch
    t = twin.Twin(model)
    side, c, w0 = model.latent_side, model.net["latent_channels"], model.net["unet_widths"][0]
    R = model.resolution
    examples = {"latent": (torch.zeros(2, 3, R, R),), "amn": (torch.zeros(2, c, side, side),),
                "unet": (torch.zeros(2, c, side, side), torch.zeros(2, w0), torch.zeros(2, w0, side, side))}
    modules = {"latent": t.latent_net, "amn": t.amn_net, "unet": t.unet_net}
    # The tracer notes that TF-SAME padding is computed from the frame size; the size is fixed
    # (the model resolution), so the padding is rightly a constant of the graph.
    warnings.filterwarnings("ignore", category=torch.jit.TracerWarning)
    for part in PARTS:
        names = INPUTS[part] + OUTPUTS[part]
        # The TorchScript exporter: the dynamo one needs onnxscript and gains nothing for fixed graphs.
        torch.onnx.export(modules[part], examples[part], os.path.join(out_dir, part + ".onnx"), dynamo=False,
                          input_names=INPUTS[part], output_names=OUTPUTS[part], opset_version=17,
                          dynamic_axes={n: {0: "batch"} for n in names})
    return t


def calibration_inputs(model, folder, count, runner):
    """Per part, a list of input dicts (batch 1) from `count` normal frames of `folder`, as the
    fp32 parts of `runner` give them."""
    files = sorted(f for f in os.listdir(folder) if f.lower().endswith((".png", ".jpg", ".jpeg")))
    chosen = [files[int(i * len(files) / count)] for i in range(min(count, len(files)))]
    samples = {p: [] for p in PARTS}

    def unet(z_t, temb, cond):
        samples["unet"].append({"z_t": z_t.copy(), "temb": temb.copy(), "cond": cond.copy()})
        return runner.unet(z_t, temb, cond).copy()

    # The runner's outputs live in its requests' buffers: copy what must outlive the next call.
    amn = lambda z: tuple(a.copy() for a in runner.amn(z))
    scoring = twin.Scoring(model, None, amn, unet)
    for name in chosen:
        x = twin.backbone_input([twin.load_frame(os.path.join(folder, name))], model.resolution)
        z = runner.latent(x).copy()
        samples["latent"].append({"x": x})
        samples["amn"].append({"z": z})
        scoring.reconstruct(z)
    return samples, chosen


def build(model_dir, out_dir, calibration_folder, calibration_images=30, preset="performance", log=print):
    """Writes out_dir/<precision>/<part>.xml|.bin and out_dir/build.json."""
    import nncf
    import openvino as ov
    model = twin.ModelFolder(model_dir)
    os.makedirs(os.path.join(out_dir, "onnx"), exist_ok=True)
    t0 = time.perf_counter()
    export_onnx(model, os.path.join(out_dir, "onnx"))
    log(f"exported ONNX in {time.perf_counter() - t0:.1f} s")
    core = ov.Core()
    fp32 = {}
    os.makedirs(os.path.join(out_dir, "fp32"), exist_ok=True)
    for part in PARTS:
        fp32[part] = ov.convert_model(os.path.join(out_dir, "onnx", part + ".onnx"))
        # Weights stay binary32: save_model would otherwise store them as fp16.
        ov.save_model(fp32[part], os.path.join(out_dir, "fp32", part + ".xml"), compress_to_fp16=False)

    runner = Runner(out_dir, "fp32", batch=1, threads=os.cpu_count())
    samples, chosen = calibration_inputs(model, calibration_folder, calibration_images, runner)
    log(f"calibration inputs from {len(chosen)} frames of {calibration_folder}: "
        + ", ".join(f"{p} {len(s)}" for p, s in samples.items()))
    quantised = {}
    for part in PARTS:
        t0 = time.perf_counter()
        kind = nncf.ModelType.TRANSFORMER if part == "amn" else None
        quantised[part] = nncf.quantize(fp32[part], nncf.Dataset(samples[part]), subset_size=len(samples[part]),
                                        preset=nncf.QuantizationPreset(preset), model_type=kind)
        log(f"quantised {part} in {time.perf_counter() - t0:.1f} s")
    for precision, plan in PRECISIONS.items():
        if precision == "fp32":
            continue
        os.makedirs(os.path.join(out_dir, precision), exist_ok=True)
        for part in PARTS:
            m = quantised[part] if plan.get(part) == "int8" else fp32[part]
            ov.save_model(m, os.path.join(out_dir, precision, part + ".xml"), compress_to_fp16=False)
    info = {"model": os.path.abspath(model_dir), "weights_sha256": twin.sha256_of(os.path.join(model_dir, "weights.safetensors")),
            "openvino": ov.get_version(), "nncf": nncf.__version__, "preset": preset,
            "calibration_folder": os.path.abspath(calibration_folder), "calibration_frames": chosen,
            "precisions": {p: {part: plan.get(part, "fp32") for part in PARTS} for p, plan in PRECISIONS.items()}}
    with open(os.path.join(out_dir, "build.json"), "w") as f:
        json.dump(info, f, indent=1)
    return info


class Runner:
    """Compiled parts at one batch size, as numpy callables for `twin.Scoring`."""

    def __init__(self, out_dir, variant, batch, threads=2, hint="LATENCY"):
        import openvino as ov
        self.core = ov.Core()
        build, inference_precision = VARIANTS[variant]
        config = {"INFERENCE_NUM_THREADS": threads, "PERFORMANCE_HINT": hint}
        if inference_precision:
            config["INFERENCE_PRECISION_HINT"] = inference_precision
        self.config = config
        self.requests = {}
        for part in PARTS:
            m = self.core.read_model(os.path.join(out_dir, build, part + ".xml"))
            # Static shapes let OpenVINO pick its kernels once, as inspectd's fixed batch does.
            m.reshape({i.get_any_name(): [batch] + [d.get_length() for d in list(i.get_partial_shape())[1:]]
                       for i in m.inputs})
            compiled = self.core.compile_model(m, "CPU", config)
            self.requests[part] = compiled.create_infer_request()
        self.batch = batch
        self.inference_precision = compiled.get_property("INFERENCE_PRECISION_HINT").to_string()

    def _run(self, part, inputs):
        request = self.requests[part]
        request.infer(inputs, share_inputs=True)
        return [request.get_output_tensor(i).data for i in range(len(OUTPUTS[part]))]

    def latent(self, x):
        return self._run("latent", {"x": x})[0]

    def amn(self, z):
        recon, cond = self._run("amn", {"z": np.ascontiguousarray(z)})
        return recon, cond

    def unet(self, z_t, temb, cond):
        # Not copied: each DDIM step makes new arrays from the prediction before the next call
        # overwrites its buffer, and the last one is read by the maps before the next batch.
        return self._run("unet", {"z_t": np.ascontiguousarray(z_t), "temb": temb, "cond": cond})[0]



if __name__ == "__main__":
    ap = argparse.ArgumentParser(description="Export the twin's parts to ONNX and OpenVINO, fp32 and NNCF int8.")
    ap.add_argument("--model", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--calibration", required=True, help="folder of normal training frames")
    ap.add_argument("--calibration-images", type=int, default=30)
    ap.add_argument("--preset", default="performance", choices=["performance", "mixed"],
                    help="NNCF preset: symmetric (performance) or asymmetric (mixed) activations")
    a = ap.parse_args()
    import sys
    os.makedirs(a.out, exist_ok=True)
    print(json.dumps(build(a.model, a.out, a.calibration, a.calibration_images, a.preset,
                           log=lambda m: print(m, file=sys.stderr))))
