"""Training: one loop (`trainer.train_phase`) serving the three phases described in `phases.py`."""

from gaitreid.training.trainer import PhaseResult, TrainingDiverged, train_phase

__all__ = ["PhaseResult", "TrainingDiverged", "train_phase"]
