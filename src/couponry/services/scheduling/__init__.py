"""Named periodic jobs, run once per period whatever the number of processes (`couponry tick`, `serve`)."""
