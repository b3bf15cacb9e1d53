"""The embedding network as an ONNX file, for onnxruntime or any other ONNX runtime.

Graph: input `silhouettes` float32 [n, s, h, w] in [0, 1] (pretreated frames / 255), both n and
s dynamic (set pooling is a max over the s frames, exported as a ReduceMax over a dynamic axis);
output `embeddings` float32 [n, c, p] (the retrieval embedding, before the BN neck).
The file's metadata records the model fingerprint, the input size and the pretreatment, so a
user of the ONNX file can prepare frames exactly as `gaitreid` does.

Exporter: torch's TorchScript-based exporter (`dynamo=False`): it needs no extra package and
keeps the frame axis symbolic; `verify_onnx` checks onnxruntime against PyTorch at two lengths.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import torch

from gaitreid.errors import GaitReidError

INPUT_NAME = "silhouettes"
OUTPUT_NAME = "embeddings"
DEFAULT_OPSET = 17
TRACE_FRAMES = 30


class EmbeddingNetwork(torch.nn.Module):
    """GaitModel -> just the retrieval embeddings (ONNX graphs return tensors, not dicts)."""

    def __init__(self, model: torch.nn.Module):
        super().__init__()
        self.model = model

    def forward(self, silhouettes: torch.Tensor) -> torch.Tensor:
        return self.model(silhouettes)["embeddings"]  # [n, c, p]


class _FoldFramesStatic(torch.nn.Module):
    """SetBlockWrapper for export: the per-frame output size is a constant, only n and s are symbolic.

    The training-time wrapper reshapes with sizes read from the traced tensor, which leaves even
    the fixed feature-map height/width symbolic in the graph, and the exporter then cannot size
    the horizontal pooling. Same weights, same arithmetic; see `_exportable`.
    """

    def __init__(self, module: torch.nn.Module, frame_output_shape: tuple[int, ...]):
        super().__init__()
        self.module = module
        self.frame_output_shape = tuple(int(v) for v in frame_output_shape)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.module(x.flatten(0, 1))  # [n*s, c', h', w']
        return y.reshape(x.shape[0], -1, *self.frame_output_shape)  # [n, s, c', h', w']


class _StaticPyramid(torch.nn.Module):
    """HorizontalPyramidPooling for export: strips cut at constant rows instead of adaptive pooling.

    Adaptive pooling over b strips of h rows averages (and maxes) rows [floor(i*h/b), ceil((i+1)*h/b))
    for strip i; with h known at export those are constant slices, which ONNX expresses whatever
    the symbolic shapes around them. `[n, c, h, w] -> [n, c, p]`, same values as the original.
    """

    def __init__(self, bins: tuple[int, ...], height: int):
        super().__init__()
        self.rows = [(i * height // b, -(-(i + 1) * height // b)) for b in bins for i in range(b)]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        strips = []
        for top, bottom in self.rows:
            strip = x[:, :, top:bottom].flatten(2)  # [n, c, rows * w]
            strips.append(strip.mean(dim=2) + strip.amax(dim=2))  # [n, c]
        return torch.stack(strips, dim=2)  # [n, c, p]


def _exportable(model: torch.nn.Module, example: torch.Tensor) -> torch.nn.Module:
    """A copy of `model` with the two shape-dependent blocks swapped for constant-shape twins.

    Frame folding and horizontal pooling read feature-map sizes at run time; the exporter
    loses those sizes once the frame axis is symbolic. The sizes are measured here on an example.
    """
    import copy

    from gaitreid.models.set_blocks import HorizontalPyramidPooling, SetBlockWrapper

    model = copy.deepcopy(model).eval()
    shapes: dict[int, tuple[int, ...]] = {}

    def record(key: int, shape: torch.Size) -> None:
        shapes[key] = tuple(shape)

    hooks = []
    for block in model.modules():
        if isinstance(block, SetBlockWrapper):
            hooks.append(block.module.register_forward_hook(lambda m, i, o, key=id(block): record(key, o.shape[1:])))
        elif isinstance(block, HorizontalPyramidPooling):
            hooks.append(block.register_forward_hook(lambda m, i, o, key=id(block): record(key, i[0].shape[1:])))
    with torch.no_grad():
        model(example)
    for hook in hooks:
        hook.remove()
    for parent in list(model.modules()):
        for name, child in parent.named_children():
            if isinstance(child, SetBlockWrapper):
                setattr(parent, name, _FoldFramesStatic(child.module, shapes[id(child)]))
            elif isinstance(child, HorizontalPyramidPooling):
                setattr(parent, name, _StaticPyramid(child.bins, shapes[id(child)][1]))
    return model


def export_onnx(embedder, out: str | Path, opset: int = DEFAULT_OPSET) -> Path:
    """Write the embedder's network to `out` (ONNX, checked with onnx.checker)."""
    import onnx

    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    height, width = embedder.frame_shape
    example = torch.rand(1, TRACE_FRAMES, height, width)
    network = EmbeddingNetwork(_exportable(embedder.model, example)).eval()
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # the exporter's deprecation notice and tracer warnings
        torch.onnx.export(
            network, (example,), str(out), dynamo=False, opset_version=opset,
            input_names=[INPUT_NAME], output_names=[OUTPUT_NAME],
            dynamic_axes={INPUT_NAME: {0: "batch", 1: "frames"}, OUTPUT_NAME: {0: "batch"}},
        )
    model = onnx.load(str(out))
    metadata = {
        "gaitreid_fingerprint": embedder.fingerprint,
        "input": f"float32 [n, s, {height}, {width}]: pretreated silhouettes / 255",
        "output": "float32 [n, c, p]: part embeddings (compare with the mean per-part euclidean distance)",
        "pretreat": json.dumps(embedder.pretreat.to_dict()),
        "source_checkpoint": str(getattr(embedder, "source", "")),
    }
    for key, value in metadata.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.checker.check_model(model)
    onnx.save(model, str(out))
    return out


class OnnxEmbedder:
    """Embeddings from an exported file with onnxruntime (CPU): the same `embed` as Embedder."""

    def __init__(self, path: str | Path, threads: int = 0):
        import onnxruntime as ort

        path = Path(path)
        if not path.is_file():
            raise GaitReidError(f"{path}: no such ONNX file")
        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
        try:
            self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        except Exception as err:  # onnxruntime raises its own exception types for bad files
            raise GaitReidError(f"{path}: not a loadable ONNX model ({err})") from err
        self.path = path
        self.metadata = self.session.get_modelmeta().custom_metadata_map

    def embed_batch(self, silhouettes: np.ndarray) -> np.ndarray:
        """float32 [n, s, h, w] in [0, 1] -> [n, c, p]."""
        return self.session.run([OUTPUT_NAME], {INPUT_NAME: np.ascontiguousarray(silhouettes, dtype=np.float32)})[0]

    def embed(self, frames: np.ndarray) -> np.ndarray:
        """Pretreated uint8 frames [T, h, w] -> [c, p]."""
        return self.embed_batch(frames[None].astype(np.float32) / 255.0)[0]


def verify_onnx(embedder, path: str | Path, lengths=(TRACE_FRAMES, 7), batch: int = 2, seed: int = 0,
                tolerance: float = 1e-4) -> float:
    """Largest |onnxruntime - PyTorch| (relative to the embeddings' scale) over random sequences of
    each length; GaitReidError when above `tolerance`."""
    runtime = OnnxEmbedder(path)
    rng = np.random.default_rng(seed)
    height, width = embedder.frame_shape
    worst = 0.0
    for length in lengths:
        frames = (rng.random((batch, length, height, width)) > 0.5).astype(np.float32)
        with torch.inference_mode():
            expected = embedder.model(torch.from_numpy(frames))["embeddings"].numpy()
        got = runtime.embed_batch(frames)
        if got.shape != expected.shape:
            raise GaitReidError(f"{path}: ONNX output shape {got.shape} differs from PyTorch's {expected.shape}")
        scale = max(float(np.abs(expected).max()), 1e-6)
        worst = max(worst, float(np.abs(got - expected).max()) / scale)
    if worst > tolerance:
        raise GaitReidError(f"{path}: ONNX embeddings differ from PyTorch's by {worst:.2e} (relative), above {tolerance:.0e}")
    return worst
