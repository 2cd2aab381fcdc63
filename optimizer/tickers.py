"""Ticker names with a meaning of their own (a leaf module: imports nothing)."""

CASH = "CASH"  # the account's cash: a holdings row, a target weight, a built-in price series
