"""The pricing core: pure Python, no I/O, no framework imports.

Everything that decides whether a coupon applies and how much it takes off lives here, so it can be
tested and benchmarked without a database or a web server.
"""
