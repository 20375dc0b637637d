"""Readers, vocabularies, batching, scalers and windows: files in, arrays out; nothing here knows about models."""

from rnnlab.data.digest import fingerprint

__all__ = ["fingerprint"]
