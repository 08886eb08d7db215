"""Who pays for a training: the time it may cost a student before it is queued, and their share once it ran.

A student's training must fit in what is left of their class's time today, and, when it is asked for an assignment,
in what is left of the assignment's minutes (cnnlab.course.assignments.Rules.budget) after their earlier trainings
for it. Once it ran, each person who asked pays their share of its time (cnnlab.classroom.requests.charge).
"""

import logging

from cnnlab.classroom import requests as asked

log = logging.getLogger(__name__)


def require_time(who, seconds, assignment=None):
    """Nothing when a training of about `seconds` fits in who's time left today and in the assignment's minutes
    (an assignment with an .id and a .budget; a plain Rules has no id, so no minutes are counted); else NotAllowed
    with the numbers."""
    asked.require_time_left(who, seconds)
    budget = getattr(assignment, "budget", None) or {}
    asked.require_assignment_time(who, getattr(assignment, "id", None), budget.get("minutes"), seconds)


def charge(job):
    """Each person who asked for a training pays their share of its time against their class's daily budget and
    their assignment's minutes (a run that came back from the store costs nothing)."""
    if job.cached or not job.requests or job.started is None:
        return
    share = (job.finished - job.started) / len(job.requests)
    for request_id in list(job.requests.values()):
        try:
            asked.charge(request_id, share)
        except Exception:  # the database went away, or the person did: the run is stored, and the queue goes on
            log.warning("could not charge request %s", request_id, exc_info=True)
