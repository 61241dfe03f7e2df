"""Evaluation: the report of a synthetic set (:mod:`.evaluate`) and the visual Turing kit
(:mod:`.turing`)."""
