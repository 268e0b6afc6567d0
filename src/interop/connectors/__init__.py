"""Data sources a connector actor reads from: one module per source kind."""
