"""Training loops (torchrun DDP, bf16, time-boxed, resumable). Each module has a CLI."""
