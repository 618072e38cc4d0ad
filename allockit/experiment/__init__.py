"""Experiments: one trial, paired trials across strategies, result tables."""
