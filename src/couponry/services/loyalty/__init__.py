"""The loyalty program: points ledger, maturing and expiry, rewards, prize wheels, statements."""
