"""Evaluation: evaluator networks trained on training subjects only (identity, image-text,
scene/modifier), the held-out benchmark CLI and the runtime parity check (docs/evaluation.md)."""
