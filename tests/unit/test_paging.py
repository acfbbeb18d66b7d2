"""roxs_common.paging: the one page-size rule of every lister, and the walk over partitions."""

import pytest

from roxs_common.image_index import list_images
from roxs_common.log_index import list_logs
from roxs_common.notifications import list_notifications
from roxs_common.paging import PAGE_MAX, check_page_limit, newest_first_page

REASON = f"limit must be an integer between 1 and {PAGE_MAX}"
LISTERS = {
    "images": lambda limit: list_images(None, limit, None),
    "logs": lambda limit: list_logs(None, limit, None),
    "notifications": lambda limit: list_notifications(None, None, limit, None),
}


@pytest.mark.parametrize("limit", [1, 2, 57, PAGE_MAX])
def test_a_page_size_from_1_to_the_maximum_is_taken(limit):
    assert check_page_limit(limit) == limit


@pytest.mark.parametrize("limit", [True, False, 0, -1, PAGE_MAX + 1, 1000, 1.0, "5", None, [5]])
def test_anything_else_is_refused_with_the_one_reason(limit):
    with pytest.raises(ValueError, match=f"^{REASON}$"):
        check_page_limit(limit)


@pytest.mark.parametrize("lister", sorted(LISTERS))
@pytest.mark.parametrize("limit", [True, False, 0, PAGE_MAX + 1])
def test_every_lister_refuses_the_same_limits_with_the_same_reason_before_any_read(lister, limit):
    # No table is configured: the refusal comes before any environment variable or request.
    with pytest.raises(ValueError, match=f"^{REASON}$"):
        LISTERS[lister](limit)


class Partitions:
    """A GSI Query stand-in: rows per partition, newest first, at most `page` rows a page;
    keys are the rows' numbers. Records every request."""

    def __init__(self, rows: dict[str, list[int]], page: int = 2):
        self.rows, self.page, self.requests = rows, page, []

    def query(self, **request):
        self.requests.append(request)
        partition = request["ExpressionAttributeValues"][":p"]["S"]
        numbers = self.rows[partition]
        first = 0
        if "ExclusiveStartKey" in request:
            first = numbers.index(int(request["ExclusiveStartKey"]["N"]["N"])) + 1
        taken = numbers[first : first + min(self.page, request["Limit"])]
        answer = {"Items": [{"N": {"N": str(number)}, "P": {"S": partition}} for number in taken]}
        if first + len(taken) < len(numbers):
            answer["LastEvaluatedKey"] = {"N": {"N": str(taken[-1])}}
        return answer


def page_of(ddb, partitions, limit, start=None):
    page = newest_first_page(ddb, table="T", index="I", attribute="P", partitions=partitions, limit=limit, start=start)
    return [int(row["N"]) for row in page.rows], page.partition, page.partition_more


ROWS = {"c": [9, 8, 7], "b": [], "a": [6, 5, 4, 3]}


@pytest.mark.parametrize(
    "limit, expected",
    [
        (1, ([9], "c", True)),
        (3, ([9, 8, 7], "c", False)),  # full exactly where "c" ends
        (4, ([9, 8, 7, 6], "a", True)),
        (7, ([9, 8, 7, 6, 5, 4, 3], "a", False)),
        (50, ([9, 8, 7, 6, 5, 4, 3], "a", False)),  # all there is
    ],
)
def test_a_page_is_filled_newest_partition_first(limit, expected):
    assert page_of(Partitions(ROWS), ["c", "b", "a"], limit) == expected


def test_partitions_after_a_full_page_are_neither_read_nor_asked_for():
    asked = []

    def partitions():
        for name in ("c", "b", "a"):
            asked.append(name)
            yield name

    ddb = Partitions(ROWS, page=10)
    assert page_of(ddb, partitions(), 2) == ([9, 8], "c", True)
    assert asked == ["c"] and len(ddb.requests) == 1 and ddb.requests[0]["Limit"] == 2


def test_the_start_key_applies_to_its_own_partition_only():
    start = ("a", {"N": {"N": "5"}})
    assert page_of(Partitions(ROWS), ["a"], 10, start) == ([4, 3], "a", False)
    # A start in a partition no longer walked (it emptied) does not leak into the next one.
    assert page_of(Partitions(ROWS), ["c"], 10, ("d", {"N": {"N": "8"}})) == ([9, 8, 7], "c", False)


def test_each_request_asks_only_for_what_the_page_still_lacks():
    ddb = Partitions(ROWS, page=2)
    page_of(ddb, ["c", "b", "a"], 6)
    assert [request["Limit"] for request in ddb.requests] == [6, 4, 3, 3, 1]
    assert all(request["ScanIndexForward"] is False for request in ddb.requests)


def test_no_partitions_is_an_empty_page():
    assert page_of(Partitions({}), [], 5) == ([], None, False)
