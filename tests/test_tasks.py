from huey.contrib.djhuey import HUEY

from generator import tasks


def test_result_records_of_the_queue_do_not_grow_without_bound():
    HUEY.storage.flush_results()
    for i in range(tasks.RESULT_RECORDS_KEPT):
        HUEY.storage.put_data(f"djt.{i}", b"{}")
    assert tasks.trim_result_records() == 0
    HUEY.storage.put_data("djt.one-more", b"{}")
    assert tasks.trim_result_records() == tasks.RESULT_RECORDS_KEPT + 1
    assert HUEY.storage.result_store_size() == 0
