"""Subcommands of the convcheck command line (argument parsing and printing only)."""
