"""Audit metrics: one module per audit area; pure, vectorised pandas, no I/O."""
