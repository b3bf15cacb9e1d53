"""`gaitreid export CHECKPOINT --onnx OUT.onnx`: the embedding network for onnxruntime and friends."""

from __future__ import annotations


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "export", help="write the embedding network as ONNX (dynamic batch and sequence length)",
        description="Export the checkpoint's embedding network: input 'silhouettes' float32 [n, s, h, w] "
        "(pretreated frames / 255, n and s dynamic), output 'embeddings' float32 [n, c, p]. The file is "
        "then checked: onnxruntime's embeddings must match PyTorch's at two sequence lengths.",
    )
    parser.add_argument("checkpoint", metavar="CHECKPOINT", help="run, phase or checkpoint directory")
    parser.add_argument("--onnx", required=True, metavar="OUT.onnx", help="output file")
    parser.add_argument("--opset", type=int, default=17, help="ONNX opset (default 17)")
    parser.add_argument("--no-verify", action="store_true", help="skip the onnxruntime check")
    parser.set_defaults(func=run)


def run(args) -> int:
    from gaitreid.export.onnx import export_onnx, verify_onnx
    from gaitreid.inference import Embedder

    embedder = Embedder.from_checkpoint(args.checkpoint)
    out = export_onnx(embedder, args.onnx, opset=args.opset)
    height, width = embedder.frame_shape
    print(f"wrote {out} ({out.stat().st_size / 2**20:.1f} MiB): input silhouettes [n, s, {height}, {width}], "
          f"model {embedder.fingerprint}")
    if not args.no_verify:
        worst = verify_onnx(embedder, out)
        print(f"onnxruntime matches PyTorch at 30 and 7 frames: max relative difference {worst:.1e}")
    return 0
