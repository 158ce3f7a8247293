from django.tasks import task
from huey import crontab
from huey.contrib.djhuey import HUEY, db_periodic_task

from . import dispatch

# The django.tasks bridge stores a result record per task and never deletes it; we
# never read them (the Generation row is the truth), so they are dropped in bulk.
# A record dropped before its task runs is harmless: the task still runs.
RESULT_RECORDS_KEPT = 1000


@task
def run_generation(generation_id: int) -> str | None:
    return dispatch.run(generation_id)


def trim_result_records() -> int:
    size = HUEY.storage.result_store_size()
    if size <= RESULT_RECORDS_KEPT:
        return 0
    HUEY.storage.flush_results()
    return size


@db_periodic_task(crontab(minute="*"))
def sweep_generations() -> dict[str, int]:
    return {**dispatch.sweep(), "result_records_dropped": trim_result_records()}
