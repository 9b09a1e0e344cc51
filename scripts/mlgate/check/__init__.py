"""Judging a change: the run over a diff (run), the promotion gates (gates), the rule catalogue (rules) and
the GitHub set-up diagnosis (doctor)."""
