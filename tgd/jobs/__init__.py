"""The scheduler and its jobs (DESIGN §6, E-06): one leader at a time, catch-up queries, run log.

``scheduler.py`` runs the jobs with APScheduler 3.x, in the app process
(embedded mode) or as ``tgd scheduler``; ``lease.py`` elects the one
scheduler that acts; ``runner.py`` runs one job and records a ``JobRun``;
``registry.py`` lists the jobs, one module each.
"""
