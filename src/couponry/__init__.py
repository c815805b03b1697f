"""Couponry: an open-source coupon and loyalty engine."""

__version__ = "0.1.0"
