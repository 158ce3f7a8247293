from django.tasks import task
from huey import crontab
from huey.contrib.djhuey import db_periodic_task

from . import dispatch


@task
def run_generation(generation_id: int) -> str | None:
    return dispatch.run(generation_id)


@db_periodic_task(crontab(minute="*"))
def sweep_generations() -> dict[str, int]:
    return dispatch.sweep()
