"""convcheck.checks"""
