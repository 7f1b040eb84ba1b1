"""convcheck.reference"""
