"""Prefect flows: composition only. Nothing imports this package."""
