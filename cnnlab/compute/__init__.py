"""Where and when trainings run: the queue (jobs) and the executors (this process, the worker process, a Ray
cluster)."""
