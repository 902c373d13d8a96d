"""Simulated data: brain models and their tissues (Table 1), the training patches and test slices (section 4.2),
and the maps and protocols our any-protocol RIM trains on."""
