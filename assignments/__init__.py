"""convcheck.assignments"""
