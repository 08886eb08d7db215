"""Which waiting training goes next: the first in line, unless a worker that is free now already holds the compiled
network of one a little further back.

On a cluster each worker actor keeps the networks it compiled (cnnlab.compute.ray_workers). A worker that is free
while the first training in line needs a network another worker holds would compile it a second time (1.5 to 3 s of
a small training, more than the training itself) while a training further back that this worker holds waits. So the
free worker takes that one, and the first waits for the next free worker (its own holder, often). Nobody waits long
for it: only the next LOOKAHEAD trainings are looked at, and a training overtaken MAX_OVERTAKEN times goes next
whatever the workers hold. On one machine (one worker, which keeps four networks) the line is kept as it is.
"""

LOOKAHEAD = 3  # trainings of the line looked at for one a free worker holds
MAX_OVERTAKEN = 2  # a training overtaken this many times is overtaken no more


def window(waiting):
    """The jobs of the line (in order) that may go next: up to LOOKAHEAD, none behind one overtaken too often."""
    chosen = []
    for job in waiting[:LOOKAHEAD]:
        chosen.append(job)
        if job.overtaken >= MAX_OVERTAKEN:
            break
    return chosen


def choose(executor, candidates):
    """The job of candidates to train next: the first whose network a free worker holds already (the executor's
    warm_first, asked outside the queue's lock: on a cluster it asks the hub), else the first."""
    warm_first = getattr(executor, "warm_first", None)
    if len(candidates) < 2 or warm_first is None:
        return candidates[0] if candidates else None
    try:
        index = warm_first([job.config for job in candidates])
    except Exception:  # noqa: BLE001 -- a favour: the worker thread that asks must survive it
        index = None
    return candidates[index if isinstance(index, int) and 0 <= index < len(candidates) else 0]


def take(waiting, jobs, chosen):
    """Remove and return the job to train next from waiting (ids, in order; jobs: id -> Job): chosen when it may
    still go (the line may have changed while the workers were asked), else the first. Those it overtakes count it."""
    if not waiting:
        return None
    ids = [job.id for job in window([jobs[i] for i in waiting])]
    index = ids.index(chosen.id) if chosen is not None and chosen.id in ids else 0
    for job_id in waiting[:index]:
        jobs[job_id].overtaken += 1
    return jobs[waiting.pop(index)]
