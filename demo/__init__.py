"""zkpot's demo: a local deployment (``stack``), an employer using the API (``employer``), a job
driven end to end (``job``) with progress from chain events (``follow``), and ``make demo``'s
entry point (``run``). The end-to-end tests and ``bench/e2e.py`` run the same pieces."""
