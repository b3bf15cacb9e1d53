"""SynthGait: procedural walking silhouettes with CASIA-B's structure (the embedded default dataset).

body (shape) + gait (joint angles) -> skeleton (3-D solids) + covariates (bag, coat)
-> render (camera, rasterisation) -> noise (segmentation errors) -> sequence (one recording)
-> dataset (all recordings, seeded, parallel) -> write (store / pkl / png) ; preview (images).
"""

from gaitreid.synth.dataset import SynthConfig, generate, plan_jobs
from gaitreid.synth.sequence import RenderConfig
from gaitreid.synth.write import write_dataset

__all__ = ["RenderConfig", "SynthConfig", "generate", "plan_jobs", "write_dataset"]
