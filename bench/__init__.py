"""zkpot's benchmarks (``make bench``): speed, memory and gas against the issues' targets."""
