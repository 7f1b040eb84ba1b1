"""Adapters: implementations seen through the reference signatures (torch, the reference itself)."""
