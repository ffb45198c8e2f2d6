"""Training stack: resumable training state, schedules, distributed setup, and the per-model loops."""
