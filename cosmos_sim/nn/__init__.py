"""Shared neural-network blocks (quantizers, causal convolutions, wavelets, attention)."""
