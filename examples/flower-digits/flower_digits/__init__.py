"""flower-digits: a Flower app on the bundled digits set, proven and paid by zkpot."""
