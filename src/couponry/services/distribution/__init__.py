"""Getting coupons to customers: segments and publications (push)."""
