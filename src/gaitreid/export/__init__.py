"""Export of the embedding network for other runtimes (ONNX)."""
