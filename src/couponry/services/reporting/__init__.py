"""Measuring campaigns: statistics, A/B test verdicts, settlement and reports."""
