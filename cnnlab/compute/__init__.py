"""Where trainings run: the queue (jobs), the executors (this process, the worker process, Ray) and the
estimates of how long a training takes."""
