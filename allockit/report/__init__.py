"""Figures (altair, saved offline through vl-convert), mailing-list text tables and
physical-memory maps, from the results of ``allockit.experiment``."""
