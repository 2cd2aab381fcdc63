"""A pipeline whose per-worker preparation fails."""

from __future__ import annotations


def prepare_worker():
    raise OSError("compiled problem cache is unreadable")


def process_account(ctx, account, period):  # never reached
    raise AssertionError("prepare_worker failed; no account should be processed")
