"""Internals of the Proof-of-Training stage function (fixed-point arithmetic)."""
